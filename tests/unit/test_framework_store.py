"""The store's key escaping and the in-memory store the frameworks' unit tests use."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mesos_py.framework.store import MAX_DOCUMENT_BYTES, MemoryStore, key_of, node_name


@given(st.text(min_size=0, max_size=200))
def test_every_key_is_one_legal_znode_name_and_comes_back(key):
    name = node_name(key)
    assert "/" not in name and name not in (".", "..", "") and "\x00" not in name
    assert key_of(name) == key


def test_names_the_store_did_not_write_are_not_keys():
    assert key_of("json.info_0000000001") is None


def test_memory_store_keeps_copies_and_refuses_oversized_documents():
    store = MemoryStore()
    value = {"apps": ["/a"]}
    store.put("/a", value)
    value["apps"].append("/b")  # the caller's later change is not stored
    assert store.get("/a").result == {"apps": ["/a"]}
    assert store.keys().result == ["/a"]
    failure = store.put("big", "x" * MAX_DOCUMENT_BYTES)
    failure.addErrback(lambda f: f.trap(ValueError))
    assert store.keys().result == ["/a"]
    store.delete("/a")
    store.delete("/a")
    assert store.get("/a").result is None
