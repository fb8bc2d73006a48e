"""Where the framework's state lives in its store (ZooKeeper, or memory/file locally).

One JSON document per key: ``app:<id>`` (definition and launch generation),
``versions:<id>`` (earlier definitions by version), ``task:<task id>``
(what was launched where), ``deployment:<id>`` and ``framework-id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.internet import defer

MAX_VERSIONS = 50


class Store(Protocol):
    def get(self, key: str) -> defer.Deferred: ...
    def put(self, key: str, value: Any) -> defer.Deferred: ...
    def delete(self, key: str) -> defer.Deferred: ...
    def keys(self) -> defer.Deferred: ...


@dataclass
class Snapshot:
    framework_id: str | None = None
    apps: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, dict[str, dict]] = field(default_factory=dict)
    tasks: dict[str, dict] = field(default_factory=dict)
    deployments: dict[str, dict] = field(default_factory=dict)


class MarathonState:
    def __init__(self, store: Store) -> None:
        self.store = store

    @defer.inlineCallbacks
    def load(self):
        snapshot = Snapshot()
        keys = yield self.store.keys()
        values = yield defer.gatherResults([self.store.get(k) for k in keys], consumeErrors=True)
        for key, value in zip(keys, values, strict=True):
            if value is None:
                continue
            kind, _, name = key.partition(":")
            if key == "framework-id":
                snapshot.framework_id = value
            elif kind == "app":
                snapshot.apps[name] = value
            elif kind == "versions":
                snapshot.versions[name] = value
            elif kind == "task":
                snapshot.tasks[name] = value
            elif kind == "deployment":
                snapshot.deployments[name] = value
        return snapshot

    def save_framework_id(self, framework_id: str) -> defer.Deferred:
        return self.store.put("framework-id", framework_id)

    def save_app(self, app_id: str, record: dict) -> defer.Deferred:
        return self.store.put(f"app:{app_id}", record)

    def delete_app(self, app_id: str) -> defer.Deferred:
        return defer.gatherResults(
            [self.store.delete(f"app:{app_id}"), self.store.delete(f"versions:{app_id}")],
            consumeErrors=True,
        )

    def save_versions(self, app_id: str, versions: dict[str, dict]) -> defer.Deferred:
        return self.store.put(f"versions:{app_id}", versions)

    def save_task(self, task_id: str, record: dict) -> defer.Deferred:
        return self.store.put(f"task:{task_id}", record)

    def delete_task(self, task_id: str) -> defer.Deferred:
        return self.store.delete(f"task:{task_id}")

    def save_deployment(self, deployment_id: str, record: dict) -> defer.Deferred:
        return self.store.put(f"deployment:{deployment_id}", record)

    def delete_deployment(self, deployment_id: str) -> defer.Deferred:
        return self.store.delete(f"deployment:{deployment_id}")


def trim_versions(versions: dict[str, dict], keep: int = MAX_VERSIONS) -> dict[str, dict]:
    """The newest ``keep`` versions (version strings sort by time)."""
    return {v: versions[v] for v in sorted(versions)[-keep:]}
