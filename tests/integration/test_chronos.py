"""Acceptance of the Chronos-compatible scheduler, driven by the real chronos-python client.

One real ZooKeeper server, a master and an agent as processes, and one
``mesos-py chronos`` instance, shared by the module's tests (each uses its
own job names).
"""

from __future__ import annotations

import time

import chronos
import pytest

from mesos_py.common import zookeeper
from tests.integration.chronos_support import (
    ChronosInstance,
    due_seconds,
    find,
    in_seconds,
    iso,
    job,
    read_records,
    record_command,
    request,
)
from tests.integration.harness import Daemon, free_port, running_cluster, wait_for
from tests.integration.prometheus_support import scrape
from tests.integration.zookeeper import Ensemble, missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or ""),
]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    base = tmp_path_factory.mktemp("chronos")
    ensemble = Ensemble(base / "zk", size=1)
    ensemble.start()
    try:
        ensemble.wait_serving()
        with running_cluster(base / "cluster", "processes") as cluster:
            instance = ChronosInstance(
                base / "chronos.log", cluster.address, ensemble.url("/chronos")
            )
            try:
                instance.wait_serving()
                yield instance, base
            except BaseException:
                print(instance.daemon.output()[-6000:])
                raise
            finally:
                instance.stop()
    finally:
        ensemble.stop()


@pytest.fixture
def client(deployment):
    return deployment[0].client()


@pytest.fixture
def out(deployment, request):
    return deployment[1] / f"{request.node.name}.out"


def wait_job(client, name, predicate, timeout=30.0, what="job state"):
    return wait_for(
        lambda: (j := find(client, name)) is not None and predicate(j) and j,
        timeout,
        what=f"{name}: {what}",
    )


def test_every_two_seconds_success_count_grows_at_that_rate(client, out):
    start = in_seconds(1)
    client.add(job("every2", record_command(out), f"R/{iso(start)}/PT2S"))
    first = start.timestamp()
    time.sleep(max(0.0, first + 9.0 - time.time()))  # instants at +0, +2, +4, +6, +8
    body = find(client, "every2")
    assert body["successCount"] in (4, 5), body  # the one at +8 may still be finishing
    assert body["errorCount"] == 0 and body["lastSuccess"] and body["lastError"] == ""
    records = wait_for(lambda: len(r := read_records(out)) >= 5 and r, 5, what="5 runs")
    dues = [due_seconds(task_id) for task_id, _ in records]
    assert dues[:5] == [first + 2 * k for k in range(5)]  # each instant once, in order
    assert len(set(dues)) == len(dues)
    lateness = [started - due_seconds(task_id) for task_id, started in records]
    assert all(-0.05 < late <= 2.0 for late in lateness), lateness
    client.delete("every2")


def test_failing_job_is_retried_then_counted_as_an_error(client, out):
    client.add(
        job("fails", record_command(out) + "; exit 3", f"R1/{iso(in_seconds(0))}/PT1M", retries=2)
    )
    body = wait_job(client, "fails", lambda j: j["errorCount"] == 1, what="one error")
    assert body["successCount"] == 0 and body["lastError"] and body["lastSuccess"] == ""
    attempts = [task_id.split(":")[2] for task_id, _ in read_records(out)]
    assert attempts == ["0", "1", "2"]  # two retries of the same instant, then the error
    time.sleep(1.5)
    assert find(client, "fails")["errorCount"] == 1 and len(read_records(out)) == 3


def test_dependent_job_runs_only_after_all_parents_succeed(client, out):
    first, second = in_seconds(1), in_seconds(4)
    client.add(job("parent-a", "true", f"R1/{iso(first)}/PT1M"))
    client.add(job("parent-b", "true", f"R1/{iso(second)}/PT1M"))
    client.add(job("child", record_command(out), parents=["parent-a", "parent-b"]))
    wait_job(client, "parent-a", lambda j: j["successCount"] == 1, what="parent-a succeeded")
    time.sleep(1.0)
    assert read_records(out) == []  # parent-b has not run yet
    wait_job(client, "child", lambda j: j["successCount"] == 1, what="child ran")
    ((task_id, started),) = read_records(out)
    parent_b = find(client, "parent-b")
    assert parent_b["successCount"] == 1 and started >= second.timestamp()
    graph = client.scheduler_graph()
    assert "link,parent-a,child" in graph and "link,parent-b,child" in graph
    assert "node,child,success,idle" in graph
    stat = client.job_stat("child")
    assert stat["histogram"]["count"] == 1 and stat["taskStatHistory"][0]["taskId"] == task_id
    for name in ("child", "parent-a", "parent-b"):
        client.delete(name)


def test_run_now_disable_and_delete(client, out):
    client.add(job("manual", record_command(out), "R/2099-01-01T00:00:00Z/P1D"))
    client.run("manual")
    wait_job(client, "manual", lambda j: j["successCount"] == 1, what="the manual run")
    body = find(client, "manual")
    body["disabled"] = True
    client.update(body)
    assert find(client, "manual")["disabled"] is True
    assert find(client, "manual")["successCount"] == 1  # the update kept the counters
    client.run("manual")
    time.sleep(2.0)
    assert len(read_records(out)) == 1  # a disabled job does not run
    client.delete("manual")
    assert find(client, "manual") is None
    with pytest.raises(chronos.ChronosAPIError):
        client.run("manual")


