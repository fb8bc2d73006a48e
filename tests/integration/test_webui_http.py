"""The web UI's answers to bad paths and queries, and what it forwards to agents (no browser)."""

from __future__ import annotations

import json
import urllib.parse

from tests.integration.harness import RawScheduler, get_json, wait_for
from tests.integration.marathon_support import MarathonInstance
from tests.integration.pymesos_support import command_task
from tests.integration.test_faults import collect, launch
from tests.integration.test_operator_and_cli import request


def test_bad_requests_get_clear_answers(process_cluster):
    address = process_cluster.address
    agent_id = process_cluster.state()["slaves"][0]["id"]
    cases = {
        "/ui/no-such-page": 404,
        "/ui/agents/no-such-agent": 404,
        "/ui/frameworks/nope/tasks/nope": 404,
        "/ui/agents?offset=-1": 400,
        "/ui/tasks?limit=abc": 400,
        "/ui/static/../../etc/passwd": 404,
        f"/ui/agents/{agent_id}/proxy/state": 404,  # only three endpoints are forwarded
        "/ui/agents/no-such-agent/proxy/files/read?path=/x": 404,
        f"/ui/agents/{agent_id}/proxy/files/read?path=/etc/passwd&offset=0": 404,
        "/ui/static/ui.js": 200,
        "/": 200,
    }
    for path, code in cases.items():
        status, _, body = request(address, "GET", path)
        assert status == code, (path, status, body[:200])
        assert b"Traceback" not in body
    # The existing endpoints are untouched.
    assert get_json(address, "/master/state")["activated_slaves"] == 1


def test_pages_escape_and_the_proxy_reads_sandboxes(process_cluster):
    raw = RawScheduler(process_cluster.address, {"user": "root", "name": "<i>fw</i>"})
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    task = command_task(offer, "t", "echo '<script>x</script>'")
    task["name"] = "<script>alert(1)</script>"
    launch(raw, offer, [task])
    collect(raw, ["t"], {"TASK_FINISHED"})
    escaped_task = b"&lt;script&gt;alert(1)&lt;/script&gt;"
    escaped_framework = b"&lt;i&gt;fw&lt;/i&gt;"
    pages = {
        "/ui/tasks": escaped_task,
        f"/ui/frameworks/{raw.framework_id}/tasks/t": escaped_task,
        "/ui/frameworks": escaped_framework,
    }
    for path, escaped in pages.items():
        status, _, body = request(process_cluster.address, "GET", path)
        assert status == 200
        assert b"<script>alert" not in body and b"<i>fw" not in body
        assert escaped in body
    agent_id = offer["agent_id"]["value"]
    sandbox = f"/frameworks/{raw.framework_id}/executors/t/runs/latest/stdout"
    query = urllib.parse.urlencode({"path": sandbox, "offset": 0})
    status, headers, body = request(
        process_cluster.address, "GET", f"/ui/agents/{agent_id}/proxy/files/read?{query}"
    )
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"data": "<script>x</script>\n", "offset": 0}
    raw.close()


def test_frameworks_page_links_to_a_subscribed_marathon(process_cluster, tmp_path):
    marathon = MarathonInstance(tmp_path / "marathon.log", process_cluster.address)
    try:
        framework_id = wait_for(
            lambda: marathon.info()["frameworkId"], what="marathon to subscribe"
        )
        link = f'class="webui" href="http://{marathon.address}"'.encode()
        for path in ("/ui/frameworks", f"/ui/frameworks/{framework_id}"):
            status, _, body = request(process_cluster.address, "GET", path)
            assert status == 200 and link in body, (path, body[:2000])
        # The link leads to the instance that answers the framework's API.
        status, _, body = request(marathon.address, "GET", "/ping")
        assert status == 200 and body == b"pong"
    finally:
        marathon.stop()
