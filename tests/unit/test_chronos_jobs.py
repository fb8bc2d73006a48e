"""Chronos jobs, the dependency graph and run bookkeeping: pure functions, plain values."""

from __future__ import annotations

import datetime as dt

import pytest

from mesos_py.chronos import graph, runs
from mesos_py.chronos.jobs import ApiError, Defaults, Job, merged_update, parse_job
from mesos_py.chronos.schedule import UTC

NOW = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
DEFAULTS = Defaults()


def scheduled(name="a", schedule="R/2024-06-01T12:00:00Z/PT1M", **extra) -> dict:
    return {"name": name, "command": "true", "schedule": schedule, **extra}


def dependent(name, parents, **extra) -> dict:
    return {"name": name, "command": "true", "parents": parents, **extra}


def job(body: dict, kind="scheduled") -> Job:
    return parse_job(body, kind, NOW)[0]


@pytest.mark.parametrize(
    "body, kind, message",
    [
        ([], "scheduled", "must be a JSON object"),
        (scheduled(name="bad name"), "scheduled", "Invalid job name 'bad name'"),
        (scheduled(name=".."), "scheduled", "Invalid job name"),
        ({"name": "a", "schedule": "R//PT1S"}, "scheduled", "'command' is required"),
        (scheduled(command="  "), "scheduled", "'command' is required"),
        (scheduled(schedule="every minute"), "scheduled", "Cannot parse schedule 'every minute'"),
        (scheduled(scheduleTimeZone="Nowhere/Land"), "scheduled", "Unknown scheduleTimeZone"),
        ({"name": "a", "command": "x"}, "scheduled", "'schedule' is required"),
        (scheduled(parents=["b"]), "scheduled", "post dependent jobs to /scheduler/dependency"),
        (dependent("a", []), "dependent", "'parents' must be a non-empty list"),
        (dependent("a", ["a"]), "dependent", "cannot be its own parent"),
        (scheduled(retries=-1), "scheduled", "'retries' must be a non-negative integer"),
        (scheduled(cpus="lots"), "scheduled", "'cpus' must be a non-negative number"),
        (scheduled(disabled="no"), "scheduled", "'disabled' must be a boolean"),
        (scheduled(epsilon="soon"), "scheduled", "cannot parse epsilon"),
        (scheduled(epsilon="P1M"), "scheduled", "cannot parse epsilon"),
        (scheduled(uris=["http://x"], fetch=[{"uri": "x"}]), "scheduled", "not both"),
        (scheduled(container={"type": "DOCKER", "image": "x"}), "scheduled", "not supported"),
        (scheduled(environmentVariables=[{"name": 1}]), "scheduled", "environmentVariables"),
        (scheduled(constraints=[["rack", "NEAR", "x"]]), "scheduled", "constraints"),
    ],
)
def test_bad_jobs_get_400_with_a_clear_message(body, kind, message):
    with pytest.raises(ApiError) as info:
        parse_job(body, kind, NOW)
    assert info.value.code == 400
    assert message in info.value.message


def test_job_json_has_chronos_fields_and_server_defaults():
    body = job(scheduled(cpus=0, epsilon="PT30S")).to_json(DEFAULTS)
    assert list(body)[:5] == ["name", "command", "shell", "executor", "executorFlags"]
    assert body["cpus"] == 0.1 and body["mem"] == 128.0 and body["disk"] == 256.0
    assert body["lastSuccess"] == "" and body["lastError"] == ""
    assert body["schedule"] == "R/2024-06-01T12:00:00.000Z/PT1M"
    assert body["epsilon"] == "PT30S" and "parents" not in body


def test_empty_start_is_fixed_when_the_job_is_stored():
    assert job(scheduled(schedule="R5//PT10S")).schedule == "R5/2024-06-01T11:59:59.000Z/PT10S"


def test_doc_round_trip_keeps_runs():
    j = job(scheduled())
    runs.claim_scheduled(j, NOW, DEFAULTS)
    again = Job.from_doc(j.to_doc())
    assert again == j and again.runs["1717243200000"].task_id("a") == "ct:1717243200000:0:a:"


