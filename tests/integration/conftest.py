import pytest

from tests.integration.harness import running_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local", "processes"])
def cluster(request, tmp_path):
    """A one-agent cluster, as ``mesos-py local`` and as separate processes."""
    with running_cluster(tmp_path / "cluster", request.param) as running:
        yield running


@pytest.fixture
def process_cluster(tmp_path):
    with running_cluster(tmp_path / "cluster", "processes") as running:
        yield running
