"""The Marathon-compatible framework driven by the real ``marathon`` client.

A master and an agent as separate processes, and one ``mesos-py marathon``
process (no ZooKeeper: its state in memory) subscribed to the master.
"""

from __future__ import annotations

import shlex
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marathon.exceptions import MarathonHttpError, NotFoundError
from marathon.models import MarathonApp, MarathonHealthCheck

from tests.integration import prometheus_support
from tests.integration.harness import Daemon, free_port, running_cluster, wait_for
from tests.integration.marathon_support import (
    MarathonInstance,
    request,
    running_task_ids,
    wait_deployed,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(
        tmp_path_factory.mktemp("marathon") / "cluster",
        "processes",
        agent_resources="cpus:8;mem:8192;disk:4096;ports:[31000-32000]",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def marathon(cluster):
    instance = MarathonInstance(cluster.work_dir.with_suffix(".marathon.log"), cluster.address)
    yield instance
    instance.stop()


def small_app(**fields) -> MarathonApp:
    return MarathonApp(**{"cmd": "sleep 1000", "cpus": 0.1, "mem": 16, **fields})


def test_create_scale_kill_replace_delete(marathon, cluster):
    client = marathon.client
    created = client.create_app("sleeper", small_app(instances=3))
    assert created.id == "/sleeper"
    app = wait_deployed(client, "/sleeper", 3)
    assert len(app.tasks) == 3
    assert running_task_ids(cluster.state()) == {t.id for t in app.tasks}
    task = app.tasks[0]
    assert task.ports and task.host == "127.0.0.1"

    client.scale_app("sleeper", 5)
    assert len(wait_deployed(client, "sleeper", 5).tasks) == 5
    client.scale_app("sleeper", 2)
    app = wait_deployed(client, "sleeper", 2)
    wait_for(lambda: len(running_task_ids(cluster.state())) == 2, what="the master to see 2")

    victim = app.tasks[0].id
    survivor = app.tasks[1].id
    client.kill_task("sleeper", victim)

    def replaced():
        ids = {t.id for t in client.get_app("sleeper").tasks if t.state == "TASK_RUNNING"}
        return ids if len(ids) == 2 and victim not in ids else None

    ids = wait_for(replaced, what="the killed task to be replaced")
    assert survivor in ids
    assert client.get_app("sleeper").instances == 2

    client.delete_app("sleeper")
    wait_for(lambda: not running_task_ids(cluster.state()), what="every task to end")
    with pytest.raises(NotFoundError):
        wait_for(lambda: client.get_app("sleeper") and None, timeout=10, what="404")


def test_failing_health_check_replaces_only_that_task(marathon, tmp_path):
    client = marathon.client
    markers = tmp_path / "markers"
    markers.mkdir()
    # Each task serves its own directory; the check asks for the file "ok" in it.
    cmd = (
        f"mkdir -p {markers}/$MESOS_TASK_ID && cd {markers}/$MESOS_TASK_ID && touch ok && "
        f"exec {shlex.quote(sys.executable)} -m http.server --bind 127.0.0.1 $PORT0"
    )
    check = MarathonHealthCheck(
        protocol="HTTP",
        path="/ok",
        port_index=0,
        grace_period_seconds=10,
        interval_seconds=1,
        timeout_seconds=2,
        max_consecutive_failures=2,
    )
    client.create_app(
        "web", MarathonApp(cmd=cmd, cpus=0.1, mem=32, instances=3, health_checks=[check])
    )

    def all_healthy():
        app = client.get_app("web")
        return app if app.tasks_healthy == 3 and not app.deployments else None

    app = wait_for(all_healthy, timeout=60, what="3 healthy tasks")
    before = {t.id for t in app.tasks}
    sick = sorted(before)[0]
    (markers / sick / "ok").unlink()

    def replaced():
        app = client.get_app("web")
        ids = {t.id for t in app.tasks}
        return ids if sick not in ids and app.tasks_healthy == 3 else None

    after = wait_for(replaced, timeout=60, what="the unhealthy task to be replaced")
    assert before - {sick} <= after, "only the unhealthy task may go"
    assert len(after) == 3
    assert scrape(marathon.address)[("marathon_health_check_failures_total", ())] >= 2
    client.delete_app("web")


def test_rolling_restart_keeps_the_capacity_the_strategy_demands(marathon):
    client = marathon.client
    strategy = {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 0.34}
    client.create_app("rolling", small_app(instances=3, upgrade_strategy=strategy))
    old = {t.id for t in wait_deployed(client, "rolling", 3).tasks}

    seen_running: list[int] = []
    seen_live: list[int] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            status, body = request(marathon.address, "GET", "/v2/apps/rolling/tasks")
            if status == 200:
                tasks = body["tasks"]
                seen_live.append(len(tasks))
                seen_running.append(sum(1 for t in tasks if t["state"] == "TASK_RUNNING"))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        client.restart_app("rolling")
        app = wait_deployed(client, "rolling", 3)
        new = {t.id for t in app.tasks}
    finally:
        stop.set()
        watcher.join()
    assert not old & new, "every task was replaced"
    assert len(seen_running) > 10
    # ceil(3 x 1.0) = 3 stay running; floor(3 x 1.34) = 4 at most exist at once.
    assert min(seen_running) >= 3
    assert max(seen_live) <= 4
    assert max(seen_live) == 4, "the restart used the allowed extra capacity"
    client.delete_app("rolling")


@pytest.mark.parametrize(
    "body, status, path",
    [
        (b'{"id": "x", "cmd": ', 400, "/"),
        (b'{"id": "x", "cpus": "lots", "cmd": "true"}', 400, "/cpus"),
        ({"id": "x", "cmd": "true", "constraints": [["hostname", "NEAR"]]}, 422, "/constraints(0)"),
        ({"id": "x", "cmd": "true", "cpus": -1}, 422, "/cpus"),
        ({"id": "x", "cmd": "true", "mem": -16}, 422, "/mem"),
        ({"id": "x", "cmd": "true", "instances": -2}, 422, "/instances"),
        ({"id": "Bad_ID!", "cmd": "true"}, 422, "/id"),
        ({"id": "x", "cmd": "true", "args": ["true"]}, 422, "/"),
        (
            {"id": "x", "cmd": "true", "upgradeStrategy": {"minimumHealthCapacity": 2}},
            422,
            "/upgradeStrategy/minimumHealthCapacity",
        ),
    ],
)
def test_bad_input_gets_marathons_error_body(marathon, body, status, path):
    code, answer = request(marathon.address, "POST", "/v2/apps", body)
    assert code == status, answer
    assert answer["message"] == ("Invalid JSON" if status == 400 else "Object is not valid")
    assert path in [d["path"] for d in answer["details"]]
    assert request(marathon.address, "GET", "/ping") == (200, b"pong")


def test_bad_input_through_the_client_and_unknown_things(marathon):
    client = marathon.client
    with pytest.raises(MarathonHttpError) as raised:
        client.create_app("neg", small_app(instances=1, cpus=-0.5))
    assert raised.value.status_code == 422
    with pytest.raises(NotFoundError):
        client.get_app("/no/such/app")
    with pytest.raises(NotFoundError):
        client.delete_deployment("no-such-deployment")
    status, body = request(marathon.address, "PUT", "/v2/apps/x", b"[1, 2")
    assert status == 400 and body["message"] == "Invalid JSON"
    status, body = request(marathon.address, "POST", "/v2/tasks/delete", {"ids": ["nodot"]})
    assert status == 400
    assert client.ping() == b"pong"


def test_info_leader_queue_metrics_and_groups(marathon):
    client = marathon.client
    info = client.get_info()
    assert info.elected and info.leader == marathon.address
    assert info.marathon_config.webui_url == f"http://{marathon.address}"  # its status page
    assert client.get_leader() == {"leader": marathon.address}
    client.create_app("/grp/one", small_app(instances=1, labels={"team": "a"}))
    wait_deployed(client, "/grp/one", 1)
    assert [a.id for a in client.list_apps(label="team==a")] == ["/grp/one"]
    assert client.list_apps(label="team in (b, c)") == []
    assert [a.id for a in client.list_apps(cmd="SLEEP", app_id="grp/")] == ["/grp/one"]
    group = client.get_group("/grp")
    assert [a.id for a in group.apps] == ["/grp/one"]
    assert [g.id for g in client.list_groups()] == ["/grp"]
    assert client.list_versions("/grp/one")
    assert client.list_queue() == []
    metrics = client.get_metrics()
    assert metrics["gauges"]["service.mesosphere.marathon.app.count"]["value"] >= 1
    endpoints = client.list_endpoints()
    assert any(e.app_id == "/grp/one" for e in endpoints)
    client.delete_group("/grp")
    wait_for(lambda: not client.list_apps(app_id="/grp"), what="the group's apps to go")


def scrape(address: str) -> dict[tuple, float]:
    return prometheus_support.scrape(address, "/metrics/prometheus")


def test_prometheus_metrics_follow_a_deployment(marathon):
    client = marathon.client
    before = scrape(marathon.address)
    assert before[("marathon_leader", ())] == 1
    assert before[("marathon_mesos_subscribed", ())] == 1
    framework_id = client.get_info().framework_id
    assert before[("marathon_framework_info", (("framework_id", framework_id),))] == 1
    app = (("app", "/prom/web.v1"),)

    client.create_app("/prom/web.v1", small_app(instances=2))
    wait_deployed(client, "/prom/web.v1", 2)
    after = scrape(marathon.address)
    assert after[("marathon_app_instances_wanted", app)] == 2
    assert after[("marathon_app_instances_running", app)] == 2
    assert after[("marathon_tasks", (("state", "TASK_RUNNING"),))] >= 2
    launched = ("marathon_tasks_launched_total", ())
    assert after[launched] >= before[launched] + 2
    assert after[("marathon_deployments", ())] == 0

    victim = client.get_app("/prom/web.v1").tasks[0].id
    client.kill_task("/prom/web.v1", victim)
    killed = ("marathon_tasks_killed_total", ())
    wait_for(
        lambda: scrape(marathon.address)[killed] >= before[killed] + 1, what="the kill counted"
    )
    client.delete_app("/prom/web.v1")
    wait_for(
        lambda: ("marathon_app_instances_wanted", app) not in scrape(marathon.address),
        what="the app to leave the metrics",
    )


def test_tcp_and_command_health_checks(marathon):
    client = marathon.client
    serve = f"exec {shlex.quote(sys.executable)} -m http.server --bind 127.0.0.1 $PORT0"
    checks = [
        MarathonHealthCheck(
            protocol="TCP", port_index=0, interval_seconds=1, grace_period_seconds=10
        ),
        # Run by the framework with the task's HOST and PORT0 in its environment.
        MarathonHealthCheck(
            protocol="COMMAND",
            command='test -n "$HOST" && test "$PORT0" -gt 0',
            interval_seconds=1,
            grace_period_seconds=10,
        ),
    ]
    client.create_app("checked", small_app(cmd=serve, instances=2, health_checks=checks))

    def healthy():
        app = client.get_app("checked")
        return app if app.tasks_healthy == 2 and not app.deployments else None

    app = wait_for(healthy, timeout=60, what="2 healthy tasks")
    results = app.tasks[0].health_check_results
    assert len(results) == 2 and all(r.alive for r in results)
    client.delete_app("checked")


def test_failing_tasks_back_off_and_are_reported(marathon):
    client = marathon.client
    client.create_app(
        "crasher", small_app(cmd="exit 3", instances=1, backoff_seconds=30, backoff_factor=2)
    )

    def failed_and_delayed():
        app = client.get_app("crasher")
        queued = [q for q in client.list_queue() if q.app.id == "/crasher"]
        if app.last_task_failure and queued and queued[0].delay.time_left_seconds > 0:
            return app, queued[0]
        return None

    app, item = wait_for(failed_and_delayed, timeout=30, what="a failure and a launch delay")
    assert app.last_task_failure.state == "TASK_FAILED"
    assert item.count == 1 and not item.delay.overdue
    metrics = scrape(marathon.address)
    assert metrics[("marathon_tasks_failed_total", ())] >= 1
    assert metrics[("marathon_launch_queue_instances", ())] >= 1
    assert 0 < metrics[("marathon_launch_queue_delay_seconds", (("app", "/crasher"),))] <= 30
    first = app.last_task_failure.task_id
    client.reset_delay("crasher")
    # Without the delay (30 s) it is launched again at once, and fails again.
    wait_for(
        lambda: client.get_app("crasher").last_task_failure.task_id != first,
        timeout=10,
        what="a relaunch right after the delay was reset",
    )
    client.delete_app("crasher", force=True)


def test_unique_hostname_leaves_extra_instances_queued(marathon):
    client = marathon.client
    client.create_app("spread", small_app(instances=2, constraints=[["hostname", "UNIQUE"]]))
    wait_for(lambda: client.get_app("spread").tasks_running == 1, what="one task running")
    time.sleep(2)  # more offers come and go: the single agent may not take a second one
    assert client.get_app("spread").tasks_running == 1
    (item,) = [q for q in client.list_queue() if q.app.id == "/spread"]
    assert item.count == 1
    # The deployment cannot finish; cancelling it (without force) rolls back: the app goes.
    (deployment,) = [d for d in client.list_deployments() if "/spread" in d.affected_apps]
    assert deployment.current_actions[0].app == "/spread"
    with pytest.raises(MarathonHttpError) as locked:
        client.scale_app("spread", 3)
    assert locked.value.status_code == 409
    rollback = client.delete_deployment(deployment.id)
    assert rollback["deploymentId"] != deployment.id
    wait_for(lambda: "/spread" not in [a.id for a in client.list_apps()], what="the rollback")
    wait_for(lambda: not client.list_tasks(), what="its task to end")


def test_event_stream_reports_status_updates(marathon):
    client = marathon.client
    events = []

    def listen():
        for event in client.event_stream(event_types=["status_update_event", "deployment_success"]):
            events.append(event)
            if event.event_type == "deployment_success" and event.id == deployment[0]:
                return

    deployment = [None]
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    wait_for(
        lambda: client.get_metrics()["counters"]["service.mesosphere.marathon.events.subscribers"][
            "count"
        ],
        what="the event stream to attach",
    )
    deployment[0] = client.create_app("evented", small_app(instances=1)).deployments[0].id
    listener.join(timeout=30)
    assert not listener.is_alive()
    statuses = [
        e.task_status
        for e in events
        if e.event_type == "status_update_event" and e.app_id == "/evented"
    ]
    assert statuses[-1] == "TASK_RUNNING"
    client.delete_app("evented")


FIELDS = [
    "id",
    "cmd",
    "args",
    "cpus",
    "mem",
    "disk",
    "instances",
    "env",
    "labels",
    "constraints",
    "healthChecks",
    "upgradeStrategy",
    "portDefinitions",
    "ports",
    "backoffFactor",
    "killSelection",
    "container",
    "requirePorts",
    "fetch",
    "uris",
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(-2, 5) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from([*FIELDS, "protocol", "port", "value"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=6))
def test_random_app_bodies_never_crash_the_daemon(marathon, body):
    body.setdefault("id", "/fuzz")
    body["instances"] = 0  # whatever is accepted must not launch anything
    status, answer = request(marathon.address, "PUT", "/v2/apps/fuzz?force=true", body)
    assert status in (200, 201, 400, 422), answer
    if status >= 400:
        assert answer["message"] in ("Invalid JSON", "Object is not valid") and answer["details"]


def test_local_with_marathon(tmp_path):
    """``mesos-py local --with-marathon``: master, agent and Marathon in one process."""
    from marathon import MarathonClient

    port, api_port = free_port(), free_port()
    local = Daemon(
        [
            "local",
            "--agents=1",
            f"--port={port}",
            f"--work_dir={tmp_path / 'local'}",
            "--with-marathon",
            f"--marathon_port={api_port}",
        ],
        tmp_path / "local.log",
    )
    try:
        address = f"127.0.0.1:{api_port}"
        wait_for(lambda: request(address, "GET", "/v2/info")[1]["frameworkId"], what="subscribed")
        client = MarathonClient(f"http://{address}")
        client.create_app("local-app", small_app(instances=2))
        wait_deployed(client, "local-app", 2)
        client.delete_app("local-app")
        wait_for(lambda: not client.list_tasks(), what="the tasks to end")
    finally:
        local.stop()


def test_kill_with_scale_shrinks_the_app_by_exactly_those_tasks(marathon):
    client = marathon.client
    client.create_app("shrink", small_app(instances=3))
    ids = sorted(t.id for t in wait_deployed(client, "shrink", 3).tasks)
    result = client.kill_task("shrink", ids[0], scale=True)
    assert "deploymentId" in result
    app = wait_deployed(client, "shrink", 2)
    assert app.instances == 2
    time.sleep(1)
    assert sorted(t.id for t in client.get_app("shrink").tasks) == ids[1:]
    client.delete_app("shrink")


def test_update_rollback_and_bulk_task_deletion(marathon):
    client = marathon.client
    client.create_app("versioned", small_app(instances=2))
    first = wait_deployed(client, "versioned", 2)
    client.update_app("versioned", MarathonApp(cmd="sleep 2000"))
    updated = wait_deployed(client, "versioned", 2)
    assert updated.cmd == "sleep 2000" and updated.version != first.version
    assert not {t.id for t in first.tasks} & {t.id for t in updated.tasks}, "a config change rolls"
    versions = client.list_versions("versioned")
    assert versions[0] == updated.version and first.version in versions
    assert client.get_version("versioned", first.version).cmd == "sleep 1000"

    client.rollback_app("versioned", first.version)
    rolled = wait_deployed(client, "versioned", 2)
    assert rolled.cmd == "sleep 1000"

    ids = [t.id for t in rolled.tasks]
    assert client.kill_given_tasks([ids[0]]) is True
    wait_for(
        lambda: (
            ids[0] not in {t.id for t in client.list_tasks("versioned")}
            and len(client.list_tasks("versioned")) == 2
        ),
        what="the deleted task to be replaced",
    )
    killed = client.kill_tasks("versioned", host="*", scale=True)
    assert "deploymentId" in killed
    wait_deployed(client, "versioned", 0)
    assert client.get_app("versioned").instances == 0
    assert not client.list_tasks("versioned")
    client.delete_app("versioned")


def test_status_page_lists_apps_and_their_tasks_escaped(marathon):
    """``/`` (the master's link to this framework) shows the app, its running count, its
    tasks, and a command holding markup as text."""
    client = marathon.client
    command = "sleep 1000 # <script>alert(1)</script>"
    client.create_app("page-app", small_app(instances=2, cmd=command))
    wait_deployed(client, "/page-app", 2)
    status, body = request(marathon.address, "GET", "/")
    assert status == 200
    page = body.decode()
    assert '<a href="/ui/app?id=%2Fpage-app">/page-app</a>' in page
    row = page[page.index("/page-app</a>") :].split("</tr>")[0]
    assert '<td class="running">2</td>' in row and '<td class="wanted">2</td>' in row
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row
    assert "<script>alert" not in page
    assert 'id="framework-id">' in page and "not registered yet" not in page

    status, body = request(marathon.address, "GET", "/ui/app?id=%2Fpage-app&limit=1")
    app_page = body.decode()
    assert status == 200 and "2 running, 0 staged, 2 wanted" in app_page
    task_ids = {t.id for t in client.get_app("/page-app").tasks}
    shown = [task_id for task_id in task_ids if task_id in app_page]
    assert len(shown) == 1, "limit=1 shows one task of the two"
    assert "1\u20131 of 2" in app_page and "<script>alert" not in app_page
    # The in-place refresh asks for the live part only.
    status, body = request(marathon.address, "GET", "/ui/?fragment=1")
    assert status == 200 and b"<html" not in body and b"/page-app" in body
    assert request(marathon.address, "GET", "/ui/app?id=%2Fnone")[0] == 404
    assert request(marathon.address, "GET", "/ui/static/ui.css")[0] == 200
    client.delete_app("/page-app", force=True)
