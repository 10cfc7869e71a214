"""Operations name connections; `polyaxon check` and submission refuse unknown ones."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.spec.helpers import CORPUS

from .conftest import Cli, WriteCatalog

CATALOG = """
- {name: data, kind: s3, schema: {bucket: "s3://data"}}
- {name: code, kind: git, schema: {url: "https://git.example.org/team/model"}}
- {name: tokens, kind: git}
- {name: images, kind: registry, schema: {url: registry.example.org/team}}
- {name: alerts, kind: slack, secret: {name: slack-webhook}}
- {name: audit, kind: webhook, schema: {url: "https://audit.example.org/hook"}}
"""

EVERY_PLACE = """
version: 1.1
kind: operation
name: every-place
params:
  dataset: {{value: raw, connection: {param}}}
hooks:
  - {{hubRef: notifier, trigger: failed, connection: {hook}}}
build:
  hubRef: kaniko
  connection: {build}
  runPatch: {{init: [{{dockerfile: {{image: "python:3.11"}}}}]}}
plugins:
  notifications:
    - {{connections: [{notification}], trigger: done}}
component:
  inputs:
    - {{name: dataset, type: str, connection: {input}}}
  run:
    kind: job
    connections: [{run}]
    init:
      - {{connection: {init}, path: /data}}
      - {{connection: {git}, git: {{revision: main}}}}
    container: {{image: python:3.11, command: [python, -c, "print(1)"]}}
