"""Operator read paths at scale: ``/master/state`` and the web UI with 1,000 agents, 10,000 tasks.

Starts a master process, registers N simulated agents (``bench/simulated.py``:
the real agent protocol) and has a framework run T tasks on each, as
``bench/master_memory.py`` does (its master process and helpers are reused).
Then times, one request at a time on a kept-alive connection, every
operator read: ``/master/state``, ``/master/state-summary``, the UI overview
(``/`` and its ``?fragment=1`` refresh), the agents, tasks and framework
pages, and ``/metrics``.  Target: <= 250 ms per request.

Usage::

    .venv/bin/python bench/state_ui.py [--agents 1000] [--tasks-per-agent 10] [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from twisted.internet import defer, task  # noqa: E402
from twisted.web.client import Agent, HTTPConnectionPool  # noqa: E402

from bench.master_memory import (  # noqa: E402
    MasterProcess,
    _free_port,
    _raise_nofile,
    get_json,
    http_get,
    wait_until,
)
from bench.simulated import (  # noqa: E402
    AGENT_RESOURCES,
    BenchError,
    SimAgent,
    SimFramework,
    Stats,
)
from mesos_py.common.resources import Resources  # noqa: E402

TARGET_MS = 250.0


@defer.inlineCallbacks
def populate(reactor: Any, master: MasterProcess, base: str, ops: Agent, args: argparse.Namespace):
    """Register the agents and run the tasks; fires with (agents, framework)."""
    stats = Stats()
    resources = Resources.parse(AGENT_RESOURCES).to_json()
    agents = [SimAgent(reactor, base, i, resources, stats) for i in range(args.agents)]
    window = defer.DeferredSemaphore(50)
    started = time.perf_counter()
    yield defer.gatherResults([window.run(a.register) for a in agents], consumeErrors=True)
    if stats.registered != args.agents:
        raise BenchError(f"only {stats.registered} agents registered: {stats.errors}")
    print(f"{args.agents} agents registered in {time.perf_counter() - started:.1f}s")
    framework = SimFramework(reactor, base, args.agents, args.tasks_per_agent, 32)
    started = time.perf_counter()
    yield framework.client.subscribe()
    total = args.agents * args.tasks_per_agent

    def all_running():
        url = f"http://{base}/metrics/snapshot"
        return get_json(ops, url).addCallback(lambda b: b.get("master/tasks_running") == total)

    yield wait_until(reactor, master, all_running, args.timeout, f"{total} RUNNING tasks")
    print(f"{total} tasks RUNNING in {time.perf_counter() - started:.1f}s")
    return agents, framework


@defer.inlineCallbacks
def time_endpoint(ops: Agent, url: str, rounds: int):
    """Per-request latencies (s) of ``rounds`` sequential GETs after two warm-ups, and the size."""
    latencies = []
    size = 0
    for index in range(rounds + 2):
        code, body, seconds = yield http_get(ops, url)
        if code != 200:
            raise BenchError(f"GET {url}: {code} {body[:200]!r}")
        if index >= 2:
            latencies.append(seconds)
        size = len(body)
    return latencies, size


@defer.inlineCallbacks
def run(reactor: Any, args: argparse.Namespace, master: MasterProcess):
    base = f"127.0.0.1:{master.port}"
    pool = HTTPConnectionPool(reactor, persistent=True)
    ops = Agent(reactor, pool=pool)
    agents: list[SimAgent] = []
    framework = None
    try:

        def health():
            d = http_get(ops, f"http://{base}/health")
            return d.addCallbacks(lambda r: r[0] == 200, lambda _: False)

        yield wait_until(reactor, master, health, 60, "the master to answer /health")
        agents, framework = yield populate(reactor, master, base, ops, args)
        framework_id = framework.client.framework_id
        paths = [
            "/master/state",
            "/master/state-summary",
            "/",
            "/?fragment=1",
            "/ui/agents",
            "/ui/tasks",
            "/ui/tasks?state=TASK_RUNNING&offset=5000",
            f"/ui/frameworks/{framework_id}",
            "/metrics",
        ]
        cpu0 = master.cpu_seconds()
        print(
            f"\n{'GET':<44} {'median':>8} {'p95':>8} {'max':>8} {'size':>12}  target "
            f"<= {TARGET_MS:.0f} ms"
        )
        print("-" * 100)
        for path in paths:
            latencies, size = yield time_endpoint(ops, f"http://{base}{path}", args.rounds)
            ordered = sorted(latencies)
            median = statistics.median(ordered) * 1000
            p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
            worst = ordered[-1] * 1000
            verdict = "OK" if p95 <= TARGET_MS else "MISSED"
            shown = path if len(path) <= 44 else path[:41] + "..."
            print(
                f"{shown:<44} {median:>6.1f}ms {p95:>6.1f}ms {worst:>6.1f}ms "
                f"{size:>10,} B  {verdict}"
            )
        print(
            f"\nmaster CPU during the timed requests: {master.cpu_seconds() - cpu0:.1f}s; "
            f"load average now {os.getloadavg()[0]:.2f}"
        )
    finally:
        if framework is not None:
            framework.client.close()
        yield defer.DeferredList([a.stop() for a in agents])
        yield pool.closeCachedConnections()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tasks-per-agent", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20, help="timed requests per endpoint")
    parser.add_argument("--timeout", type=float, default=300, help="for the tasks to run")
    args = parser.parse_args(argv)
    _raise_nofile(2 * args.agents + 1024)
    workdir = tempfile.mkdtemp(prefix="mesos-py-bench-state-ui-")
    master = MasterProcess(_free_port(), workdir, None, 0)
    print(
        f"mesos-py operator read paths: {args.agents} agents x {args.tasks_per_agent} tasks; "
        f"nproc {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}"
    )
    outcome: dict[str, Any] = {}

    def body(reactor: Any) -> defer.Deferred:
        d = run(reactor, args, master)
        return d.addCallbacks(
            lambda _: outcome.setdefault("done", True), lambda f: outcome.update(error=f)
        )

    try:
        master.start()
        task.react(body)
    except SystemExit:
        pass
    finally:
        master.stop()
    if "error" in outcome:
        print(f"\nFAILED: {outcome['error'].getErrorMessage()}", file=sys.stderr)
        print(f"master log tail:\n{master.log_tail()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