def test_update_keeps_counters_the_client_left_out():
    stored = job(scheduled())
    stored.success_count, stored.error_count = 7, 2
    posted, given = parse_job(scheduled(disabled=True, errorCount=0), "scheduled", NOW)
    merged = merged_update(stored, posted, given)
    assert merged.disabled and merged.success_count == 7 and merged.error_count == 0


def test_unknown_parents_and_cycles_are_refused():
    jobs = {"a": job(scheduled())}
    with pytest.raises(ApiError, match="unknown parent job\\(s\\): nope"):
        graph.check_parents(jobs, job(dependent("b", ["a", "nope"]), "dependent"))
    jobs["b"] = job(dependent("b", ["a"]), "dependent")
    jobs["c"] = job(dependent("c", ["b"]), "dependent")
    # b -> c -> b
    with pytest.raises(ApiError, match="dependency cycle"):
        graph.check_parents(jobs, job(dependent("b", ["c"]), "dependent"))
    graph.check_parents(jobs, job(dependent("d", ["b", "c"]), "dependent"))


def test_graph_csv():
    a = job(scheduled())
    a.last_success = "2024-06-01T12:00:00.000Z"
    b = job(dependent("b", ["a"]), "dependent")
    b.last_error = "2024-06-01T12:00:00.000Z"
    runs.queue_run(b, NOW, "manual")
    assert graph.graph_csv([b, a]) == ("node,a,success,idle\nnode,b,failure,queued\nlink,a,b\n")


def test_delete_reparents_children():
    jobs = {
        "a": job(scheduled()),
        "b": job(dependent("b", ["a"]), "dependent"),
        "c": job(dependent("c", ["b", "a"]), "dependent"),
    }
    changed = graph.reparent_after_delete(jobs, jobs.pop("a"))
    assert [c.name for c in changed] == ["b", "c"]
    assert jobs["b"].parents is None and jobs["b"].schedule == "R/2024-06-01T12:00:00.000Z/PT1M"
    assert jobs["c"].parents == ["b"]


def test_claim_moves_the_schedule_past_the_instant():
    j = job(scheduled(schedule="R3/2024-06-01T12:00:00Z/PT1M"))
    early = runs.claim_scheduled(j, NOW - dt.timedelta(seconds=5), DEFAULTS)
    assert early.run is None and early.wake_at == NOW
    claim = runs.claim_scheduled(j, NOW, DEFAULTS)
    assert claim.run.due_millis == runs.to_millis(NOW) and claim.skipped == 0
    assert j.schedule == "R2/2024-06-01T12:01:00.000Z/PT1M"
    assert claim.wake_at is None  # not concurrent: look again when the run ends
    # Still running: the next instant waits for it (late within epsilon, else skipped).
    later = NOW + dt.timedelta(minutes=1, seconds=30)
    assert runs.claim_scheduled(j, later, DEFAULTS) == runs.Claim(None, None)
    runs.record_success(j, claim.run.key, later)
    late = runs.claim_scheduled(j, later, DEFAULTS)
    assert late.run.due_millis == runs.to_millis(NOW + dt.timedelta(minutes=1))
    runs.record_success(j, late.run.key, later + dt.timedelta(minutes=1))
    assert runs.claim_scheduled(j, NOW + dt.timedelta(minutes=3, seconds=1), DEFAULTS).run is None


def test_reposting_an_earlier_start_does_not_rerun_claimed_instants():
    j = job(scheduled(schedule="R/2024-06-01T12:00:00Z/PT10S", concurrent=True))
    first = runs.claim_scheduled(j, NOW + dt.timedelta(seconds=10), DEFAULTS)
    second = runs.claim_scheduled(j, NOW + dt.timedelta(seconds=10), DEFAULTS)
    assert [first.run.due_millis, second.run.due_millis] == [
        runs.to_millis(NOW),
        runs.to_millis(NOW + dt.timedelta(seconds=10)),
    ]
    posted, given = parse_job(
        scheduled(schedule="R/2024-06-01T12:00:00Z/PT10S", concurrent=True), "scheduled", NOW
    )
    j = merged_update(j, posted, given)
    again = runs.claim_scheduled(j, NOW + dt.timedelta(seconds=15), DEFAULTS)
    assert again.run is None and again.wake_at == NOW + dt.timedelta(seconds=20)


