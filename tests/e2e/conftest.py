import asyncio
import os
import shutil
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


class _Chromium:
    """One Playwright driver and one Chromium for a worker's whole run, started by its
    first browser test: each started again for every module cost 0.9 s of CPU
    (docs/testing.md).

    Playwright's sync API marks its event loop as running on this thread whenever it has
    control, and Django refuses the ORM on a thread with a running loop. So the mark is
    on only while a browser-test module runs (``browser`` below), with Django's async
    guard stood aside for that module alone; between such modules no Playwright call is
    made and the thread has no running loop, as for any other test.
    """

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def browser(self) -> Any:
        if self._playwright is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._loop = asyncio.get_running_loop()
        else:
            asyncio._set_running_loop(self._loop)
        if self._browser is None or not self._browser.is_connected():
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
            )
        return self._browser

    def set_aside(self) -> None:
        """Close what a module left open and take the loop's mark off this thread."""
        if self._browser is not None and self._browser.is_connected():
            for context in self._browser.contexts:
                context.close()
        asyncio._set_running_loop(None)

    def stop(self) -> None:
        if self._playwright is None:
            return
        asyncio._set_running_loop(self._loop)
        try:
            if self._browser is not None and self._browser.is_connected():
                self._browser.close()
        finally:
            self._playwright.stop()
            asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def _chromium():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (make browser installs it)")
    chromium = _Chromium()
    yield chromium
    chromium.stop()


@pytest.fixture(scope="module")
def browser(_chromium):
    """The worker's Chromium, for one browser-test module (see ``_Chromium``)."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield _chromium.browser()
    finally:
        _chromium.set_aside()
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 850})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def login(page, live_server):
    def do_login(username: str, password: str = "pass-for-tests-1") -> None:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")

    return do_login
