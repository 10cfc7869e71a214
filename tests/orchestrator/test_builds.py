"""Images built before a run starts (``build``), through the real CLI and orchestrator
with the buildah builder and the local scheduler: buildah is a real program here
(``make buildah`` installs it), its storage in the test's own folder (``vfs``: overlay
mounts are not allowed in the containers the suite runs in)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from polyaxon_builders.buildah import buildah_command

from tests.orchestrator.conftest import FILES, Cli, run_state, wait_final, wait_for

BUSYBOX = "/bin/busybox"


@pytest.fixture
def buildah(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """buildah's storage for this test, and the `tools` connection holding a static shell."""
    assert shutil.which("buildah"), "buildah is missing: run `make buildah` (apt-get install buildah)"
    assert Path(BUSYBOX).is_file(), "busybox is missing: run `make buildah` (busybox-static)"
    monkeypatch.setenv("POLYAXON_BUILDAH_STORAGE_DRIVER", "vfs")
    monkeypatch.setenv("POLYAXON_BUILDAH_ROOT", str(tmp_path / "storage"))
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(BUSYBOX, tools / "busybox")
    (home / "connections.yaml").write_text(json.dumps({"connections": [
        {"name": "tools", "kind": "host_path",
         "schema": {"hostPath": str(tools), "mountPath": str(tools)}}]}))
    return tmp_path / "storage"


def images() -> list[str]:
    listed = subprocess.run([*buildah_command(), "images", "--format", "{{.Name}}:{{.Tag}}"],
                            capture_output=True, text=True, check=True, env=os.environ.copy())
    return listed.stdout.split()


def read_from_image(image: str, path: str) -> str:
    """A file of ``image``, through a working container of it."""
    container = subprocess.run([*buildah_command(), "from", image], capture_output=True, text=True,
                               check=True).stdout.strip()
    try:
        mounted = subprocess.run([*buildah_command(), "mount", container], capture_output=True,
                                 text=True, check=True).stdout.strip()
        return (Path(mounted) / path.lstrip("/")).read_text()
    finally:
        subprocess.run([*buildah_command(), "rm", container], capture_output=True, check=True)


def test_a_run_waits_for_its_image_then_starts_with_it(cli: Cli, buildah: Path) -> None:
    uuid = json.loads(cli("run", "-f", str(FILES / "built.yaml"), "-o", "json").stdout)["uuid"]

    state = wait_final(uuid)

    assert state["status"] == "succeeded", state["conditions"]
    build = state["meta_info"]["build"]
    assert build["image"] == build["destination"]
    assert build["destination"].startswith("polyaxon/tests:")
    assert f"localhost/{build['image']}" in images()
    assert read_from_image(build["image"], "/greeting.txt") == "hello"
    assert read_from_image(build["image"], "/code/built.txt") == "built\n"
    assert "ran after the build" in cli("ops", "logs", "-uid", uuid).stdout
    reasons = [reason for _, reason, _ in state["conditions"]]
    assert reasons[reasons.index("scheduled") + 1] == "starting", "it waited scheduled, then started"


def test_the_same_build_runs_once_and_another_input_builds_again(cli: Cli, buildah: Path) -> None:
    first = json.loads(cli("run", "-f", str(FILES / "built.yaml"), "-o", "json").stdout)["uuid"]
    second = json.loads(cli("run", "-f", str(FILES / "built.yaml"), "-o", "json").stdout)["uuid"]
    other = json.loads(cli("run", "-f", str(FILES / "built.yaml"), "-P", "greeting=bonjour",
                           "-o", "json").stdout)["uuid"]

    states = [wait_final(uuid) for uuid in (first, second, other)]

    assert [state["status"] for state in states] == ["succeeded"] * 3
    builds = [state["meta_info"]["build"] for state in states]
    assert builds[0]["key"] == builds[1]["key"] != builds[2]["key"]
    assert builds[0]["image"] == builds[1]["image"] != builds[2]["image"]
    from polyaxon_core.config import load_settings

    started = [uuid for uuid in (first, second, other)
               if (load_settings().runs_path / uuid / "build" / "build.log").exists()]
    assert len(started) == 2, "the second run used the first one's build"
    assert read_from_image(builds[2]["image"], "/greeting.txt") == "bonjour"