def test_instants_missed_by_more_than_epsilon_are_skipped_and_counted():
    j = job(scheduled(schedule="R/2024-06-01T12:00:00Z/PT1M"))
    claim = runs.claim_scheduled(j, NOW + dt.timedelta(minutes=5, seconds=30), DEFAULTS)
    assert claim.run.due_millis == runs.to_millis(NOW + dt.timedelta(minutes=5))
    assert claim.skipped == 5 and j.schedule == "R/2024-06-01T12:06:00.000Z/PT1M"


def test_concurrent_jobs_catch_up_every_instant_within_epsilon():
    j = job(scheduled(schedule="R/2024-06-01T11:59:30Z/PT10S", concurrent=True))
    claimed = []
    while (claim := runs.claim_scheduled(j, NOW, DEFAULTS)).run is not None:
        claimed.append(claim.run.due_millis)
    assert claimed == [runs.to_millis(NOW - dt.timedelta(seconds=s)) for s in (30, 20, 10, 0)]
    assert claim.wake_at == NOW + dt.timedelta(seconds=10)


def test_disabled_jobs_do_not_run():
    j = job(scheduled(disabled=True))
    assert runs.claim_scheduled(j, NOW, DEFAULTS).run is None
    runs.queue_run(j, NOW, "manual")
    assert runs.claim_queued(j) == [] and j.queued == []


def test_queued_runs_wait_for_a_running_non_concurrent_job():
    j = job(scheduled())
    run = runs.claim_scheduled(j, NOW, DEFAULTS).run
    runs.queue_run(j, NOW, "manual")
    assert runs.claim_queued(j) == [] and len(j.queued) == 1
    runs.record_success(j, run.key, NOW)
    assert [r.kind for r in runs.claim_queued(j)] == ["manual"]


def test_retries_then_an_error():
    j = job(scheduled(retries=2))
    run = runs.claim_scheduled(j, NOW, DEFAULTS).run
    assert runs.record_failure(j, run.key, NOW).attempt == 1
    assert runs.record_failure(j, run.key, NOW).attempt == 2
    assert runs.record_failure(j, run.key, NOW) is None
    assert j.error_count == 1 and j.errors_since_last_success == 1 and not j.runs
    assert j.last_error == "2024-06-01T12:00:00.000Z"
    # As in Chronos: after an error, the next run's failure is not retried.
    later = NOW + dt.timedelta(minutes=1)
    run = runs.claim_scheduled(j, later, DEFAULTS).run
    assert runs.record_failure(j, run.key, later) is None and j.error_count == 2
    run = runs.claim_scheduled(j, later + dt.timedelta(minutes=1), DEFAULTS).run
    runs.record_success(j, run.key, later + dt.timedelta(minutes=1))
    assert j.success_count == 1 and j.errors_since_last_success == 0


def test_child_runs_once_all_parents_succeeded_since_its_last_run():
    child = job(dependent("c", ["a", "b"]), "dependent")
    assert not runs.record_parent_success(child, "a", NOW)
    assert not runs.record_parent_success(child, "a", NOW)
    assert runs.record_parent_success(child, "b", NOW)
    assert child.parent_successes == [] and [q["kind"] for q in child.queued] == ["dependency"]
    assert not runs.record_parent_success(child, "b", NOW)


def test_queued_runs_get_distinct_instants():
    j = job(scheduled(concurrent=True))
    runs.queue_run(j, NOW, "manual")
    runs.queue_run(j, NOW, "manual")
    claimed = runs.claim_queued(j)
    assert len({r.task_id("a") for r in claimed}) == 2


def test_task_ids_parse():
    assert runs.parse_task_id("ct:1717243200000:2:my-job:") == (1717243200000, 2, "my-job")
    assert runs.parse_task_id("something-else") is None
