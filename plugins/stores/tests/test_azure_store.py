"""The ``az`` store passes the store contract against Azurite on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import io
import uuid
from pathlib import Path

import pytest
from polyaxon_stores.azure import AzureArtifactStore

from plugins.stores.tests.conftest import Emulator
from plugins.stores.tests.test_s3_store import check_streaming
from polyaxon_core.config import Settings
from polyaxon_core.testing import StoreContract


@pytest.fixture
def bucket(azurite: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in azurite.environment.items():
        monkeypatch.setenv(name, value)
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    azurite.create_bucket(name)
    return name


def azure_settings(settings: Settings, bucket: str) -> Settings:
    return dataclasses.replace(settings, store="az", artifacts_store=f"az://{bucket}/team")


class TestAzureStore(StoreContract):
    @pytest.fixture
    def store(self, polyaxon_settings: Settings, bucket: str) -> AzureArtifactStore:
        return AzureArtifactStore(azure_settings(polyaxon_settings, bucket))


def test_objects_land_under_the_urls_prefix(polyaxon_settings: Settings, bucket: str,
                                           azurite: Emulator) -> None:
    store = AzureArtifactStore(azure_settings(polyaxon_settings, bucket))
    store.put_stream("run1", io.BytesIO(b"weights"), "outputs/model.bin")
    store.append_log("run1", b"epoch 1\n")
    keys = azurite.keys(bucket)
    assert "team/run1/outputs/model.bin" in keys
    assert [key for key in keys if key.startswith("team/.logs/run1/")]


def test_a_large_file_goes_up_and_down_in_parts_within_200_mib(
    polyaxon_settings: Settings, bucket: str, azurite: Emulator, tmp_path: Path
) -> None:
    check_streaming(f"az://{bucket}/big", azurite, polyaxon_settings.home, tmp_path)
