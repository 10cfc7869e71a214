"""Object storage emulators, each a real server on 127.0.0.1 started for the tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(argv: list[str], url: str, cwd: Path | None = None) -> Iterator[None]:
    """Run ``argv`` (in ``cwd``) until the block ends; wait (bounded) until it answers ``url``."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{argv[0]} exited: {log.read()[-2000:].decode(errors='replace')}")
                try:
                    with urllib.request.urlopen(url, timeout=2):
                        break
                except urllib.error.HTTPError:
                    break  # it answers, if only to say the path is not one of its own
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{argv[0]} never answered {url}") from None
                    time.sleep(0.1)  # waiting for a server to listen, bounded by the deadline
            yield
        finally:
            # the whole group (a Node launcher starts a child): Ctrl-C, then a kill
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@dataclass
class Emulator:
    """A running emulator: the environment a cloud SDK reads to reach it."""

    environment: dict[str, str]
    client: Any = field(repr=False)

    def create_bucket(self, name: str) -> None:
        self.client.create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@contextlib.contextmanager
def start_moto() -> Iterator[Emulator]:
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    environment = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    with serving([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                 f"{endpoint}/moto-api/"):
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        yield Emulator(environment, client)


class GCSClient:
    """The few bucket operations the tests need, over the JSON API of the emulator."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def create_bucket(self, Bucket: str) -> None:  # noqa: N803 - boto3's spelling
        request = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project=test", method="POST",
            data=json.dumps({"name": Bucket}).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass

    def get_paginator(self, _operation: str) -> GCSClient:
        return self

    def paginate(self, Bucket: str) -> list[dict[str, Any]]:  # noqa: N803
        with urllib.request.urlopen(f"{self.endpoint}/storage/v1/b/{Bucket}/o", timeout=10) as answer:
            items = json.load(answer).get("items", [])
        return [{"Contents": [{"Key": item["name"]} for item in items]}]


@contextlib.contextmanager
def start_gcs_emulator() -> Iterator[Emulator]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = str(Path(sys.executable).parent / "gcp-storage-emulator")
    with serving([command, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"],
                 f"{endpoint}/storage/v1/b"):
        yield Emulator({"STORAGE_EMULATOR_HOST": endpoint}, GCSClient(endpoint))


#: Azurite's account: the well-known development account and key every Azure SDK documents
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")
#: Azurite, installed by `make install` from the lock file next to it
AZURITE = Path(__file__).parent / "emulators" / "node_modules" / ".bin" / "azurite-blob"


class AzureClient:
    """The few container operations the tests need, through the Azure SDK."""

    def __init__(self, connection_string: str) -> None:
        from azure.storage.blob import BlobServiceClient

        self.service = BlobServiceClient.from_connection_string(connection_string)

    def create_bucket(self, Bucket: str) -> None:  # noqa: N803 - boto3's spelling
        self.service.create_container(Bucket)

    def get_paginator(self, _operation: str) -> AzureClient:
        return self

    def paginate(self, Bucket: str) -> list[dict[str, Any]]:  # noqa: N803
        names = self.service.get_container_client(Bucket).list_blob_names()
        return [{"Contents": [{"Key": name} for name in names]}]


@contextlib.contextmanager
def start_azurite(folder: Path) -> Iterator[Emulator]:
    if not AZURITE.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE}: run `make install` (npm ci in "
                           f"{AZURITE.parents[2]})")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    connection = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                  f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};")
    with serving([str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                  "--inMemoryPersistence", "--skipApiVersionCheck", "--silent"],
                 f"{endpoint}?comp=list", cwd=folder):
        yield Emulator({"AZURE_STORAGE_CONNECTION_STRING": connection}, AzureClient(connection))


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with start_azurite(tmp_path_factory.mktemp("azurite")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def gcs() -> Iterator[Emulator]:
    with start_gcs_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def moto() -> Iterator[Emulator]:
    with start_moto() as emulator:
        yield emulator
