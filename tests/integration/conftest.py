import pytest

from tests.integration.ha_cluster import HACluster
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


@pytest.fixture
def ha_cluster(tmp_path):
    """Two masters on a one-server ZooKeeper ensemble, one agent following them."""
    ensemble = Ensemble(tmp_path / "zookeeper", size=1)
    ensemble.start()
    running = HACluster(tmp_path / "ha", ensemble, masters=2, agents=1)
    try:
        ensemble.wait_serving()
        running.start()
        yield running
    except BaseException:
        print(running.logs())
        raise
    finally:
        running.stop()
        ensemble.stop()
