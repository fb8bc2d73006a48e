"""The Prometheus text exposition format (version 0.0.4), as a pure encoder.

Daemons describe what they expose as ``Metric`` families (``gauge``,
``counter``, ``Histogram.metric``) and ``encode`` turns them into the body of
a ``/metrics`` answer served with ``CONTENT_TYPE``.  No I/O, no registry, no
global state: each scrape builds its families from the daemon's books.

    encode([
        gauge("mesos_master_elected", "1 if this master leads.", 1),
        gauge("mesos_master_tasks", "Tasks by state.", {("state", "TASK_RUNNING"): 3}),
        counter("mesos_master_offers_sent_total", "Offers sent.", 120),
        state_set("mesos_master_zookeeper_session", "...", "state", STATES, "CONNECTED"),
        latency.metric("mesos_master_status_update_latency_seconds", "..."),
    ])
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KINDS = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
# Seconds: from a fast in-memory step to a slow cross-host round trip.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float


@dataclass
class Metric:
    """One family: ``# HELP``, ``# TYPE`` and its samples."""

    name: str
    kind: str
    help: str
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"invalid metric name {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"invalid metric type {self.kind!r}")


def _labelled(name: str, values: float | Mapping[Labels | tuple[str, str], float]) -> list[Sample]:
    """Samples from one value, or from a mapping of label tuples to values.

    A key may be one ``(label, value)`` pair or a tuple of such pairs.
    """
    if not isinstance(values, Mapping):
        return [Sample(name, (), float(values))]
    samples = []
    for key, value in values.items():
        labels = (key,) if key and isinstance(key[0], str) else key
        samples.append(Sample(name, tuple(labels), float(value)))
    return samples


def gauge(name: str, help: str, values: float | Mapping) -> Metric:
    return Metric(name, "gauge", help, _labelled(name, values))


def counter(name: str, help: str, values: float | Mapping) -> Metric:
    """A monotonic count; by convention its name ends in ``_total``."""
    return Metric(name, "counter", help, _labelled(name, values))


def state_set(name: str, help: str, label: str, states: Iterable[str], current: str) -> Metric:
    """A gauge per possible state, 1 for the ``current`` one (e.g. a session's state)."""
    return gauge(name, help, {(label, state): float(state == current) for state in states})


class Histogram:
    """Observations counted into cumulative ``le`` buckets, with their sum and count."""

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        if list(buckets) != sorted(set(buckets)) or not buckets:
            raise ValueError("buckets must be distinct and increasing")
        self.bounds = tuple(float(b) for b in buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def metric(self, name: str, help: str) -> Metric:
        samples = []
        cumulative = 0
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == math.inf else format_value(bound)
            samples.append(Sample(f"{name}_bucket", (("le", le),), float(cumulative)))
        samples.append(Sample(f"{name}_sum", (), self.sum))
        samples.append(Sample(f"{name}_count", (), float(self.count)))
        return Metric(name, "histogram", help, samples)


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample_line(sample: Sample) -> str:
    if not sample.labels:
        return f"{sample.name} {format_value(sample.value)}"
    parts = []
    for label, value in sample.labels:
        if not _LABEL.match(label) or label.startswith("__"):
            raise ValueError(f"invalid label name {label!r} on {sample.name}")
        parts.append(f'{label}="{_escape_label(str(value))}"')
    return f"{sample.name}{{{','.join(parts)}}} {format_value(sample.value)}"


def encode(metrics: Iterable[Metric]) -> bytes:
    """The exposition text of ``metrics``; ValueError on a name used twice."""
    lines = []
    seen = set()
    for metric in metrics:
        if metric.name in seen:
            raise ValueError(f"metric {metric.name!r} appears twice")
        seen.add(metric.name)
        lines.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        lines.extend(_sample_line(sample) for sample in metric.samples)
    return ("\n".join(lines) + "\n").encode() if lines else b""
