"""``mesos-py``: the command line of every daemon and tool."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from twisted.application import service
from twisted.logger import globalLogBeginner, textFileLogObserver


def _run_services(build: Any) -> int:
    """Start the service tree ``build(reactor)`` returns; stop it on SIGTERM/SIGINT."""
    from twisted.internet import reactor

    try:
        root = build(reactor)
    except ValueError as exc:  # a bad or missing flag value
        print(f"error: {exc}", file=sys.stderr)
        return 1
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)])
    try:
        root.startService()
    except Exception as exc:  # e.g. the port is taken: say so, exit non-zero
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    reactor.addSystemEventTrigger("before", "shutdown", root.stopService)
    reactor.run()
    # A master that lost leadership sets 1, so that systemd restarts it.
    return getattr(root, "exit_code", 0)


def _master(options: argparse.Namespace) -> int:
    from mesos_py.master.service import MasterService

    return _run_services(lambda reactor: MasterService(options, reactor))


def _agent(options: argparse.Namespace) -> int:
    from mesos_py.agent.service import make_agent_service

    return _run_services(lambda reactor: make_agent_service(options, reactor))


def _local(options: argparse.Namespace) -> int:
    from mesos_py.agent.service import add_agent_arguments, make_agent_service
    from mesos_py.master.service import MasterService, add_master_arguments

    work_dir = options.work_dir or tempfile.mkdtemp(prefix="mesos-py-local-")
    master_parser = argparse.ArgumentParser(add_help=False)
    add_master_arguments(master_parser)
    master_options = master_parser.parse_args(
        ["--ip", options.ip, "--port", str(options.port), "--work_dir", work_dir]
    )

    def build(reactor: Any) -> service.MultiService:
        root = service.MultiService()
        master = MasterService(master_options, reactor)
        master.startService()  # binds now, so the agents know the real port
        master.setServiceParent(root)
        for index in range(options.agents):
            agent_parser = argparse.ArgumentParser(add_help=False)
            add_agent_arguments(agent_parser)
            argv = [
                "--master",
                f"{master.config.ip}:{master.port}",
                "--ip",
                options.ip,
                "--port",
                "0",
                "--work_dir",
                os.path.join(work_dir, f"agent-{index}"),
                "--registration_backoff_factor",
                "100ms",
            ]
            if options.agent_resources:
                argv += ["--resources", options.agent_resources]
            make_agent_service(agent_parser.parse_args(argv), reactor).setServiceParent(root)
        print(
            f"mesos-py local: master at http://{master.config.ip}:{master.port} "
            f"with {options.agents} agent(s); work_dir {work_dir}",
            flush=True,
        )
        return root

    return _run_services(build)


def _check_config(options: argparse.Namespace) -> int:
    from mesos_py.config_check import ConfigError, check_file

    try:
        print(check_file(options.daemon, options.path))
    except ConfigError as exc:
        print(f"error: {options.path}: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    from mesos_py.agent.service import add_agent_arguments
    from mesos_py.config_check import add_check_config_arguments
    from mesos_py.execute import add_execute_arguments
    from mesos_py.master.service import add_master_arguments

    parser = argparse.ArgumentParser(prog="mesos-py", description=__doc__)
    commands = parser.add_subparsers(dest="subcommand", required=True)
    add_master_arguments(commands.add_parser("master", help="run a master"))
    add_agent_arguments(commands.add_parser("agent", help="run an agent"))
    local = commands.add_parser("local", help="run a master and N agents in one process")
    local.add_argument("--agents", type=int, default=1, help="number of agents")
    local.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    local.add_argument("--port", type=int, default=5050, help="master port (0: any free port)")
    local.add_argument("--work_dir", default=None, help="directory for the agents' sandboxes")
    local.add_argument("--agent_resources", default=None, help="--resources for every agent")
    add_execute_arguments(commands.add_parser("execute", help="run one command task"))
    add_check_config_arguments(
        commands.add_parser("check-config", help="validate a master's or agent's flags file")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    if options.subcommand == "local" and options.agents < 0:
        print("error: --agents must be >= 0", file=sys.stderr)
        return 2
    if options.subcommand == "execute":
        from mesos_py.execute import run_execute

        return run_execute(options)
    commands = {"master": _master, "agent": _agent, "local": _local, "check-config": _check_config}
    return commands[options.subcommand](options)


if __name__ == "__main__":
    sys.exit(main())
