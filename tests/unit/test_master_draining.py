"""Draining in the master's books: kills, status decoration, DRAINED, mark_gone."""

from __future__ import annotations

from mesos_py.common.protocol import new_status_uuid
from tests.unit.test_master_books import acknowledge, launch_one, started_master, status


def test_drain_with_mark_gone_kills_reports_and_removes_the_agent():
    master, clock, agent, link, stream = started_master()
    framework, task = launch_one(master, stream, agent)
    task.info["kill_policy"] = {"grace_period": {"nanoseconds": 9_000_000_000}}
    master.maintainer.drain(
        agent.agent_id, {"max_grace_period": {"nanoseconds": 2_000_000_000}, "mark_gone": True}
    )
    assert not agent.active and not agent.offers
    (kill,) = link.of_type("KILL_TASK")
    assert kill["kill_task"]["kill_policy"] == {"grace_period": {"nanoseconds": 2_000_000_000}}
    uuid = new_status_uuid()
    master.status_update(agent, framework.framework_id, status(agent, "TASK_KILLED", uuid), None)
    forwarded = stream.of_type("UPDATE")[-1]["update"]["status"]
    assert (forwarded["state"], forwarded["reason"]) == (
        "TASK_GONE_BY_OPERATOR",
        "REASON_AGENT_DRAINING",
    )
    assert forwarded["uuid"] == uuid
    clock.advance(0)
    assert master.maintainer.drain_info(agent.agent_id)["state"] == "DRAINING"  # not acked
    acknowledge(master, framework, agent, uuid)
    clock.advance(0)
    assert agent.agent_id not in master.agents  # DRAINED, then gone
    assert agent.agent_id in master.removed_agent_ids
    assert link.of_type("ERROR")
    assert agent.agent_id not in master.registrar.registry.deactivated


def test_a_drained_agent_stays_drained_when_it_re_registers():
    master, clock, agent, link, _ = started_master()
    master.maintainer.drain(agent.agent_id, {})
    assert master.maintainer.drain_info(agent.agent_id) == {
        "state": "DRAINED",
        "config": {"mark_gone": False},
    }
    again = master.register_agent(
        {"agent_info": dict(agent.info), "tasks": []}, type(link)("link-2")
    )
    assert again is agent and not agent.active
    clock.advance(1.0)
    assert not agent.offers
    master.maintainer.reactivate(agent.agent_id)
    clock.advance(0)
    assert agent.active and agent.offers
    assert master.registrar.registry.deactivated == {}


def test_kill_updates_of_agents_not_draining_are_left_alone():
    master, _, agent, _, stream = started_master()
    framework, _ = launch_one(master, stream, agent)
    killed = status(agent, "TASK_KILLED", new_status_uuid())
    master.status_update(agent, framework.framework_id, killed, None)
    forwarded = stream.of_type("UPDATE")[-1]["update"]["status"]
    assert forwarded["state"] == "TASK_KILLED" and "reason" not in forwarded