def test_a_failed_build_fails_the_run_with_the_builds_last_lines(cli: Cli, buildah: Path) -> None:
    uuid = json.loads(cli("run", "-f", str(FILES / "built.yaml"), "-P", "step=echo broken-step; exit 3",
                          "-o", "json").stdout)["uuid"]

    state = wait_final(uuid)

    assert state["status"] == "failed"
    status, reason, message = state["conditions"][-1]
    assert (status, reason) == ("failed", "build failed")
    assert "buildah build exited with" in message
    assert "broken-step" in message, "the build log's last lines"
    assert "ran after the build" not in cli("ops", "logs", "-uid", uuid).stdout


def test_a_run_waiting_for_its_build_says_pending_build_and_stops_at_once(
    cli: Cli, buildah: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # buildah itself, started once the test creates the gate file
    gate = tmp_path / "gate"
    wrapper = tmp_path / "gated-buildah"
    wrapper.write_text(f"#!/bin/sh\nwhile [ ! -e {gate} ]; do sleep 0.05; done\nexec buildah \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("POLYAXON_BUILDAH", str(wrapper))
    uuid = json.loads(cli("run", "-f", str(FILES / "built.yaml"), "-o", "json").stdout)["uuid"]

    waiting = wait_for(uuid, lambda state: state["pending"] == "build")
    shown = json.loads(cli("ops", "get", "-uid", uuid, "-o", "json").stdout)
    described = cli("ops", "get", "-uid", uuid).stdout
    cli("ops", "stop", "-uid", uuid, "--yes")
    stopped = run_state(uuid)
    gate.touch()
    again = json.loads(cli("run", "-f", str(FILES / "built.yaml"), "-o", "json").stdout)["uuid"]
    finished = wait_final(again)

    assert waiting["status"] == "scheduled"
    assert shown["pending"] == "build"
    assert "scheduled (pending: build)" in described
    assert stopped["status"] == "stopped", "nothing had started: stopped at once"
    assert finished["status"] == "succeeded"
    assert finished["meta_info"]["build"]["key"] == waiting["meta_info"]["build"]["key"]


def test_check_and_run_refuse_a_build_no_builder_could_make(cli: Cli, tmp_path: Path) -> None:
    written = (FILES / "built.yaml").read_text()
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(written.replace("hubRef: buildah", "hubRef: docker:24"))
    no_dockerfile = tmp_path / "no-dockerfile.yaml"
    no_dockerfile.write_text(written.replace("    - dockerfile:", "    - file:").replace(
        "        image: scratch\n", "        filename: Dockerfile\n        content: FROM scratch\n"))

    checked = cli("check", "-f", str(unknown), check=False)
    refused = cli("run", "-f", str(unknown), check=False)
    missing = cli("check", "-f", str(no_dockerfile), check=False)

    assert checked.returncode == 1
    assert ("build.hubRef: `docker:24` names no installed builder (installed: buildah, kaniko)"
            in checked.stdout)
    assert refused.returncode == 1 and "names no installed builder" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0
    assert missing.returncode == 1
    assert "build.runPatch.init: 0 dockerfile initializers; give exactly one" in missing.stdout


def test_a_kaniko_build_without_a_cluster_fails_the_run_saying_what_to_configure(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POLYAXON_K8S_API", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    (home / "connections.yaml").write_text(json.dumps({"connections": [
        {"name": "registry", "kind": "registry", "schema": {"url": "127.0.0.1:5000"}}]}))
    built = tmp_path / "kaniko.yaml"
    built.write_text(
        "version: 1.1\nkind: component\nname: built\n"
        "build:\n  hubRef: kaniko\n  connection: registry\n"
        "  runPatch: {init: [{dockerfile: {image: scratch}}]}\n"
        "run: {kind: job, container: {command: [python, -c, print(1)]}}\n")

    state = wait_final(json.loads(cli("run", "-f", str(built), "-o", "json").stdout)["uuid"])

    assert state["status"] == "failed"
    status, reason, message = state["conditions"][-1]
    assert reason == "launch failed"
    assert message.startswith("the Kaniko builder (build.hubRef: kaniko) found no cluster to use")
    assert "Set POLYAXON_K8S_API" in message
