"""Unreachable tasks, registry garbage collection and the recovery removal limit.

The pure parts (``registry.expired_agents``, ``PruneAgents``, the flag parsers)
with plain values; the master's behaviour on a fake clock.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesos_py.common.flags import add_flags, flags_as_strings
from mesos_py.common.resources import Resources
from mesos_py.master import operator_json, state_json
from mesos_py.master import registry as reg
from mesos_py.master.flags import MASTER_FLAGS, percentage
from mesos_py.webui import views
from tests.unit.test_master_books import MemoryStream
from tests.unit.test_master_recovery import INFO, new_master, reported, reregister, subscribe

DAY = 86400.0
WEEK = 7 * DAY

# ------------------------------------------------------------------ registry


def test_entries_older_than_the_age_are_pruned():
    marked = {"old": 100.0, "older": 50.0, "young": 990.0}
    assert reg.expired_agents(marked, now=1000.0, max_age=500.0, max_count=10) == {"old", "older"}


def test_the_oldest_beyond_the_count_are_pruned():
    marked = {"a": 3.0, "b": 1.0, "c": 2.0, "d": 4.0}
    assert reg.expired_agents(marked, now=5.0, max_age=WEEK, max_count=2) == {"b", "c"}
    assert reg.expired_agents(marked, now=5.0, max_age=WEEK, max_count=0) == set(marked)


@given(
    st.dictionaries(st.text("abcdef", min_size=1, max_size=4), st.floats(0, 1000), max_size=12),
    st.floats(0, 1000),
    st.integers(0, 15),
)
def test_what_is_kept_is_young_enough_few_enough_and_newer_than_what_goes(
    marked, max_age, max_count
):
    now = 1000.0
    pruned = reg.expired_agents(marked, now, max_age, max_count)
    kept = {agent_id: when for agent_id, when in marked.items() if agent_id not in pruned}
    assert len(kept) <= max_count
    assert all(now - when <= max_age for when in kept.values())
    for agent_id in pruned:  # pruned for its age, or older than everything kept
        when = marked[agent_id]
        assert now - when > max_age or all((when, agent_id) < (w, i) for i, w in kept.items())


def test_prune_removes_only_unreachable_and_gone_entries():
    registry = reg.Registry(
        agents={"a": {"hostname": "h"}}, unreachable={"u1": 1.0, "u2": 2.0}, gone={"g": 1.0}
    )
    assert reg.PruneAgents(frozenset({"u1", "a"}), frozenset({"g"})).apply(registry)
    assert registry.agents == {"a": {"hostname": "h"}}
    assert registry.unreachable == {"u2": 2.0} and registry.gone == {}
    assert not reg.PruneAgents(frozenset({"u1"}), frozenset({"g"})).apply(registry)  # no write


def test_garbage_collection_bounds_unreachable_and_gone_separately():
    registry = reg.Registry(unreachable={"u1": 1.0, "u2": 2.0}, gone={"g1": 1.0, "g2": 2.0})
    prune = reg.garbage_collection(registry, now=3.0, max_age=WEEK, max_count=1)
    assert prune == reg.PruneAgents(frozenset({"u1"}), frozenset({"g1"}))


# --------------------------------------------------------------------- flags


@pytest.mark.parametrize(("text", "share"), [("100%", 1.0), ("0%", 0.0), (" 12.5% ", 0.125)])
def test_percentages(text, share):
    assert percentage(text) == pytest.approx(share)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("50", "missing '%'"),
        ("150%", "[0%-100%]"),
        ("-1%", "[0%-100%]"),
        ("nan%", "[0%-100%]"),
        ("half%", "invalid percentage"),
    ],
)
def test_bad_percentages_say_why(text, complaint):
    with pytest.raises(ValueError, match=re.escape(complaint)):
        percentage(text)


def master_options(argv):
    parser = argparse.ArgumentParser()
    add_flags(parser, MASTER_FLAGS, {})
    return parser.parse_args(argv)


def test_master_flag_defaults_are_mesos_and_render_as_mesos_writes_them():
    options = master_options([])
    assert options.max_unreachable_tasks_per_framework == 1000
    assert options.registry_gc_interval == 15 * 60
    assert options.registry_max_agent_age == 2 * WEEK
    assert options.registry_max_agent_count == 102400
    assert flags_as_strings(options, MASTER_FLAGS)["recovery_agent_removal_limit"] == "100%"
    assert master_options(["--recovery_agent_removal_limit=25%"]).recovery_agent_removal_limit == (
        0.25
    )


def test_help_shows_percentages(capsys):
    with pytest.raises(SystemExit) as exited:
        master_options(["--help"])
    assert exited.value.code == 0
    assert "(0%-100%) (default: 100%)" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    "argv",
    [
        ["--recovery_agent_removal_limit=101%"],
        ["--recovery_agent_removal_limit=5"],
        ["--registry_gc_interval=0secs"],
        ["--registry_max_agent_count=-1"],
        ["--max_unreachable_tasks_per_framework=-5"],
    ],
)
def test_bad_master_flags_are_refused_at_start_up_naming_the_flag(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        master_options(argv)
    assert exited.value.code == 2
    assert argv[0].split("=")[0] in capsys.readouterr().err


# ---------------------------------------------------------- unreachable tasks


def launch(master, stream, agent, task_ids):
    """Launch ``task_ids`` (0.25 cpus each) on ``agent`` from the framework's last offer."""
    (offer,) = stream.of_type("OFFERS")[-1]["offers"]["offers"]
    framework = next(iter(master.frameworks.values()))
    tasks = [
        {
            "name": task_id,
            "task_id": {"value": task_id},
            "agent_id": {"value": agent.agent_id},
            "command": {"value": "sleep 100"},
            "resources": Resources.parse("cpus:0.25;mem:32").to_json(),
        }
        for task_id in task_ids
    ]
    master.handle_call(
        framework,
        "ACCEPT",
        {
            "accept": {
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            }
        },
    )
    return framework


