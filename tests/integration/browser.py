"""Debian's headless Chromium driven by Playwright, for the web UI tests.

Playwright's own browser download is never used: the system ``/usr/bin/chromium``
(package ``chromium``, see scripts/install-system-deps.sh) runs with a fresh
profile and the flags that keep it off the network.  Screenshots go to
``.artifacts/webui/`` at the repository root (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "webui"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def available() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: run scripts/install-system-deps.sh as root"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A browser context with a fresh --user-data-dir; close pages yourself or let it end."""
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="mesos-py-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and print where it is."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png")
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
