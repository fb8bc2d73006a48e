"""Mesos' ZooKeeper layout, as pure functions: URLs, contender node names, MasterInfo.

Masters contend with ephemeral sequential ``json.info_<10 digits>`` nodes
holding their MasterInfo as JSON; the lowest sequence leads.  pymesos reads
the same nodes, so the names and the JSON must be exactly Mesos'.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MASTER_LABEL = "json.info"
# The legacy binary label Mesos' detectors still recognise (never written here).
LEGACY_LABEL = "info"
_MEMBER = re.compile(r"^(json\.info|info)_(\d{10})$")
# Where the registry lives under the --zk path.  pymesos takes the smallest child name
# of the path as the leader, skipping only 'log_replicas' (Mesos' own registry), so
# anything else stored beside the masters' nodes could be mistaken for a master.
REGISTRY_PARENT = "log_replicas"
REGISTRY_NODE = "registry"


@dataclass(frozen=True)
class ZkUrl:
    hosts: str  # "h1:2181,h2:2181"
    path: str  # "/mesos"
    credentials: str | None = None  # "user:password" for digest ACLs

    def child(self, name: str) -> str:
        return f"{self.path.rstrip('/')}/{name}"

    @property
    def registry_path(self) -> str:
        return self.child(f"{REGISTRY_PARENT}/{REGISTRY_NODE}")


def parse_zk_url(url: str) -> ZkUrl:
    """``zk://[user:password@]host:port[,host:port...]/path``; ValueError if malformed."""
    if not isinstance(url, str) or not url.startswith("zk://"):
        raise ValueError(f"{url!r}: expected zk://host:port[,host:port...]/path")
    rest = url[len("zk://") :]
    credentials = None
    if "@" in rest:
        credentials, _, rest = rest.rpartition("@")
        if ":" not in credentials:
            raise ValueError(f"{url!r}: credentials must be user:password")
    hosts, slash, path = rest.partition("/")
    path = "/" + path.rstrip("/")
    if not slash or path == "/":
        raise ValueError(f"{url!r}: a path such as /mesos is required")
    if not hosts:
        raise ValueError(f"{url!r}: no ZooKeeper servers")
    for host in hosts.split(","):
        name, sep, port = host.rpartition(":")
        if not sep or not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{url!r}: {host!r} is not host:port")
    if any(part in ("", ".", "..") for part in path[1:].split("/")):
        raise ValueError(f"{url!r}: invalid path {path!r}")
    return ZkUrl(hosts, path, credentials)


def sequence_of(name: str) -> int | None:
    """The sequence number of a contender's node name, None for anything else."""
    match = _MEMBER.match(name)
    return int(match.group(2)) if match else None


def leader_child(children: list[str]) -> str | None:
    """The contender node that leads: the lowest sequence among members (Mesos' rule)."""
    members = [(sequence_of(name), name) for name in children]
    members = [(seq, name) for seq, name in members if seq is not None]
    return min(members)[1] if members else None


def encode_master_info(info: dict[str, Any]) -> bytes:
    return json.dumps(info, separators=(",", ":")).encode()


def decode_master_info(name: str, data: bytes) -> dict[str, Any]:
    """MasterInfo from a contender node; ValueError when it cannot be used."""
    if not name.startswith(MASTER_LABEL + "_"):
        raise ValueError(f"{name}: only JSON MasterInfo ('{MASTER_LABEL}_') is supported")
    try:
        info = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: not JSON: {exc}") from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, dict):
        raise ValueError(f"{name}: MasterInfo has no 'address'")
    ip, port = address.get("ip"), address.get("port")
    if not isinstance(ip, str) or not ip or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"{name}: MasterInfo.address needs 'ip' and 'port'")
    return info


def master_address(info: dict[str, Any]) -> str:
    """``ip:port`` to reach a master, from a MasterInfo ``decode_master_info`` accepted."""
    return f"{info['address']['ip']}:{info['address']['port']}"