def partitioned(partition_aware=True, tasks=("t",), **config):
    """A master whose only agent ran ``tasks`` and then missed its pings."""
    master, clock, store = new_master(agent_ping_timeout=1, max_agent_ping_timeouts=1, **config)
    agent = master.register_agent({"agent_info": dict(INFO)}, MemoryStream("link"))
    stream = subscribe(master, clock, partition_aware=partition_aware)
    framework = launch(master, stream, agent, tasks)
    clock.advance(1)
    clock.advance(1)
    assert agent.agent_id in master.unreachable_agents
    return master, clock, store, agent, framework, stream


def reconcile(master, framework, stream, task_id, agent_id=None):
    entry = {"task_id": {"value": task_id}}
    if agent_id:
        entry["agent_id"] = {"value": agent_id}
    master._call_reconcile(framework, {"tasks": [entry]})
    return stream.of_type("UPDATE")[-1]["update"]["status"]


def test_tasks_of_an_unreachable_agent_are_unreachable_not_completed():
    master, _, _, agent, framework, stream = partitioned(tasks=("a", "b"))
    assert framework.tasks == {} and not framework.completed_tasks
    assert list(framework.unreachable_tasks) == ["a", "b"]
    shown = state_json.framework_json(framework)
    assert [(t["id"], t["state"]) for t in shown["unreachable_tasks"]] == [
        ("a", "TASK_UNREACHABLE"),
        ("b", "TASK_UNREACHABLE"),
    ]
    assert shown["tasks"] == [] and shown["completed_tasks"] == []
    tasks = operator_json.get_tasks(master)
    assert [t["task_id"]["value"] for t in tasks["unreachable_tasks"]] == ["a", "b"]
    assert "tasks" not in tasks and "completed_tasks" not in tasks
    assert sorted(t["id"] for t in state_json.tasks(master, {})["tasks"]) == ["a", "b"]
    (summary,) = state_json.state_summary(master)["frameworks"]
    assert summary["TASK_UNREACHABLE"] == 2
    assert state_json.metrics(master)["master/tasks_unreachable"] == 2.0
    # Explicit reconciliation, with or without the agent's ID, says unreachable.
    for agent_id in (None, agent.agent_id):
        status = reconcile(master, framework, stream, "a", agent_id)
        assert status["state"] == "TASK_UNREACHABLE"
        assert status["agent_id"] == {"value": agent.agent_id}
        assert status["unreachable_time"]["nanoseconds"] > 0


def test_the_web_ui_lists_and_finds_unreachable_tasks():
    master, _, _, _, framework, _ = partitioned(tasks=("a",))
    page = views.framework_detail(master, framework.framework_id, {})["tasks"]["page"]
    assert page.total == 1
    assert views.find_task(master, framework.framework_id, "a").state == "TASK_UNREACHABLE"
    assert [t.task_id for t in views.all_tasks(master)] == ["a"]


def test_a_framework_that_is_not_partition_aware_reconciles_them_as_lost():
    master, _, _, agent, framework, stream = partitioned(partition_aware=False)
    assert framework.unreachable_tasks["t"].state == "TASK_LOST"
    status = reconcile(master, framework, stream, "t")
    assert (status["state"], status["agent_id"]) == ("TASK_LOST", {"value": agent.agent_id})


def test_unreachable_tasks_are_bounded_per_framework_oldest_first():
    _, _, _, _, framework, _ = partitioned(
        tasks=("a", "b", "c"), max_unreachable_tasks_per_framework=2
    )
    assert list(framework.unreachable_tasks) == ["b", "c"]


