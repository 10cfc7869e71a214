"""Reading and validating the connections catalog: every mistake named with its line and fix."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from polyaxon_core.config import ConfigurationError
from polyaxon_core.connections import (
    CatalogError,
    UnknownConnection,
    get_connection,
    load_catalog,
    parse_catalog,
)
from polyaxon_core.entities import ConnectionEntity, ResourceReference

from .conftest import WriteCatalog

REPOSITORY = Path(__file__).resolve().parents[2]
OFFICIAL_PYTHON = REPOSITORY / ".venv-official" / "bin" / "python"

EXAMPLE = """
connections:
  - name: datasets
    kind: s3
    description: radio images
    tags: [images]
    schema: {bucket: "s3://datasets"}
    secret: {name: aws-credentials, items: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]}
  - name: code
    kind: git
    schema: {url: "https://git.example.org/team/model", revision: main}
    secret: {name: git-token}
  - name: images
    kind: registry
    schema: {url: "registry.example.org/team"}
    secret: {name: docker-conf, mountPath: /kaniko/.docker}
  - name: scratch
    kind: host_path
    schema: {hostPath: /mnt/scratch, mountPath: /scratch, readOnly: true}
  - name: shared
    kind: volume_claim
    schema: {volumeClaim: shared-pvc, mountPath: /shared}
    configMap: {name: shared-settings}
  - name: alerts
    kind: slack
    secret: {name: slack-webhook}
  - name: warehouse
    kind: postgres
    schema: {host: db.internal, port: 5432}
    env: {PGDATABASE: metrics}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(textwrap.dedent(text).lstrip("\n"), "connections.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_a_valid_catalog_becomes_frozen_entities() -> None:
    catalog = parse_catalog(EXAMPLE, "connections.yaml")

    assert catalog.names == ["datasets", "code", "images", "scratch", "shared", "alerts", "warehouse"]
    assert catalog.get("datasets") == ConnectionEntity(
        name="datasets", kind="s3", schema={"bucket": "s3://datasets"},
        secret=ResourceReference("aws-credentials", ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
        description="radio images", tags=("images",),
    )
    assert catalog.get("images").secret == ResourceReference("docker-conf", (), "/kaniko/.docker")
    assert catalog.get("shared").config_map == ResourceReference("shared-settings")
    assert catalog.get("warehouse").env == {"PGDATABASE": "metrics"}


def test_a_plain_list_is_a_catalog_too() -> None:
    text = "- {name: alerts, kind: webhook, schema: {url: 'https://hooks.example.org/x'}}"
    catalog = parse_catalog(text, "c")

    assert catalog.get("alerts").schema == {"url": "https://hooks.example.org/x"}


def test_the_official_client_reads_our_example_catalog() -> None:
    script = (
        "import json, sys, yaml\n"
        "from polyaxon._connections import V1Connection\n"
        "for entry in yaml.safe_load(sys.stdin.read())['connections']:\n"
        "    V1Connection.from_dict(entry)\n"
        "print('ok')\n"
    )
    result = subprocess.run([str(OFFICIAL_PYTHON), "-c", script], input=EXAMPLE, capture_output=True,
                            text=True, timeout=120, check=False)

    assert result.stdout.strip() == "ok", result.stderr


def test_invalid_yaml_names_the_line() -> None:
    assert problems_of("- name: a\n  kind: [s3\n") == [
        "connections.yaml:3: invalid YAML: while parsing a flow sequence expected ',' or ']', "
        "but got '<stream end>'; valid: well-formed YAML or JSON"
    ]


def test_a_duplicate_key_is_refused() -> None:
    (problem,) = problems_of("- name: a\n  name: b\n  kind: s3\n  schema: {bucket: s3://b}\n")

    assert problem.startswith("connections.yaml:2: [0].name: duplicate key `name`")


def test_an_unknown_kind_suggests_the_closest() -> None:
    (problem,) = problems_of("- {name: a, kind: wasbs, schema: {bucket: x}}")

    assert problem.startswith(
        "connections.yaml:1: [0].kind: unknown kind 'wasbs'; valid: did you mean `wasb`?"
    )


def test_name_and_kind_are_required() -> None:
    problems = problems_of("""
        - schema: {}
    """)

    assert problems == [
        "connections.yaml:1: [0].name: a connection needs a `name`; valid: letters, digits, `-`, `_` "
        "and `.`, starting with a letter or digit",
        "connections.yaml:1: [0].kind: a connection needs a `kind`; valid: one of: " + ", ".join(
            __import__("polyaxon_core.connections.kinds", fromlist=["ALL_KINDS"]).ALL_KINDS
        ),
    ]


def test_a_name_that_is_not_a_slug_is_refused() -> None:
    (problem,) = problems_of("- {name: ../etc, kind: custom}")

    assert "[0].name: invalid name '../etc'" in problem


def test_a_missing_schema_field_names_it() -> None:
    problems = problems_of("""
        - name: scratch
          kind: host_path
          schema: {hostPath: /mnt}
    """)

    assert problems == [
        "connections.yaml:3: [0].schema: a `host_path` connection needs `schema.mountPath`; "
        "valid: an absolute path, e.g. /data"
    ]


def test_an_unknown_schema_field_suggests_the_right_one() -> None:
    (problem,) = problems_of("- {name: d, kind: s3, schema: {bucket: s3://d, buckt: s3://e}}")

    assert (
        "[0].schema.buckt: unknown field `buckt` for a `s3` connection; valid: did you mean `bucket`?"
    ) in problem


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("{hostPath: mnt, mountPath: /m}", "[0].schema.hostPath: 'mnt' is not an absolute path"),
        (
            "{hostPath: /mnt, mountPath: /m, readOnly: sure}",
            "[0].schema.readOnly: 'sure' is not true or false",
        ),
        ("{hostPath: 3, mountPath: /m}", "[0].schema.hostPath: 3 is not a non-empty string"),
    ],
)
def test_schema_values_of_the_wrong_type_are_refused(schema: str, message: str) -> None:
    (problem,) = problems_of(f"- {{name: scratch, kind: host_path, schema: {schema}}}")

    assert message in problem


