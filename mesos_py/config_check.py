"""``mesos-py check-config``: is a daemon's environment file valid?

Daemons: ``master``, ``agent``, and the frameworks ``marathon`` and ``chronos``.

The Ansible roles hand each daemon its flags as ``MESOS_<FLAG>=value`` lines in a
systemd EnvironmentFile.  This reads such a file and runs it through the daemon's own
flag table and the checks the daemon makes when it starts, so that a bad file is
refused before it replaces the good one (the template task's ``validate:``) instead
of surfacing as a crash loop after the restart.
"""

from __future__ import annotations

import argparse
import difflib
import ipaddress
from collections.abc import Mapping
from typing import NoReturn

from mesos_py.agent.flags import AGENT_FLAGS
from mesos_py.agent.service import make_agent_config
from mesos_py.chronos.service import CHRONOS_FLAGS
from mesos_py.common.flags import Flag, add_flags, value_from_file
from mesos_py.common.zk_layout import parse_zk_url
from mesos_py.marathon.service import MARATHON_FLAGS
from mesos_py.master.flags import MASTER_FLAGS, parse_weights

FLAGS_BY_DAEMON = {
    "master": MASTER_FLAGS,
    "agent": AGENT_FLAGS,
    "marathon": MARATHON_FLAGS,
    "chronos": CHRONOS_FLAGS,
}
PREFIX = "MESOS_"


class ConfigError(ValueError):
    """What is wrong with the file, phrased for the operator who has to fix it."""


class _RaisingParser(argparse.ArgumentParser):
    """The daemon's parser, except that a bad value raises instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def parse_environment_file(text: str) -> dict[str, str]:
    """``NAME=value`` lines as systemd's EnvironmentFile= reads them (no line continuations).

    Blank lines and lines starting with ``#`` or ``;`` are skipped; a value wrapped in
    matching single or double quotes loses them.
    """
    variables: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise ConfigError(f"line {number}: expected NAME=value, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if name in variables:
            raise ConfigError(f"line {number}: {name} is set twice")
        variables[name] = value
    return variables


def _unknown_variables(environ: Mapping[str, str], flags: list[Flag], daemon: str) -> list[str]:
    known = {PREFIX + flag.name.upper() for flag in flags}
    problems = []
    for name in sorted(environ):
        if name.startswith(PREFIX) and name not in known:
            guess = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else ""
            problems.append(f"{name} is not a flag of mesos-py {daemon}{hint}")
    return problems


def _check_ip(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(f"--{name}={value}: not an IP address") from None


def _check_zk(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        parse_zk_url(value)
    except ValueError as exc:
        raise ConfigError(f"--{name}: {exc}") from None


def _check_master_url(value: str | None) -> None:
    """A framework's --master: required, ``zk://...`` or ``host:port``."""
    if not value:
        raise ConfigError("--master is required (zk://host:2181,.../mesos or host:port)")
    if value.startswith("zk://"):
        _check_zk("master", value)
        return
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--master={value}: expected zk://host:2181,.../mesos or host:port")


def _check_master(options: argparse.Namespace) -> None:
    _check_ip("ip", options.ip)
    _check_ip("advertise_ip", options.advertise_ip)
    try:
        _check_zk("zk", options.zk and value_from_file(options.zk, "zk"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        parse_weights(options.weights)
    except ValueError as exc:
        raise ConfigError(f"--weights: {exc}") from None


def _check_agent(options: argparse.Namespace) -> None:
    _check_ip("ip", options.ip)
    _check_ip("advertise_ip", options.advertise_ip)
    try:
        make_agent_config(options)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_marathon(options: argparse.Namespace) -> None:
    _check_ip("http_address", options.http_address)
    _check_master_url(options.master)
    _check_zk("zk", options.zk)


def _check_chronos(options: argparse.Namespace) -> None:
    _check_marathon(options)
    _check_ip("advertise_ip", options.advertise_ip)


CHECKS_BY_DAEMON = {
    "master": _check_master,
    "agent": _check_agent,
    "marathon": _check_marathon,
    "chronos": _check_chronos,
}


def check_environment(daemon: str, environ: Mapping[str, str]) -> argparse.Namespace:
    """The daemon's options from ``environ``; ConfigError lists everything wrong."""
    flags = FLAGS_BY_DAEMON[daemon]
    problems = _unknown_variables(environ, flags, daemon)
    if problems:
        raise ConfigError("; ".join(problems))
    parser = _RaisingParser(prog=f"mesos-py {daemon}", add_help=False)
    add_flags(parser, flags, environ=environ)
    options = parser.parse_args([])
    CHECKS_BY_DAEMON[daemon](options)
    return options


def check_file(daemon: str, path: str) -> str:
    """A one-line verdict on the file at ``path``; ConfigError says what to fix."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read it: {exc}") from None
    environ = parse_environment_file(text)
    check_environment(daemon, environ)
    count = sum(1 for name in environ if name.startswith(PREFIX))
    return f"{path}: valid {daemon} configuration ({count} {PREFIX}* variables)"


def add_check_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("daemon", choices=sorted(FLAGS_BY_DAEMON), help="whose flags")
    parser.add_argument("path", help="an EnvironmentFile of MESOS_<FLAG>=value lines")
