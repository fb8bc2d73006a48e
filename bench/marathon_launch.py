"""One Marathon app of N instances on a local cluster: time to all running, API latency.

A master and one agent as separate processes, ``mesos-py marathon`` as a third
(with its state in a one-server ZooKeeper when java and the ZooKeeper jar are
there, else in memory, ``--no-zk`` forces that).  One ``POST /v2/apps`` of N
``sleep`` instances; the clock stops when Marathon counts N tasks running.
Meanwhile, and again once all run, a client times ``GET /v2/apps`` and
``GET /v2/tasks`` one after the other.

Compared in the same run with what Marathon 1.4's default launch rate would
allow: 100 launch tokens, refilled to 100 every 30 s, and one more token each
time a task reports TASK_RUNNING.  That model is replayed with the
stage -> running times measured here, so it is what Marathon's limiter would
have let through on this very cluster.

Usage: python bench/marathon_launch.py [--instances 1000] [--no-zk] [--no-checkpoint]
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import Cluster, wait_for
from tests.integration.marathon_support import MarathonInstance, request
from tests.integration.zookeeper import Ensemble, missing_reason

TOKENS = 100
REFILL_SECONDS = 30.0


def timed_get(address: str, path: str) -> tuple[float, int]:
    """Seconds for one GET (fresh connection, body read) and the body's size."""
    host, port = address.split(":")
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        body = connection.getresponse().read()
    finally:
        connection.close()
    return time.perf_counter() - started, len(body)


