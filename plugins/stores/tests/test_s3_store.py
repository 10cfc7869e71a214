"""The ``s3`` store passes the store contract against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from polyaxon_stores.s3 import S3ArtifactStore

from plugins.stores.tests.conftest import Emulator
from polyaxon_core.config import Settings
from polyaxon_core.testing import StoreContract
from polyaxon_core.testing.store import binary_payload, read_all


@pytest.fixture
def bucket(moto: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in moto.environment.items():
        monkeypatch.setenv(name, value)
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(name)
    return name


def s3_settings(settings: Settings, bucket: str) -> Settings:
    return dataclasses.replace(settings, store="s3", artifacts_store=f"s3://{bucket}/team/artifacts")


class TestS3Store(StoreContract):
    @pytest.fixture
    def store(self, polyaxon_settings: Settings, bucket: str) -> S3ArtifactStore:
        return S3ArtifactStore(s3_settings(polyaxon_settings, bucket))


def test_objects_land_under_the_urls_prefix(polyaxon_settings: Settings, bucket: str,
                                           moto: Emulator) -> None:
    store = S3ArtifactStore(s3_settings(polyaxon_settings, bucket))
    store.put_stream("run1", io.BytesIO(b"weights"), "outputs/model.bin")
    store.append_log("run1", b"epoch 1\n")
    keys = moto.keys(bucket)
    assert "team/artifacts/run1/outputs/model.bin" in keys
    assert [key for key in keys if key.startswith("team/artifacts/.logs/run1/")]


def test_a_url_without_a_bucket_is_refused_with_the_form_it_takes(polyaxon_settings: Settings) -> None:
    from polyaxon_core.config import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"POLYAXON_ARTIFACTS_STORE=s3://BUCKET\[/PREFIX\]"):
        S3ArtifactStore(dataclasses.replace(polyaxon_settings, store="s3", artifacts_store="s3://"))


STREAMING = textwrap.dedent("""
    import hashlib, io, json, sys
    from polyaxon_core.config import load_settings
    from polyaxon_core.plugins import create

    size = int(sys.argv[1])

    def peak_mib():
        # VmHWM: this process's own peak (getrusage's ru_maxrss would count the pytest
        # process this one was forked from)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    class Generated(io.RawIOBase):
        # size bytes made on the fly: the upload cannot be served from a file in memory
        def __init__(self):
            self.left = size
        def readable(self):
            return True
        def readinto(self, buffer):
            count = min(len(buffer), self.left)
            buffer[:count] = bytes([self.left % 251]) * count
            self.left -= count
            return count

    settings = load_settings()
    store = create("store", settings.store, settings)
    sent = hashlib.sha256()
    source = io.BufferedReader(Generated(), 1024 * 1024)
    class Hashing(io.RawIOBase):
        def readable(self):
            return True
        def readinto(self, buffer):
            data = source.read(len(buffer))
            sent.update(data)
            buffer[:len(data)] = data
            return len(data)
    store.put_stream("big", io.BufferedReader(Hashing(), 1024 * 1024), "data/blob.bin")
    upload_peak = peak_mib()
    received = hashlib.sha256()
    total = 0
    with store.open("big", "data/blob.bin") as stream:
        while chunk := stream.read(4 * 1024 * 1024):
            received.update(chunk)
            total += len(chunk)
    print(json.dumps({"sent": sent.hexdigest(), "received": received.hexdigest(), "size": total,
                      "upload_peak_mib": upload_peak,
                      "peak_mib": peak_mib()}))
""")


def check_streaming(url: str, emulator: Emulator, home: Path, folder: Path) -> None:
    """A quarter of a gibibyte up and down through the store at ``url`` in a process of
    its own, whose memory must stay under 200 MiB: uploads go in parts of 8 MiB and
    each read is one ranged request."""
    size = 256 * 1024 ** 2
    script = folder / "streaming.py"
    script.write_text(STREAMING)
    env = {**os.environ, **emulator.environment, "POLYAXON_HOME": str(home),
           "POLYAXON_ARTIFACTS_STORE": url}
    env.pop("POLYAXON_STORE", None)
    done = subprocess.run([sys.executable, str(script), str(size)], env=env, capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["size"] == size
    assert outcome["received"] == outcome["sent"]
    assert outcome["peak_mib"] < 200, outcome


def test_a_large_file_goes_up_and_down_in_parts_within_200_mib(
    polyaxon_settings: Settings, bucket: str, moto: Emulator, tmp_path: Path
) -> None:
    check_streaming(f"s3://{bucket}/big", moto, polyaxon_settings.home, tmp_path)


def test_a_file_round_trips_through_put_file(polyaxon_settings: Settings, bucket: str,
                                            tmp_path: Path) -> None:
    store = S3ArtifactStore(s3_settings(polyaxon_settings, bucket))
    source = tmp_path / "weights.bin"
    source.write_bytes(binary_payload(3 * 1024 * 1024))
    info = store.put_file("run2", source, "model/weights.bin")
    assert info.size == source.stat().st_size and not info.is_dir
    assert hashlib.sha256(read_all(store.open("run2", "model/weights.bin"))).digest() == \
        hashlib.sha256(source.read_bytes()).digest()


def test_a_store_from_a_catalog_connection_uses_the_connections_credentials(
    polyaxon_settings: Settings, moto: Emulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from polyaxon_core.config import ConfigurationError, load_settings

    name = f"bucket-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(name)
    for variable in moto.environment:  # the process has no credentials of its own
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("POLYAXON_CONNECTIONS", json.dumps([{
        "name": "runs", "kind": "s3", "schema": {"bucket": f"s3://{name}/team"},
        "secret": {"name": "aws-runs"}}]))
    for key, value in moto.environment.items():  # the connection's secret holds them
        monkeypatch.setenv(f"POLYAXON_SECRET_AWS_RUNS__{key}", value)
    monkeypatch.setenv("POLYAXON_ARTIFACTS_CONNECTION", "runs")
    store = S3ArtifactStore(load_settings())
    store.put_stream("run1", io.BytesIO(b"weights"), "model.bin")
    assert read_all(store.open("run1", "model.bin")) == b"weights"
    assert "team/run1/model.bin" in moto.keys(name)
    monkeypatch.setenv("POLYAXON_SECRET_AWS_RUNS__GITHUB_TOKEN", "x")
    with pytest.raises(ConfigurationError, match="holds GITHUB_TOKEN, which the s3 store does not read"):
        _ = S3ArtifactStore(load_settings()).fs
