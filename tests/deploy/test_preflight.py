"""site.yml's preflight refuses unsound inventories, saying what to fix, before touching a host.

Each case runs ``ansible-playbook site.yml --tags preflight`` on an inventory whose hosts
are all this machine (local connection): only the inventory checks run.
"""

from __future__ import annotations

import copy

import pytest

from tests.deploy.ansible_run import local_inventory, run_playbook


def cluster(
    zookeeper: int = 3, masters: int = 3, agents: int = 2, frameworks: int = 2
) -> dict[str, dict[str, dict]]:
    """ZooKeeper, masters, Marathon and Chronos on the same hosts (node1..), agents on
    their own.  Framework instances need no odd count."""
    nodes = {f"node{i}": {"cluster_address": f"10.99.0.{10 + i}"} for i in range(1, 6)}
    return {
        "zookeeper": {
            f"node{i}": {**nodes[f"node{i}"], "zookeeper_id": i} for i in range(1, zookeeper + 1)
        },
        "mesos_masters": {f"node{i}": nodes[f"node{i}"] for i in range(1, masters + 1)},
        "mesos_agents": {
            f"agent{i}": {"cluster_address": f"10.99.1.{10 + i}"} for i in range(1, agents + 1)
        },
        "marathon": {f"node{i}": nodes[f"node{i}"] for i in range(1, frameworks + 1)},
        "chronos": {f"node{i}": nodes[f"node{i}"] for i in range(1, frameworks + 1)},
    }


def with_changes(groups: dict, group: str, host: str, **changes: object) -> dict:
    changed = copy.deepcopy(groups)
    for name, value in changes.items():
        for hosts in changed.values():
            if host in hosts:
                if value is None:
                    hosts[host].pop(name, None)
                else:
                    hosts[host][name] = value
    changed[group].setdefault(host, {})
    return changed


def test_a_sound_inventory_passes(tmp_path):
    result = run_playbook(tmp_path, local_inventory(cluster()), "site.yml", "--tags", "preflight")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout


def test_a_single_node_cluster_passes_when_asked_for(tmp_path):
    groups = cluster(zookeeper=1, masters=1, agents=1, frameworks=1)
    groups["mesos_agents"] = {"node1": {}}
    inventory = local_inventory(groups, cluster_allow_single_node=True)
    result = run_playbook(tmp_path, inventory, "site.yml", "--tags", "preflight")
    assert result.returncode == 0, result.stdout + result.stderr


BAD_INVENTORIES = {
    "duplicate zookeeper_id": (
        with_changes(cluster(), "zookeeper", "node3", zookeeper_id=1),
        "zookeeper_id 1 is used by node1 and node3: give each ZooKeeper server its own",
    ),
    "missing zookeeper_id": (
        with_changes(cluster(), "zookeeper", "node2", zookeeper_id=None),
        "ZooKeeper server node2 has no zookeeper_id: set a zookeeper_id between 1 and 255",
    ),
    "zookeeper_id out of range": (
        with_changes(cluster(), "zookeeper", "node2", zookeeper_id=256),
        "ZooKeeper server node2 has zookeeper_id=256: set a zookeeper_id between 1 and 255",
    ),
    "even master count": (
        cluster(masters=4),
        "and 4 in 'mesos_masters': each count must be odd",
    ),
    "even zookeeper count": (
        cluster(zookeeper=2),
        "Found 2 host(s) in 'zookeeper'",
    ),
    "missing cluster_address": (
        with_changes(cluster(), "mesos_agents", "agent2", cluster_address=None),
        "Host agent2 has no cluster_address: set cluster_address to the IPv4 address",
    ),
    "cluster_address not an address": (
        with_changes(cluster(), "mesos_agents", "agent1", cluster_address="agent1.example"),
        "Host agent1 has cluster_address=agent1.example: set cluster_address to the IPv4",
    ),
    "loopback cluster_address": (
        with_changes(cluster(), "mesos_masters", "node1", cluster_address="127.0.1.1"),
        "Host node1 has cluster_address=127.0.1.1",
    ),
    "shared cluster_address": (
        with_changes(cluster(), "mesos_agents", "agent2", cluster_address="10.99.1.11"),
        "cluster_address 10.99.1.11 is used by agent1 and agent2: each host needs its own",
    ),
    "single node not asked for": (
        cluster(zookeeper=1, masters=1),
        "set cluster_allow_single_node=true for a test cluster",
    ),
    "framework instance without cluster_address": (
        with_changes(cluster(), "chronos", "chronos9"),
        "Host chronos9 has no cluster_address: set cluster_address to the IPv4 address",
    ),
    "no masters": (
        cluster(masters=0),
        "The inventory needs hosts in the groups 'zookeeper' and 'mesos_masters'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INVENTORIES))
def test_an_unsound_inventory_fails_in_preflight_saying_what_to_fix(tmp_path, case):
    groups, message = BAD_INVENTORIES[case]
    result = run_playbook(tmp_path, local_inventory(groups), "site.yml", "--tags", "preflight")
    assert result.returncode != 0
    # YAML output folds long messages: compare with whitespace collapsed.
    output = " ".join(result.stdout.split())
    assert message in output, result.stdout + result.stderr
    # It stopped in the preflight play: no role ran.
    assert "PLAY [Common setup of every host]" not in result.stdout
