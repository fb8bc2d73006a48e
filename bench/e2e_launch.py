"""End-to-end task launch: v1 API → master → agent → TASK_FINISHED acknowledged.

Side by side in one run on the same machine:

* a raw spawn loop (``/bin/sh -c true`` through ``subprocess``, serial and 8
  in flight): the floor any launcher pays;
* mesos-py: a master and one agent as separate processes, a framework (the
  project's Twisted ``SchedulerClient``) launching N trivial command tasks and
  acknowledging every update; throughput is N / (first submit → last
  TASK_FINISHED acknowledged);
* idle launch latency: one task at a time, submit → TASK_RUNNING seen;
* Slurm on the same machine: a private one-node cluster (``bench/slurm_cluster.py``:
  munged, slurmctld and slurmd as separate processes, started and stopped by
  this bench), N ``true`` jobs as one job array, sbatch → every task COMPLETED,
  once with Slurm's default scheduling settings and once with SchedMD's
  high-throughput settings. Skipped with a note when Slurm is not installed
  (``--install-slurm`` installs it with apt when running as root).

Usage: python bench/e2e_launch.py [--tasks 2000] [--latency-samples 100]
           [--install-slurm | --no-slurm] [--slurm-oversubscribe 64]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twisted.internet import defer, task

from bench import slurm_cluster
from mesos_py.client.scheduler import SchedulerClient
from mesos_py.common.protocol import TERMINAL_STATES
from mesos_py.common.resources import Resources
from tests.integration.harness import Cluster

TASK = Resources.parse("cpus:0.01;mem:16")
AGENT = "cpus:64;mem:65536;disk:10000;ports:[31000-32000]"


def raw_spawn(count: int, in_flight: int) -> float:
    """Tasks per second for ``count`` spawns of ``sh -c true`` with ``in_flight`` at a time."""
    started = time.perf_counter()
    running: list[subprocess.Popen] = []
    for _ in range(count):
        if len(running) >= in_flight:
            running.pop(0).wait()
        running.append(subprocess.Popen(["/bin/sh", "-c", "true"], start_new_session=True))
    for process in running:
        process.wait()
    return count / (time.perf_counter() - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class LaunchingFramework:
    """Launches queued command tasks on every offer and tracks their states."""

    def __init__(self, reactor: Any, master: str) -> None:
        self.queue: list[str] = []
        self.submitted: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.waiters: list[tuple[set[str], str, defer.Deferred]] = []
        info = {
            "user": "root",
            "name": "bench",
            "roles": ["*"],
            "capabilities": [{"type": "MULTI_ROLE"}],
        }
        self.client = SchedulerClient(reactor, master, info, self.on_event, auto_acknowledge=False)

    def on_event(self, event: dict[str, Any]) -> None:
        if event["type"] == "OFFERS":
            for offer in event["offers"]["offers"]:
                self.use(offer)
        elif event["type"] == "UPDATE":
            status = event["update"]["status"]
            task_id = status["task_id"]["value"]
            now = time.perf_counter()
            if status["state"] == "TASK_RUNNING":
                self.running.setdefault(task_id, now)
            ack = self.client.acknowledge(status)
            if status["state"] in TERMINAL_STATES:
                if status["state"] != "TASK_FINISHED":
                    print(f"  task {task_id} ended {status['state']}: {status.get('message')}")
                if ack is not None:
                    ack.addCallback(lambda _, t=task_id: self._finished(t))
            self._wake()

    def _finished(self, task_id: str) -> None:
        self.finished.setdefault(task_id, time.perf_counter())
        self._wake()

    def _wake(self) -> None:
        for waiter in list(self.waiters):
            ids, kind, d = waiter
            if ids <= (self.running.keys() if kind == "running" else self.finished.keys()):
                self.waiters.remove(waiter)
                d.callback(None)

    def wait(self, ids: set[str], kind: str) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        self.waiters.append((ids, kind, d))
        self._wake()
        return d

    def use(self, offer: dict[str, Any]) -> None:
        available = Resources.from_json(offer["resources"]).unallocated()
        infos = []
        while self.queue and available.contains(TASK):
            task_id = self.queue.pop(0)
            available = available - TASK
            infos.append(
                {
                    "name": task_id,
                    "task_id": {"value": task_id},
                    "agent_id": offer["agent_id"],
                    "command": {"value": "true"},
                    "resources": TASK.to_json(),
                }
            )
        now = time.perf_counter()
        for info in infos:
            self.submitted[info["task_id"]["value"]] = now
        if infos:
            operations = [{"type": "LAUNCH", "launch": {"task_infos": infos}}]
            self.client.call(
                "ACCEPT",
                {
                    "offer_ids": [offer["id"]],
                    "operations": operations,
                    "filters": {"refuse_seconds": 0},
                },
            )
        else:
            self.client.call(
                "DECLINE", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0}}
            )


@defer.inlineCallbacks
def run_mesos_py(reactor: Any, master: str, tasks: int, samples: int, results: dict):
    framework = LaunchingFramework(reactor, master)
    yield framework.client.subscribe()

    # Idle latency: one task at a time.
    latencies = []
    for index in range(samples):
        task_id = f"lat-{index}"
        framework.queue.append(task_id)
        yield framework.wait({task_id}, "finished")
        latencies.append((framework.running[task_id] - framework.submitted[task_id]) * 1000)
    results["latency_ms"] = latencies

    # Throughput: everything at once.
    pids = results["pids"]
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    ids = {f"burst-{index}" for index in range(tasks)}
    framework.queue.extend(sorted(ids))
    started = time.perf_counter()
    yield framework.wait(ids, "finished")
    first_submit = min(framework.submitted[t] for t in ids)
    last_ack = max(framework.finished[t] for t in ids)
    results["throughput"] = tasks / (last_ack - first_submit)
    results["burst_wall"] = time.perf_counter() - started
    results["cpu"] = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    results["cpu"]["framework"] = (self_after.ru_utime + self_after.ru_stime) - (
        self_before.ru_utime + self_before.ru_stime
    )
    yield framework.client.call("TEARDOWN")
    framework.client.close()


def run_slurm(tasks: int, oversubscribe: int, install: bool) -> tuple[dict[str, float], bool]:
    """Measure Slurm next to mesos-py; returns ({tuning label: jobs/s}, whether all went well)."""
    missing = slurm_cluster.missing_tools()
    if missing and install:
        if os.geteuid() != 0:
            print(
                f"Slurm not installed: skipped ({slurm_cluster.INSTALL_HINT}; "
                "--install-slurm needs root)"
            )
            return {}, True
        print(f"Slurm not installed ({', '.join(missing)} missing): installing with apt ...")
        try:
            print(f"  {slurm_cluster.install()}")
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            print(f"Slurm install failed: skipped ({error})")
            return {}, False
        missing = slurm_cluster.missing_tools()
    if missing:
        print(f"Slurm not installed: skipped ({slurm_cluster.INSTALL_HINT})")
        return {}, True

    version = slurm_cluster.slurm_version()
    rates: dict[str, float] = {}
    ok = True
    for name in ("default", "high-throughput"):
        tuning = slurm_cluster.TUNINGS[name]
        title = f"Slurm {version} (one node, {tuning.label})"
        cluster = slurm_cluster.SlurmCluster(tuning, tasks, oversubscribe=oversubscribe)
        try:
            with cluster:
                result = cluster.run_array(tasks, "true")
                cpus = cluster.run("sinfo", "--noheader", "--format=%c").strip()
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            print(f"{title}: failed: {error}")
            print(cluster.final_logs)
            ok = False
            continue
        finally:
            leftovers = cluster.running()
            if leftovers:
                print(f"  WARNING: Slurm processes still running: {leftovers}")
                ok = False
        rates[tuning.label] = result.rate
        print(f"{title}: {result.rate:.0f} jobs/s (array of {tasks} x true)")
        states = ", ".join(f"{count} {state}" for state, count in sorted(result.states.items()))
        if result.unseen:
            states += f", {result.unseen} purged before a poll saw them"
        sharing = f", each shared {oversubscribe} ways" if oversubscribe > 1 else ""
        print(
            f"  sbatch → all final in {result.elapsed:.1f} s ({states}); "
            f"sbatch call {result.submit_seconds * 1000:.0f} ms, {result.polls} squeue polls; "
            f"node: {cpus} CPUs{sharing}"
        )
        cpu = ", ".join(
            f"{name} {seconds / tasks * 1000:.2f} ms" for name, seconds in result.cpu.items()
        )
        print(f"  CPU per job: {cpu}")
        if result.failures or result.unseen:
            ok = False
    return rates, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument(
        "--install-slurm",
        action="store_true",
        help="if Slurm or munge is missing, install slurm-wlm and munge with apt (root only)",
    )
    parser.add_argument("--no-slurm", action="store_true", help="skip the Slurm measurements")
    parser.add_argument(
        "--slurm-oversubscribe",
        type=int,
        default=64,
        metavar="K",
        help="jobs each CPU of the Slurm node may run at once (OverSubscribe=FORCE:K); "
        "1 = one job per CPU, Slurm's default (about 0.7 jobs/s here: 2000 jobs take ~45 min)",
    )
    options = parser.parse_args()

    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"Machine: {os.cpu_count()} CPUs, load average {load} (1 / 5 / 15 min) at start")
    print(f"Raw spawn loop, {options.tasks} x `sh -c true`:")
    serial = raw_spawn(options.tasks, 1)
    parallel = raw_spawn(options.tasks, 8)
    print(f"  serial:        {serial:8.0f} tasks/s")
    print(f"  8 in flight:   {parallel:8.0f} tasks/s")

    work_dir = Path(tempfile.mkdtemp(prefix="mesos-py-bench-"))
    # Mesos' default status update retry (10 s); only registration is hurried.
    cluster = Cluster(
        work_dir / "cluster",
        "processes",
        agent_resources=AGENT,
        agent_flags=["--registration_backoff_factor=100ms"],
    )
    results: dict[str, Any] = {}
    try:
        cluster.start()
        results["pids"] = {
            "master": cluster.master.process.pid,
            "agent": cluster.agents[0].process.pid,
        }
        task.react(
            lambda reactor: run_mesos_py(
                reactor, cluster.address, options.tasks, options.latency_samples, results
            )
        )
    except SystemExit:
        pass
    finally:
        cluster.stop()
    if "throughput" not in results:
        print(cluster.logs())
        raise SystemExit("benchmark did not complete")
    latencies = results["latency_ms"]
    print(f"mesos-py (master + 1 agent, separate processes; agent {AGENT}):")
    print(
        f"  {options.tasks} tasks submit → FINISHED acked: {results['throughput']:8.0f} tasks/s"
        f"   (target >= 200 and >= Slurm on this machine; Mesos 1.7 ~33 containers/s/agent)"
    )
    print(f"  ratio to raw serial spawn:     {results['throughput'] / serial:6.1%}")
    print(f"  ratio to raw 8-in-flight:      {results['throughput'] / parallel:6.1%}")
    cpu = ", ".join(
        f"{name} {seconds / options.tasks * 1000:.2f} ms"
        for name, seconds in results["cpu"].items()
    )
    print(f"  CPU per task during the burst: {cpu}")
    print(
        f"  idle launch latency submit → RUNNING over {len(latencies)} tasks: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
        f", max {max(latencies):.1f} ms   (target p99 <= 100 ms)"
    )

    if options.no_slurm:
        print("Slurm: skipped (--no-slurm)")
        return
    rates, slurm_ok = run_slurm(options.tasks, options.slurm_oversubscribe, options.install_slurm)
    for label, rate in rates.items():
        print(f"  mesos-py / Slurm ({label}): {results['throughput'] / rate:6.1f}x")
    if not slurm_ok:
        raise SystemExit("Slurm measurement incomplete (see above)")


if __name__ == "__main__":
    main()
