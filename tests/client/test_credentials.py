"""Which server and token the CLI and the SDK use, and how the login is stored."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from polyaxon_core.client.credentials import Credentials, auth_path, forget, load_saved, resolve, save
from polyaxon_core.config import ConfigurationError


@pytest.fixture(autouse=True)
def _home(polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("POLYAXON_HOST", raising=False)
    monkeypatch.delenv("POLYAXON_AUTH_TOKEN", raising=False)
    return polyaxon_home


def test_the_saved_login_is_readable_by_its_owner_only(polyaxon_home: Path) -> None:
    path = save(Credentials("http://127.0.0.1:8000", "key", "ada"))
    assert path == polyaxon_home / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"host": "http://127.0.0.1:8000", "token": "key",
                                            "username": "ada"}


def test_saving_over_a_readable_file_makes_it_private(polyaxon_home: Path) -> None:
    path = polyaxon_home / "auth.json"
    path.write_text("{}")
    path.chmod(0o644)
    save(Credentials("http://h:1", "key"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_nothing_configured_means_no_server() -> None:
    assert resolve() is None


def test_the_saved_login_is_used_when_no_host_is_set() -> None:
    save(Credentials("http://127.0.0.1:8000", "saved", "ada"))
    assert resolve() == Credentials("http://127.0.0.1:8000", "saved", "ada")


def test_the_environment_wins_over_the_saved_login(monkeypatch: pytest.MonkeyPatch) -> None:
    save(Credentials("http://127.0.0.1:8000", "saved", "ada"))
    monkeypatch.setenv("POLYAXON_HOST", "10.1.2.3:9000")
    assert resolve() == Credentials("http://10.1.2.3:9000", None)  # another host: not its token
    monkeypatch.setenv("POLYAXON_AUTH_TOKEN", "from-env")
    assert resolve() == Credentials("http://10.1.2.3:9000", "from-env")


def test_the_saved_token_goes_with_its_own_host(monkeypatch: pytest.MonkeyPatch) -> None:
    save(Credentials("http://127.0.0.1:8000", "saved", "ada"))
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.1:8000/")
    assert resolve() == Credentials("http://127.0.0.1:8000", "saved", "ada")


def test_a_damaged_login_file_is_named(polyaxon_home: Path) -> None:
    auth_path().write_text("not json")
    with pytest.raises(ConfigurationError, match="auth.json"):
        load_saved()


def test_forget_deletes_the_login() -> None:
    save(Credentials("http://h:1", "key"))
    assert forget() is True
    assert load_saved() is None and forget() is False
