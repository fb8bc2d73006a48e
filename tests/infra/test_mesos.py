"""Masters and agents as a cluster: one leader all agree on, agents registered, a task
launched through the scheduler API runs in its cgroup on an agent and finishes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

from tests.infra import cluster

TASK_SECONDS = 8


def _pid_address(pid: str) -> str:
    """``master@10.0.0.1:5050`` -> ``10.0.0.1``."""
    return pid.rsplit("@", 1)[-1].rsplit(":", 1)[0]


def _redirect_target(inventory: cluster.Inventory, address: str) -> str:
    """The master that ``address``'s /master/redirect names, as an address."""
    status, headers, _ = cluster.http_get(address, cluster.MASTER_PORT, "/master/redirect")
    assert status == 307, f"{address}/master/redirect -> {status}"
    authority = headers["Location"].removeprefix("//").split("/", 1)[0]
    host, port = authority.rsplit(":", 1)
    assert int(port) == cluster.MASTER_PORT, authority
    names = {name: inventory.address(name) for name in inventory.hosts("all")}
    return names.get(host, host)


def _elected(inventory: cluster.Inventory) -> str:
    masters = inventory.addresses("mesos_masters")
    named = {address: _redirect_target(inventory, address) for address in masters}
    assert len(set(named.values())) == 1, f"masters disagree on the leader: {named}"
    leader = named[masters[0]]
    assert leader in masters, f"the leader {leader} is not one of the masters {masters}"
    # Only the leader says it is elected; a standby redirects to it (as Mesos' do) or
    # names it as leader.
    for address in masters:
        status, _, body = cluster.http_get(address, cluster.MASTER_PORT, "/master/state")
        if address != leader and status == 307:
            continue
        assert status == 200, f"{address}/master/state -> {status}"
        state = json.loads(body)
        assert _pid_address(state.get("leader", "")) == leader, (address, state.get("leader"))
        if address == leader:
            assert "elected_time" in state, f"the leader {address} does not say it is elected"
            assert state["leader"] == state["pid"], (state["leader"], state["pid"])
        else:
            assert "elected_time" not in state, f"standby {address} says it is elected"
    return leader


def elected_master(inventory: cluster.Inventory) -> str:
    """Address of the one elected master, once every master agrees on it."""
    return cluster.eventually(lambda: _elected(inventory))


def test_exactly_one_master_is_elected_and_every_master_agrees(inventory):
    assert elected_master(inventory) in inventory.addresses("mesos_masters")


def _registered_agents(leader: str) -> list[dict]:
    return cluster.get_json(leader, cluster.MASTER_PORT, "/master/slaves")["slaves"]


def test_every_agent_is_registered_with_its_own_address(inventory):
    leader = elected_master(inventory)
    expected = sorted(inventory.addresses("mesos_agents"))

    def registered() -> None:
        agents = _registered_agents(leader)
        assert sorted(_pid_address(a["pid"]) for a in agents if a["active"]) == expected, agents
        assert len(agents) == len(expected), agents

    cluster.eventually(registered)


def _running_on(agents: list[cluster.Member], marker: str) -> dict[str, int]:
    # "[x]yz": the pattern does not match the command line of the shell running pgrep.
    pattern = f"[{marker[0]}]{marker[1:]}"
    found = {}
    for agent in agents:
        result = agent.host.run(f"pgrep -o -f '{pattern}'")
        if result.rc == 0:
            found[agent.name] = int(result.stdout.split()[0])
    assert found, f"task {marker} is not running on any agent yet"
    return found


def test_a_task_runs_on_an_agent_inside_its_cgroup_and_finishes(inventory):
    leader = elected_master(inventory)
    agents = [inventory.member(name) for name in inventory.hosts("mesos_agents")]
    marker = f"mesos-py-infra-{uuid.uuid4().hex[:12]}"
    command = [
        *(sys.executable, "-m", "mesos_py.cli", "execute"),
        f"--master={leader}:{cluster.MASTER_PORT}",
        f"--name={marker}",
        f"--command=: {marker}; sleep {TASK_SECONDS}",
    ]
    execute = subprocess.Popen(
        command, cwd=cluster.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        found = cluster.eventually(lambda: _running_on(agents, marker), timeout=30, every=0.3)
        assert len(found) == 1, f"task seen on several agents: {found}"
        [(name, pid)] = found.items()
        agent = inventory.member(name)
        lines = agent.host.file(f"/proc/{pid}/cgroup").content_string.splitlines()
        cgroups = {c: path for _, controllers, path in (line.split(":", 2) for line in lines)
                   for c in controllers.split(",")}  # fmt: skip
        root = re.escape(agent.variables.get("mesos_agent_cgroups_root", "mesos"))
        # "<root>/<container>" (on the local machines seen through the machine's cgroup
        # namespace, so prefixed with "/../..").
        for controller in ("memory", "cpu"):
            assert re.search(rf"/{root}/[^/]+$", cgroups.get(controller, "")), cgroups
        output, _ = execute.communicate(timeout=TASK_SECONDS + 60)
    finally:
        execute.kill()
    assert execute.returncode == 0, output
    assert "TASK_FINISHED" in output, output
    submitted = re.search(r"Submitted task '[^']+' to agent '([^']+)'", output)
    assert submitted, output
    by_id = {a["id"]: _pid_address(a["pid"]) for a in _registered_agents(leader)}
    assert by_id[submitted.group(1)] == agent.address
