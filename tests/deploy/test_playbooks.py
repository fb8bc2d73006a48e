"""Every playbook parses, and the deploy code is clean under ansible-lint's production profile."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.ansible_run import REPO, local_inventory, run_playbook, tool

PLAYBOOKS = ["site.yml", "playbooks/rolling-restart.yml", "playbooks/drain-agent.yml"]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(tmp_path, playbook):
    groups = {
        "zookeeper": {"node1": {"cluster_address": "10.99.0.11", "zookeeper_id": 1}},
        "mesos_masters": {"node1": {}},
        "mesos_agents": {"node1": {}},
        "marathon": {"node1": {}},
        "chronos": {"node1": {}},
    }
    result = run_playbook(tmp_path, local_inventory(groups), playbook, "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile():
    result = subprocess.run(
        [tool("ansible-lint"), "--nocolor"],  # settings and paths: .ansible-lint
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


def test_drain_agent_refuses_to_run_without_naming_an_agent(tmp_path):
    groups = {
        "zookeeper": {"node1": {"cluster_address": "10.99.0.11", "zookeeper_id": 1}},
        "mesos_masters": {"node1": {}},
        "mesos_agents": {"agent1": {"cluster_address": "10.99.1.11"}},
    }
    inventory = local_inventory(groups, cluster_allow_single_node=True)
    for extra in ([], ["-e", "agent=node1"]):
        result = run_playbook(tmp_path, inventory, "playbooks/drain-agent.yml", *extra)
        assert result.returncode != 0
        output = " ".join(result.stdout.split())
        assert "Name the agent with -e agent=HOST, one of the group mesos_agents: agent1." in output
