"""The Marathon and Chronos status pages in a real headless Chromium.

The pages reuse the master UI's templates and in-place refresh; these tests
watch them follow a deployment and a job run without reloading, and check
that what users typed (commands, descriptions) is shown as text. Screenshots go
to .artifacts/webui/.
"""

from __future__ import annotations

import pytest

from tests.integration import browser
from tests.integration.chronos_support import ChronosInstance, job
from tests.integration.harness import running_cluster
from tests.integration.marathon_support import MarathonInstance, request, wait_deployed
from tests.integration.test_webui import (
    NOT_RELOADED,
    chromium,
    mark_loaded,
    page,
    text,
    wait_text,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(browser.available() is not None, reason=str(browser.available())),
]

__all__ = ["chromium", "page"]  # fixtures shared with the master UI's browser tests

INJECTED = "<img src=x onerror=alert(1)><script>alert(2)</script>"


@pytest.fixture
def cluster(tmp_path):
    with running_cluster(tmp_path / "cluster", "processes", agents=1) as running:
        yield running


def test_marathon_pages_follow_a_deployment_in_place(cluster, page, tmp_path):
    marathon = MarathonInstance(tmp_path / "marathon.log", cluster.address)
    try:
        page.goto(f"http://{marathon.address}/")
        wait_text(page, "#apps td.empty", "No apps")
        mark_loaded(page)
        app = {
            "id": "/web",
            "cmd": f"echo '{INJECTED}'; sleep 60",
            "cpus": 0.1,
            "mem": 16,
            "instances": 2,
        }
        status, body = request(marathon.address, "POST", "/v2/apps", app)
        assert status == 201, body
        wait_text(page, "#apps td.running", "2", timeout=30_000)
        assert page.evaluate(NOT_RELOADED), "the apps page reloaded instead of refreshing"
        assert text(page, "#apps td.cmd") == app["cmd"]
        browser.screenshot(page, "marathon-apps")

        page.locator("#apps td.name a").click()
        page.locator("#tasks tbody tr").nth(1).wait_for()
        assert "2 running" in text(page, "#instances")
        assert text(page, "#app code") == app["cmd"]
        browser.screenshot(page, "marathon-app")
        assert page.locator("img, main script").count() == 0
        assert page.dialogs == []
        wait_deployed(marathon.client, "/web", 2)
    finally:
        marathon.stop()


def test_chronos_pages_follow_a_job_run_in_place(cluster, page, tmp_path):
    chronos = ChronosInstance(tmp_path / "chronos.log", cluster.address, None)
    try:
        chronos.wait_serving()
        page.goto(f"http://{chronos.address}/")
        wait_text(page, "#jobs td.empty", "No jobs")
        mark_loaded(page)
        name = "nightly-report"
        chronos.client().add(job(name, f"echo '{INJECTED}'", "R1//PT1M", description=INJECTED))
        wait_text(page, "#jobs td.success-count", "1", timeout=30_000)
        assert page.evaluate(NOT_RELOADED), "the jobs page reloaded instead of refreshing"
        assert text(page, "#jobs td.name") == name
        browser.screenshot(page, "chronos-jobs")

        page.locator("#jobs td.name a").click()
        wait_text(page, "#success-count", "1")
        assert text(page, "#job code") == f"echo '{INJECTED}'"
        assert INJECTED in text(page, "#job")  # the description, as text
        browser.screenshot(page, "chronos-job")
        assert page.locator("img, main script").count() == 0
        assert page.dialogs == []
    finally:
        chronos.stop()
