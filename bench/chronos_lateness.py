"""Chronos lateness: N jobs each due every minute; how late do their tasks start?

A ZooKeeper server, a master and an agent as separate processes, and one
``mesos-py chronos`` instance keeping its jobs in ZooKeeper.  N jobs are added
with the real chronos-python client, each ``R/<start>/PT1M``; the starts are
spread evenly over the minute (``--burst``: all at the same second).  Every
task appends its task id (which names its instant) and the time it started
(``date +%s.%N``) to one file; lateness = start - instant.

Usage: python bench/chronos_lateness.py [--jobs 1000] [--minutes 2] [--burst] [--no-checkpoint]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.chronos_support import (
    ChronosInstance,
    due_seconds,
    iso,
    job,
    read_records,
    record_command,
)
from tests.integration.harness import Cluster
from tests.integration.zookeeper import Ensemble, missing_reason

AGENT = "cpus:64;mem:65536;disk:100000;ports:[31000-32000]"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--burst", action="store_true", help="every job due at the same second")
    parser.add_argument("--checkpoint", action="store_true", help="tasks checkpointed by the agent")
    options = parser.parse_args()
    if missing_reason():
        print(f"skipped: {missing_reason()}")
        return 0
    base = Path(tempfile.mkdtemp(prefix="chronos-bench-"))
    out = base / "runs.out"
    ensemble = Ensemble(base / "zk", size=1)
    ensemble.start()
    cluster = Cluster(base / "cluster", "processes", agents=1, agent_resources=AGENT)
    instance = None
    try:
        ensemble.wait_serving()
        cluster.start()
        extra = ["--mesos_checkpoint=false"] if options.no_checkpoint else []
        instance = ChronosInstance(
            base / "chronos.log", cluster.address, ensemble.url("/chronos"), extra
        )
        instance.wait_serving()
        client = instance.client()
        first = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(
            seconds=15 + options.jobs // 50
        )
        added = time.monotonic()
        for index in range(options.jobs):
            offset = 0.0 if options.burst else index * 60.0 / options.jobs
            start = first + dt.timedelta(seconds=offset)
            client.add(
                job(
                    f"bench-{index:05d}",
                    record_command(out),
                    f"R/{iso(start)}/PT1M",
                    cpus=0.01,
                    mem=16,
                    disk=1,
                )
            )
        add_seconds = time.monotonic() - added
        window_end = first.timestamp() + 60.0 * options.minutes
        if time.time() > first.timestamp():
            print("warning: adding the jobs took past the first instant", file=sys.stderr)
        pid = instance.daemon.process.pid
        cpu_before = cpu_seconds(pid)
        time.sleep(max(0.0, window_end - time.time()) + 5.0)
        cpu_used = cpu_seconds(pid) - cpu_before
        records = [
            (task_id, started)
            for task_id, started in read_records(out)
            if first.timestamp() <= due_seconds(task_id) < window_end
        ]
        lateness = [started - due_seconds(task_id) for task_id, started in records]
        # When Chronos sent each launch (its task history), to split the lateness.
        sent = {}
        for index in range(options.jobs):
            for entry in client.job_stat(f"bench-{index:05d}")["taskStatHistory"]:
                launched = dt.datetime.fromisoformat(entry["startTime"].replace("Z", "+00:00"))
                sent[entry["taskId"]] = launched.timestamp()
        to_launch = [sent[t] - due_seconds(t) for t, _ in records if t in sent]
        to_start = [started - sent[t] for t, started in records if t in sent]
        expected = options.jobs * options.minutes
        distinct = len({task_id for task_id, _ in records})
        shape = "burst" if options.burst else "spread over the minute"
        print(f"jobs: {options.jobs}, {shape}, checkpoint {not options.no_checkpoint}")
        print(f"adding the jobs with chronos-python: {add_seconds:.1f} s")
        print(
            f"instants due in {options.minutes} min: {expected}; started: {len(records)} "
            f"({distinct} distinct task ids)"
        )
        if lateness:
            print(
                f"lateness p50 {percentile(lateness, 0.5):.3f} s, "
                f"p99 {percentile(lateness, 0.99):.3f} s, max {max(lateness):.3f} s, "
                f"mean {statistics.fmean(lateness):.3f} s"
            )
        if to_launch:
            print(
                f"  instant -> launch sent by chronos: p50 {percentile(to_launch, 0.5):.3f} s, "
                f"p99 {percentile(to_launch, 0.99):.3f} s"
            )
            print(
                f"  launch sent -> task started: p50 {percentile(to_start, 0.5):.3f} s, "
                f"p99 {percentile(to_start, 0.99):.3f} s"
            )
        print(
            f"chronos CPU: {cpu_used:.1f} s over {60 * options.minutes} s "
            f"({1000 * cpu_used / max(1, len(records)):.2f} ms per run)"
        )
        return 0
    finally:
        if instance is not None:
            instance.stop()
        cluster.stop()
        ensemble.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
