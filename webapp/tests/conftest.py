"""The web UI's tests: a real `polyaxon server` (API and pages in one process), the CLI
beside it, and Debian's chromium driven by Playwright.

`make test` installs chromium when it is missing; a missing browser fails the tests,
never skips them. Every page a test opened is saved as a screenshot in
``test-output/screenshots/`` and every console error of any page fails the test (the
HTTP errors a test provokes on purpose are declared with ``pages.expect_status``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid as uuid_module
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import Deployment

CHROMIUM = Path(os.environ.get("POLYAXON_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
FILES = Path(__file__).parent / "files"
PASSWORD = "correct horse battery"
RESOURCE_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the web UI is tested in Debian's chromium; install it "
                    "with `apt-get install -y chromium` (`make test` does when it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            # software WebGL (SwiftShader): plotly's parallel coordinates draw with WebGL
            args=["--no-sandbox", "--disable-background-networking", "--use-angle=swiftshader",
                  "--enable-unsafe-swiftshader"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One server for a module's tests, with an owner `ada` logged in on the CLI."""
    setup = Deployment(tmp_path_factory.mktemp("web"), None)
    setup.create_user("ada", "owner")
    setup.server.start()
    setup.login("ada")
    yield setup
    setup.stop()


class Pages:
    """Browser pages for one test: each in its own context (its own cookies)."""

    def __init__(self, browser: Any, base_url: str, name: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.name = name
        self.opened: list[Any] = []
        self.errors: list[str] = []
        self.expected_statuses: set[int] = set()

    def new(self) -> Any:
        context = self.browser.new_context(base_url=self.base_url,
                                           viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        self.opened.append(page)
        return page

    def expect_status(self, *statuses: int) -> None:
        """The test provokes these HTTP errors on purpose: the browser's console line
        about each is not an error of the page."""
        self.expected_statuses.update(statuses)

    def _console(self, page: Any, message: Any) -> None:
        if message.type != "error":
            return
        failed = RESOURCE_ERROR.search(message.text)
        if failed and int(failed.group(1)) in self.expected_statuses:
            return
        self.errors.append(f"{page.url}: {message.text}")

    def login(self, username: str, password: str = PASSWORD) -> Any:
        page = self.new()
        page.goto("/login/")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/projects/$"))
        return page

    def close(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for index, page in enumerate(self.opened):
            if not page.is_closed():
                suffix = f"-{index}" if len(self.opened) > 1 else ""
                page.screenshot(path=str(SCREENSHOTS / f"{self.name}{suffix}.png"), full_page=True)
            page.context.close()


@pytest.fixture
def pages(browser: Any, web: Deployment, request: pytest.FixtureRequest) -> Iterator[Pages]:
    opened = Pages(browser, web.url, request.node.name.replace("[", "-").rstrip("]"))
    yield opened
    opened.close()
    assert opened.errors == [], "the browser's console reported errors"


@pytest.fixture
def project(web: Deployment) -> str:
    name = f"p-{uuid_module.uuid4().hex[:10]}"
    web.cli("project", "create", "--name", name)
    return name


def run_file(web: Deployment, project: str, *args: str) -> str:
    """Start the test workload (or sweep) with the CLI; the new run's uuid."""
    result = web.cli("run", "-p", project, "-o", "json", *args)
    return str(json.loads(result.stdout)["uuid"])


def shown(web: Deployment, project: str, uuid: str) -> dict[str, Any]:
    return dict(json.loads(web.cli("ops", "get", uuid, "-p", project, "-o", "json").stdout))


def wait_for(predicate: Callable[[], Any], timeout: float = 120, what: str = "") -> Any:
    """Poll ``predicate`` (a CLI or API read) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)  # polling a state another process changes, bounded by the deadline
    raise AssertionError(f"timed out waiting for {what or predicate}")


def cli_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout
