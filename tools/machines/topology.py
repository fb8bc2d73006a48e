"""What the local test cluster looks like: machines, addresses, inventory and files.

Pure: plain values in, plain values (dicts, file texts) out.  The inventory written here
is the contract with the Ansible roles (groups, ``cluster_address``, ``zookeeper_id``,
the agents' cgroup variables), so it is built in one place.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

BRIDGE = "mesospy0"
NETWORK = ipaddress.IPv4Network("10.213.0.0/24")
BRIDGE_ADDRESS = ipaddress.IPv4Address("10.213.0.1")
# Masters get .11, .12, ...; agents .21, .22, ...: at most nine of each.
MASTER_BASE = 10
AGENT_BASE = 20
MAX_PER_KIND = 9

# The frameworks run beside the masters, as in the production example inventory.
MASTER_GROUPS = ("zookeeper", "mesos_masters", "marathon", "chronos")
AGENT_GROUPS = ("mesos_agents",)
ALL_GROUPS = ("zookeeper", "mesos_masters", "mesos_agents", "marathon", "chronos")

# Where an agent machine sees the host's cgroup v1 controllers (bound by systemd-nspawn:
# the container's own /sys/fs/cgroup is read-only).
HOST_CGROUP_DIR = "/run/host-cgroup"
CGROUP_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer")

# Throwaway machines with fresh host keys on every boot; one multiplexed connection per
# machine (testinfra would open one per command otherwise).  %C: a hash of the
# connection, short, as socket paths are limited to ~100 bytes.
SSH_OPTIONS = (
    "StrictHostKeyChecking=no",
    "UserKnownHostsFile=/dev/null",
    "LogLevel=ERROR",
    "ControlMaster=auto",
    "ControlPersist=60s",
    "ControlPath=/tmp/mesos-py-machines-ssh-%C",
)

ZOOKEEPER_PORT = 2181
MASTER_PORT = 5050
MARATHON_PORT = 8080
CHRONOS_PORT = 4400


class TopologyError(ValueError):
    """The requested machine counts cannot be built; the message says why."""


@dataclass(frozen=True)
class Machine:
    name: str
    address: str
    groups: tuple[str, ...]
    zookeeper_id: int | None = None

    @property
    def is_agent(self) -> bool:
        return "mesos_agents" in self.groups

    @property
    def cgroups_root(self) -> str:
        """The agent's cgroup under each host controller (agents share one kernel)."""
        return f"mesos-py-{self.name}"

    def host_vars(self) -> dict[str, object]:
        """Inventory variables of this host (the roles' contract)."""
        variables: dict[str, object] = {
            "ansible_host": self.address,
            "cluster_address": self.address,
        }
        if self.zookeeper_id is not None:
            variables["zookeeper_id"] = self.zookeeper_id
        if self.is_agent:
            # Every agent shares the host's kernel: each needs its own cgroup root.
            variables["mesos_agent_cgroups_hierarchy"] = HOST_CGROUP_DIR
            variables["mesos_agent_cgroups_root"] = self.cgroups_root
        return variables


def plan(masters: int, agents: int) -> list[Machine]:
    """``masters`` machines running ZooKeeper and a master each, then ``agents`` agents."""
    for kind, count in (("masters", masters), ("agents", agents)):
        if not 1 <= count <= MAX_PER_KIND:
            raise TopologyError(f"{kind} must be between 1 and {MAX_PER_KIND}, got {count}")
    machines = [
        Machine(f"mesos-{i}", str(NETWORK[MASTER_BASE + i]), MASTER_GROUPS, zookeeper_id=i)
        for i in range(1, masters + 1)
    ]
    machines += [
        Machine(f"agent-{i}", str(NETWORK[AGENT_BASE + i]), AGENT_GROUPS)
        for i in range(1, agents + 1)
    ]
    return machines


def inventory(machines: list[Machine], private_key: str) -> dict[str, object]:
    """The Ansible YAML inventory (as a dict) for ``machines``, reached as root over ssh."""
    return {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": private_key,
                "ansible_ssh_common_args": " ".join(f"-o {o}" for o in SSH_OPTIONS),
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "hosts": {m.name: m.host_vars() for m in machines},
            "children": {
                group: {"hosts": {m.name: {} for m in machines if group in m.groups}}
                for group in ALL_GROUPS
            },
        }
    }


def etc_hosts(machines: list[Machine]) -> str:
    """/etc/hosts of every machine: each machine by name, and no 127.0.1.1 line, so a
    daemon resolving its own name gets its cluster address, not loopback."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{m.address}\t{m.name}" for m in machines]
    return "\n".join(lines) + "\n"


def network_file(machine: Machine) -> str:
    """systemd-networkd config for the machine's ``host0`` veth.

    Named ``10-host0.network`` so that it sorts before the image's own
    ``80-container-host0.network`` (which would ask for DHCP).  No gateway: the machines
    reach each other and the host's bridge address, nothing else.
    """
    return (
        "[Match]\n"
        "Name=host0\n"
        "\n"
        "[Network]\n"
        f"Address={machine.address}/{NETWORK.prefixlen}\n"
        "LinkLocalAddressing=no\n"
        "IPv6AcceptRA=no\n"
    )


def zookeeper_connect(machines: list[Machine]) -> str:
    """The ZooKeeper connect string of the ensemble (``host:port,...``)."""
    return ",".join(f"{m.address}:{ZOOKEEPER_PORT}" for m in machines if "zookeeper" in m.groups)


def summary(machines: list[Machine]) -> list[str]:
    """What to tell the user once the cluster is up: URLs and the ZooKeeper URL."""
    services = (
        ("master", "mesos_masters", MASTER_PORT),
        ("marathon", "marathon", MARATHON_PORT),
        ("chronos", "chronos", CHRONOS_PORT),
    )
    lines = [
        f"  {label:<9}http://{m.address}:{port}/"
        for label, group, port in services
        for m in machines
        if group in m.groups
    ]
    lines.append(f"  zk       zk://{zookeeper_connect(machines)}/mesos")
    return lines
