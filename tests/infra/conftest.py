"""testinfra suite of a deployed cluster, reached through its Ansible inventory.

Hosts come from the inventory's groups: a test asking for ``zookeeper_host``,
``master_host``, ``agent_host``, ``marathon_host``, ``chronos_host`` or ``any_host``
runs once per host of that group.
Without a cluster the suite skips, saying why; under `make infra-test`
(MESOS_PY_INFRA=required) a missing cluster fails the run instead.
"""

from __future__ import annotations

import pytest

from tests.infra import cluster

HOST_FIXTURES = {
    "zookeeper_host": "zookeeper",
    "master_host": "mesos_masters",
    "agent_host": "mesos_agents",
    "any_host": "all",
    "marathon_host": "marathon",
    "chronos_host": "chronos",
}

_REASON = cluster.unavailable_reason()
_inventory: cluster.Inventory | None = None


def _shared_inventory() -> cluster.Inventory:
    global _inventory
    if _inventory is None:
        _inventory = cluster.Inventory(cluster.INVENTORY)
    return _inventory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _REASON is None:
        return
    here = config.rootpath / "tests" / "infra"
    mine = [item for item in items if here in item.path.parents]
    if not mine:
        return
    if cluster.REQUIRED:
        raise pytest.UsageError(f"tests/infra must run against a cluster: {_REASON}")
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=_REASON))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture, group in HOST_FIXTURES.items():
        if fixture not in metafunc.fixturenames:
            continue
        names = _shared_inventory().hosts(group) if _REASON is None else ["no-cluster"]
        metafunc.parametrize(fixture, names, indirect=True)


@pytest.fixture(scope="session")
def inventory() -> cluster.Inventory:
    return _shared_inventory()


def _member(request: pytest.FixtureRequest, inventory: cluster.Inventory) -> cluster.Member:
    return inventory.member(request.param)


@pytest.fixture
def zookeeper_host(request, inventory) -> cluster.Member:
    return _member(request, inventory)


@pytest.fixture
def master_host(request, inventory) -> cluster.Member:
    return _member(request, inventory)


@pytest.fixture
def agent_host(request, inventory) -> cluster.Member:
    return _member(request, inventory)


@pytest.fixture
def any_host(request, inventory) -> cluster.Member:
    return _member(request, inventory)


@pytest.fixture
def marathon_host(request, inventory) -> cluster.Member:
    return _member(request, inventory)


@pytest.fixture
def chronos_host(request, inventory) -> cluster.Member:
    return _member(request, inventory)
