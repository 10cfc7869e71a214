"""The ``gs`` store passes the store contract against gcp-storage-emulator on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import io
import uuid
from pathlib import Path

import pytest
from polyaxon_stores.gcs import GCSArtifactStore

from plugins.stores.tests.conftest import Emulator
from plugins.stores.tests.test_s3_store import check_streaming
from polyaxon_core.config import Settings
from polyaxon_core.testing import StoreContract


@pytest.fixture
def bucket(gcs: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in gcs.environment.items():
        monkeypatch.setenv(name, value)
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    gcs.create_bucket(name)
    return name


def gcs_settings(settings: Settings, bucket: str) -> Settings:
    return dataclasses.replace(settings, store="gs", artifacts_store=f"gs://{bucket}/team")


class TestGCSStore(StoreContract):
    @pytest.fixture
    def store(self, polyaxon_settings: Settings, bucket: str) -> GCSArtifactStore:
        return GCSArtifactStore(gcs_settings(polyaxon_settings, bucket))


def test_objects_land_under_the_urls_prefix(polyaxon_settings: Settings, bucket: str,
                                           gcs: Emulator) -> None:
    store = GCSArtifactStore(gcs_settings(polyaxon_settings, bucket))
    store.put_stream("run1", io.BytesIO(b"weights"), "outputs/model.bin")
    store.append_log("run1", b"epoch 1\n")
    keys = gcs.keys(bucket)
    assert "team/run1/outputs/model.bin" in keys
    assert [key for key in keys if key.startswith("team/.logs/run1/")]


def test_a_large_file_goes_up_and_down_in_parts_within_200_mib(
    polyaxon_settings: Settings, bucket: str, gcs: Emulator, tmp_path: Path
) -> None:
    check_streaming(f"gs://{bucket}/big", gcs, polyaxon_settings.home, tmp_path)