"""
KNOWN = {"param": "data", "hook": "audit", "build": "images", "notification": "alerts", "input": "data",
         "run": "data", "init": "data", "git": "code"}


def polyaxonfile(folder: Path, **names: str) -> Path:
    path = folder / "polyaxonfile.yaml"
    path.write_text(textwrap.dedent(EVERY_PLACE.format(**{**KNOWN, **names})).lstrip("\n"))
    return path


def test_check_accepts_known_connections_in_every_place(cli: Cli, write_catalog: WriteCatalog,
                                                        tmp_path: Path) -> None:
    write_catalog(CATALOG)

    checked = cli("check", "-f", str(polyaxonfile(tmp_path)))

    assert checked.returncode == 0, checked.stdout


def test_check_refuses_an_unknown_connection_in_every_place(cli: Cli, write_catalog: WriteCatalog,
                                                            tmp_path: Path) -> None:
    catalog = write_catalog(CATALOG)
    unknown = {place: f"missing-{place}" for place in KNOWN}

    checked = cli("check", "-f", str(polyaxonfile(tmp_path, **unknown)), "-o", "json")

    assert checked.returncode == 1
    problems = json.loads(checked.stdout)["problems"]
    assert [(problem["line"], problem["path"]) for problem in problems] == [
        (5, "params.dataset.connection"),
        (7, "hooks[0].connection"),
        (10, "build.connection"),
        (14, "plugins.notifications[0].connections[0]"),
        (17, "component.inputs[0].connection"),
        (20, "component.run.connections[0]"),
        (22, "component.run.init[0].connection"),
        (23, "component.run.init[1].connection"),
    ]
    assert problems[0]["message"] == "unknown connection `missing-param`"
    assert problems[0]["valid"] == (
        f"known connections: data, code, tokens, images, alerts, audit; add it to {catalog} "
        "(see docs/connections.md)"
    )


def test_an_unknown_name_close_to_a_known_one_is_suggested(cli: Cli, write_catalog: WriteCatalog,
                                                           tmp_path: Path) -> None:
    write_catalog(CATALOG)

    checked = cli("check", "-f", str(polyaxonfile(tmp_path, run="dta")))

    assert checked.returncode == 1
    expected = "component.run.connections[0]: unknown connection `dta`; valid: did you mean `data`?"
    assert expected in checked.stdout


def test_a_connection_of_the_wrong_kind_is_refused(
    cli: Cli, write_catalog: WriteCatalog, tmp_path: Path
) -> None:
    write_catalog(CATALOG)

    checked = cli("check", "-f", str(polyaxonfile(tmp_path, build="data", notification="data", git="data")))

    assert checked.returncode == 1
    assert checked.stdout.splitlines()[1:] == [
        f"  {tmp_path}/polyaxonfile.yaml:10: build.connection: connection `data` is a `s3` connection; "
        "valid: a connection of kind `registry`",
        f"  {tmp_path}/polyaxonfile.yaml:14: plugins.notifications[0].connections[0]: connection `data` is a "
        "`s3` connection; valid: a connection of kind `discord` or `email` or `hipchat` or `mattermost` or "
        "`pagerduty` or `slack` or `teams` or `webhook`",
        f"  {tmp_path}/polyaxonfile.yaml:23: component.run.init[1].connection: connection `data` is a `s3` "
        "connection; valid: a connection of kind `git`",
    ]


def test_a_git_initializer_needs_a_url_from_somewhere(cli: Cli, write_catalog: WriteCatalog,
                                                      tmp_path: Path) -> None:
    write_catalog(CATALOG)

    checked = cli("check", "-f", str(polyaxonfile(tmp_path, git="tokens")))

    assert checked.returncode == 1
    assert ("component.run.init[1].connection: connection `tokens` has no `schema.url` and this "
            "initializer gives no `git.url`") in checked.stdout


def test_a_templated_name_is_left_to_run_time(cli: Cli, write_catalog: WriteCatalog, tmp_path: Path) -> None:
    write_catalog(CATALOG)

    checked = cli("check", "-f", str(polyaxonfile(tmp_path, run='"{{ params.dataset }}"')))

    assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize(
    "name",
    ["valid/component-init-connections.yaml", "valid/operation-hooks-build-plugins.yaml",
     "valid/component-job-full.yaml"],
)
def test_without_a_catalog_check_agrees_with_the_official_client(cli: Cli, name: str) -> None:
    # The official client does not know a deployment's catalog and accepts these files.
    checked = cli("check", "-f", str(CORPUS / name))

    assert checked.returncode == 0, checked.stdout


def test_the_summary_says_the_names_were_not_checked_without_a_catalog(cli: Cli) -> None:
    checked = cli("check", "-f", str(CORPUS / "valid/component-init-connections.yaml"))
    reported = cli("check", "-f", str(CORPUS / "valid/component-init-connections.yaml"), "-o", "json")

    assert "s3-datasets, git-repo (not checked: no connections catalog here)" in checked.stdout
    assert json.loads(reported.stdout)["summary"]["connections"] == {
        "names": ["s3-datasets", "git-repo"], "catalog": None
    }


def test_the_summary_names_the_catalog_the_names_were_checked_against(
    cli: Cli, write_catalog: WriteCatalog, tmp_path: Path
) -> None:
    catalog = write_catalog(CATALOG)

    reported = cli("check", "-f", str(polyaxonfile(tmp_path)), "-o", "json")

    assert json.loads(reported.stdout)["summary"]["connections"] == {
        "names": ["data", "audit", "images", "alerts", "code"], "catalog": str(catalog)
    }


def test_with_a_catalog_the_same_corpus_file_is_checked(cli: Cli, write_catalog: WriteCatalog) -> None:
    write_catalog(CATALOG)

    checked = cli("check", "-f", str(CORPUS / "valid/component-init-connections.yaml"))

    assert checked.returncode == 1
    assert "run.connections[0]: unknown connection `s3-datasets`" in checked.stdout


def test_a_broken_catalog_is_a_configuration_error_for_check(cli: Cli, write_catalog: WriteCatalog,
                                                            tmp_path: Path) -> None:
    write_catalog("- {name: data, kind: s4}\n")

    checked = cli("check", "-f", str(polyaxonfile(tmp_path)))

    assert checked.returncode == 2
    assert "the connections catalog" in checked.stderr and "unknown kind 's4'" in checked.stderr


def test_a_file_naming_no_connection_ignores_a_broken_catalog(cli: Cli, write_catalog: WriteCatalog) -> None:
    write_catalog("- {name: data, kind: s4}\n")

    checked = cli("check", "-f", str(CORPUS / "valid/component-dag.yaml"))

    assert checked.returncode == 0, checked.stderr


def job_using(folder: Path, connection: str) -> Path:
    """A job whose run names ``connection``."""
    job = folder / "job.yaml"
    job.write_text(textwrap.dedent(f"""
        version: 1.1
        kind: component
        run:
          kind: job
          connections: [{connection}]
          container: {{image: python:3.11, command: [python, -c, "print(1)"]}}
    """).lstrip("\n"))
    return job


def test_submission_refuses_an_unknown_connection(
    cli: Cli, write_catalog: WriteCatalog, tmp_path: Path
) -> None:
    write_catalog(CATALOG)
    assert cli("project", "create", "tests").returncode == 0

    submitted = cli("run", "-p", "tests", "-f", str(job_using(tmp_path, "elsewhere")))

    assert submitted.returncode == 1
    expected = "run.connections[0]: unknown connection `elsewhere`; valid: known connections: data"
    assert expected in submitted.stderr
    assert json.loads(cli("ops", "ls", "-p", "tests", "-o", "json").stdout)["count"] == 0


def test_submission_without_a_catalog_refuses_a_named_connection(cli: Cli, tmp_path: Path) -> None:
    assert cli("project", "create", "tests").returncode == 0

    submitted = cli("run", "-p", "tests", "-f", str(job_using(tmp_path, "datasets")))

    assert submitted.returncode == 1
    assert ("unknown connection `datasets`; valid: no connections catalog is configured: write "
            "$POLYAXON_HOME/connections.yaml or set POLYAXON_CONNECTIONS") in submitted.stderr


def test_a_broken_catalog_makes_submission_unavailable_not_a_crash(write_catalog: WriteCatalog,
                                                                  tmp_path: Path) -> None:
    from polyaxon_core.connections import CatalogUnavailable, require_known_connections
    from polyaxon_core.spec import read_polyaxonfile

    write_catalog("- {name: data, kind: s4}\n")
    spec = read_polyaxonfile(polyaxonfile(tmp_path))

    with pytest.raises(CatalogUnavailable) as caught:
        require_known_connections(spec)

    assert caught.value.http_status == 503
    assert str(caught.value).startswith("the connections catalog here is not valid")
