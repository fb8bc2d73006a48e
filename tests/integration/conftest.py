import pytest

from tests.integration.ha_cluster import running_ha_cluster
from tests.integration.harness import running_cluster
from tests.integration.zookeeper import Ensemble

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


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """A real 3-server ZooKeeper ensemble (Debian's package), shared by a module's tests."""
    zk = Ensemble(tmp_path_factory.mktemp("zookeeper"))
    zk.start()
    try:
        zk.wait_serving()
        yield zk
    finally:
        zk.stop()


@pytest.fixture
def ha_cluster(ensemble, tmp_path):
    """Two masters on the module's ZooKeeper ensemble, one agent following them."""
    with running_ha_cluster(tmp_path / "ha", ensemble, masters=2, agents=1) as running:
        yield running
