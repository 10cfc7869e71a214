"""A third-party distribution's view shows in the dashboard's menu, after the core's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyaxon_core.testing.distributions import install_distribution
from tests.client.conftest import Deployment
from webapp.tests.conftest import Pages

SAMPLE = Path(__file__).parent / "fixtures" / "sample-view"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A server that also has the sample view's distribution installed."""
    site = install_distribution(SAMPLE, tmp_path_factory.mktemp("sample-view"))
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    setup = Deployment(tmp_path_factory.mktemp("web"), None, server_env={"PYTHONPATH": path})
    setup.create_user("ada", "owner")
    setup.server.start()
    yield setup
    setup.stop()


@pytest.mark.slow
def test_an_installed_plugins_view_shows_in_the_menu_after_the_core_pages(
    web: Deployment, pages: Pages
) -> None:
    page = pages.login("ada")
    menu = page.locator("#main-menu a").all_inner_texts()
    assert menu == ["Projects", "Queues", "Administration: Users", "Administration: Teams",
                    "Administration: Plugins", "Samples: Sample dashboard"]
    page.click("#main-menu a:has-text('Sample dashboard')")
    page.wait_for_url("**/sample/")
    assert page.locator("#sample-title").inner_text() == "A plugin's page"
    assert "Seen by ada." in page.locator(".container-fluid").last.inner_text()
    page.goto("/plugins/")
    row = page.locator("#plugins tr[data-plugin=ui-sample-view]")
    assert row.locator(".status-cell").inner_text() == "ok"
    assert "polyaxon-sample-view==0.1.0" in row.inner_text()


def test_a_plugins_page_is_behind_the_login_like_the_core_pages(
    web: Deployment, pages: Pages
) -> None:
    page = pages.new()
    page.goto("/sample/")
    assert "/login/" in page.url
