"""The operator subcommands (agents, frameworks, tasks, logs, leader, drain) on real clusters."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from mesos_py.operator_cli import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE
from tests.integration.harness import MESOS_PY, RawScheduler, free_port, wait_for
from tests.integration.pymesos_support import command_task
from tests.integration.test_faults import collect, launch


def mesos_py(*args, master=None, env=None, timeout=60):
    environment = {k: v for k, v in os.environ.items() if k != "MESOS_MASTER"}
    environment.update(env or {})
    argv = [*MESOS_PY, *args] + ([f"--master={master}"] if master else [])
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=environment)


def ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def rows(output):
    """The data rows of a table (the header dropped), split into columns."""
    return [line.split() for line in output.strip().splitlines()[1:]]


@pytest.fixture
def busy(process_cluster):
    """The cluster with a framework running one sleeper and one finished task."""
    raw = RawScheduler(process_cluster.address, {"user": "root", "name": "cli-test"})
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    launch(
        raw,
        offer,
        [command_task(offer, "sleeper", "sleep 30"), command_task(offer, "done", "echo bye")],
    )
    collect(raw, ["sleeper", "done"], {"TASK_RUNNING", "TASK_FINISHED"})
    collect(raw, ["done"], {"TASK_FINISHED"})
    yield process_cluster, raw, offer["agent_id"]["value"]
    raw.close()


def test_agents_frameworks_and_tasks_tables(busy):
    cluster, raw, agent_id = busy
    agents = rows(ok(mesos_py("agents", master=cluster.address)))
    assert [(a[0], a[3], a[-1]) for a in agents] == [(agent_id, "active", "1")]
    frameworks = rows(ok(mesos_py("frameworks", master=cluster.address)))
    assert [(f[0], f[1], f[2], f[3]) for f in frameworks] == [
        (raw.framework_id, "cli-test", "active", "1")
    ]
    # Live tasks by default; every task with --all; filters; MESOS_MASTER instead of --master.
    live = rows(ok(mesos_py("tasks", env={"MESOS_MASTER": cluster.address})))
    assert [(t[0], t[2]) for t in live] == [("sleeper", "TASK_RUNNING")]
    every = json.loads(ok(mesos_py("tasks", "--all", "--json", master=cluster.address)))
    assert {t["id"]: t["state"] for t in every} == {
        "sleeper": "TASK_RUNNING",
        "done": "TASK_FINISHED",
    }
    finished = rows(ok(mesos_py("tasks", "--state", "finished", master=cluster.address)))
    assert [t[0] for t in finished] == ["done"]
    assert rows(ok(mesos_py("tasks", "--agent", "no-such-agent", master=cluster.address))) == []
    by_framework = ok(mesos_py("tasks", "--framework", raw.framework_id, master=cluster.address))
    assert [t[0] for t in rows(by_framework)] == ["sleeper"]


def test_logs_prints_and_follows_a_tasks_output(process_cluster):
    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    script = "for i in $(seq 1 20); do echo out-$i; echo err-$i >&2; sleep 0.2; done"
    launch(raw, offer, [command_task(offer, "talker", script)])
    collect(raw, ["talker"], {"TASK_RUNNING"})
    # --follow returns by itself once the task has ended and all output was printed.
    followed = ok(mesos_py("logs", "talker", "--follow", master=process_cluster.address))
    assert followed.split() == [f"out-{i}" for i in range(1, 21)]
    collect(raw, ["talker"], {"TASK_FINISHED"})
    stderr = ok(mesos_py("logs", "talker", "--stderr", master=process_cluster.address))
    assert stderr.split() == [f"err-{i}" for i in range(1, 21)]
    raw.close()


def test_an_unknown_task_exits_1(process_cluster):
    result = mesos_py("logs", "no-such-task", master=process_cluster.address)
    assert result.returncode == EXIT_FAILED
    assert "no task 'no-such-task'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["agents", "frameworks", "tasks", "leader", "logs x"])
def test_an_unreachable_master_exits_3(command):
    result = mesos_py(*command.split(), master=f"127.0.0.1:{free_port()}")
    assert result.returncode == EXIT_UNREACHABLE
    assert result.stderr.startswith("error: cannot reach 127.0.0.1:")
    assert "Traceback" not in result.stderr


def test_an_unreachable_zookeeper_exits_3():
    result = mesos_py("leader", master=f"zk://127.0.0.1:{free_port()}/mesos")
    assert result.returncode == EXIT_UNREACHABLE
    assert "cannot reach ZooKeeper" in result.stderr and "Traceback" not in result.stderr


def test_no_master_is_a_usage_error():
    result = mesos_py("agents")
    assert result.returncode == EXIT_USAGE
    assert "MESOS_MASTER" in result.stderr


def test_the_leader_is_found_through_zookeeper_or_a_standby(ha_cluster):
    leader = ha_cluster.leader
    standby = next(a for a in ha_cluster.addresses if a != leader)
    assert ok(mesos_py("leader", master=ha_cluster.zk_url)).strip() == leader
    assert ok(mesos_py("leader", master=standby)).strip() == leader
    # Any command follows a standby's redirect (or ZooKeeper) to the leader.
    for master in (standby, ha_cluster.zk_url):
        assert len(rows(ok(mesos_py("agents", master=master)))) == 1
    # execute finds the leader in ZooKeeper, too.
    ran = ok(mesos_py("execute", "--command=echo hi", env={"MESOS_MASTER": ha_cluster.zk_url}))
    assert "TASK_FINISHED" in ran


def test_drain_and_undrain_an_agent(busy):
    cluster, raw, agent_id = busy
    assert ok(mesos_py("drain", agent_id, master=cluster.address)) == f"Draining agent {agent_id}\n"
    # Draining kills the agent's tasks; once none is left it is DRAINED.
    collect(raw, ["sleeper"], {"TASK_KILLED"})

    def status():
        return rows(ok(mesos_py("agents", master=cluster.address)))[0][3]

    wait_for(lambda: status() == "drained", what="the agent to be drained")
    agents = json.loads(ok(mesos_py("agents", "--json", master=cluster.address)))
    assert agents[0]["active"] is False and agents[0]["drain_info"]["state"] == "DRAINED"
    ok(mesos_py("undrain", agent_id, master=cluster.address))
    assert status() == "active"
    unknown = mesos_py("drain", "no-such-agent", master=cluster.address)
    assert unknown.returncode == EXIT_FAILED
    assert "Unknown agent no-such-agent" in unknown.stderr
    again = mesos_py("undrain", agent_id, master=cluster.address)
    assert again.returncode == EXIT_FAILED and "is not deactivated" in again.stderr
