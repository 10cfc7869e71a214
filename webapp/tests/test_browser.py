"""The dashboard in a real browser: logging in, projects, the runs table filling in live,
a run's chart, stopping a run, and what a viewer may not do."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

from playwright.sync_api import expect

from tests.client.conftest import Deployment
from webapp.tests.conftest import FILES, Pages, run_file, shown, wait_for

CURVE = str(FILES / "curve.yaml")
SWEEP = str(FILES / "sweep.yaml")


def api_get(web: Deployment, path: str, username: str = "ada") -> Any:
    request = urllib.request.Request(f"{web.url}/api/v1{path}",
                                     headers={"Authorization": f"Token {web.token(username)}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_a_visitor_logs_in_and_creates_a_project(web: Deployment, pages: Pages) -> None:
    page = pages.new()
    page.goto("/")
    assert "/login/" in page.url
    page.fill("#username", "ada")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.locator(".alert-danger").inner_text() == "invalid username or password"

    page.fill("#username", "ada")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/projects/$"))
    assert page.locator("#current-user").inner_text() == "ada"

    page.fill("#create-project input[name=name]", "from-the-page")
    page.fill("#create-project input[name=description]", "made in the browser")
    page.click("#create-project button[type=submit]")
    page.wait_for_url(re.compile(r".*/projects/default/from-the-page/$"))
    assert api_get(web, "/default/from-the-page")["description"] == "made in the browser"
    members = web.cli("project", "members", "ls", "from-the-page", "-o", "json").stdout
    assert [(member["user"], member["role"]) for member in json.loads(members)["results"]] == [
        ("ada", "owner")]

    # the same name again: the API's refusal, shown beside the form
    pages.expect_status(409)
    page.goto("/projects/")
    page.fill("#create-project input[name=name]", "from-the-page")
    page.click("#create-project button[type=submit]")
    page.locator("#create-project .form-error").filter(has_text="already exists").wait_for()


def test_the_runs_table_fills_in_while_a_sweep_started_from_the_cli_runs(
    web: Deployment, pages: Pages, project: str
) -> None:
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/")
    page.locator("#runs-empty").wait_for()
    page.evaluate("window.notReloaded = true")

    sweep = run_file(web, project, "-f", SWEEP)
    rows = page.locator("#runs-table tbody tr")
    rows.nth(4).wait_for(timeout=60_000)
    page.locator("#runs-table tbody tr[data-status=succeeded]").nth(4).wait_for(timeout=120_000)
    assert page.evaluate("window.notReloaded") is True
    assert rows.count() == 5
    assert shown(web, project, sweep)["status"] == "succeeded"

    # the column chooser offers the trials' inputs and metrics; a metric column shows values
    page.click("#columns-button")
    page.check("#columns-menu input[data-column='inputs.x']")
    values = page.locator("#runs-table tbody td[data-column='inputs.x']").all_inner_texts()
    assert sorted(value for value in values if value) == ["0.5", "1", "1.5", "2"]


def test_a_query_filters_the_table_and_a_malformed_one_is_shown_at_its_character(
    web: Deployment, pages: Pages, project: str
) -> None:
    for x in ("0.25", "4"):
        run_file(web, project, "-f", CURVE, "-P", f"x={x}", "-P", "steps=2")
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/")
    page.locator("#runs-table tbody tr[data-status=succeeded]").nth(1).wait_for(timeout=120_000)

    page.fill("#query", "metrics.loss:<1")
    page.press("#query", "Enter")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    page.click("#columns-button")
    page.check("#columns-menu input[data-column='inputs.x']")
    assert page.locator("#runs-table tbody td[data-column='inputs.x']").all_inner_texts() == ["0.25"]
    assert "query=metrics.loss" in page.url

    pages.expect_status(400)
    page.fill("#query", "status:running, metrics.loss:<<1")
    page.press("#query", "Enter")
    error = page.locator("#query-error")
    error.locator("mark").wait_for()
    assert error.locator("mark").inner_text() == "<"
    assert error.locator("code").inner_text() == "status:running, metrics.loss:<<1"


def test_a_runs_chart_draws_exactly_the_points_it_logged(
    web: Deployment, pages: Pages, project: str
) -> None:
    uuid = run_file(web, project, "-f", CURVE, "-P", "x=3", "-P", "steps=7")
    wait_for(lambda: shown(web, project, uuid)["status"] == "succeeded", what="the run to succeed")
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/runs/{uuid}")
    chart = page.locator("#charts [data-metric=loss][data-points='7']")
    chart.locator("canvas").wait_for()
    drawn = chart.evaluate("box => ({x: box.uplot.data[0], y: box.uplot.data[1]})")
    assert drawn == {"x": list(range(7)), "y": [3 / (step + 1) for step in range(7)]}
    assert page.locator("#run-status").inner_text() == "succeeded"
    assert page.locator("#outputs").inner_text().split() == ["final_loss", str(3 / 7)]
    page.click("a[href='#tab-logs']")
    page.locator("#log").filter(has_text="curve x=3.0 steps=7").wait_for()


def test_a_runs_resources_are_charted_over_time_beside_its_metrics(
    web: Deployment, pages: Pages, project: str
) -> None:
    uuid = run_file(web, project, "-f", str(FILES / "busy.yaml"))
    wait_for(lambda: shown(web, project, uuid)["status"] == "succeeded", what="the run to succeed")
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/runs/{uuid}")
    resources = page.locator("#resources")
    for name in ("system/cpu_percent", "system/memory_mb", "system/memory_percent"):
        resources.locator(f"[data-metric='{name}'][data-points] canvas").wait_for()
    cpu = resources.locator("[data-metric='system/cpu_percent']").evaluate(
        "box => ({x: box.uplot.data[0], y: box.uplot.data[1], time: box.uplot.scales.x.time})")
    assert len(cpu["y"]) >= 3 and cpu["time"] is True
    # seconds since the epoch, in order, from when the run ran
    assert cpu["x"] == sorted(cpu["x"]) and abs(cpu["x"][-1] - time.time()) < 3600
    assert resources.locator("h4").inner_text() == "Resources"
    assert page.locator("#charts [data-metric]").evaluate_all(
        "boxes => boxes.map(box => box.dataset.metric)") == ["loss"]


TRACKED = """
import numpy
from polyaxon_core import tracking
run = tracking.init(project=PROJECT, is_new=True, name="tracked", track_code=False)
pixels = numpy.zeros((4, 6, 3), dtype=numpy.uint8)
pixels[:, :3] = (255, 0, 0)
tracking.log_image(pixels, "samples", step=0)
tracking.log_image(pixels, "samples", step=1)
tracking.log_roc_auc_curve([0, 1, 1, 0], [0.1, 0.9, 0.6, 0.4])
tracking.log_data_ref("mnist", content_hash="sha256:abc")
print(run.uuid)
"""


def test_a_runs_lineage_is_listed_with_its_last_image_beside_its_files(
    web: Deployment, pages: Pages, project: str, tmp_path: Any,
) -> None:
    import os
    import subprocess
    import sys

    script = tmp_path / "tracked.py"
    script.write_text(TRACKED.replace("PROJECT", repr(project)))
    env = {**web.client_env, "POLYAXON_HOST": web.url, "POLYAXON_AUTH_TOKEN": web.token("ada"),
           "POLYAXON_RESOURCES_INTERVAL": "0", "PATH": os.environ["PATH"]}
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    uuid = ran.stdout.strip()
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/runs/{uuid}")
    page.click("a[href='#tab-artifacts']")
    image = page.locator("#lineage tr[data-name='images/samples'] img")
    expect(image).to_have_js_property("naturalWidth", 6)  # the PNG was served and decoded
    rows = page.locator("#lineage tbody tr").evaluate_all(
        "rows => rows.map(row => [row.dataset.name, row.cells[1].innerText, row.cells[4].innerText])")
    assert rows == [["images/samples", "image", "2 steps, last 1"],
                    ["curves/roc", "curve", "1 steps, last 0, auc 1"],
                    ["data/mnist", "data", "sha256:abc"]]
    assert page.locator("#lineage tr[data-name='images/samples'] a").get_attribute("href").endswith(
        "path=images%2Fsamples%2F1.png")
    page.locator("#artifacts a.folder", has_text="images/").wait_for()


def test_a_dags_page_shows_its_operations_as_a_tree_like_the_cli(
    web: Deployment, pages: Pages, project: str
) -> None:
    uuid = run_file(web, project, "-f", str(FILES / "dag.yaml"))
    wait_for(lambda: shown(web, project, uuid)["status"] == "succeeded", timeout=180,
             what="the DAG to succeed")
    operations = shown(web, project, uuid)["operations"]
    assert [(op["name"], op["kind"], op["status"]) for op in operations] == [
        ("first", "job", "succeeded"), ("then", "dag", "succeeded")]
    assert [(op["name"], op["status"]) for op in operations[1]["operations"]] == [
        ("left", "succeeded"), ("right", "succeeded")]
    left = shown(web, project, operations[1]["operations"][0]["uuid"])
    assert left["inputs"]["x"] == 1.0

    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/runs/{uuid}")
    page.click("a[href='#tab-operations']")
    tree = page.locator("#tab-operations")
    assert tree.locator(":scope > ul > li > a").all_inner_texts() == ["first", "then"]
    assert tree.locator("ul ul > li > a").all_inner_texts() == ["left", "right"]
    assert tree.locator(".status").all_inner_texts() == ["succeeded"] * 4
    tree.locator("a", has_text="right").click()
    page.wait_for_url(re.compile(rf".*/runs/{operations[1]['operations'][1]['uuid']}$"))


def test_stopping_a_running_run_from_its_page_stops_it_for_the_cli(
    web: Deployment, pages: Pages, project: str
) -> None:
    uuid = run_file(web, project, "-f", CURVE, "-P", "sleep=600")
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/runs/{uuid}")
    page.locator("#run-status", has_text="running").wait_for(timeout=60_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#stop-run")
    page.locator("#run-status", has_text="stopped").wait_for(timeout=60_000)
    assert shown(web, project, uuid)["status"] == "stopped"
    assert page.locator("#stop-run").is_hidden()


def test_a_viewer_sees_no_stop_button_and_a_forged_stop_is_refused(
    web: Deployment, pages: Pages, project: str
) -> None:
    web.create_user("vic", "viewer")
    uuid = run_file(web, project, "-f", CURVE, "-P", "sleep=600")
    wait_for(lambda: shown(web, project, uuid)["status"] == "running", what="the run to start")
    page = pages.login("vic")
    page.goto(f"/projects/default/{project}/runs/{uuid}")
    page.locator("#run-status", has_text="running").wait_for()
    assert page.locator("#stop-run").count() == 0
    assert page.locator("[data-action=restart]").count() == 0

    stop = f"/api/v1/default/{project}/runs/{uuid}/stop"
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    with_token = page.request.post(stop, headers={"X-CSRFToken": csrf})
    assert with_token.status == 403
    assert "vic may not run.stop" in with_token.json()["message"]
    without_token = page.request.post(stop)
    assert without_token.status == 403
    assert "CSRF" in without_token.json()["message"]
    assert shown(web, project, uuid)["status"] == "running"
    web.cli("ops", "stop", uuid, "-p", project, "-y")


def test_one_identity_a_role_changed_on_the_cli_shows_on_the_next_page_and_back(
    web: Deployment, pages: Pages, project: str
) -> None:
    web.create_user("mia", "viewer")
    page = pages.login("mia")
    page.goto(f"/projects/default/{project}/")
    page.locator("#runs-empty").wait_for()
    assert page.locator("[data-bulk=stop]").count() == 0

    # the CLI makes mia a member of the organization: the next page shows what members may do
    web.admin("admin", "set-role", "mia", "member")
    page.reload()
    assert page.locator("[data-bulk=stop]").count() == 1
    web.admin("admin", "set-role", "mia", "viewer")
    page.reload()
    assert page.locator("[data-bulk=stop]").count() == 0

    # the other way round: ada makes mia an admin of the project on its settings page
    owner = pages.login("ada")
    owner.goto(f"/projects/default/{project}/settings")
    owner.fill("#add-member input[name=user]", "mia")
    owner.select_option("#add-member select[name=role]", "admin")
    owner.click("#add-member button[type=submit]")
    owner.locator("#members tr[data-user=mia]").wait_for()
    members = json.loads(web.cli("project", "members", "ls", project, "-o", "json").stdout)
    assert {(m["user"], m["role"]) for m in members["results"]} == {("ada", "owner"), ("mia", "admin")}
    page.reload()
    assert page.locator("[data-bulk=stop]").count() == 1


def test_logging_out_ends_the_session_and_its_cookie_opens_nothing_any_more(
    web: Deployment, pages: Pages
) -> None:
    page = pages.login("ada")
    cookies = page.context.cookies()
    [session] = [cookie for cookie in cookies if cookie["name"] == "polyaxon_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    tokens = web.admin("admin", "tokens", "-o", "json").stdout
    assert "web session" in tokens

    page.click("#logout")
    page.wait_for_url("**/login/")
    assert "You are logged out." in page.locator(".alert").inner_text()

    # a copy of the cookie taken before logging out is refused: the session's token is revoked
    replay = pages.new()
    replay.context.add_cookies([session])
    replay.goto("/projects/")
    assert "/login/" in replay.url
    pages.expect_status(401)
    answer = replay.request.get("/api/v1/users")
    assert answer.status == 401


def test_an_unknown_run_and_an_unknown_page_are_pages_in_the_layout(
    web: Deployment, pages: Pages, project: str
) -> None:
    pages.expect_status(404)
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/runs/0123456789abcdef")
    assert page.locator(".error-page").get_attribute("data-status") == "404"
    assert "0123456789abcdef" in page.locator("#error-message").inner_text()
    assert page.locator("#main-menu").is_visible()
    page.goto("/no/such/page")
    assert page.locator(".error-page").get_attribute("data-status") == "404"


def test_two_runs_compared_overlay_their_metrics_on_one_chart(
    web: Deployment, pages: Pages, project: str
) -> None:
    first = run_file(web, project, "-f", CURVE, "-P", "x=1", "-P", "steps=3")
    second = run_file(web, project, "-f", CURVE, "-P", "x=2", "-P", "steps=4")
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/")
    page.locator("#runs-table tbody tr[data-status=succeeded]").nth(1).wait_for(timeout=120_000)
    for uuid in (first, second):
        page.check(f"#runs-table input[data-uuid='{uuid}']")
    page.click("#compare")
    page.wait_for_url(re.compile(r".*/compare\?runs=.*"))
    chart = page.locator("#compare-charts [data-metric=loss]")
    chart.locator(".main-svg").first.wait_for()
    drawn = chart.evaluate("box => box.data.map(trace => [trace.name, trace.y])")
    assert sorted(drawn) == sorted([
        [second[:8], [2 / (step + 1) for step in range(4)]],
        [first[:8], [1 / (step + 1) for step in range(3)]],
    ])
    table = page.locator("#compare-table").inner_text()
    assert "inputs.x" in table and "metrics.loss" in table


def test_a_hyperband_sweeps_page_shows_its_brackets_promotions_and_parallel_coordinates(
    web: Deployment, pages: Pages, project: str
) -> None:
    sweep = run_file(web, project, "-f", str(FILES / "hyperband.yaml"))
    wait_for(lambda: shown(web, project, sweep)["status"] == "succeeded", timeout=240,
             what="the sweep to succeed")
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/runs/{sweep}")
    page.locator("#parallel-coordinates .main-svg").first.wait_for()
    # R = 3, eta = 3: a bracket of 3 configurations at 1 step then 1 at 3, one of 2 at 3
    assert page.locator("#parallel-coordinates").get_attribute("data-trials") == "6"
    dimensions = page.locator("#parallel-coordinates").evaluate(
        "box => box.data[0].dimensions.map(dimension => dimension.label)")
    assert dimensions == ["steps", "x", "loss"]
    assert "WebGL is not supported" not in page.locator("#sweep").inner_text()
    assert page.locator("#sweep-counts").inner_text().startswith("6 / 6 done")
    rungs = page.locator("#brackets .bracket[data-bracket='0'] tr[data-rung]")
    assert rungs.count() == 2
    # the trial continued in rung 1 is the best of rung 0 (lowest loss), shown in bold
    promoted = page.locator("#brackets .bracket[data-bracket='0'] tr[data-rung='0'] strong")
    assert promoted.count() == 1
    trials = json.loads(web.cli("ops", "ls", "-p", project, "-q", f"pipeline:{sweep}",
                                "-o", "json").stdout)
    rung_zero = [t for t in trials["results"]
                 if t["meta_info"]["matrix"]["bracket"] == 0 and t["meta_info"]["matrix"]["rung"] == 0]
    best = min(rung_zero, key=lambda t: t["metrics"]["loss"])
    assert promoted.inner_text().startswith(f"#{best['meta_info']['matrix']['index']} ")
    page.locator("#trial-sequence .main-svg").first.wait_for()


def test_admins_see_the_organization_pages_and_a_viewer_gets_a_403_page(
    web: Deployment, pages: Pages
) -> None:
    web.create_user("val", "viewer")
    web.admin("teams", "create", "crew")
    page = pages.login("ada")
    page.goto("/users/")
    assert page.locator("#users tr[data-user=ada] .role").inner_text() == "owner"
    assert page.locator("#users tr[data-user=val] .role").inner_text() == "viewer"
    page.goto("/teams/")
    assert page.locator("#teams tr[data-team=crew]").count() == 1
    page.goto("/plugins/")
    assert page.locator("#plugins tr[data-plugin=webapp] .status-cell").inner_text() == "ok"
    page.goto("/queues/")
    page.locator("#queues").wait_for()

    pages.expect_status(403)
    viewer = pages.login("val")
    assert viewer.locator("#main-menu a").all_inner_texts() == ["Projects", "Queues"]
    viewer.goto("/users/")
    assert viewer.locator(".error-page").get_attribute("data-status") == "403"
    assert "users manage" in viewer.locator("#error-message").inner_text()


def test_an_admin_creates_and_changes_a_queue_on_its_page_and_the_cli_sees_it(
    web: Deployment, pages: Pages, project: str
) -> None:
    web.create_user("mo", "member")
    page = pages.login("ada")
    page.goto("/queues/")
    page.fill("#create-queue input[name=name]", "gpu")
    page.fill("#create-queue input[name=priority]", "5")
    page.click("#create-queue button[type=submit]")
    row = page.locator("#queues tr[data-queue=gpu]")
    expect(row.locator("input[name=concurrency]")).to_have_value("2")
    row.locator("input[name=priority]").fill("9")
    row.locator("input[name=concurrency]").fill("4")
    row.locator("[data-action=save]").click()
    page.wait_for_load_state()
    expect(page.locator("#queues tr[data-queue=gpu] input[name=priority]")).to_have_value("9")

    def gpu() -> list[tuple[int, int]]:
        listed = json.loads(web.cli("queues", "ls", "-o", "json").stdout)["results"]
        return [(queue["priority"], queue["concurrency"]) for queue in listed
                if queue["name"] == "gpu"]

    assert gpu() == [(9, 4)]

    # the API's refusal, next to the row, and nothing changed
    pages.expect_status(400)
    row = page.locator("#queues tr[data-queue=gpu]")
    row.locator("input[name=concurrency]").fill("0")
    row.locator("[data-action=save]").click()
    expect(row.locator(".form-error")).to_contain_text("concurrency")
    assert gpu() == [(9, 4)]

    # the project sends its runs there, from its settings page
    page.goto(f"/projects/default/{project}/settings")
    page.select_option("#project-queue select[name=queue]", "gpu")
    page.click("#project-queue button[type=submit]")
    expect(page.locator("#project-queue .form-done")).to_contain_text("new runs go to gpu")
    assert json.loads(web.cli("project", "get", project, "-o", "json").stdout)["settings"] == {
        "queue": "gpu", "notifications": []}
    page.select_option("#project-queue select[name=queue]", "")
    page.click("#project-queue button[type=submit]")
    expect(page.locator("#project-queue .form-done")).to_contain_text("new runs go to default")

    page.goto("/queues/")
    row = page.locator("#queues tr[data-queue=gpu]")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("[data-action=delete]").click()
    expect(page.locator("#queues tr[data-queue=gpu]")).to_have_count(0)
    assert gpu() == []

    web.cli("queues", "set", "cpu", "--priority", "1")
    member = pages.login("mo")
    member.goto("/queues/")
    expect(member.locator("#queues tr[data-queue=cpu] td").nth(1)).to_have_text("1")
    assert member.locator("#queues input, #create-queue, [data-action]").count() == 0


def test_a_projects_notifications_are_set_on_its_settings_page_and_reach_the_cli(
    web: Deployment, pages: Pages, project: str
) -> None:
    (web.server_home / "connections.yaml").write_text(json.dumps({"connections": [
        {"name": "team-hook", "kind": "webhook", "schema": {"url": "http://127.0.0.1:9/hook"}},
        {"name": "data", "kind": "s3", "schema": {"bucket": "s3://data"}}]}))
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/settings")
    form = page.locator("#add-notification")
    assert form.locator("select[name=connection] option").all_inner_texts() == ["team-hook"]
    form.locator("select[name=trigger]").select_option("failed")
    form.locator("button[type=submit]").click()
    added = page.locator("#notifications tbody tr[data-connection=team-hook] td")
    expect(added.nth(1)).to_have_text("failed")
    settings = json.loads(web.cli("project", "get", project, "-o", "json").stdout)["settings"]
    assert settings["notifications"] == [{"connection": "team-hook", "trigger": "failed"}]
    assert "Not linked to a repository" in page.locator("#ci").inner_text()

    page.locator("#notifications tbody tr[data-connection=team-hook] button").click()
    expect(page.locator("#notifications tbody")).to_have_text("None: only the runs' own hooks notify.")
    assert json.loads(web.cli("project", "get", project, "-o", "json").stdout)["settings"][
        "notifications"] == []


def test_a_view_saved_as_a_shared_dashboard_reopens_with_its_charts_and_reaches_the_cli(
    web: Deployment, pages: Pages, project: str
) -> None:
    for x in ("0.5", "1", "2"):
        run_file(web, project, "-f", CURVE, "-P", f"x={x}", "-P", "steps=3")
    page = pages.login("ada")
    page.goto(f"/projects/default/{project}/")
    page.locator("#runs-table tbody tr[data-status=succeeded]").nth(2).wait_for(timeout=120_000)
    page.fill("#query", "metrics.loss:<0.5")
    page.press("#query", "Enter")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    page.click("#columns-button")
    page.check("#columns-menu input[data-column='inputs.x']")
    page.click("#save-view summary")
    page.fill("#save-view-form input[name=name]", "good runs")
    page.check("#save-view-form input[name=shared]")
    page.select_option("#save-view-form select[name=kind]", "metric_vs_param")
    page.fill("#save-view-form input[name=metric]", "loss")
    page.fill("#save-view-form input[name=param]", "x")
    page.click("#add-widget")
    page.select_option("#save-view-form select[name=kind]", "metric_over_steps")
    page.fill("#save-view-form input[name=metric]", "accuracy")
    page.click("#add-widget")
    page.click("#save-view-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboards/[0-9a-f]{32}$"))

    scatter = page.locator("#widgets-area [data-widget=metric_vs_param]")
    scatter.locator(".main-svg").first.wait_for()
    # the runs whose last loss (x / 3) is under 0.5: x = 0.5 and x = 1, not x = 2
    drawn = scatter.evaluate("box => box.data[0].x.map((x, i) => [x, box.data[0].y[i]])")
    assert sorted(drawn) == [[0.5, 0.5 / 3], [1.0, 1 / 3]]
    lines = page.locator("#widgets-area [data-widget=metric_over_steps]")
    lines.locator(".main-svg").first.wait_for()
    assert lines.get_attribute("data-values") == "2"
    values = page.locator("#dashboard-runs td[data-column='inputs.x']").all_inner_texts()
    assert sorted(values) == ["0.5", "1"]

    listed = json.loads(web.cli("dashboards", "ls", "-p", project, "-o", "json").stdout)
    [dashboard] = listed["results"]
    assert (dashboard["name"], dashboard["shared"], dashboard["spec"]["query"]) == (
        "good runs", True, "metrics.loss:<0.5")
    assert [w["kind"] for w in dashboard["spec"]["widgets"]] == ["metric_vs_param", "metric_over_steps"]

    # a viewer of the project opens the shared dashboard from the runs page
    web.create_user(f"dee-{project}", "viewer")
    viewer = pages.login(f"dee-{project}")
    viewer.goto(f"/projects/default/{project}/")
    viewer.click("#dashboards-list a:has-text('good runs (shared)')")
    viewer.locator("#widgets-area [data-widget=metric_vs_param] .main-svg").first.wait_for()
    assert viewer.locator("#save-view").count() == 0
