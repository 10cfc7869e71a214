"""The buildah builder on its own: a real buildah (``make buildah`` installs it) building
from scratch (offline), and a real registry (Docker's distribution, ``docker-registry``)
on 127.0.0.1 to push to."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from polyaxon_builders.buildah import BuildahBuilder

from polyaxon_core.config import Settings
from polyaxon_core.entities import ConnectionEntity, RunEntity
from polyaxon_core.interfaces.builder import BuildRequest, BuildState
from polyaxon_core.orchestrator import initializers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert shutil.which("buildah"), "buildah is missing: run `make buildah` (apt-get install buildah)"
    monkeypatch.setenv("POLYAXON_BUILDAH_STORAGE_DRIVER", "vfs")
    monkeypatch.setenv("POLYAXON_BUILDAH_ROOT", str(tmp_path / "storage"))
    return tmp_path / "storage"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """Docker's registry on 127.0.0.1, over plain HTTP; its address."""
    assert shutil.which("docker-registry"), "docker-registry is missing: run `make buildah`"
    address = f"127.0.0.1:{_free_port()}"
    config = tmp_path / "registry.yml"
    config.write_text(json.dumps({"version": 0.1, "log": {"level": "error"},
                                  "storage": {"filesystem": {"rootdirectory": str(tmp_path / "blobs")}},
                                  "http": {"addr": address}}))
    process = subprocess.Popen(["docker-registry", "serve", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError("the registry did not start") from None
            time.sleep(0.05)
    yield address
    process.terminate()
    process.wait(timeout=10)


def make_request(tmp_path: Path, content: str, registry: ConnectionEntity | None = None,
                 destination: str = "team/app:v1") -> BuildRequest:
    folder = tmp_path / "run" / "build"
    context = folder / "context"
    steps = initializers.plan(
        [{"file": {"filename": "greeting.txt", "content": content}},
         {"dockerfile": {"image": "scratch", "copy": [["greeting.txt", "/greeting.txt"]]}}],
        context, context, lambda name: registry, lambda _: True)  # type: ignore[arg-type,return-value]
    return BuildRequest(
        run=RunEntity(uuid="0d7f98bcb90e4542b4f9893e50a905e8", project="app", owner="team", name=None,
                      kind="job", runtime="job", status="scheduled"),
        key="k" * 64, destination=(f"{registry.schema['url']}/" if registry else "") + destination,
        dockerfile=initializers.dockerfile_text(steps[1].value), dockerfile_path=steps[1].destination,
        folder=str(folder), steps=(steps[0],), connection=registry)


def wait_done(builder: BuildahBuilder, handle: dict[str, object]) -> BuildState:
    deadline = time.monotonic() + 120
    while (state := builder.poll(handle)).status == "running":
        assert time.monotonic() < deadline, "the build never ended"
        time.sleep(0.05)
    return state


def test_a_build_is_pushed_to_the_registry_and_named_by_its_digest(
    tmp_path: Path, storage: Path, registry: str, polyaxon_settings: Settings,
) -> None:
    connection = ConnectionEntity(name="registry", kind="registry",
                                  schema={"url": registry, "insecure": True})
    builder = BuildahBuilder(polyaxon_settings)

    state = wait_done(builder, dict(builder.start(make_request(tmp_path, "pushed", connection))))

    assert state.status == "succeeded", state.message
    assert state.image is not None and state.image.startswith(f"{registry}/team/app@sha256:")
    digest = state.image.rsplit("@", 1)[1]
    manifest = urllib.request.Request(f"http://{registry}/v2/team/app/manifests/{digest}", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(manifest, timeout=10) as answer:
        assert answer.status == 200
    tags = json.loads(urllib.request.urlopen(f"http://{registry}/v2/team/app/tags/list", timeout=10).read())
    assert tags["tags"] == ["v1"]


def test_an_orchestrator_restarted_mid_build_polls_the_same_build(
    tmp_path: Path, storage: Path, polyaxon_settings: Settings,
) -> None:
    handle = dict(BuildahBuilder(polyaxon_settings).start(make_request(tmp_path, "hello")))

    # another builder, as after a restart: the build process is not its child
    state = wait_done(BuildahBuilder(polyaxon_settings), handle)

    assert (state.status, state.image) == ("succeeded", "team/app:v1")
    log = (Path(str(handle["folder"])) / "build.log").read_text()
    assert "file: writing" in log and "COMMIT team/app:v1" in log
    assert not (Path(str(handle["folder"])) / ".environments.json").exists()


def test_a_build_process_killed_without_a_result_is_a_failure(
    tmp_path: Path, storage: Path, polyaxon_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = tmp_path / "never"
    wrapper = tmp_path / "stuck-buildah"
    wrapper.write_text(f"#!/bin/sh\nwhile [ ! -e {gate} ]; do sleep 0.05; done\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("POLYAXON_BUILDAH", str(wrapper))
    builder = BuildahBuilder(polyaxon_settings)
    handle = dict(builder.start(make_request(tmp_path, "x")))
    assert builder.poll(handle).status == "running"

    os.killpg(int(str(handle["pid"])), 9)
    state = wait_done(builder, handle)

    assert state.status == "failed"
    assert state.message is not None and "ended without a result" in state.message


def test_buildah_missing_is_a_clear_refusal(
    tmp_path: Path, polyaxon_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_BUILDAH", str(tmp_path / "no-buildah"))

    with pytest.raises(ValueError, match="buildah is not installed here .*apt-get install buildah"):
        BuildahBuilder(polyaxon_settings).start(make_request(tmp_path, "x"))
