"""The ZooKeeper ensemble as a whole: one leader, synced followers, shared data."""

from __future__ import annotations

import uuid

from kazoo.client import KazooClient

from tests.infra import cluster

TEST_ROOT = "/mesos-py-infra-test"


def _modes(inventory: cluster.Inventory) -> dict[str, str]:
    modes = {a: cluster.zookeeper_mode(a) for a in inventory.addresses("zookeeper")}
    assert sorted(modes.values()) == ["follower"] * (len(modes) - 1) + ["leader"], modes
    return modes


def test_one_server_leads_and_every_other_follows(inventory):
    modes = cluster.eventually(lambda: _modes(inventory))
    leader = next(address for address, mode in modes.items() if mode == "leader")
    metrics = dict(
        line.split("\t", 1)
        for line in cluster.four_letter_word(leader, "mntr").splitlines()
        if "\t" in line
    )
    assert int(metrics["zk_synced_followers"]) == len(modes) - 1, metrics


def _client(address: str) -> KazooClient:
    client = KazooClient(hosts=f"{address}:{cluster.ZOOKEEPER_PORT}", timeout=10)
    client.start(timeout=15)
    return client


def test_a_znode_written_on_one_server_is_read_on_every_server(inventory):
    cluster.eventually(lambda: _modes(inventory))
    addresses = inventory.addresses("zookeeper")
    path, value = f"{TEST_ROOT}/{uuid.uuid4().hex}", uuid.uuid4().bytes
    writer = _client(addresses[0])
    try:
        writer.create(path, value, makepath=True)
        read = {}
        for address in addresses:
            reader = _client(address)
            try:
                reader.sync(path)  # catch up with the leader before reading
                read[address] = reader.get(path)[0]
            finally:
                reader.stop()
                reader.close()
        assert read == dict.fromkeys(addresses, value)
    finally:
        writer.delete(TEST_ROOT, recursive=True)
        writer.stop()
        writer.close()
