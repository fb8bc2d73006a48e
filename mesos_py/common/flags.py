"""Command-line flags in Mesos' style.

Every flag is spelled ``--name=value`` (or ``--name value``) with Mesos' own
names, and may instead come from the environment as ``MESOS_<NAME>``; the
command line wins.  Booleans accept ``--flag``, ``--flag=false`` and
``--no-flag``.  Durations take Mesos units (``15secs``, ``100ms``).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mesos_py.common.durations import parse_duration


@dataclass(frozen=True)
class Flag:
    name: str
    help: str
    default: Any = None
    type: Callable[[str], Any] = str


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"invalid boolean {text!r}")


def duration(text: str) -> float:
    return parse_duration(text)


def _converter(flag: Flag) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return flag.type(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"--{flag.name}: {exc}") from None

    convert.__name__ = flag.type.__name__
    return convert


def add_flags(
    parser: argparse.ArgumentParser, flags: list[Flag], environ: Mapping[str, str] | None = None
) -> None:
    """Declare ``flags`` on ``parser`` with defaults taken from ``MESOS_*`` variables."""
    environ = os.environ if environ is None else environ
    for flag in flags:
        default = flag.default
        # argparse %-formats help texts: a literal '%' (e.g. "100%") must be doubled.
        help_text = f"{flag.help} (default: {flag.default})".replace("%", "%%")
        env_value = environ.get(f"MESOS_{flag.name.upper()}")
        if env_value is not None:
            try:
                default = flag.type(env_value)
            except ValueError as exc:
                parser.error(f"MESOS_{flag.name.upper()}: {exc}")
        if flag.type is boolean:
            parser.add_argument(
                f"--{flag.name}",
                nargs="?",
                const=True,
                default=default,
                type=_converter(flag),
                help=help_text,
            )
            parser.add_argument(
                f"--no-{flag.name}", dest=flag.name, action="store_false", help=argparse.SUPPRESS
            )
        else:
            parser.add_argument(
                f"--{flag.name}",
                default=default,
                type=_converter(flag),
                help=help_text,
            )


# The password of a ``zk://user:password@hosts/path`` URL.
_URL_PASSWORD = re.compile(r"^(zk://[^:/@]*:)[^@/]*@")


def redacted(text: str) -> str:
    """``text`` with the password of a ``zk://user:password@`` URL replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def flags_as_strings(namespace: argparse.Namespace, flags: list[Flag]) -> dict[str, str]:
    """The flags' effective values as strings, as ``/state`` and ``/flags`` report them.

    Those endpoints are readable by anyone who reaches the daemon, so a ZooKeeper
    password given in a URL is shown as ``***``.
    """
    result = {}
    for flag in flags:
        value = getattr(namespace, flag.name)
        if value is None:
            continue
        result[flag.name] = str(value).lower() if isinstance(value, bool) else redacted(str(value))
    return result


def value_from_file(value: str, flag: str) -> str:
    """A flag's value, read from the file a ``file:///path`` value names (Mesos' form).

    For ``--zk`` and the agent's ``--master``: ZooKeeper credentials then live in a
    file only its owner reads, not on the command line or in the environment.
    Other values are returned as they are; ValueError when the file cannot be read.
    """
    if not value.startswith("file://"):
        return value
    path = value[len("file://") :]
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--{flag}={value}: cannot read it: {exc}") from None
    if not content:
        raise ValueError(f"--{flag}={value}: the file is empty")
    return content
