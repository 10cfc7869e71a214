"""Resolving secrets and config maps at the edge; values never show themselves."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import pytest

from polyaxon_core.connections import SecretError, SecretValue, resolve_config_map, resolve_secret
from polyaxon_core.entities import ConnectionEntity, ResourceReference

SLACK = ConnectionEntity(name="alerts", kind="slack", secret=ResourceReference("slack-webhook"))


def private_secret(home: Path, name: str, **keys: str) -> Path:
    folder = home / "secrets" / name
    folder.mkdir(parents=True)
    (home / "secrets").chmod(0o700)
    folder.chmod(0o700)
    for key, value in keys.items():
        (folder / key).write_text(value)
        (folder / key).chmod(0o600)
    return folder


def test_a_secret_comes_from_its_variables(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_SECRET_SLACK_WEBHOOK__url", "https://hooks.example.org/T0/B0/xyz")

    resolved = resolve_secret(SLACK)

    revealed = {key: value.reveal() for key, value in resolved.items()}
    assert revealed == {"url": "https://hooks.example.org/T0/B0/xyz"}


def test_a_secret_comes_from_its_private_folder(home: Path) -> None:
    private_secret(home, "slack-webhook", url="https://hooks.example.org/abc\n")

    assert resolve_secret(SLACK)["url"].reveal() == "https://hooks.example.org/abc"


def test_variables_take_precedence_over_the_folder(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private_secret(home, "slack-webhook", url="from-the-folder")
    monkeypatch.setenv("POLYAXON_SECRET_SLACK_WEBHOOK__url", "from-the-environment")

    assert resolve_secret(SLACK)["url"].reveal() == "from-the-environment"


def test_items_select_and_require_keys(home: Path) -> None:
    private_secret(home, "aws", AWS_ACCESS_KEY_ID="id", AWS_SECRET_ACCESS_KEY="key", OTHER="x")
    schema = {"bucket": "s3://d"}
    wanted = ConnectionEntity("data", "s3", schema, ResourceReference("aws", ("AWS_ACCESS_KEY_ID",)))
    missing = ConnectionEntity("data", "s3", schema, ResourceReference("aws", ("AWS_REGION",)))

    assert list(resolve_secret(wanted)) == ["AWS_ACCESS_KEY_ID"]
    expected = r"the secret `aws` has no key `AWS_REGION` in .*secrets/aws; keys found"
    with pytest.raises(SecretError, match=expected):
        resolve_secret(missing)


def test_hidden_entries_of_a_mounted_volume_are_skipped(home: Path) -> None:
    folder = private_secret(home, "slack-webhook", url="u")
    (folder / "..data").mkdir()
    (folder / ".hidden").write_text("x")
    (folder / ".hidden").chmod(0o600)

    assert list(resolve_secret(SLACK)) == ["url"]


def test_a_secret_provided_nowhere_says_how_to_provide_it(home: Path) -> None:
    with pytest.raises(SecretError) as caught:
        resolve_secret(SLACK)

    assert str(caught.value) == (
        "connection `alerts`: the secret `slack-webhook` is not provided here; set "
        f"POLYAXON_SECRET_SLACK_WEBHOOK__<KEY> for each of its keys, or write one file per key in "
        f"{home}/secrets/slack-webhook/ (chmod 700 the folder, 600 the files)"
    )


@pytest.mark.parametrize(
    ("target", "mode", "fix"),
    [
        ("secrets", 0o755, "chmod 700"),
        ("secrets/slack-webhook", 0o705, "chmod 700"),
        ("secrets/slack-webhook/url", 0o644, "chmod 600"),
        ("secrets/slack-webhook/url", 0o640, "chmod 600"),
    ],
)
def test_a_secret_readable_by_others_is_refused(home: Path, target: str, mode: int, fix: str) -> None:
    private_secret(home, "slack-webhook", url="https://hooks.example.org/abc")
    (home / target).chmod(mode)

    with pytest.raises(SecretError) as caught:
        resolve_secret(SLACK)

    assert str(caught.value) == (
        f"{home / target} is accessible by other users (mode {mode:o}); secrets are read only from "
        f"private files: {fix} {home / target}"
    )
    assert "hooks.example.org" not in str(caught.value)


def test_a_connection_without_a_secret_resolves_to_nothing(home: Path) -> None:
    assert resolve_secret(ConnectionEntity("scratch", "host_path", {})) == {}


def test_a_config_map_comes_from_variables_or_a_folder(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = ConnectionEntity("shared", "volume_claim", {}, config_map=ResourceReference("settings"))
    folder = home / "config-maps" / "settings"
    folder.mkdir(parents=True)
    (folder / "region").write_text("eu-west-1\n")

    assert resolve_config_map(connection) == {"region": "eu-west-1"}
    monkeypatch.setenv("POLYAXON_CONFIG_MAP_SETTINGS__region", "us-east-2")
    assert resolve_config_map(connection) == {"region": "us-east-2"}


def test_a_secret_value_never_shows_itself(caplog: pytest.LogCaptureFixture) -> None:
    value = SecretValue("hunter2-token")

    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("token %s / %r / %s", value, value, {"token": value})

    shown = [str(value), repr(value), f"{value}", f"{value!r}", f"{value:>20}", caplog.text]
    assert not [text for text in shown if "hunter2" in text]
    with pytest.raises(TypeError):
        json.dumps({"token": value})
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(value)
    assert value.reveal() == "hunter2-token"
    assert value == SecretValue("hunter2-token") and value != SecretValue("other")
