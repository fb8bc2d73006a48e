"""Master memory per agent and per task, with simulated agents on the real protocol.

Starts a master as a separate process and measures its resident set size
(``VmRSS`` in ``/proc/<pid>/status``, median of several samples, no forced
garbage collection) at three points:

1. idle, nothing connected (baseline);
2. with N simulated agents registered and active (default 1,000);
3. with T command tasks RUNNING on every agent (default 10, so 10,000 tasks).

The simulated agents all live in this process.  Each speaks the real
master <-> agent protocol of docs/agent-protocol.md through
``mesos_py.common.http_client``, exactly as ``mesos_py.agent.master_link``
does: a ``REGISTER`` call whose chunked RecordIO response is the link (one TCP
connection), and calls (``PONG``, ``UPDATE``) posted one at a time on the
agent's own persistent connection with the link's ``Mesos-Stream-Id``.  On
``RUN_TASK`` an agent answers TASK_RUNNING (source SOURCE_EXECUTOR), batching
the updates that queue up behind a call in flight.  Nothing is executed.

The framework is a ``mesos_py.client.scheduler.SchedulerClient`` in this
process: it accepts every offer it can use, launching ``sleep 1000`` command
tasks (0.01 cpus, 16 MB each) until every agent has T of them, acknowledges
every update, declines what it cannot use and suppresses offers when done.

Also timed: registering the agents, launching the tasks (SUBSCRIBE until the
master's ``master/tasks_running`` reaches N*T) and ``GET /master/state``.

Optional, clearly separate run: ``--tracemalloc`` starts the master under
``tracemalloc`` and prints which allocation sites the per-agent and per-task
growth comes from.  Tracing makes the master several times slower and bigger,
so the RSS figures of that run are not the reference ones.

Usage::

    .venv/bin/python bench/master_memory.py [--agents 1000] [--tasks-per-agent 10]
    .venv/bin/python bench/master_memory.py --tracemalloc      # attribution run
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections import Counter
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from twisted.internet import defer, task  # noqa: E402
from twisted.web.client import Agent, HTTPConnectionPool, readBody  # noqa: E402

from bench.simulated import (  # noqa: E402
    AGENT_RESOURCES,
    BenchError,
    SimAgent,
    SimFramework,
    Stats,
    sleep,
)
from mesos_py.common.resources import Resources  # noqa: E402

TARGET_KB_PER_AGENT = 50
TARGET_KB_PER_TASK = 10

# What /tmp/runmaster.py does: the master daemon of `mesos-py master`, built
# without going through mesos_py.cli.main (whose parser also needs the agent
# package).  With MESOS_PY_BENCH_TRACEMALLOC set to a directory, allocations
# are traced from the first import on and SIGUSR1 dumps a snapshot there.
INLINE_MASTER = r"""
import argparse, os, sys
trace_dir = os.environ.get("MESOS_PY_BENCH_TRACEMALLOC")
if trace_dir:
    import signal, tracemalloc
    tracemalloc.start(int(os.environ.get("MESOS_PY_BENCH_TRACEMALLOC_FRAMES", "10")))
    dumped = [0]

    def dump(signum, frame):
        dumped[0] += 1
        path = os.path.join(trace_dir, "snapshot-%d.pickle" % dumped[0])
        tracemalloc.take_snapshot().dump(path + ".tmp")
        os.rename(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, dump)