class LatencyProbe(threading.Thread):
    """GET /v2/apps and GET /v2/tasks in turn, one request every ``period`` s, until stopped.

    Paced like a dashboard or a load balancer's poller, so that the probe
    itself does not become the load it measures.
    """

    def __init__(self, address: str, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.samples: dict[str, list[float]] = {"/v2/apps": [], "/v2/tasks": []}
        self.sizes: dict[str, int] = {}
        self.period = period
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for path in self.samples:
                seconds, size = timed_get(self.address, path)
                self.samples[path].append(seconds)
                self.sizes[path] = size
                self._halt.wait(max(0.0, self.period - seconds))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def summary(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"n={len(ordered):4d}  p50 {statistics.median(ordered) * 1000:7.1f} ms  "
        f"p99 {p99 * 1000:7.1f} ms  max {ordered[-1] * 1000:7.1f} ms"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def marathon_limited_seconds(count: int, start_delays: list[float]) -> float:
    """Time Marathon 1.4's token limiter needs to launch ``count`` tasks that start this fast.

    A task launched at t reports running at t + delay (delays taken in turn
    from the measurements) and gives back a token; every 30 s the tokens are
    topped up to 100.  Launching itself is taken as instantaneous.
    """
    tokens = TOKENS
    now = 0.0
    next_refill = REFILL_SECONDS
    returns: list[float] = []  # when launched tasks report running
    launched = 0
    last_running = 0.0
    while launched < count:
        while tokens and launched < count:
            tokens -= 1
            delay = start_delays[launched % len(start_delays)]
            heapq.heappush(returns, now + delay)
            launched += 1
        upcoming = returns[0] if returns else float("inf")
        if upcoming <= next_refill:
            now = heapq.heappop(returns)
            last_running = max(last_running, now)
            tokens += 1
        else:
            now = next_refill
            next_refill += REFILL_SECONDS
            tokens = max(tokens, TOKENS)
    while returns:
        last_running = max(last_running, heapq.heappop(returns))
    return last_running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--no-zk", action="store_true", help="keep Marathon's state in memory")
    parser.add_argument(
        "--no-checkpoint",
        action="store_true",
        help="subscribe without checkpointing (the agent then writes nothing per task)",
    )
    options = parser.parse_args()
    count = options.instances

    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"Machine: {os.cpu_count()} CPUs, load average {load} (1 / 5 / 15 min) at start")
    work_dir = Path(tempfile.mkdtemp(prefix="mesos-py-marathon-bench-"))
    use_zk = not options.no_zk and missing_reason() is None
    ensemble = Ensemble(work_dir / "zk", size=1) if use_zk else None
    cluster = Cluster(
        work_dir / "cluster",
        "processes",
        agent_resources=f"cpus:{count};mem:{count * 64};disk:10000;ports:[20000-{20000 + count}]",
        agent_flags=["--registration_backoff_factor=100ms"],
    )
    marathon = None
    try:
        zk_url = None
        if ensemble is not None:
            ensemble.start()
            ensemble.wait_serving()
            zk_url = ensemble.url("/marathon")
        cluster.start()
        extra = ["--no-checkpoint"] if options.no_checkpoint else []
        marathon = MarathonInstance(work_dir / "marathon.log", cluster.address, zk_url, *extra)
        wait_for(lambda: marathon.info()["elected"], what="marathon to lead")
        wait_for(lambda: marathon.info()["frameworkId"], what="marathon to subscribe")
        print(
            f"Marathon state in {'ZooKeeper (1 server)' if zk_url else 'memory'}, "
            f"checkpointing {'off' if options.no_checkpoint else 'on'}"
        )

        pids = {
            "master": cluster.master.process.pid,
            "agent": cluster.agents[0].process.pid,
            "marathon": marathon.daemon.process.pid,
        }
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        probe = LatencyProbe(marathon.address)
        app = {"id": "/bench", "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": count}
        started = time.perf_counter()
        status, body = request(marathon.address, "POST", "/v2/apps", app)
        assert status == 201, body
        probe.start()

        def all_running() -> bool:
            # The app list carries the counts without the tasks: cheap to poll.
            status, body = request(marathon.address, "GET", "/v2/apps?id=/bench")
            time.sleep(0.2)
            return status == 200 and body["apps"][0]["tasksRunning"] == count

        wait_for(all_running, timeout=600, what=f"{count} tasks running")
        elapsed = time.perf_counter() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        probe.stop()
        during = probe.samples

        steady = LatencyProbe(marathon.address)
        steady.start()
        time.sleep(15)
        steady.stop()

        _, tasks = request(marathon.address, "GET", "/v2/tasks")
        delays = [
            parse_time(t["startedAt"]) - parse_time(t["stagedAt"])
            for t in tasks["tasks"]
            if t.get("startedAt")
        ]
        marathon_seconds = marathon_limited_seconds(count, delays)
        print(f"{count} instances, POST /v2/apps -> {count} running: {elapsed:.2f} s")
        print(f"  rate: {count / elapsed:.0f} tasks/s (target >= 100 tasks/s)")
        print(
            f"  stage -> running per task: median {statistics.median(delays) * 1000:.0f} ms, "
            f"max {max(delays) * 1000:.0f} ms"
        )
        print(
            f"  Marathon 1.4 default limiter (100 tokens / 30 s, +1 per running task) with "
            f"these start times: {marathon_seconds:.2f} s ({count / marathon_seconds:.0f} tasks/s)"
        )
        print(
            f"  100 tasks per 30 s alone: {REFILL_SECONDS * (count - 1) // TOKENS:.0f} s "
            f"({TOKENS / REFILL_SECONDS:.1f} tasks/s)"
        )
        print(
            "  CPU seconds used meanwhile: "
            + ", ".join(f"{name} {seconds:.2f}" for name, seconds in cpu.items())
        )
        for label, samples, sizes in (
            ("during the launch", during, probe.sizes),
            (f"with {count} running", steady.samples, steady.sizes),
        ):
            print(f"API latency {label}:")
            for path, values in samples.items():
                print(f"  GET {path:10s} {summary(values)}  ({sizes.get(path, 0) / 1024:.0f} KiB)")
        metrics = request(marathon.address, "GET", "/metrics")[1]
        print("Marathon metrics:", json.dumps(metrics["counters"]))
    finally:
        if marathon is not None:
            request(marathon.address, "DELETE", "/v2/apps/bench?force=true")
            # The tasks have their own sessions: let them be killed before the agent stops.
            wait_for(
                lambda: (
                    not any(
                        t["state"] == "TASK_RUNNING"
                        for f in cluster.state()["frameworks"]
                        for t in f["tasks"]
                    )
                ),
                timeout=120,
                what="the benchmark's tasks to end",
            )
            marathon.stop()
        cluster.stop()
        if ensemble is not None:
            ensemble.stop()


if __name__ == "__main__":
    main()
