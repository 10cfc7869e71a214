"""The UI's sessions, CSRF, headers and error pages, through Flask's test client (one
application on SQLite; the browser tests cover the same server end to end)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from polyaxon_core import accounts
from polyaxon_core.api.app import create_app
from polyaxon_core.config import ConfigurationError, Settings
from polyaxon_core.db.session import session_scope

PASSWORD = "long enough password"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    return Settings(home=home, db_url=f"sqlite:///{home / 'polyaxon.db'}", scheduler="local",
                    store="local", poll_interval=0.05, stop_grace_period=1.0)


@pytest.fixture
def app(settings: Settings) -> Flask:
    application = create_app(settings)
    with session_scope(settings.db_url) as session:
        accounts.create_user(session, "ada", PASSWORD, organization_role="owner")
    return application


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(client: FlaskClient, username: str = "ada", password: str = PASSWORD,
           next_url: str = "") -> str:
    login = client.get("/login/" + (f"?next={next_url}" if next_url else ""))
    answer = client.post(login.request.full_path, data={
        "username": username, "password": password, "csrf_token": csrf_token(login.text)})
    return str(answer.headers.get("Location", answer.text))


def test_a_login_goes_back_to_the_page_asked_for_but_never_to_another_site(app: Flask) -> None:
    assert log_in(app.test_client(), next_url="/queues/") == "/queues/"
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert log_in(app.test_client(), next_url=elsewhere) == "/projects/"


def test_a_login_form_without_its_csrf_token_is_refused_and_logs_nobody_in(app: Flask) -> None:
    client = app.test_client()
    answer = client.post("/login/", data={"username": "ada", "password": PASSWORD},
                         headers=BROWSER)
    assert answer.status_code == 400
    assert "CSRF token is missing" in answer.text
    assert client.get("/projects/").headers["Location"].startswith("/login/")


def test_repeated_failed_logins_are_throttled_like_the_apis(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_LOGIN_FAILURES_PER_ACCOUNT", "3")
    client = create_app(settings).test_client()
    with session_scope(settings.db_url) as session:
        accounts.create_user(session, "ada", PASSWORD, organization_role="owner")

    def attempt(password: str) -> str:
        form = client.get("/login/").text
        answer = client.post("/login/", data={"username": "ada", "password": password,
                                              "csrf_token": csrf_token(form)})
        return answer.text if answer.status_code == 200 else answer.headers["Location"]

    assert ["invalid username or password" in attempt("wrong password") for _ in range(3)] == [True] * 3
    # the right password is refused too until the window has passed, and nobody is logged in
    assert re.search(r"too many failed logins for &#39;ada&#39;: try again in \d+ seconds",
                     attempt(PASSWORD))
    assert client.get("/projects/").headers["Location"].startswith("/login/")


def test_pages_carry_a_nonce_policy_and_api_answers_keep_theirs(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login/")
    policy = page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce and f'nonce="{nonce.group(1)}"' in page.text
    assert "unsafe-eval" not in policy and "form-action 'self'" in policy
    assert page.headers["Referrer-Policy"] == "same-origin"
    api = client.get("/api/v1/users")
    assert api.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert api.headers["Referrer-Policy"] == "no-referrer"


def test_an_unknown_path_is_a_page_for_a_browser_and_json_for_any_other_client(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    page = client.get("/no/such/page", headers=BROWSER)
    assert (page.status_code, page.mimetype) == (404, "text/html")
    assert 'data-status="404"' in page.text
    api = client.get("/no/such/page")
    assert (api.status_code, api.mimetype) == (404, "application/json")


def test_a_server_without_authentication_shows_the_pages_to_its_local_owner(settings: Settings) -> None:
    client = create_app(settings, auth=False).test_client()
    page = client.get("/projects/")
    assert page.status_code == 200
    assert "local (no authentication)" in page.text


def test_the_session_key_is_made_once_readable_by_the_server_only_and_a_short_one_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = create_app(settings).config["SECRET_KEY"]
    key_file = settings.home / "webapp-secret-key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert create_app(settings).config["SECRET_KEY"] == first
    monkeypatch.setenv("POLYAXON_WEB_SECRET_KEY", "too short")
    with pytest.raises(ConfigurationError, match="POLYAXON_WEB_SECRET_KEY is 9 characters long"):
        create_app(settings)


def test_a_revoked_session_token_sends_the_page_to_the_login_with_a_message(
    app: Flask, settings: Settings
) -> None:
    client = app.test_client()
    log_in(client)
    assert client.get("/projects/").status_code == 200
    from polyaxon_core.domain.users import list_tokens, revoke_token_id

    with session_scope(settings.db_url) as session:
        tokens, _ = list_tokens(session, "ada")
        [token] = [token for token in tokens if token.name == "web session"]
        revoke_token_id(session, token.id)
    answer = client.get("/projects/")
    assert answer.headers["Location"].startswith("/login/")
    assert "Your session has ended" in client.get(answer.headers["Location"]).text


def _scripts_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<script async id="([a-z-]+)-script" src="([^"]+)"', page))


def test_run_pages_load_uplot_and_plotly_only_where_they_draw_plotly_charts(
    app: Flask, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    """A run's line charts come from uPlot; a sweep's parallel coordinates from plotly's
    full bundle, the compare page's from its cartesian bundle."""
    from polyaxon_webapp import views

    from polyaxon_core.db.models import Run
    from polyaxon_core.domain.projects import create_project

    with session_scope(settings.db_url) as session:
        project = create_project(session, "charts")
        job = Run(project=project, kind="job", runtime="job", status="succeeded")
        other = Run(project=project, kind="job", runtime="job", status="succeeded")
        sweep = Run(project=project, kind="matrix", runtime="matrix", status="running")
        session.add_all([job, other, sweep])
        session.flush()
        pages = {"job": f"/projects/default/charts/runs/{job.uuid}",
                 "matrix": f"/projects/default/charts/runs/{sweep.uuid}",
                 "compare": f"/projects/default/charts/compare?runs={job.uuid},{other.uuid}"}
    client = app.test_client()
    log_in(client)
    scripts = {kind: _scripts_of(client.get(page).text) for kind, page in pages.items()}
    assert scripts == {
        "job": {"line-chart": "/static/polyaxon/vendor/uPlot.iife.min.js"},
        "matrix": {"line-chart": "/static/polyaxon/vendor/uPlot.iife.min.js",
                   "plotly": "/static/polyaxon/vendor/plotly.min.js"},
        "compare": {"plotly": "/static/polyaxon/vendor/plotly-cartesian.min.js"},
    }
    served = {url: client.get(url) for kinds in scripts.values() for url in kinds.values()}
    assert all(answer.status_code == 200 and answer.mimetype == "text/javascript"
               for answer in served.values())
    versions = {re.search(rb"plotly\.js .*v(\d+\.\d+\.\d+)", answer.data[:200]).group(1)
                for url, answer in served.items() if "plotly" in url}
    # webapp/js/package.json pins the plotly.js of the plotly Python package
    assert len(versions) == 1
    assert b"parcoords" in served[scripts["matrix"]["plotly"]].data
    assert b"parcoords" not in served[scripts["compare"]["plotly"]].data
    assert b"uPlot" in served[scripts["job"]["line-chart"]].data
    assert client.get("/static/polyaxon/vendor/uPlot.min.css").status_code == 200

    monkeypatch.setattr(views, "CHART_BUNDLE", settings.home / "not-built.js")
    monkeypatch.setattr(views, "LINE_CHARTS", settings.home / "not-built.js")
    views._warn_of_the_missing_bundle.cache_clear()
    views._warn_of_missing_line_charts.cache_clear()
    with caplog.at_level("WARNING", logger="polyaxon_webapp.views"):
        assert _scripts_of(client.get(pages["compare"]).text) == {"plotly": scripts["matrix"]["plotly"]}
        assert _scripts_of(client.get(pages["job"]).text) == {}
    assert caplog.text.count("make assets") == 2