from mesos_py.cli import _run_services
from mesos_py.master.service import MasterService, add_master_arguments
parser = argparse.ArgumentParser()
add_master_arguments(parser)
options = parser.parse_args(sys.argv[1:])
sys.exit(_run_services(lambda reactor: MasterService(options, reactor)))
"""


# twisted's readBody warns when the transport cannot abort; harmless here.
warnings.filterwarnings(
    "ignore", message="Using readBody with a transport", category=DeprecationWarning
)


# ---------------------------------------------------------------- the master


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies, even by SIGKILL (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_works(python: str) -> bool:
    try:
        probe = subprocess.run(
            [python, "-m", "mesos_py.cli", "master", "--help"],
            cwd=REPO,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


class MasterProcess:
    def __init__(self, port: int, workdir: str, trace_dir: str | None, frames: int) -> None:
        self.port = port
        self.workdir = workdir
        self.trace_dir = trace_dir
        self.frames = frames
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(workdir, "master.log")
        self.launcher = ""
        self._snapshots = 0

    def start(self) -> None:
        python = sys.executable
        flags = ["--ip=127.0.0.1", f"--port={self.port}", "--allocation_interval=1secs"]
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
        if self.trace_dir is None and _cli_works(python):
            argv = [python, "-m", "mesos_py.cli", "master", *flags]
            self.launcher = "python -m mesos_py.cli master"
        else:
            # The CLI is not usable yet (or tracemalloc is wanted): same daemon, built inline.
            argv = [python, "-c", INLINE_MASTER, *flags]
            self.launcher = "inline MasterService + mesos_py.cli._run_services"
            if self.trace_dir is not None:
                env["MESOS_PY_BENCH_TRACEMALLOC"] = self.trace_dir
                env["MESOS_PY_BENCH_TRACEMALLOC_FRAMES"] = str(self.frames)
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise BenchError(f"the master exited (status {code}); log:\n{self.log_tail()}")

    def status_kb(self, field: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise BenchError(f"no {field} in /proc/{self.pid}/status")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def snapshot(self, reactor: Any) -> defer.Deferred:
        """tracemalloc mode: have the master dump a snapshot; fires with it."""
        assert self.trace_dir is not None
        self._snapshots += 1
        path = os.path.join(self.trace_dir, f"snapshot-{self._snapshots}.pickle")
        os.kill(self.pid, signal.SIGUSR1)

        @defer.inlineCallbacks
        def wait():
            deadline = time.monotonic() + 300
            while not os.path.exists(path):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise BenchError("the master did not dump its tracemalloc snapshot")
                yield task.deferLater(reactor, 0.2, lambda: None)
            return tracemalloc.Snapshot.load(path)

        return wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# --------------------------------------------------------------------- helpers


def _raise_nofile(needed: int) -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@defer.inlineCallbacks
def http_get(http: Agent, url: str):
    started = time.perf_counter()
    response = yield http.request(b"GET", url.encode())
    body = yield readBody(response)
    return response.code, body, time.perf_counter() - started


@defer.inlineCallbacks
def get_json(http: Agent, url: str):
    import json

    code, body, _ = yield http_get(http, url)
    if code != 200:
        raise BenchError(f"GET {url}: {code} {body[:200]!r}")
    return json.loads(body)


@defer.inlineCallbacks
def rss_median(reactor: Any, master: MasterProcess, settle: float, samples: int):
    """Median VmRSS (KiB) of ``samples`` readings 0.5 s apart, after ``settle`` s idle."""
    yield sleep(reactor, settle)
    values = []
    for i in range(samples):
        if i:
            yield sleep(reactor, 0.5)
        master.check_alive()
        values.append(master.status_kb("VmRSS"))
    return statistics.median(values), values


@defer.inlineCallbacks
def wait_until(
    reactor: Any,
    master: MasterProcess,
    predicate,
    timeout: float,
    what: str,
    interval: float = 0.25,
):
    deadline = time.monotonic() + timeout
    while True:
        master.check_alive()
        value = yield predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        yield sleep(reactor, interval)


def _kb(value: float) -> str:
    return f"{value / 1024:,.1f} MiB ({value:,.0f} KiB)"


# ------------------------------------------------------------------- tracing


def _attribution(
    new: tracemalloc.Snapshot, old: tracemalloc.Snapshot, per: int, label: str, top: int
) -> None:
    """Print the growth between two snapshots by line, and by the master code that caused it."""
    print(f"\n[tracemalloc] growth {label}, per unit ({per:,} units), top {top}:")
    diffs = new.compare_to(old, "traceback")
    total = sum(d.size_diff for d in diffs)
    print(f"  traced growth: {total / 1024:,.0f} KiB = {total / per / 1024:.2f} KiB per unit")
    by_line: Counter = Counter()
    by_caller: Counter = Counter()
    for diff in diffs:
        frames = list(reversed(diff.traceback))  # Traceback is oldest first; flip it
        inner = frames[0]
        by_line[f"{_short(inner.filename)}:{inner.lineno}"] += diff.size_diff
        ours = next((f for f in frames if "/mesos_py/" in f.filename), None)
        if ours is None:
            pkg = next((f for f in frames if "/twisted/" in f.filename), None)
            key = f"(twisted) {_short(pkg.filename)}:{pkg.lineno}" if pkg else "(other)"
        else:
            key = f"{_short(ours.filename)}:{ours.lineno} {_line_text(ours)}"
        by_caller[key] += diff.size_diff
    print("  by innermost allocating line:")
    for key, size in by_line.most_common(top):
        print(f"    {size / per:9,.0f} B/unit  {key}")
    print("  by nearest mesos_py frame (what in the master asked for it):")
    for key, size in by_caller.most_common(top):
        print(f"    {size / per:9,.0f} B/unit  {key}")


def _short(filename: str) -> str:
    for marker in ("/mesos_py/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            return marker.strip("/") + "/" + filename.split(marker, 1)[1]
    return filename


def _line_text(frame: Any) -> str:
    import linecache

    return linecache.getline(frame.filename, frame.lineno).strip()[:70]


# ---------------------------------------------------------------------- main


@defer.inlineCallbacks
def run(reactor: Any, args: argparse.Namespace, master: MasterProcess):
    base = f"127.0.0.1:{master.port}"
    stats = Stats()
    ops_pool = HTTPConnectionPool(reactor, persistent=True)
    ops = Agent(reactor, pool=ops_pool)
    agents: list[SimAgent] = []
    framework: SimFramework | None = None
    n_agents = args.agents
    n_tasks = args.agents * args.tasks_per_agent
    figures: dict[str, Any] = {}
    snapshots: list[tracemalloc.Snapshot] = []
    try:
        # -- 0. the master is up
        def health():
            d = http_get(ops, f"http://{base}/health")
            d.addCallbacks(lambda r: r[0] == 200, lambda _: False)
            return d

        yield wait_until(reactor, master, health, 60, "the master to answer /health")
        print(f"master pid {master.pid} on {base}, started as: {master.launcher}")

        # -- 1. baseline
        baseline, samples = yield rss_median(reactor, master, args.settle, args.samples)
        figures["baseline"] = baseline
        print(f"[1] idle master: VmRSS median {_kb(baseline)}; samples {samples}")
        if master.trace_dir:
            snapshots.append((yield master.snapshot(reactor)))

        # -- 2. agents
        resources = Resources.parse(AGENT_RESOURCES).to_json()
        agents = [SimAgent(reactor, base, i, resources, stats) for i in range(n_agents)]
        cpu0 = master.cpu_seconds()
        started = time.perf_counter()
        window = defer.DeferredSemaphore(args.register_concurrency)
        try:
            yield defer.gatherResults([window.run(a.register) for a in agents], consumeErrors=True)
        except defer.FirstError as error:
            error.subFailure.raiseException()
        if stats.registered != n_agents:
            raise BenchError(f"only {stats.registered} agents registered: {stats.errors}")
        registered_in = time.perf_counter() - started

        def all_active():
            def count(body):
                return sum(1 for s in body["slaves"] if s.get("active")) == n_agents

            return get_json(ops, f"http://{base}/master/slaves").addCallback(count)

        yield wait_until(reactor, master, all_active, 120, f"{n_agents} active agents")
        active_in = time.perf_counter() - started
        figures["register_s"] = registered_in
        figures["register_active_s"] = active_in
        print(
            f"[2] {n_agents} agents registered in {registered_in:.2f}s "
            f"(at most {args.register_concurrency} REGISTERs in flight); /master/slaves lists "
            f"all of them active after {active_in:.2f}s; master CPU "
            f"{master.cpu_seconds() - cpu0:.2f}s"
        )

        # A real agent holds a second connection, for its calls, from its first PONG on:
        # wait for every agent's first PING (sent --agent_ping_timeout = 15 s after it
        # registered) and answer so that the figure is the steady state.
        def all_ponged():
            return defer.succeed(all(a.pongs_answered for a in agents))

        yield wait_until(reactor, master, all_ponged, 120, "every agent's first PING/PONG", 0.5)
        print(
            f"    every agent has answered its first PING ({time.perf_counter() - started:.1f}s "
            f"after the first REGISTER)"
        )
        with_agents, samples = yield rss_median(reactor, master, args.settle, args.samples)
        figures["agents"] = with_agents
        per_agent = (with_agents - baseline) / n_agents
        figures["per_agent"] = per_agent
        print(
            f"    VmRSS median {_kb(with_agents)}; samples {samples}; open fds {master.open_fds()}"
        )
        print(f"    => {per_agent:.1f} KiB per agent (target <= {TARGET_KB_PER_AGENT})")
        if master.trace_dir:
            snapshots.append((yield master.snapshot(reactor)))

        # -- 3. tasks
        framework = SimFramework(
            reactor, base, n_agents, args.tasks_per_agent, args.call_concurrency
        )
        cpu0 = master.cpu_seconds()
        started = time.perf_counter()
        yield framework.client.subscribe()

        def all_running():
            def check(body):
                return body.get("master/tasks_running") == n_tasks

            return get_json(ops, f"http://{base}/metrics/snapshot").addCallback(check)

        yield wait_until(reactor, master, all_running, args.timeout, f"{n_tasks} RUNNING tasks")
        launched_in = time.perf_counter() - started
        figures["launch_s"] = launched_in
        launch_cpu = master.cpu_seconds() - cpu0

        # Idle means every acknowledgement went framework -> master -> agent.
        def quiet():
            done = (
                stats.events["ACKNOWLEDGE"] >= n_tasks
                and framework.outstanding == 0
                and all(a.updates_done for a in agents)
            )
            return defer.succeed(done)

        try:
            yield wait_until(reactor, master, quiet, args.timeout, "acknowledgements to drain")
        except BenchError as error:
            busy = sum(1 for a in agents if not a.updates_done)
            raise BenchError(
                f"{error}: agents got {stats.events['ACKNOWLEDGE']} ACKNOWLEDGE events, "
                f"{framework.outstanding} framework calls outstanding, {busy} agents with "
                f"updates pending; errors {stats.errors + framework.failures}"
            ) from None
        drained = time.perf_counter() - started

        def since(moment: float | None) -> str:
            return f"{moment - started:.2f}s" if moment is not None else "never"

        print(
            f"[3] {n_tasks} tasks: master/tasks_running = {n_tasks} {launched_in:.2f}s after "
            f"SUBSCRIBE (master CPU {launch_cpu:.2f}s); the framework had every ACCEPT "
            f"answered at {since(framework.all_accepted_at)} and saw the last TASK_RUNNING at "
            f"{since(framework.all_running_at)}; every ACKNOWLEDGE reached its agent at "
            f"{drained:.2f}s"
        )
        with_tasks, samples = yield rss_median(reactor, master, args.settle, args.samples)
        figures["tasks"] = with_tasks
        per_task = (with_tasks - with_agents) / n_tasks
        figures["per_task"] = per_task
        print(f"    VmRSS median {_kb(with_tasks)}; samples {samples}")
        print(f"    => {per_task:.2f} KiB per task (target <= {TARGET_KB_PER_TASK})")
        if master.trace_dir:
            snapshots.append((yield master.snapshot(reactor)))

        # -- 4. /master/state at this size
        latencies = []
        size = 0
        rounds = 1 if master.trace_dir else 5  # under tracemalloc it takes many seconds
        for _ in range(rounds):
            code, body, seconds = yield http_get(ops, f"http://{base}/master/state")
            if code != 200:
                raise BenchError(f"/master/state answered {code}")
            latencies.append(seconds)
            size = len(body)
        figures["state_ms"] = statistics.median(latencies) * 1000
        figures["state_bytes"] = size
        print(
            f"[4] GET /master/state: median {figures['state_ms']:.0f} ms of "
            f"{[round(x * 1000) for x in latencies]} ms; {size:,} bytes"
        )
        figures["hwm"] = master.status_kb("VmHWM")
        figures["rss_after_state"] = master.status_kb("VmRSS")
        print(
            f"    master VmRSS after the /master/state calls {_kb(figures['rss_after_state'])}, "
            f"peak (VmHWM) {_kb(figures['hwm'])}"
        )

        # -- sanity
        problems = list(stats.errors) + list(framework.failures)
        print(
            f"    protocol traffic: agent events {dict(stats.events)}; agent calls "
            f"{dict(stats.calls)}; framework saw {dict(framework.states)}"
        )
        if stats.links_lost:
            problems.append(f"{stats.links_lost} agent links closed by the master")
        if problems:
            print("    PROBLEMS:\n      " + "\n      ".join(problems))

        # -- 5. table
        rows = [
            ("master VmRSS idle (baseline)", _kb(baseline), ""),
            (f"master VmRSS, {n_agents} agents", _kb(with_agents), ""),
            (f"master VmRSS, + {n_tasks} tasks", _kb(with_tasks), ""),
            ("memory per agent", f"{per_agent:.1f} KiB", _verdict(per_agent, TARGET_KB_PER_AGENT)),
            ("memory per task", f"{per_task:.2f} KiB", _verdict(per_task, TARGET_KB_PER_TASK)),
            (f"register {n_agents} agents", f"{registered_in:.2f} s", ""),
            ("  ... until all active in /master/slaves", f"{active_in:.2f} s", ""),
            (f"launch {n_tasks} tasks (SUBSCRIBE -> all RUNNING)", f"{launched_in:.2f} s", ""),
            (f"GET /master/state (median of {rounds})", f"{figures['state_ms']:.0f} ms", ""),
            ("/master/state size", f"{size / 1024 / 1024:.2f} MiB ({size:,} B)", ""),
        ]
        print()
        print(f"{'figure':<48} {'value':<30} target")
        print("-" * 100)
        for name, value, verdict in rows:
            print(f"{name:<48} {value:<30} {verdict}")
        if master.trace_dir:
            print("\n(tracemalloc run: the master ran under tracemalloc; the RSS figures above")
            print(" include its overhead and are NOT the reference figures.)")
            _attribution(snapshots[1], snapshots[0], n_agents, "for the agents", args.top)
            _attribution(snapshots[2], snapshots[1], n_tasks, "for the tasks", args.top)
        if problems:
            raise BenchError("the run saw protocol problems (listed above)")
    finally:
        if framework is not None:
            framework.client.close()
        yield defer.DeferredList([a.stop() for a in agents])
        yield ops_pool.closeCachedConnections()


def _verdict(value: float, target: float) -> str:
    return f"<= {target} KiB: {'OK' if value <= target else 'MISSED'}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tasks-per-agent", type=int, default=10)
    parser.add_argument("--port", type=int, default=0, help="master port (0: a free one)")
    parser.add_argument("--samples", type=int, default=5, help="RSS samples per point")
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before sampling")
    parser.add_argument(
        "--register-concurrency",
        type=int,
        default=50,
        help="REGISTERs in flight at once (the master listens with backlog 50)",
    )
    parser.add_argument(
        "--call-concurrency", type=int, default=32, help="framework calls in flight at once"
    )
    parser.add_argument("--timeout", type=float, default=300, help="for the tasks to run")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="optional attribution run: trace the master's allocations",
    )
    parser.add_argument("--frames", type=int, default=10, help="tracemalloc frames kept")
    parser.add_argument("--top", type=int, default=15, help="tracemalloc lines printed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Each agent holds two connections (link + calls) on each side; the master inherits this.
    soft, hard = _raise_nofile(2 * args.agents + 1024)
    workdir = tempfile.mkdtemp(prefix="mesos-py-bench-memory-")
    trace_dir = os.path.join(workdir, "tracemalloc") if args.tracemalloc else None
    if trace_dir:
        os.mkdir(trace_dir)
    master = MasterProcess(args.port or _free_port(), workdir, trace_dir, args.frames)
    print(
        f"mesos-py master memory bench: {args.agents} agents x {args.tasks_per_agent} tasks; "
        f"nproc {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}; "
        f"RLIMIT_NOFILE {soft}/{hard}; Python {sys.version.split()[0]}"
        + ("; TRACEMALLOC RUN" if trace_dir else "")
    )
    outcome: dict[str, Any] = {}

    def body(reactor: Any):
        d = run(reactor, args, master)

        def failed(failure: Any) -> None:
            outcome["error"] = failure

        return d.addCallbacks(lambda _: outcome.setdefault("done", True), failed)

    try:
        master.start()
        task.react(lambda reactor: body(reactor))
    except SystemExit:
        pass
    finally:
        master.stop()
    if "error" in outcome:
        failure = outcome["error"]
        if failure.check(BenchError):
            print(f"\nFAILED: {failure.getErrorMessage()}", file=sys.stderr)
        else:
            print("\nFAILED:\n" + failure.getTraceback(), file=sys.stderr)
        print(f"master log tail ({master.log_path}):\n{master.log_tail()}", file=sys.stderr)
        return 1
    if "done" not in outcome:
        print(f"\nINTERRUPTED (master stopped); its log: {master.log_path}", file=sys.stderr)
        return 1
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    shutil.rmtree(workdir, ignore_errors=True)  # kept on failure, for the master's log
    return 0


if __name__ == "__main__":
    sys.exit(main())
