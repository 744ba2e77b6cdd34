"""A real headless Chromium (Debian's package) driven by Playwright, or a skip saying what is missing.

Playwright's own browser download is not used: the test launches the system
``chromium`` with ``executable_path``. Install it with ``apt-get install chromium``;
``playwright`` is a dev extra. Run these tests alone with ``pytest -m browser``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A launched headless Chromium for one test module.

    Not for the session: Playwright's sync API keeps its event loop running on this
    thread while it is open, and every later test that calls ``asyncio.run`` would fail.
    """
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip(
            "Chromium is not installed: apt-get install chromium (the browser tests use it)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]' (a dev extra)")
    with sync_playwright() as driver:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