def test_kill_running_tasks(client):
    client.add(job("sleeper", "sleep 60", "R/2099-01-01T00:00:00Z/P1D"))
    client.run("sleeper")
    wait_for(
        lambda: "node,sleeper,fresh,1 running" in client.scheduler_graph(),
        20,
        what="sleeper running",
    )
    client.delete_tasks("sleeper")
    wait_for(
        lambda: "node,sleeper,fresh,idle" in client.scheduler_graph(), 20, what="sleeper killed"
    )
    body = find(client, "sleeper")
    assert body["errorCount"] == 0 and body["successCount"] == 0  # a kill is no error
    client.delete("sleeper")


def test_search_and_legacy_prefix(deployment):
    instance = deployment[0]
    legacy = instance.client(api_version=None)  # /scheduler/..., updates with PUT
    legacy.add(job("search-me", "echo findable", "R/2099-01-01T00:00:00Z/P1D"))
    body = find(legacy, "search-me")
    body["description"] = "changed"
    legacy.update(body)
    v1 = instance.client()
    (found,) = v1.search(name="SEARCH-")
    assert found["description"] == "changed"
    assert v1.search(command="findable")[0]["name"] == "search-me"
    assert v1.search(name="search-me", command="nope") == []
    v1.delete("search-me")


@pytest.mark.parametrize(
    "path, body, message",
    [
        ("/v1/scheduler/iso8601", job("bad1", "true", "every minute"), "Cannot parse schedule"),
        ("/scheduler/iso8601", job("bad2", "true", "R/2024-01-01T00:00:00Z/PT0S"), "positive"),
        ("/v1/scheduler/iso8601", {**job("bad3", "", "R//PT1M")}, "'command' is required"),
        ("/v1/scheduler/dependency", job("bad4", "true", parents=["ghost"]), "unknown parent"),
        ("/v1/scheduler/dependency", job("bad5", "true", parents=[]), "non-empty list"),
        ("/v1/scheduler/iso8601", b"{not json", "not valid JSON"),
        ("/v1/scheduler/iso8601", job("no spaces allowed", "true", "R//PT1M"), "Invalid job name"),
    ],
)
def test_bad_input_gets_400_with_a_clear_message(deployment, path, body, message):
    instance = deployment[0]
    status, answer = request(instance.address, "POST", path, body)
    assert status == 400
    assert message in answer["message"] and answer["status"] == "Bad Request"
    assert request(instance.address, "GET", "/v1/scheduler/jobs")[0] == 200  # still serving


def test_dependency_cycle_and_unknown_jobs_are_refused(deployment, client):
    address = deployment[0].address
    client.add(job("cyc-a", "true", "R/2099-01-01T00:00:00Z/P1D"))
    client.add(job("cyc-b", "true", parents=["cyc-a"]))
    client.add(job("cyc-c", "true", parents=["cyc-b"]))
    status, answer = request(
        address, "POST", "/v1/scheduler/dependency", job("cyc-b", "true", parents=["cyc-c"])
    )
    assert status == 400 and "dependency cycle" in answer["message"]
    with pytest.raises(chronos.ChronosAPIError):
        client.add(job("cyc-b", "true", parents=["cyc-c"]))
    for method, path in [
        ("PUT", "/v1/scheduler/job/ghost"),
        ("DELETE", "/v1/scheduler/job/ghost"),
        ("GET", "/v1/scheduler/job/stat/ghost"),
    ]:
        status, answer = request(address, method, path)
        assert status == 400 and answer["message"] == "Job 'ghost' not found"
    status, _ = request(address, "DELETE", "/v1/scheduler/jobs")
    assert status == 405
    # Deleting the middle job re-parents its child onto cyc-a.
    client.delete("cyc-b")
    assert find(client, "cyc-c")["parents"] == ["cyc-a"]
    for name in ("cyc-c", "cyc-a"):
        client.delete(name)


def test_jobs_survive_a_restart_of_the_instance(tmp_path, deployment):
    instance, base = deployment
    client = instance.client()
    client.add(job("durable", "true", "R5/2099-01-01T00:00:00Z/P1D", description="kept"))
    master = next(a for a in instance.daemon.argv if a.startswith("--master=")).split("=", 1)[1]
    zk = next(a for a in instance.daemon.argv if a.startswith("--zk=")).split("=", 1)[1]
    instance.daemon.kill()
    second = ChronosInstance(base / "chronos-2.log", master, zk)
    try:
        second.wait_serving()
        body = find(second.client(), "durable")
        assert body["description"] == "kept" and body["schedule"].startswith("R5/2099-01-01")
        second.client().delete("durable")
    finally:
        second.stop()
        # Bring back a serving instance at the module's address for the other tests.
        instance.daemon = type(instance.daemon)(instance.daemon.argv, instance.daemon.log_path)
        instance.wait_serving()


