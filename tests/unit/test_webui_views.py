"""What the web UI shows, computed from the master's record types."""

from __future__ import annotations

import collections
from types import SimpleNamespace

import pytest

from mesos_py.common.resources import Resources
from mesos_py.master.model import AgentRecord, Framework, Offer, Task
from mesos_py.webui import views


def agent(agent_id, hostname, connected=True, active=True):
    return AgentRecord(
        agent_id,
        {"hostname": hostname, "port": 5051},
        Resources.parse("cpus:4;mem:1024"),
        0.0,
        "1.11.0",
        ip="10.0.0.1",
        connected=connected,
        active=active,
    )


def task(task_id, framework, on, state, executor_id=""):
    record = Task(
        task_id,
        framework.framework_id,
        on.agent_id,
        f"name-{task_id}",
        Resources.parse("cpus:0.5;mem:64"),
        "*",
        executor_id,
        {},
        state=state,
    )
    if record.terminal:
        framework.completed_tasks.append(record)
    else:
        framework.tasks[task_id] = record
        on.tasks[(framework.framework_id, task_id)] = record
    return record


@pytest.fixture
def master():
    agents = [agent("a1", "h1"), agent("a2", "h2", active=False), agent("a3", "h3", False)]
    live = Framework("f1", {"name": "web", "webui_url": "http://web:8080/"}, 0.0, active=True)
    gone = Framework("f0", {"name": "old"}, 0.0)
    for index, state in enumerate(["TASK_RUNNING", "TASK_RUNNING", "TASK_STAGING"]):
        task(f"t{index}", live, agents[0], state)
    task("done", live, agents[1], "TASK_FINISHED")
    task("older", gone, agents[1], "TASK_FAILED")
    offer = Offer("o1", "f1", "a1", "*", Resources.parse("cpus:1;mem:128"))
    drains = {"a2": {"state": "DRAINED"}}
    return SimpleNamespace(
        maintainer=SimpleNamespace(drain_info=drains.get),
        agents={a.agent_id: a for a in agents},
        unreachable_agents={"a9": 1.0},
        frameworks={"f1": live},
        completed_frameworks=collections.deque([gone]),
        offers={"o1": offer},
    )


def test_overview_counts_agents_frameworks_tasks_and_resources(master):
    view = views.overview(master)
    assert view["agents"] == {
        "active": 1,
        "deactivated": 1,
        "disconnected": 1,
        "unreachable": 1,
        "total": 3,
    }
    assert (view["frameworks"]["active"], view["frameworks"]["completed"]) == (1, 1)
    assert dict(view["tasks"]["states"]) == {
        "TASK_STAGING": 1,
        "TASK_RUNNING": 2,
        "TASK_FINISHED": 1,
        "TASK_FAILED": 1,
    }
    assert [s for s, _ in view["tasks"]["states"]][:2] == ["TASK_STAGING", "TASK_RUNNING"]
    assert view["tasks"]["live"] == 3
    cpus = next(r for r in view["resources"] if r["name"] == "cpus")
    assert cpus == {"name": "cpus", "total": 12.0, "used": 1.5, "offered": 1.0}


def test_pages_are_bounded_and_filtered(master):
    page = views.tasks_page(views.all_tasks(master), {"limit": "2", "offset": "1"})["page"]
    assert (len(page.rows), page.total, page.previous_offset, page.next_offset) == (2, 5, 0, 3)
    running = views.tasks_page(views.all_tasks(master), {"state": "TASK_RUNNING"})["page"]
    assert {r["id"] for r in running.rows} == {"t0", "t1"}
    huge = views.tasks_page(views.all_tasks(master), {"limit": "100000"})["page"]
    assert huge.limit == views.MAX_PAGE
    (found,) = views.agents_page(master, {"q": "H2"})["page"].rows
    assert (found["id"], found["status"], found["drain"]) == ("a2", "deactivated", "DRAINED")
    for bad in ({"offset": "-1"}, {"limit": "0"}, {"limit": "x"}):
        with pytest.raises(ValueError):
            views.page_bounds(bad)


def test_agent_and_task_details(master):
    detail = views.agent_detail(master, "a2", {})
    assert {r["id"] for r in detail["tasks"]["page"].rows} == {"done", "older"}
    assert views.agent_detail(master, "nope", {}) is None
    found = views.task_detail(master, "f0", "older")
    assert found["sandbox"] == "/frameworks/f0/executors/older/runs/latest"
    assert found["framework"]["name"] == "old"
    assert views.task_detail(master, "f1", "nope") is None
    custom = task("c", master.frameworks["f1"], master.agents["a1"], "TASK_RUNNING", "exec-1")
    assert views.sandbox_path(custom) == "/frameworks/f1/executors/exec-1/runs/latest"


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("http://marathon:8080/", True),
        ("https://chronos.example/ui", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("//evil", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_urls_are_linked(url, linked):
    assert (views.safe_url(url) is not None) == linked