def test_a_running_service_links_to_its_path_through_the_server(app: Flask, settings: Settings) -> None:
    from polyaxon_core.db.models import Run
    from polyaxon_core.domain.projects import create_project

    with session_scope(settings.db_url) as session:
        project = create_project(session, "notebooks")
        base = "/services/v1/local/default/notebooks/runs/{}/8888"
        running = Run(project=project, kind="service", runtime="service", status="running")
        ended = Run(project=project, kind="service", runtime="service", status="stopped")
        session.add_all([running, ended])
        session.flush()
        for run in (running, ended):
            run.meta_info = {"service": {"base_urls": [base.format(run.uuid)], "ports": [8888]}}
        pages = {run.status: (f"/projects/default/notebooks/runs/{run.uuid}", base.format(run.uuid))
                 for run in (running, ended)}
    client = app.test_client()
    log_in(client)

    links = {status: re.findall(r'<a class="btn btn-primary btn-sm service-link" href="([^"]+)"[^>]*?'
                                r'( hidden)?>Open service</a>', client.get(page).text)
             for status, (page, _) in pages.items()}

    assert links == {"running": [(pages["running"][1] + "/", "")],
                     "stopped": [(pages["stopped"][1] + "/", " hidden")]}


def test_the_queues_page_shows_each_quota_with_what_it_holds(app: Flask, settings: Settings) -> None:
    from polyaxon_core.domain.projects import create_project
    from polyaxon_core.domain.quotas import create_quota

    with session_scope(settings.db_url) as session:
        create_project(session, "vision")
        create_quota(session, "default", "vision-gpus", project="vision", gpu=4, memory="8Gi")
    client = app.test_client()
    log_in(client)
    page = client.get("/queues/", headers=BROWSER).text
    row = re.search(r'<tr data-quota="vision-gpus">(.*?)</tr>', page, re.S)
    assert row, page
    cells = [re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    assert cells == ["vision-gpus", "project default/vision", "0", "0", "0 Bytes / 8.0 GiB", "0 / 4", "0"]
