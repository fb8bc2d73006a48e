"""Mesos' ZooKeeper layout: URLs, leader choice from child names, MasterInfo."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesos_py.common.zk_layout import (
    ZkUrl,
    decode_master_info,
    leader_child,
    master_address,
    parse_zk_url,
    sequence_of,
)
from mesos_py.master.leadership import leader_authority


def test_urls():
    assert parse_zk_url("zk://h1:2181,h2:2181/mesos") == ZkUrl("h1:2181,h2:2181", "/mesos")
    url = parse_zk_url("zk://ops:s3cr:et@h:2181/a/b/")
    assert url == ZkUrl("h:2181", "/a/b", "ops:s3cr:et")
    assert url.child("json.info_") == "/a/b/json.info_"
    assert url.registry_path == "/a/b/log_replicas/registry"


@pytest.mark.parametrize(
    "bad",
    [
        "h:2181/mesos",
        "zk://h:2181",
        "zk://h:2181/",
        "zk:///mesos",
        "zk://h/mesos",
        "zk://h:0/mesos",
        "zk://h:2181/a//b",
        "zk://user@h:2181/m",
        "zk://h:2181/a/../b",
    ],
)
def test_bad_urls(bad):
    with pytest.raises(ValueError):
        parse_zk_url(bad)


def test_the_lowest_sequence_leads_whatever_the_label():
    children = ["json.info_0000000012", "info_0000000011", "log_replicas", "json.info_0000000013"]
    assert leader_child(children) == "info_0000000011"
    assert leader_child(["log_replicas", "registry", "json.info_12"]) is None
    assert leader_child([]) is None
    assert sequence_of("json.info_0000000007") == 7 and sequence_of("json.info_x") is None


@given(st.lists(st.integers(0, 9_999_999_999), min_size=1, unique=True))
def test_leader_choice_matches_pymesos_string_order(sequences):
    # pymesos takes min(children) by string: with 10-digit padding that is our choice too.
    children = [f"json.info_{n:010d}" for n in sequences]
    assert leader_child(children) == min(children)


def test_master_info_decoding():
    info = {"address": {"ip": "10.0.0.1", "port": 5050}, "hostname": "m"}
    assert decode_master_info("json.info_0000000001", json.dumps(info).encode()) == info
    assert master_address(info) == "10.0.0.1:5050"
    for name, data in [
        ("info_0000000001", json.dumps(info).encode()),  # legacy protobuf label
        ("json.info_0000000001", b"\xff not json"),
        ("json.info_0000000001", b"[]"),
        ("json.info_0000000001", b'{"address":{"ip":"1.2.3.4"}}'),
        ("json.info_0000000001", b'{"address":{"ip":"1.2.3.4","port":"5050"}}'),
    ]:
        with pytest.raises(ValueError):
            decode_master_info(name, data)


def test_redirects_use_the_hostname_else_the_address():
    assert leader_authority({"hostname": "m1", "port": 5050}) == "m1:5050"
    info = {"id": "x", "address": {"ip": "10.0.0.2", "port": 5051}}
    assert leader_authority(info) == "10.0.0.2:5051"
