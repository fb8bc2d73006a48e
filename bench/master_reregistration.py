"""The new leader's CPU for agents re-registering after a failover, in process.

``bench/master_failover.py`` times the whole failover, but on a two-core
machine its wall clock also holds the simulated agents, ZooKeeper and the
other masters.  This isolates the leader's own cost: a ``Master`` that has
recovered a registry of N admitted agents receives N ``REGISTER`` calls, each
reporting T running tasks, as raw HTTP/1.1 bytes through twisted.web's real
channel and the master's real resource tree (only the sockets are replaced by
in-memory transports), followed by the coalesced allocation.  The figure is
process CPU time (``time.process_time``), so it is fairly stable on a busy
machine; the best of ``--repeat`` runs is reported.

Usage::

    .venv/bin/python bench/master_reregistration.py [--agents 1000] [--tasks-per-agent 10]
        [--repeat 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from twisted.internet import reactor  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402

from bench.simulated import AGENT_RESOURCES, TASK_RESOURCES  # noqa: E402
from mesos_py.common import daemon_gc  # noqa: E402
from mesos_py.common.http import make_site  # noqa: E402
from mesos_py.common.resources import Resources  # noqa: E402
from mesos_py.master import registry  # noqa: E402
from mesos_py.master.leadership import StandaloneLeadership  # noqa: E402
from mesos_py.master.master import Master, MasterConfig  # noqa: E402
from mesos_py.master.service import build_resource_tree  # noqa: E402

FRAMEWORK_INFO = {
    "id": {"value": "bench-framework"},
    "user": "bench",
    "name": "bench",
    "failover_timeout": 3600,
}


def requests(agents: int, tasks_per_agent: int) -> tuple[registry.Registry, list[bytes]]:
    """The registry the new leader reads, and each agent's REGISTER request as sent."""
    recovered = registry.Registry()
    agent_resources = Resources.parse(AGENT_RESOURCES).to_json()
    task_resources = Resources.parse(TASK_RESOURCES).to_json()
    raw = []
    for index in range(agents):
        agent_id = f"bench-S{index}"
        info = {
            "id": {"value": agent_id},
            "hostname": f"sim-{index}",
            "port": 5051,
            "resources": agent_resources,
        }
        recovered.agents[agent_id] = info
        tasks = [
            {
                "task_id": {"value": f"sim-{index}-t{k}"},
                "framework_id": FRAMEWORK_INFO["id"],
                "agent_id": {"value": agent_id},
                "name": f"bench-sim-{index}-{k}",
                "resources": task_resources,
                "state": "TASK_RUNNING",
            }
            for k in range(tasks_per_agent)
        ]
        call = {
            "type": "REGISTER",
            "register": {
                "agent_info": info,
                "tasks": tasks,
                "executors": [],
                "frameworks": [FRAMEWORK_INFO],
                "version": "1.11.0",
            },
        }
        body = json.dumps(call, separators=(",", ":")).encode()
        raw.append(
            b"POST /internal/agent HTTP/1.1\r\nHost: 127.0.0.1:5050\r\n"
            b"Content-Type: application/json\r\nAccept: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
    return recovered, raw


def reregister_all(recovered: registry.Registry, raw: list[bytes], profile: bool) -> float:
    """CPU seconds for one fresh leader to take every request in ``raw``."""
    master = Master(MasterConfig(), reactor, {})
    master.registrar.registry = recovered  # as Registrar.recover leaves it
    master.recover(recovered)
    site = make_site(build_resource_tree(master, StandaloneLeadership(master.master_info)))
    transports = []
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for request in raw:
        channel = site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(request)
        transports.append(transport)
    master.allocate()  # the allocation the registrations asked for
    if profiler is not None:
        profiler.disable()
    spent = time.process_time() - started
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    answered = sum(b'"REGISTERED"' in transport.value() for transport in transports)
    if answered != len(raw) or master.recovered_agents:
        raise SystemExit(f"only {answered} of {len(raw)} agents were answered REGISTERED")
    print(f"  {sum(len(a.tasks) for a in master.agents.values())} tasks known: {spent:.3f} s")
    master.stop()
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tasks-per-agent", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the last run")
    parser.add_argument(
        "--default-gc", action="store_true", help="CPython's GC thresholds, not the daemons'"
    )
    args = parser.parse_args(argv)
    if not args.default_gc:
        daemon_gc.tune_for_daemon()  # as `mesos-py master` runs
    recovered, raw = requests(args.agents, args.tasks_per_agent)
    runs = [
        reregister_all(recovered, raw, args.profile and i == args.repeat - 1)
        for i in range(args.repeat)
    ]
    best = min(runs)
    print(
        f"{args.agents} agents x {args.tasks_per_agent} tasks re-registering with a new leader: "
        f"best {best:.3f} s CPU ({best / args.agents * 1000:.2f} ms per agent), "
        f"runs {', '.join(f'{r:.3f}' for r in runs)}; load average {os.getloadavg()[0]:.2f}; "
        f"GC thresholds {gc.get_threshold()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
