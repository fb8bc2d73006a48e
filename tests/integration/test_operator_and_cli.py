"""Operator endpoints beyond /state, the `mesos-py execute` tool, and master flags."""

from __future__ import annotations

import http.client
import subprocess
import urllib.parse

import pytest

from mesos_py.master.flags import parse_weights
from tests.integration.harness import MESOS_PY, RawScheduler, get_json
from tests.integration.pymesos_support import command_task
from tests.integration.test_faults import collect, launch


def request(address, method, path, body=None, headers=None):
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def execute(address, command):
    return subprocess.run(
        [*MESOS_PY, "execute", f"--master={address}", f"--command={command}"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_execute_reports_states_and_exits_with_the_outcome(cluster):
    ok = execute(cluster.address, "echo hi")
    assert ok.returncode == 0, ok.stderr
    assert "TASK_RUNNING" in ok.stdout and "TASK_FINISHED" in ok.stdout
    failed = execute(cluster.address, "exit 9")
    assert failed.returncode == 1
    assert "TASK_FAILED" in failed.stdout and "status 9" in failed.stdout


def test_execute_against_no_master_fails_cleanly():
    result = execute("127.0.0.1:1", "true")
    assert result.returncode == 1
    assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_redirect_points_at_the_leader(process_cluster):
    status, headers, _ = request(process_cluster.address, "GET", "/master/redirect")
    assert status == 307
    assert headers["Location"] == f"//{process_cluster.address}"
    assert request(process_cluster.address, "GET", "/master/redirect/x")[0] == 404


def test_teardown_endpoint_removes_a_framework(process_cluster):
    raw = RawScheduler(process_cluster.address)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = request(process_cluster.address, "POST", "/master/teardown", "", form)
    assert status == 400 and b"frameworkId" in body
    status, _, body = request(
        process_cluster.address, "POST", "/master/teardown", "frameworkId=nope", form
    )
    assert status == 400 and b"No framework" in body
    query = urllib.parse.urlencode({"frameworkId": raw.framework_id})
    assert request(process_cluster.address, "POST", "/master/teardown", query, form)[0] == 200
    frameworks = get_json(process_cluster.address, "/master/frameworks")
    assert [f["id"] for f in frameworks["completed_frameworks"]] == [raw.framework_id]
    raw.close()


def test_tasks_endpoint_pages_and_orders(process_cluster):
    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    names = ["a", "b", "c"]
    launch(raw, offer, [command_task(offer, n, "sleep 30") for n in names])
    collect(raw, names, {"TASK_RUNNING"})
    everything = get_json(process_cluster.address, "/master/tasks?order=asc")["tasks"]
    assert sorted(t["id"] for t in everything) == names
    page = get_json(process_cluster.address, "/master/tasks?limit=1&offset=1&order=asc")["tasks"]
    assert [t["id"] for t in page] == [everything[1]["id"]]
    one = get_json(process_cluster.address, "/master/tasks?task_id=b")["tasks"]
    assert [t["id"] for t in one] == ["b"]
    status, _, body = request(process_cluster.address, "GET", "/master/tasks?limit=-1")
    assert status == 400 and b"limit" in body
    raw.close()


@pytest.mark.parametrize(
    ("text", "weights"),
    [("", ()), ("eng=2,ops=0.5", (("eng", 2.0), ("ops", 0.5)))],
)
def test_weights_flag(text, weights):
    assert parse_weights(text) == weights


@pytest.mark.parametrize("text", ["eng", "eng=0", "=2", "eng=x"])
def test_bad_weights_are_refused(text):
    with pytest.raises(ValueError):
        parse_weights(text)


def test_bad_master_flags_exit_with_a_message():
    result = subprocess.run(
        [*MESOS_PY, "master", "--weights=eng=0", "--port=0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_version_is_dotted_integers_for_pymesos(process_cluster):
    version = get_json(process_cluster.address, "/version")["version"]
    assert tuple(int(part) for part in version.split(".")) >= (1, 0, 0)


def test_a_tasks_output_is_readable_through_the_agents_files_endpoint(process_cluster):
    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    launch(raw, offer, [command_task(offer, "talks", "echo hello-from-the-sandbox")])
    collect(raw, ["talks"], {"TASK_FINISHED"})
    url = offer["url"]["address"]
    agent = f"{url['ip']}:{url['port']}"
    state = get_json(agent, "/state")
    executors = [
        e
        for f in state["frameworks"] + state["completed_frameworks"]
        for e in f["executors"] + f["completed_executors"]
        if e["id"] == "talks"
    ]
    directory = executors[0]["directory"]
    path = urllib.parse.quote(f"{directory}/stdout")
    read = get_json(agent, f"/files/read?path={path}&offset=0")
    assert "hello-from-the-sandbox" in read["data"]
    listing = get_json(agent, f"/files/browse?path={urllib.parse.quote(directory)}")
    assert {"stdout", "stderr"} <= {entry["path"].rsplit("/", 1)[1] for entry in listing}
    status, _, _ = request(agent, "GET", "/files/read?path=/etc/passwd&offset=0")
    assert status in (403, 404)
    raw.close()
