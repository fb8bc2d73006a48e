"""The master's web UI in a real headless Chromium against running clusters.

Every test leaves a screenshot in .artifacts/webui/ (the path is printed).
"""

from __future__ import annotations

import pytest

from tests.integration import browser
from tests.integration.harness import RawScheduler, running_cluster
from tests.integration.pymesos_support import command_task
from tests.integration.test_faults import collect, launch

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(browser.available() is not None, reason=str(browser.available())),
]

NOT_RELOADED = "window.__not_reloaded === true"


@pytest.fixture(scope="module")
def chromium():
    with browser.chromium() as context:
        yield context


@pytest.fixture
def page(chromium, request):
    """A fresh page that records any JavaScript dialog (an alert() means injected script ran)."""
    page = chromium.new_page()
    page.dialogs = []

    def dialog(d):
        page.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    yield page
    browser.screenshot(page, request.node.name)
    page.close()


@pytest.fixture
def cluster(tmp_path):
    with running_cluster(tmp_path / "cluster", "processes", agents=2) as running:
        yield running


def framework(address, **info):
    return RawScheduler(address, {"user": "root", "name": "web-test", **info})


def text(page, selector):
    return page.locator(selector).inner_text().strip()


def wait_text(page, selector, wanted, timeout=15_000):
    """Wait until the element's text is ``wanted`` (the page refreshes it in place)."""
    page.wait_for_function(
        "([selector, wanted]) => { const e = document.querySelector(selector);"
        " return e !== null && e.textContent.trim() === wanted; }",
        arg=[selector, wanted],
        timeout=timeout,
    )


def mark_loaded(page):
    """A marker that a full reload would wipe out."""
    page.evaluate("window.__not_reloaded = true")


def test_overview_shows_the_right_counts_and_refreshes_in_place(cluster, page):
    raw = framework(cluster.address, webui_url="http://web-test.invalid:8080/")
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    launch(
        raw,
        offer,
        [
            command_task(offer, "sleeper-1", "sleep 30"),
            command_task(offer, "sleeper-2", "sleep 30"),
            command_task(offer, "done", "true"),
        ],
    )
    collect(raw, ["sleeper-1", "sleeper-2", "done"], {"TASK_RUNNING", "TASK_FINISHED"})
    collect(raw, ["done"], {"TASK_FINISHED"})

    page.goto(f"http://{cluster.address}/")
    assert text(page, "#agents-active") == "2"
    assert text(page, "#agents-unreachable") == "0"
    assert text(page, "#frameworks-active") == "1"
    assert text(page, "#tasks-task_running") == "2"
    assert text(page, "#tasks-task_finished") == "1"
    assert "0.2" in text(page, "#resource-cpus")
    webui = page.locator("a.webui")
    assert webui.get_attribute("href") == "http://web-test.invalid:8080/"
    mark_loaded(page)

    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    launch(raw, offer, [command_task(offer, "sleeper-3", "sleep 30")])
    collect(raw, ["sleeper-3"], {"TASK_RUNNING"})
    wait_text(page, "#tasks-task_running", "3")
    assert page.evaluate(NOT_RELOADED), "the overview reloaded instead of refreshing in place"
    assert "0.3" in text(page, "#resource-cpus")
    browser.screenshot(page, "overview")

    page.goto(f"http://{cluster.address}/ui/agents")
    assert page.locator("table.agents tbody tr").count() == 2
    agent_id = offer["agent_id"]["value"]
    page.goto(f"http://{cluster.address}/ui/agents/{agent_id}")
    # Usage comes from the agent's /monitor/statistics through the master.
    page.locator("table.usage").wait_for()
    assert "sleeper-3" in text(page, "table.usage")
    assert "sleeper-3" in text(page, "table.tasks")
    browser.screenshot(page, "agent")

    page.goto(f"http://{cluster.address}/ui/frameworks")
    assert "web-test" in text(page, "#frameworks")
    raw.close()


