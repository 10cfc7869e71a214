"""Settings read from the environment (prefix ``POLYAXON_``).

Everything has an embedded default that needs nothing but Python: a SQLite file and
local folders under ``POLYAXON_HOME`` (``~/.polyaxon``), local processes for runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


class ConfigurationError(Exception):
    """A setting has a value that cannot work; the message names the setting and the fix."""


def _int_setting(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a whole number; set it to an integer >= {minimum} "
            f"or unset it to use the default ({default})."
        ) from None
    if value < minimum:
        raise ConfigurationError(f"{name}={value} must be >= {minimum}.")
    return value


def _float_setting(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a number; set it to a number >= {minimum} "
            f"or unset it to use the default ({default})."
        ) from None
    if value < minimum:
        raise ConfigurationError(f"{name}={value} must be >= {minimum}.")
    return value


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one process."""

    home: Path
    db_url: str
    scheduler: str
    store: str
    disabled_plugins: frozenset[str] = field(default_factory=frozenset)
    default_concurrency: int = 2
    max_concurrency: int = 4
    stop_grace_period: float = 10.0
    poll_interval: float = 0.5
    idle_exit_seconds: float = 60.0
    #: ``POLYAXON_SERVICE_START_TIMEOUT``: how long a service may take to answer on its
    #: port before it fails
    service_start_timeout: float = 300.0
    #: ``POLYAXON_ARTIFACTS_STORE``: a URL (``s3://bucket/prefix``, ``gs://...``,
    #: ``az://...``) whose scheme names the store, or a folder for the local store
    artifacts_store: str = ""
    #: ``POLYAXON_ARTIFACTS_CONNECTION``: the catalog's connection the store was taken
    #: from (its secret holds the store's credentials); empty: the SDKs' own conventions
    artifacts_connection: str = ""

    @property
    def runs_path(self) -> Path:
        """Where per-run working directories live on this machine."""
        return self.home / "runs"

    @property
    def artifacts_path(self) -> Path:
        """Root folder of the local artifact store."""
        if self.artifacts_store and "://" not in self.artifacts_store:
            return Path(self.artifacts_store).expanduser()
        return self.home / "artifacts"


def _store_name(named: str, artifacts_store: str) -> str:
    """The store plugin: ``POLYAXON_STORE`` if set, else the scheme of
    ``POLYAXON_ARTIFACTS_STORE`` (``file://`` and a plain folder are the local store)."""
    scheme, separator, _ = artifacts_store.partition("://")
    implied = scheme.lower() if separator and scheme.lower() != "file" else "local"
    if separator and scheme.lower() == "file":
        raise ConfigurationError(
            f"POLYAXON_ARTIFACTS_STORE={artifacts_store!r}: give a local folder as a plain "
            "path, without file://")
    if named and artifacts_store and named != implied:
        raise ConfigurationError(
            f"POLYAXON_STORE={named!r} and POLYAXON_ARTIFACTS_STORE={artifacts_store!r} name "
            f"different stores ({named} and {implied}); unset POLYAXON_STORE, the URL's "
            "scheme picks the store")
    return named or implied


#: connection kind -> the scheme of the store it holds (Polyaxon's kinds of artifacts stores)
_STORE_SCHEMES = {"s3": "s3", "gcs": "gs", "wasb": "az"}


def _store_of_connection(name: str, home: Path) -> str:
    """The ``POLYAXON_ARTIFACTS_STORE`` an artifacts-store connection of the catalog
    stands for: its bucket (``s3``, ``gcs``, ``wasb``: ``wasbs://container@account...``
    or a container name) or its folder (``host_path``, ``volume_claim``: where it is
    mounted on this machine)."""
    from polyaxon_core.connections import load_catalog
    from polyaxon_core.errors import PolyaxonError

    try:
        connection = load_catalog(home).get(name)
    except PolyaxonError as exc:
        raise ConfigurationError(f"POLYAXON_ARTIFACTS_CONNECTION={name!r}: {exc}") from None
    schema = connection.schema
    if connection.kind in _STORE_SCHEMES:
        bucket = str(schema["bucket"]).split("://", 1)[-1]
        if connection.kind == "wasb" and "@" in bucket:  # container@account.blob.../path
            container, _, address = bucket.partition("@")
            bucket = f"{container}/{address.partition('/')[2]}"
        return f"{_STORE_SCHEMES[connection.kind]}://{bucket.strip('/')}"
    if connection.kind == "host_path":
        return str(schema["hostPath"])
    if connection.kind == "volume_claim":
        return str(schema["mountPath"])
    raise ConfigurationError(
        f"POLYAXON_ARTIFACTS_CONNECTION={name!r} is a `{connection.kind}` connection; an "
        "artifacts store is one of s3, gcs, wasb, host_path or volume_claim")


def load_settings() -> Settings:
    """Read the settings from the environment; raises ConfigurationError on bad values."""
    home = Path(os.environ.get("POLYAXON_HOME") or Path.home() / ".polyaxon").expanduser()
    db_url = os.environ.get("POLYAXON_DB_URL") or f"sqlite:///{home / 'polyaxon.db'}"
    disabled = frozenset(
        name.strip()
        for name in os.environ.get("POLYAXON_DISABLE_PLUGINS", "").split(",")
        if name.strip()
    )
    artifacts_store = os.environ.get("POLYAXON_ARTIFACTS_STORE", "").strip()
    artifacts_connection = os.environ.get("POLYAXON_ARTIFACTS_CONNECTION", "").strip()
    if artifacts_connection:
        if artifacts_store:
            raise ConfigurationError(
                f"POLYAXON_ARTIFACTS_CONNECTION={artifacts_connection!r} and "
                f"POLYAXON_ARTIFACTS_STORE={artifacts_store!r} both name the artifacts store; "
                "set one of them")
        artifacts_store = _store_of_connection(artifacts_connection, home)
    return Settings(
        home=home,
        db_url=db_url,
        scheduler=os.environ.get("POLYAXON_SCHEDULER") or "local",
        store=_store_name(os.environ.get("POLYAXON_STORE", "").strip(), artifacts_store),
        artifacts_store=artifacts_store,
        artifacts_connection=artifacts_connection,
        disabled_plugins=disabled,
        default_concurrency=_int_setting("POLYAXON_CONCURRENCY", 2, minimum=1),
        max_concurrency=_int_setting("POLYAXON_MAX_CONCURRENCY", os.cpu_count() or 2, minimum=1),
        stop_grace_period=_float_setting("POLYAXON_STOP_GRACE_PERIOD", 10.0),
        poll_interval=_float_setting("POLYAXON_POLL_INTERVAL", 0.5, minimum=0.01),
        idle_exit_seconds=_float_setting("POLYAXON_IDLE_EXIT", 60.0),
        service_start_timeout=_float_setting("POLYAXON_SERVICE_START_TIMEOUT", 300.0, minimum=1),
    )
