"""Components from hubs, through the real CLI: a folder hub, the same folder served over
HTTP by Python's own web server on 127.0.0.1, and the components polyaxon-hubs ships."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.orchestrator.conftest import Cli, run_state, wait_final

ECHO = """version: 1.1
kind: component
name: echo
description: says {tone} what it is given
inputs:
  - {{name: greeting, type: str}}
run:
  kind: job
  container:
    command: [python, -c, "print('{tone}:', '{{{{ greeting }}}}')"]
"""


@pytest.fixture
def team_hub(tmp_path: Path, cli: Cli) -> Path:
    """A folder hub with team/echo 1.2 and 1.10, pushed through the CLI."""
    folder = tmp_path / "hub"
    for version, tone in (("1.2", "old"), ("1.10", "new")):
        component = tmp_path / f"echo-{version}.yaml"
        component.write_text(ECHO.format(tone=tone))
        cli("hub", "push", str(component), "--as", f"team/echo:{version}", "--to", str(folder))
    return folder


@pytest.fixture
def served(team_hub: Path) -> Iterator[str]:
    """The folder hub served over HTTP, as `python -m http.server` serves it."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(team_hub))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined,assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_hub_component_runs_at_its_latest_version_with_params(
    cli: Cli, team_hub: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_HUBS", str(team_hub))
    uuid = json.loads(cli("run", "--hub", "team/echo", "-P", "greeting=hello", "-o", "json").stdout)["uuid"]

    assert wait_final(uuid)["status"] == "succeeded"
    assert "new: hello" in cli("ops", "logs", "-uid", uuid).stdout, "1.10 is later than 1.2"
    state = run_state(uuid)
    # the run records the version it ran, for a restart to run the same
    assert "hubRef: team/echo:1.10" in state["raw_content"]
    assert json.loads(state["content"])["hubRef"] == "team/echo:1.10"

    pinned = json.loads(cli("run", "--hub", "team/echo:1.2", "-P", "greeting=hi", "-o", "json").stdout)
    assert wait_final(pinned["uuid"])["status"] == "succeeded"
    assert "old: hi" in cli("ops", "logs", "-uid", pinned["uuid"]).stdout