def test_a_tasks_page_tails_its_output_as_it_is_written(cluster, page):
    raw = framework(cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    script = "for i in $(seq 1 150); do echo line-$i; echo oops-$i >&2; sleep 0.1; done"
    launch(raw, offer, [command_task(offer, "talker", script)])
    collect(raw, ["talker"], {"TASK_RUNNING"})

    page.goto(f"http://{cluster.address}/ui/frameworks/{raw.framework_id}/tasks/talker")
    tail = page.locator("#tail")
    page.wait_for_function("document.querySelector('#tail').textContent.includes('line-5\\n')")
    first = tail.inner_text()
    assert "line-150" not in first, "the whole output was there at once: nothing was tailed"
    mark_loaded(page)
    page.wait_for_function(
        "document.querySelector('#tail').textContent.includes('line-150\\n')", timeout=30_000
    )
    assert page.evaluate(NOT_RELOADED)
    lines = tail.inner_text().split()
    assert lines == [f"line-{i}" for i in range(1, 151)], "lines lost, repeated or reordered"
    # The sandbox listing and the stderr tab.
    assert {"stdout", "stderr"} <= set(page.locator("tbody[data-listing] a").all_inner_texts())
    page.locator("button[data-file=stderr]").click()
    page.wait_for_function("document.querySelector('#tail').textContent.includes('oops-150')")
    assert "line-" not in tail.inner_text()
    raw.close()


def test_the_tail_keeps_its_place_through_cut_characters_and_invalid_bytes(cluster, page):
    raw = framework(cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    # Each line's euro sign (3 bytes) is written in two parts 1.5 s apart, so the
    # tail reads the file while it ends inside a character; \377 is not UTF-8.
    script = (
        "for i in 1 2 3; do printf 'n%d \\342' $i; sleep 1.5; printf '\\202\\254 \\377 ok\\n'; done"
    )
    launch(raw, offer, [command_task(offer, "bytes", script)])
    collect(raw, ["bytes"], {"TASK_RUNNING"})
    page.goto(f"http://{cluster.address}/ui/frameworks/{raw.framework_id}/tasks/bytes")
    page.wait_for_function(
        "document.querySelector('#tail').textContent.endsWith('n3 € ? ok\\n')", timeout=30_000
    )
    assert text(page, "#tail") == "\n".join(f"n{i} € ? ok" for i in (1, 2, 3))
    raw.close()


def test_task_names_and_output_are_shown_as_text(cluster, page):
    name = "<script>alert(1)</script>"
    output = "<img src=x onerror=alert(2)><script>alert(3)</script>"
    raw = framework(cluster.address, name="<b>framework</b>", webui_url="javascript:alert(4)")
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    task = command_task(offer, "xss", f"echo '{output}'")
    task["name"] = name
    launch(raw, offer, [task])
    collect(raw, ["xss"], {"TASK_FINISHED"})

    page.goto(f"http://{cluster.address}/ui/tasks")
    assert text(page, "table.tasks td.name") == name
    page.goto(f"http://{cluster.address}/ui/frameworks/{raw.framework_id}/tasks/xss")
    assert text(page, "#task-name") == name
    page.wait_for_function("document.querySelector('#tail').textContent.includes('alert(3)')")
    assert text(page, "#tail") == output
    # A refresh of the live part goes through the same escaping.
    page.wait_for_function("document.querySelector('[data-live]').dataset.refreshedAt")
    page.goto(f"http://{cluster.address}/ui/frameworks")
    assert "<b>framework</b>" in text(page, "#frameworks")
    assert page.locator("#frameworks b, #tail img, main script").count() == 0
    assert page.locator("a.webui").count() == 0, "a javascript: web UI URL must not be linked"
    assert page.dialogs == []
    raw.close()


def test_a_standby_master_points_to_the_leader(ha_cluster, page):
    leader_index = ha_cluster.wait_leader()
    leader = ha_cluster.addresses[leader_index]
    standby = ha_cluster.addresses[1 - leader_index]

    page.goto(f"http://{standby}/ui/agents")
    link = page.locator("#leader-link")
    assert link.inner_text() == leader
    assert link.get_attribute("href") == f"http://{leader}/ui/agents"
    rows = {
        r.inner_text().split()[0]: r.get_attribute("class")
        for r in page.locator("table.masters tbody tr").all()
    }
    assert rows == {leader: "leader", standby: "standby"}
    browser.screenshot(page, "standby")

    leader_page = page.context.new_page()
    leader_page.goto(f"http://{leader}/")
    assert text(leader_page, "#agents-active") == "1"
    assert text(leader_page, "table.masters tr.leader td:first-child") == leader
    link.click()
    page.wait_for_url(f"http://{leader}/ui/agents")
    assert page.locator("table.agents tbody tr").count() == 1
    leader_page.close()

    # After a failover the standby's own page, left open, turns into the real one.
    page.goto(f"http://{standby}/ui/agents")
    page.locator("#leader-link").wait_for()
    ha_cluster.kill_master(leader_index)
    page.locator("table.agents").wait_for(timeout=45_000)
    assert page.url == f"http://{standby}/ui/agents"
    page.wait_for_function(
        "document.querySelectorAll('table.agents tbody tr td a').length === 1", timeout=45_000
    )
