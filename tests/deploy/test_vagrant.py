"""The Vagrantfile: valid for vagrant-libvirt, and its inventory passes site.yml's preflight."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.ansible_run import REPO, run_playbook


def vagrant() -> str:
    path = shutil.which("vagrant")
    if path is None:
        # Root (make test, CI) installs it with scripts/install-system-deps.sh.
        if os.geteuid() == 0 or os.environ.get("CI"):
            pytest.fail("vagrant is missing: run scripts/install-system-deps.sh")
        pytest.skip("vagrant is not installed (scripts/install-system-deps.sh, as root)")
    return path


def validate(tmp_path, config: dict | None = None) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "VAGRANT_DEFAULT_PROVIDER": "libvirt",
        "MESOS_PY_VAGRANT_INVENTORY": str(tmp_path / "vagrant-inventory.yml"),
    }
    if config is not None:
        environ["MESOS_PY_VAGRANT_CONFIG"] = str(tmp_path / "config.yml")
        (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    return subprocess.run(
        [vagrant(), "validate"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def default_config() -> dict:
    return yaml.safe_load((REPO / "vagrant" / "config.yml").read_text())


def test_the_vagrantfile_validates_and_its_inventory_passes_preflight(tmp_path):
    result = validate(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = yaml.safe_load((tmp_path / "vagrant-inventory.yml").read_text())
    groups = inventory["all"]["children"]
    assert sorted(groups["mesos_masters"]["hosts"]) == ["master1", "master2", "master3"]
    assert groups["zookeeper"]["hosts"]["master2"] == {
        "cluster_address": "192.168.56.12",
        "zookeeper_id": 2,
    }
    assert sorted(groups["mesos_agents"]["hosts"]) == ["agent1", "agent2"]
    assert sorted(groups["marathon"]["hosts"]) == ["master1", "master2", "master3"]
    assert sorted(groups["chronos"]["hosts"]) == ["master1", "master2", "master3"]

    inventory["all"]["vars"].update(ansible_connection="local", ansible_become=False)
    result = run_playbook(tmp_path, inventory, "site.yml", "--tags", "preflight")
    assert result.returncode == 0, result.stdout + result.stderr


def test_separate_zookeeper_machines_get_their_own_ids(tmp_path):
    config = default_config()
    config["colocate_zookeeper_on_masters"] = False
    config["masters"]["count"] = 1
    result = validate(tmp_path, config)
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = yaml.safe_load((tmp_path / "vagrant-inventory.yml").read_text())
    zookeeper = inventory["all"]["children"]["zookeeper"]["hosts"]
    assert [host["zookeeper_id"] for host in zookeeper.values()] == [1, 2, 3]
    assert list(inventory["all"]["children"]["mesos_masters"]["hosts"]) == ["master1"]
    assert inventory["all"]["vars"]["cluster_allow_single_node"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"masters": {"count": 2}}, "masters.count is 2: it must be odd"),
        ({"subnet": "10.20.0.0/24"}, "subnet 10.20.0.0/24 is outside 192.168.56.0/21"),
        ({"agents": {"count": 0}}, "agents.count must be at least 1"),
    ],
)
def test_a_bad_config_is_refused_with_the_reason(tmp_path, change, message):
    config = default_config()
    for key, value in change.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    result = validate(tmp_path, config)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