def test_argv_jobs_with_environment_variables(client, out):
    client.add(
        job(
            "argv",
            "/bin/sh",
            "R/2099-01-01T00:00:00Z/P1D",
            shell=False,
            arguments=["-c", f'echo "$mesos_task_id $GREETING $CHRONOS_JOB_NAME" >> {out}'],
            environmentVariables=[{"name": "GREETING", "value": "hello world"}],
        )
    )
    client.run("argv")
    wait_job(client, "argv", lambda j: j["successCount"] == 1, what="the argv run")
    (line,) = out.read_text().splitlines()
    task_id, rest = line.split(" ", 1)
    assert task_id.startswith("ct:") and task_id.endswith(":0:argv:")
    assert rest == "hello world argv"
    client.delete("argv")


def test_local_with_chronos(tmp_path):
    port, chronos_port = free_port(), free_port()
    local = Daemon(
        [
            "local",
            "--port",
            str(port),
            "--work_dir",
            str(tmp_path / "local"),
            "--with-chronos",
            "--chronos_port",
            str(chronos_port),
        ],
        tmp_path / "local.log",
    )
    try:
        address = f"127.0.0.1:{chronos_port}"
        wait_for(
            lambda: request(address, "GET", "/v1/scheduler/jobs")[0] == 200,
            30,
            what="local chronos to serve",
        )
        client = chronos.connect(address)
        out = tmp_path / "local.out"
        client.add(job("local-job", record_command(out), f"R1/{iso(in_seconds(0))}/PT1M"))
        wait_job(client, "local-job", lambda j: j["successCount"] == 1, what="the local run")
        assert len(read_records(out)) == 1
    except BaseException:
        print(local.output()[-5000:])
        raise
    finally:
        local.stop()


def test_prometheus_metrics_count_outcomes_lateness_and_running_tasks(deployment, client):
    address = deployment[0].address
    before = scrape(address, "/metrics/prometheus")
    assert before[("chronos_leader", ())] == 1
    assert before[("chronos_mesos_subscribed", ())] == 1
    assert before[("chronos_zookeeper_session", (("state", zookeeper.CONNECTED),))] == 1
    start = iso(in_seconds(1))
    client.add(job("prom-ok", "true", f"R1/{start}/PT1M"))
    client.add(job("prom-bad", "exit 3", f"R1/{start}/PT1M", retries=1))
    client.add(job("prom-off", "true", "R/2099-01-01T00:00:00Z/P1D", disabled=True))
    client.add(job("prom-sleep", "sleep 60", "R/2099-01-01T00:00:00Z/P1D"))
    client.run("prom-sleep")
    wait_job(client, "prom-ok", lambda j: j["successCount"] == 1, what="a success")
    wait_job(client, "prom-bad", lambda j: j["errorCount"] == 1, what="an error")

    after = wait_for(
        lambda: (
            (m := scrape(address, "/metrics/prometheus"))[("chronos_tasks_running", ())] >= 1 and m
        ),
        20,
        what="prom-sleep running",
    )

    def grew(name: str, labels: tuple = ()) -> float:
        return after[(name, labels)] - before[(name, labels)]

    assert grew("chronos_job_runs_total", (("outcome", "success"),)) >= 1
    assert grew("chronos_job_runs_total", (("outcome", "retry"),)) >= 1
    assert grew("chronos_job_runs_total", (("outcome", "error"),)) >= 1
    assert grew("chronos_tasks_launched_total") >= 4  # ok, bad twice, sleep
    # Three first attempts started, each well within a minute of its due instant.
    assert grew("chronos_job_start_lateness_seconds_count") >= 3
    assert grew("chronos_job_start_lateness_seconds_bucket", (("le", "60"),)) >= 3
    assert after[("chronos_jobs", (("disabled", "true"),))] >= 1
    assert after[("chronos_next_due_lag_seconds", ())] >= 0
    framework = [labels for name, labels in after if name == "chronos_framework_info"]
    assert len(framework) == 1 and framework[0][0][1]  # a non-empty framework ID
    for name in ("prom-ok", "prom-bad", "prom-off", "prom-sleep"):
        client.delete(name)


def test_status_page_lists_jobs_with_counters_escaped(deployment, client, out):
    """``/`` shows each job with its counters; the job page its runs; markup as text."""
    instance = deployment[0]
    command = record_command(out) + " # <script>alert(1)</script>"
    client.add(job("paged", command, f"R2/{iso(in_seconds(1))}/PT1S"))
    wait_job(client, "paged", lambda j: j["successCount"] >= 2, what="two successes")
    status, body = request(instance.address, "GET", "/")
    assert status == 200
    page = body
    row = page[page.index('<a href="/ui/job?name=paged">') :].split("</tr>")[0]
    assert '<td class="success-count">2</td>' in row
    assert '<td class="error-count">0</td>' in row
    assert "<script>alert" not in page

    status, body = request(instance.address, "GET", "/ui/job?name=paged")
    job_page = body
    assert status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in job_page and "<script>alert" not in job_page
    assert job_page.count("<td>success</td>") == 2
    assert request(instance.address, "GET", "/ui/job?name=none")[0] == 404
    client.delete("paged")
