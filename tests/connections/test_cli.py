"""`polyaxon connections ls|check`: names and kinds shown, secrets by name only."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_startup import HEAVY, _modules_after

from .conftest import Cli, WriteCatalog

CATALOG = """
connections:
  - name: datasets
    kind: s3
    schema: {bucket: "s3://datasets"}
    secret: {name: aws, items: [AWS_ACCESS_KEY_ID]}
  - name: alerts
    kind: slack
    secret: {name: slack-webhook}
"""
SECRETS = {
    "POLYAXON_SECRET_AWS__AWS_ACCESS_KEY_ID": "AKIA-not-to-be-shown",
    "POLYAXON_SECRET_SLACK_WEBHOOK__url": "https://hooks.example.org/not-to-be-shown",
}


def test_ls_lists_names_kinds_schemas_and_secret_names(cli: Cli, write_catalog: WriteCatalog) -> None:
    path = write_catalog(CATALOG)

    listed = cli("connections", "ls", "-o", "json", env=SECRETS)
    table = cli("connections", "ls", env=SECRETS)

    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {
        "source": str(path),
        "count": 2,
        "results": [
            {"name": "datasets", "kind": "s3", "description": None, "tags": [],
             "schema": {"bucket": "s3://datasets"},
             "secret": {"name": "aws", "items": ["AWS_ACCESS_KEY_ID"], "mountPath": None}, "configMap": None},
            {"name": "alerts", "kind": "slack", "description": None, "tags": [], "schema": {},
             "secret": {"name": "slack-webhook", "items": [], "mountPath": None}, "configMap": None},
        ],
    }
    assert "bucket=s3://datasets" in table.stdout and "aws (AWS_ACCESS_KEY_ID)" in table.stdout
    assert "not-to-be-shown" not in listed.stdout + table.stdout


def test_ls_without_a_catalog_says_how_to_write_one(cli: Cli) -> None:
    listed = cli("connections", "ls")

    assert listed.returncode == 0
    assert listed.stdout.startswith(
        "No connections catalog is configured: write $POLYAXON_HOME/connections.yaml"
    )
    listed_json = json.loads(cli("connections", "ls", "-o", "json").stdout)
    assert listed_json == {"source": None, "count": 0, "results": []}


def test_ls_of_a_broken_catalog_is_a_configuration_error(cli: Cli, write_catalog: WriteCatalog) -> None:
    write_catalog("- {name: a, kind: s3}\n")

    listed = cli("connections", "ls")

    assert listed.returncode == 2
    assert "a `s3` connection needs `schema.bucket`" in listed.stderr
    assert "Traceback" not in listed.stderr


def test_check_passes_when_every_secret_resolves(cli: Cli, write_catalog: WriteCatalog) -> None:
    path = write_catalog(CATALOG)

    checked = cli("connections", "check", env=SECRETS)

    assert checked.returncode == 0, checked.stdout
    assert checked.stdout == f"{path} is valid: 2 connections, every secret resolved.\n"


def test_check_lists_every_unresolved_secret_and_exits_1(cli: Cli, write_catalog: WriteCatalog) -> None:
    write_catalog(CATALOG)

    checked = cli("connections", "check", "-o", "json",
                  env={"POLYAXON_SECRET_AWS__OTHER": "AKIA-not-to-be-shown"})

    assert checked.returncode == 1
    report = json.loads(checked.stdout)
    assert report["valid"] is False
    assert [problem.split(":")[0] for problem in report["problems"]] == [
        "connection `datasets`", "connection `alerts`"
    ]
    assert "has no key `AWS_ACCESS_KEY_ID`" in report["problems"][0]
    assert "not-to-be-shown" not in checked.stdout


def test_check_reports_catalog_problems_with_their_lines(cli: Cli, write_catalog: WriteCatalog) -> None:
    path = write_catalog(CATALOG + "  - {name: datasets, kind: gcs, schema: {bucket: gs://x}}\n")

    checked = cli("connections", "check")

    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [
        f"{path}: 1 problem.",
        f"  {path}:9: connections[2].name: connection `datasets` is defined twice (first on line 2); "
        "valid: a name used once in the catalog; rename or remove one of them",
    ]


def test_check_refuses_a_world_readable_secrets_folder(
    cli: Cli, home: Path, write_catalog: WriteCatalog
) -> None:
    write_catalog("- {name: alerts, kind: slack, secret: {name: slack-webhook}}\n")
    folder = home / "secrets" / "slack-webhook"
    folder.mkdir(parents=True)
    (folder / "url").write_text("https://hooks.example.org/not-to-be-shown")
    (home / "secrets").chmod(0o755)

    checked = cli("connections", "check")

    assert checked.returncode == 1
    assert f"{home / 'secrets'} is accessible by other users (mode 755)" in checked.stdout
    assert "not-to-be-shown" not in checked.stdout


def test_the_connections_help_imports_no_heavy_library() -> None:
    loaded = _modules_after("connections", "--help")

    assert not [name for name in HEAVY if name in loaded]