def test_a_notifier_url_must_be_http() -> None:
    (problem,) = problems_of("- {name: hook, kind: webhook, schema: {url: 'ftp://x'}}")

    assert "[0].schema.url: 'ftp://x' is not an http(s) URL" in problem


def test_a_notifier_needs_a_url_or_a_secret() -> None:
    (problem,) = problems_of("- {name: alerts, kind: slack}")

    assert "a `slack` connection needs its URL; valid: a `secret` holding it" in problem


def test_a_secret_is_referenced_by_a_mapping_with_a_name() -> None:
    problems = problems_of("""
        - {name: a, kind: custom, secret: my-secret}
        - {name: b, kind: custom, secret: {items: [x], mountpath: /x}}
        - {name: c, kind: custom, configMap: {name: m, mountPath: relative}}
    """)

    assert problems == [
        "connections.yaml:1: [0].secret: `secret` is a mapping; valid: secret: {name: my-secret}",
        "connections.yaml:2: [1].secret.mountpath: unknown field `mountpath`; "
        "valid: did you mean `mountPath`? one of: name, items, mountPath",
        "connections.yaml:2: [1].secret.name: `secret` needs a `name`; valid: letters, digits, `-`, `_` and "
        "`.`, starting with a letter or digit",
        "connections.yaml:3: [2].configMap.mountPath: 'relative' is not an absolute path; valid: an absolute "
        "path, e.g. /etc/secret",
    ]


def test_duplicate_names_point_at_the_first() -> None:
    (problem,) = problems_of("""
        - {name: data, kind: s3, schema: {bucket: s3://a}}
        - {name: other, kind: custom}
        - {name: data, kind: gcs, schema: {bucket: gs://b}}
    """)

    assert problem == (
        "connections.yaml:3: [2].name: connection `data` is defined twice (first on line 1); "
        "valid: a name used once in the catalog; rename or remove one of them"
    )


def test_unknown_fields_and_keys_are_refused() -> None:
    problems = problems_of("""
        artifactsStore: {name: a, kind: s3}
        connections:
          - {name: a, kind: custom, secrets: {name: x}}
    """)

    assert problems == [
        "connections.yaml:1: artifactsStore: unknown key `artifactsStore`; valid: connections",
        "connections.yaml:3: connections[0].secrets: unknown field `secrets`; valid: did you mean `secret`? "
        "one of: name, kind, description, tags, schema, secret, configMap, env, annotations",
    ]


def test_a_catalog_that_is_not_a_list_is_refused() -> None:
    assert problems_of("connections: {name: a}") == [
        "connections.yaml:1: connections: the catalog must be a list of connections; "
        "valid: a YAML list of connections"
    ]


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of("""
        - {name: a, kind: s4}
        - {name: b, kind: git, schema: {flags: --depth=1}}
        - {kind: custom}
    """)

    assert [problem.split(":")[1] for problem in problems] == ["1", "2", "3"]


def test_no_catalog_means_no_connections(home: Path) -> None:
    catalog = load_catalog()

    assert catalog.source is None and catalog.names == []
    with pytest.raises(UnknownConnection, match="no connections catalog is configured"):
        catalog.get("datasets")


def test_an_empty_file_is_an_empty_catalog(write_catalog: WriteCatalog) -> None:
    path = write_catalog("")

    assert load_catalog().source == str(path)
    expected = r"known connections: none declared; add it to .*connections.yaml"
    with pytest.raises(UnknownConnection, match=expected):
        get_connection("datasets")


def test_get_connection_reads_the_home_catalog(write_catalog: WriteCatalog) -> None:
    write_catalog(EXAMPLE)

    assert get_connection("code").schema["url"] == "https://git.example.org/team/model"
    with pytest.raises(UnknownConnection, match="did you mean `code`"):
        get_connection("cod")


def test_the_variable_may_hold_the_catalog_itself(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = [{"name": "alerts", "kind": "slack", "secret": {"name": "s"}}]
    monkeypatch.setenv("POLYAXON_CONNECTIONS", json.dumps(catalog))

    assert load_catalog().source == "POLYAXON_CONNECTIONS"
    assert get_connection("alerts").kind == "slack"


def test_the_variable_may_name_a_file(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("- {name: data, kind: gcs, schema: {bucket: gs://data}}\n")
    monkeypatch.setenv("POLYAXON_CONNECTIONS", str(path))

    assert get_connection("data").schema == {"bucket": "gs://data"}


def test_the_variable_naming_a_missing_file_is_a_configuration_error(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_CONNECTIONS", str(tmp_path / "missing.yaml"))

    with pytest.raises(ConfigurationError, match="POLYAXON_CONNECTIONS=.*missing.yaml.*: no such file"):
        load_catalog()


def test_problems_in_the_variable_name_it(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_CONNECTIONS", '[{"name": "a", "kind": "nope"}]')

    with pytest.raises(CatalogError) as caught:
        load_catalog()

    assert str(caught.value.problems[0]).startswith("POLYAXON_CONNECTIONS:1: [0].kind: unknown kind 'nope'")