def test_a_returning_agent_takes_its_tasks_back():
    master, _, _, agent, framework, stream = partitioned(tasks=("a", "b"))
    # It reports "a" only: "b" ended while it was away and is no longer unreachable.
    reregister(
        master,
        agent.agent_id,
        tasks=[reported("a", framework.framework_id, agent.agent_id)],
        frameworks=[framework.info],
    )
    assert framework.unreachable_tasks == {}
    assert framework.tasks["a"].state == "TASK_RUNNING"
    assert state_json.framework_json(framework)["unreachable_tasks"] == []
    assert reconcile(master, framework, stream, "a")["state"] == "TASK_RUNNING"
    assert reconcile(master, framework, stream, "b", agent.agent_id)["state"] == "TASK_GONE"


def test_tasks_of_a_removed_agent_are_completed():
    master, clock, _ = new_master()
    agent = master.register_agent({"agent_info": dict(INFO)}, MemoryStream("link"))
    stream = subscribe(master, clock, partition_aware=True)
    framework = launch(master, stream, agent, ["t"])
    master.unregister_agent(agent)
    assert framework.unreachable_tasks == {}
    assert [(t.task_id, t.state) for t in framework.completed_tasks] == [("t", "TASK_GONE")]


# ------------------------------------------------------------- registry GC


def test_the_leader_prunes_old_entries_every_interval():
    now = time.time()
    recovered = reg.Registry(
        unreachable={"u-old": now - 3 * WEEK, "u-new": now - DAY},
        gone={"g-old": now - 3 * WEEK, "g-new": now - DAY},
    )
    master, clock, store = new_master(recovered, registry_gc_interval=60)
    clock.advance(59)
    assert set(master.unreachable_agents) == {"u-old", "u-new"}
    clock.advance(1)
    assert set(master.unreachable_agents) == {"u-new"}
    assert master.removed_agent_ids == {"g-new"}
    stored = reg.decode(store.data)
    assert set(stored.unreachable) == {"u-new"} and set(stored.gone) == {"g-new"}
    # ... and again one interval later, now by count.
    master.config = dataclasses.replace(master.config, registry_max_agent_count=0)
    clock.advance(60)
    assert master.unreachable_agents == {} and master.removed_agent_ids == set()


def test_a_pruned_agent_takes_its_unreachable_tasks_with_it_and_may_come_back():
    master, clock, store, agent, framework, stream = partitioned(
        registry_gc_interval=60, registry_max_agent_count=0
    )
    clock.advance(60)
    assert agent.agent_id not in master.unreachable_agents
    assert framework.unreachable_tasks == {}
    assert agent.agent_id not in reg.decode(store.data).unreachable
    status = reconcile(master, framework, stream, "t", agent.agent_id)
    assert status["state"] == "TASK_UNKNOWN"
    # Mesos admits an agent it no longer remembers, with its ID and tasks.
    back, link = reregister(
        master,
        agent.agent_id,
        tasks=[reported("t", framework.framework_id, agent.agent_id)],
        frameworks=[framework.info],
    )
    assert back.agent_id == agent.agent_id and back.agent_id in master.agents
    (registered,) = link.of_type("REGISTERED")
    assert registered["registered"]["reregistered"] is True
    assert framework.tasks["t"].state == "TASK_RUNNING"
    assert agent.agent_id in reg.decode(store.data).agents


def test_a_pruned_gone_agent_is_no_longer_refused():
    master, clock, _ = new_master(reg.Registry(gone={"G": time.time() - 3 * WEEK}))
    assert "G" in master.removed_agent_ids
    clock.advance(15 * 60)
    assert "G" not in master.removed_agent_ids


# ------------------------------------------------------- recovery removal limit


def recovering(limit, returning):
    recovered = reg.Registry(agents={a: {**INFO, "id": {"value": a}} for a in "ABCD"})
    master, clock, store = new_master(
        recovered, agent_reregister_timeout=10, recovery_agent_removal_limit=limit
    )
    reasons = []
    master.fail_over = reasons.append
    for agent_id in returning:
        reregister(master, agent_id)
    clock.advance(10)
    return master, store, reasons


def test_too_many_missing_agents_make_the_leader_fail_over_instead_of_marking_them():
    master, store, reasons = recovering(0.5, returning="A")
    (reason,) = reasons
    assert "removal limit exceeded" in reason and "3 of the 4" in reason and "50.0%" in reason
    assert "B, C, D" in reason
    assert master.unreachable_agents == {}
    assert reg.decode(store.data).unreachable == {}
    assert set(master.recovered_agents) == {"B", "C", "D"}  # still awaited, not marked


def test_missing_agents_within_the_limit_are_marked_unreachable():
    master, store, reasons = recovering(0.5, returning="AB")
    assert reasons == []
    assert set(master.unreachable_agents) == {"C", "D"}
    assert set(reg.decode(store.data).unreachable) == {"C", "D"}
    assert state_json.metrics(master)["master/recovery_slave_removals"] == 2.0


def test_the_default_limit_never_fails_over():
    master, _, reasons = recovering(1.0, returning="")
    assert reasons == [] and set(master.unreachable_agents) == set("ABCD")
