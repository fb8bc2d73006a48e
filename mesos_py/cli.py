"""``mesos-py``: the command line of every daemon and tool."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from twisted.application import service
from twisted.logger import globalLogBeginner, textFileLogObserver


def _run_services(build: Any) -> int:
    """Start the service tree ``build(reactor)`` returns; stop it on SIGTERM/SIGINT."""
    from twisted.internet import reactor

    from mesos_py.common import daemon_gc

    daemon_gc.tune_for_daemon()
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
    daemon_gc.freeze_startup_objects()
    reactor.run()
    # A master that lost leadership sets 1, so that systemd restarts it.
    return getattr(root, "exit_code", 0)


def _master(options: argparse.Namespace) -> int:
    from mesos_py.master.service import MasterService

    return _run_services(lambda reactor: MasterService(options, reactor))


def _agent(options: argparse.Namespace) -> int:
    """SIGTERM stops the agent and leaves its tasks running; SIGUSR1 kills them first."""
    from mesos_py.agent.service import make_agent_service

    def build(reactor: Any) -> service.Service:
        agent = make_agent_service(options, reactor)

        def shut_down(_signum: int, _frame: Any) -> None:
            agent.shut_down_on_stop = True
            reactor.callFromThread(reactor.stop)

        signal.signal(signal.SIGUSR1, shut_down)
        return agent

    return _run_services(build)


def _marathon(options: argparse.Namespace) -> int:
    from mesos_py.marathon.service import MarathonService

    return _run_services(lambda reactor: MarathonService(options, reactor))


def _local_marathon(master_address: str, options: argparse.Namespace, reactor: Any) -> Any:
    """The Marathon-compatible framework for ``local --with-marathon`` (state in memory)."""
    from mesos_py.marathon.service import MarathonService, add_marathon_arguments

    parser = argparse.ArgumentParser(add_help=False)
    add_marathon_arguments(parser)
    argv = ["--master", master_address, "--http_port", str(options.marathon_port)]
    return MarathonService(parser.parse_args([*argv, "--http_address", options.ip]), reactor)


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
            agent = make_agent_service(agent_parser.parse_args(argv), reactor)
            agent.shut_down_on_stop = True  # an embedded cluster leaves no orphans
            agent.setServiceParent(root)
        if options.with_marathon:
            marathon = _local_marathon(f"{master.config.ip}:{master.port}", options, reactor)
            marathon.setServiceParent(root)
            print(f"mesos-py local: Marathon API on port {options.marathon_port}", flush=True)
        if options.with_chronos:
            address = f"{master.config.ip}:{master.port}"
            _local_chronos(options, address, reactor).setServiceParent(root)
            print(
                f"mesos-py local: chronos at http://{options.ip}:{options.chronos_port}", flush=True
            )
        print(
            f"mesos-py local: master at http://{master.config.ip}:{master.port} "
            f"with {options.agents} agent(s); work_dir {work_dir}",
            flush=True,
        )
        return root

    return _run_services(build)


def _chronos(options: argparse.Namespace) -> int:
    from mesos_py.chronos.service import ChronosService

    return _run_services(lambda reactor: ChronosService(options, reactor))


def _local_chronos(options: argparse.Namespace, master_address: str, reactor: Any) -> Any:
    """``local --with-chronos``: a Chronos instance keeping its jobs in memory."""
    from mesos_py.chronos.service import ChronosService, add_chronos_arguments

    parser = argparse.ArgumentParser(add_help=False)
    add_chronos_arguments(parser)
    argv = ["--master", master_address, "--http_address", options.ip]
    argv += ["--http_port", str(options.chronos_port)]
    return ChronosService(parser.parse_args(argv), reactor)


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
    from mesos_py.chronos.service import add_chronos_arguments
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
    local.add_argument(
        "--with-marathon", action="store_true", help="also run the Marathon-compatible framework"
    )
    local.add_argument("--marathon_port", type=int, default=8080, help="its REST API port")
    local.add_argument("--with-chronos", action="store_true", help="also run a Chronos instance")
    local.add_argument("--chronos_port", type=int, default=4400, help="Chronos API port")
    from mesos_py.marathon.service import add_marathon_arguments

    add_marathon_arguments(
        commands.add_parser("marathon", help="run the Marathon-compatible framework")
    )
    add_execute_arguments(commands.add_parser("execute", help="run one command task"))
    add_chronos_arguments(commands.add_parser("chronos", help="run the Chronos job scheduler"))
    add_check_config_arguments(
        commands.add_parser("check-config", help="validate the flags file of a daemon")
    )
    from mesos_py.operator_cli import add_operator_commands

    add_operator_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mesos_py.operator_cli import COMMANDS, operator_main

    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:  # skips importing the daemons: a faster start
        return operator_main(args)
    options = build_parser().parse_args(argv)
    if options.subcommand == "local" and options.agents < 0:
        print("error: --agents must be >= 0", file=sys.stderr)
        return 2
    if options.subcommand == "execute":
        from mesos_py.execute import run_execute

        return run_execute(options)
    commands = {
        "master": _master,
        "agent": _agent,
        "local": _local,
        "marathon": _marathon,
        "chronos": _chronos,
        "check-config": _check_config,
    }
    return commands[options.subcommand](options)


if __name__ == "__main__":
    sys.exit(main())
