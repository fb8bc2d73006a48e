"""Every host of the cluster: names, reachability, services, listening addresses."""

from __future__ import annotations

import uuid

import pytest

from tests.infra import cluster

TCP_PROBE = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)"


def test_every_host_resolves_every_other_by_name(any_host, inventory):
    resolved = {}
    for name in inventory.hosts("all"):
        result = any_host.host.run(f"getent hosts {name}")
        resolved[name] = result.stdout.split()[0] if result.rc == 0 else None
    expected = {name: inventory.address(name) for name in inventory.hosts("all")}
    assert resolved == expected


def test_every_host_reaches_every_other_over_tcp(any_host, inventory):
    unreachable = []
    for name in inventory.hosts("all"):
        port = int(inventory.variables(name).get("ansible_port", 22))
        address = inventory.address(name)
        result = any_host.host.run(f"python3 -c '{TCP_PROBE}' {address} {port}")
        if result.rc != 0:
            unreachable.append(f"{name} ({address}:{port}): {result.stderr.strip()[-200:]}")
    assert unreachable == []


def test_zookeeper_is_enabled_and_running(zookeeper_host):
    cluster.assert_enabled_and_running(zookeeper_host, "zookeeper")


def test_master_is_enabled_and_running(master_host):
    cluster.assert_enabled_and_running(master_host, "mesos-py-master")


def test_agent_is_enabled_and_running(agent_host):
    cluster.assert_enabled_and_running(agent_host, "mesos-py-agent")


@pytest.mark.parametrize("port", [cluster.ZOOKEEPER_PORT, cluster.ZOOKEEPER_ELECTION_PORT])
def test_zookeeper_listens_on_the_cluster_address_only(zookeeper_host, port):
    cluster.assert_listens_on_cluster_address_only(zookeeper_host, port)


def test_master_listens_on_the_cluster_address_only(master_host):
    cluster.assert_listens_on_cluster_address_only(master_host, cluster.MASTER_PORT)


def test_agent_listens_on_the_cluster_address_only(agent_host):
    cluster.assert_listens_on_cluster_address_only(agent_host, cluster.AGENT_PORT)


def test_master_unit_restarts_on_failure(master_host):
    properties = master_host.host.service("mesos-py-master").systemd_properties
    assert properties["Restart"] == "on-failure"


def test_agent_unit_leaves_tasks_running_when_the_agent_stops(agent_host):
    properties = agent_host.host.service("mesos-py-agent").systemd_properties
    assert properties["KillMode"] == "process"
    assert properties["Delegate"] == "yes"
    assert properties["Restart"] == "on-failure"


def test_agent_can_create_cgroups_in_its_hierarchy(agent_host):
    """The hierarchy the agent is configured with accepts new cgroups (on the local
    machines: the host's controllers bound into the machine)."""
    hierarchy = agent_host.variables.get("mesos_agent_cgroups_hierarchy", "/sys/fs/cgroup")
    probe = f"mesos-py-infra-probe-{uuid.uuid4().hex[:8]}"
    if agent_host.host.file(f"{hierarchy}/cgroup.controllers").exists:
        parents = [hierarchy]  # cgroup v2: one unified hierarchy
    else:
        parents = [f"{hierarchy}/{c}" for c in ("memory", "cpu", "cpuacct", "pids", "freezer")]
    for parent in parents:
        agent_host.host.run_expect([0], f"mkdir {parent}/{probe} && rmdir {parent}/{probe}")