def test_a_hub_listed_first_answers_first_and_an_http_hub_reads_like_a_folder(
    cli: Cli, team_hub: Path, served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = tmp_path / "other"
    shadow = tmp_path / "shadow.yaml"
    shadow.write_text(ECHO.format(tone="shadow"))
    cli("hub", "push", str(shadow), "--as", "team/echo:1.10", "--to", str(other))
    monkeypatch.setenv("POLYAXON_HUBS", f"{served},{other}")

    listed = json.loads(cli("hub", "ls", "-o", "json").stdout)["results"]
    rows = {(row["component"], row["hub"]): row for row in listed}
    assert rows[("team/echo", served)]["versions"] == ["1.2", "1.10"]
    assert rows[("team/echo", served)]["description"] == "says new what it is given"
    assert ("polyaxon/jupyterlab", "polyaxon") in rows, "the shipped hub comes last"
    got = json.loads(cli("hub", "get", "team/echo", "-o", "json").stdout)
    assert (got["reference"], got["hub"]) == ("team/echo:1.10", served)
    assert "new:" in got["content"]

    uuid = json.loads(cli("run", "--hub", "team/echo", "-P", "greeting=there", "-o", "json").stdout)["uuid"]
    assert wait_final(uuid)["status"] == "succeeded"
    assert "new: there" in cli("ops", "logs", "-uid", uuid).stdout


def test_an_operation_and_a_dag_reach_hub_components_through_hub_ref(
    cli: Cli, team_hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_HUBS", str(team_hub))
    dag = tmp_path / "dag.yaml"
    dag.write_text("""version: 1.1
kind: component
name: greetings
run:
  kind: dag
  operations:
    - {name: first, hubRef: "team/echo:1.2", params: {greeting: {value: one}}}
    - {name: second, hubRef: team/echo, dependencies: [first], params: {greeting: {value: two}}}
""")
    checked = cli("check", "-f", str(dag))
    assert "Traceback" not in checked.stderr

    uuid = json.loads(cli("run", "-f", str(dag), "-o", "json").stdout)["uuid"]
    state = wait_final(uuid)

    assert state["status"] == "succeeded"
    logs = {child["uuid"]: cli("ops", "logs", "-uid", child["uuid"]).stdout for child in state["children"]}
    assert sorted(line.strip() for text in logs.values() for line in text.splitlines()
                  if line.startswith(("old:", "new:"))) == ["new: two", "old: one"]


def test_what_no_hub_has_is_refused_with_what_there_is(
    cli: Cli, team_hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_HUBS", str(team_hub))

    unknown = cli("run", "--hub", "team/ecko", "-P", "greeting=x", check=False)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "no hub has `team/ecko`" in unknown.stderr and "did you mean `team/echo`?" in unknown.stderr
    version = cli("run", "--hub", "team/echo:2.0", check=False)
    assert version.returncode == 1
    assert "`team/echo` has no version `2.0`; versions: 1.2, 1.10" in version.stderr
    malformed = cli("hub", "get", "Team/Echo!", check=False)
    assert malformed.returncode == 1 and "is not a component reference" in malformed.stderr
    nothing = cli("run", check=False)
    assert nothing.returncode != 0
    assert "pass a polyaxonfile with -f FILE, or a hub component" in nothing.stderr
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0, "nothing was created"

    monkeypatch.setenv("POLYAXON_HUBS", "nonsense")
    named = cli("hub", "ls", check=False)
    assert named.returncode == 1 and "POLYAXON_HUBS names `nonsense`, which is no hub" in named.stderr
    monkeypatch.setenv("POLYAXON_HUBS", "http://127.0.0.1:9")
    away = cli("hub", "ls")
    assert "Warning: the hub at http://127.0.0.1:9 cannot be reached" in away.stderr
    assert "polyaxon/jupyterlab" in away.stdout, "the other hubs are still listed"
    missing = cli("hub", "get", "team/echo", check=False)
    assert missing.returncode == 1 and "the hub at http://127.0.0.1:9 cannot be reached" in missing.stderr


def test_push_checks_the_component_and_keeps_what_is_there(
    cli: Cli, team_hub: Path, tmp_path: Path,
) -> None:
    again = tmp_path / "again.yaml"
    again.write_text(ECHO.format(tone="again"))
    kept = cli("hub", "push", str(again), "--as", "team/echo:1.2", "--to", str(team_hub), check=False)
    assert kept.returncode == 1 and "team/echo:1.2 is in" in kept.stderr and "--force" in kept.stderr
    assert "old:" in (team_hub / "team" / "echo" / "1.2.yaml").read_text()
    cli("hub", "push", str(again), "--as", "team/echo:1.2", "--to", str(team_hub), "--force")
    assert "again:" in (team_hub / "team" / "echo" / "1.2.yaml").read_text()

    broken = tmp_path / "broken.yaml"
    broken.write_text(ECHO.format(tone="x").replace("type: str", "type: strng"))
    refused = cli("hub", "push", str(broken), "--as", "team/broken:1", "--to", str(team_hub), check=False)
    assert refused.returncode == 1 and "inputs[0].type" in refused.stdout + refused.stderr
    operation = tmp_path / "operation.yaml"
    operation.write_text("version: 1.1\nkind: operation\nhubRef: team/echo\n")
    not_component = cli("hub", "push", str(operation), "--as", "team/op:1", "--to", str(team_hub),
                        check=False)
    assert not_component.returncode == 1 and "only components go in a hub" in not_component.stderr
    unversioned = cli("hub", "push", str(again), "--as", "team/echo", "--to", str(team_hub), check=False)
    assert unversioned.returncode == 1 and "has no version: write team/echo:VERSION" in unversioned.stderr
    shipped = cli("hub", "push", str(again), "--as", "polyaxon/echo:1", "--to", "polyaxon", check=False)
    assert shipped.returncode == 1 and "read-only" in shipped.stderr
    assert not (team_hub / "team" / "broken").exists() and not (team_hub / "team" / "op").exists()
    index = json.loads((team_hub / "index.json").read_text())
    assert [(c["owner"], c["name"], c["versions"]) for c in index["components"]] == [
        ("team", "echo", ["1.2", "1.10"])]
