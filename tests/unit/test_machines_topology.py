"""The local test machines' pure parts: topology, inventory, files, apt mirror lookup."""

from __future__ import annotations

import pytest

from tools.machines import apt_sources, image, topology


def test_default_cluster_is_three_masters_with_zookeeper_and_two_agents():
    machines = topology.plan(3, 2)
    assert [(m.name, m.address) for m in machines] == [
        ("mesos-1", "10.213.0.11"),
        ("mesos-2", "10.213.0.12"),
        ("mesos-3", "10.213.0.13"),
        ("agent-1", "10.213.0.21"),
        ("agent-2", "10.213.0.22"),
    ]
    assert [m.zookeeper_id for m in machines] == [1, 2, 3, None, None]


@pytest.mark.parametrize(("masters", "agents"), [(0, 2), (3, 0), (10, 1), (1, 10)])
def test_counts_outside_the_address_plan_are_refused(masters, agents):
    with pytest.raises(topology.TopologyError, match="between 1 and 9"):
        topology.plan(masters, agents)


def test_inventory_carries_the_roles_contract():
    machines = topology.plan(3, 2)
    inv = topology.inventory(machines, "/keys/id")["all"]
    assert inv["vars"]["ansible_user"] == "root"
    assert inv["vars"]["ansible_ssh_private_key_file"] == "/keys/id"
    assert inv["vars"]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert "StrictHostKeyChecking=no" in inv["vars"]["ansible_ssh_common_args"]
    groups = {name: sorted(group["hosts"]) for name, group in inv["children"].items()}
    assert groups == {
        "zookeeper": ["mesos-1", "mesos-2", "mesos-3"],
        "mesos_masters": ["mesos-1", "mesos-2", "mesos-3"],
        "mesos_agents": ["agent-1", "agent-2"],
        "marathon": ["mesos-1", "mesos-2", "mesos-3"],
        "chronos": ["mesos-1", "mesos-2", "mesos-3"],
    }
    assert inv["hosts"]["mesos-2"] == {
        "ansible_host": "10.213.0.12",
        "cluster_address": "10.213.0.12",
        "zookeeper_id": 2,
    }
    assert inv["hosts"]["agent-2"] == {
        "ansible_host": "10.213.0.22",
        "cluster_address": "10.213.0.22",
        "mesos_agent_cgroups_hierarchy": "/run/host-cgroup",
        "mesos_agent_cgroups_root": "mesos-py-agent-2",
    }


def test_hosts_file_names_every_machine_and_keeps_own_name_off_loopback():
    text = topology.etc_hosts(topology.plan(1, 1))
    assert "10.213.0.11\tmesos-1\n" in text
    assert "10.213.0.21\tagent-1\n" in text
    assert "127.0.1.1" not in text


def test_network_file_sets_a_static_address_without_gateway():
    text = topology.network_file(topology.plan(1, 1)[1])
    assert "Name=host0\n" in text
    assert "Address=10.213.0.21/24\n" in text
    assert "Gateway" not in text


def test_summary_lists_master_marathon_chronos_urls_and_the_zookeeper_url():
    lines = topology.summary(topology.plan(3, 1))
    assert "  master   http://10.213.0.11:5050/" in lines
    assert "  marathon http://10.213.0.12:8080/" in lines
    assert "  chronos  http://10.213.0.13:4400/" in lines
    assert len(lines) == 10  # 3 masters, 3 Marathons, 3 Chronos (none on the agent), zk
    assert lines[-1] == "  zk       zk://10.213.0.11:2181,10.213.0.12:2181,10.213.0.13:2181/mesos"


DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_sources_skips_security_and_keeps_the_keyring():
    source = apt_sources.mirror_for({"/etc/apt/sources.list.d/debian.sources": DEB822}, "bookworm")
    assert source.uri == "http://mirror.example/debian"
    assert source.keyring == "/usr/share/keyrings/debian-archive-keyring.gpg"


def test_mirror_from_one_line_sources_with_options():
    text = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n"
    )
    source = apt_sources.mirror_for({"/etc/apt/sources.list": text}, "bookworm")
    assert (source.uri, source.keyring) == ("http://mirror.example/debian", "/k.gpg")


def test_disabled_and_foreign_sources_are_not_mirrors():
    files = {
        "/etc/apt/sources.list.d/off.sources": DEB822.replace(
            "Types: deb\n#", "Types: deb\nEnabled: no\n#"
        ).split("\n\n")[0],
        "/etc/apt/sources.list.d/node.list": "deb https://node.example/ nodistro main\n",
        "/etc/apt/sources.list.d/x.disabled": "deb http://x.example/debian bookworm main\n",
    }
    with pytest.raises(apt_sources.NoMirrorError, match="bookworm main"):
        apt_sources.mirror_for(files, "bookworm")


def test_image_fingerprint_follows_the_package_list(monkeypatch):
    before = image.fingerprint()
    monkeypatch.setattr(image, "IMAGE_PACKAGES", (*image.IMAGE_PACKAGES, "extra"))
    assert image.fingerprint() != before
