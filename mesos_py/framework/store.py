"""A framework's state as JSON documents: one znode per key, or a dict in tests.

Keys are arbitrary strings (Marathon app IDs contain slashes); each is escaped
into a single znode name under the store's root, so listing the root lists the
keys.  A znode holds at most about 1 MB (ZooKeeper's ``jute.maxbuffer``).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import quote, unquote

from kazoo.exceptions import NodeExistsError, NoNodeError
from twisted.internet import defer

from mesos_py.common.zookeeper import ZooKeeper

# ZooKeeper's default jute.maxbuffer is 1 MiB for the whole packet; stay below it.
MAX_DOCUMENT_BYTES = 1_000_000
# Every node name starts with this, so that keys such as "." or ".." stay legal names.
_PREFIX = "k-"


def _encode(key: str, value: Any) -> bytes:
    data = json.dumps(value, separators=(",", ":")).encode()
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{key!r}: {len(data)} bytes exceed the {MAX_DOCUMENT_BYTES} byte limit")
    return data


def node_name(key: str) -> str:
    """The znode name that holds ``key``."""
    return _PREFIX + quote(key, safe="")


def key_of(name: str) -> str | None:
    """The key a znode name holds, None for a node the store did not write."""
    return unquote(name[len(_PREFIX) :]) if name.startswith(_PREFIX) else None


class ZooKeeperStore:
    """JSON documents under ``root`` in ZooKeeper."""

    def __init__(self, zk: ZooKeeper, root: str) -> None:
        self.zk = zk
        self.root = "/" + root.strip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{node_name(key)}"

    @defer.inlineCallbacks
    def get(self, key: str):
        """Fires with the stored value, or None when there is none."""
        try:
            data, _stat = yield self.zk.get(self._path(key))
        except NoNodeError:
            return None
        return json.loads(data)

    @defer.inlineCallbacks
    def put(self, key: str, value: Any):
        data = _encode(key, value)
        path = self._path(key)
        try:
            yield self.zk.set(path, data)
        except NoNodeError:
            try:
                yield self.zk.create(path, data, makepath=True)
            except NodeExistsError:  # created meanwhile by ourselves: overwrite
                yield self.zk.set(path, data)

    @defer.inlineCallbacks
    def delete(self, key: str):
        with contextlib.suppress(NoNodeError):
            yield self.zk.delete(self._path(key))

    @defer.inlineCallbacks
    def keys(self):
        try:
            names = yield self.zk.get_children(self.root)
        except NoNodeError:
            return []
        return sorted(key for key in map(key_of, names) if key is not None)


class MemoryStore:
    """The same interface in memory, for unit tests of the frameworks' logic."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}

    def get(self, key: str) -> defer.Deferred:
        data = self.documents.get(key)
        return defer.succeed(None if data is None else json.loads(data))

    def put(self, key: str, value: Any) -> defer.Deferred:
        try:
            self.documents[key] = _encode(key, value)
        except ValueError:
            return defer.fail()
        return defer.succeed(None)

    def delete(self, key: str) -> defer.Deferred:
        self.documents.pop(key, None)
        return defer.succeed(None)

    def keys(self) -> defer.Deferred:
        return defer.succeed(sorted(self.documents))
