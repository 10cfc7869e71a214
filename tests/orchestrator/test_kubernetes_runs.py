"""Runs through the real CLI and orchestrator with ``POLYAXON_SCHEDULER=kubernetes``.

No cluster exists on these machines: the scheduler talks to the Kubernetes API stand-in
(:mod:`polyaxon_schedulers.kubernetes.standin`, a mock) on 127.0.0.1, whose kubelet runs
each pod's command as a process here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from polyaxon_schedulers.kubernetes import standin

from tests.orchestrator.conftest import FILES, Cli, run_state, wait_final

NAMESPACE = "polyaxon-runs"


@pytest.fixture
def cluster(home: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[standin.Cluster]:
    running = standin.start(standin.Cluster(kubelet=True))
    monkeypatch.setenv("POLYAXON_SCHEDULER", "kubernetes")
    monkeypatch.setenv("POLYAXON_K8S_API", running.url)
    monkeypatch.setenv("POLYAXON_K8S_NAMESPACE", NAMESPACE)
    yield running.cluster
    running.close()


def test_a_job_runs_as_a_kubernetes_job_and_its_log_is_the_pods(cli: Cli, cluster: standin.Cluster) -> None:
    uuid = json.loads(cli("run", "-f", str(FILES / "pod.yaml"), "-o", "json").stdout)["uuid"]
    state = wait_final(uuid)
    assert state["status"] == "succeeded"
    assert [c[0] for c in state["conditions"]][-3:] == ["starting", "running", "succeeded"]
    assert "hello from a pod" in cli("ops", "logs", "-uid", uuid).stdout
    created = {path for method, path in cluster.requests if method == "POST"}
    assert f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs" in created
    # once it ended, what it created is gone
    assert cluster.find("jobs", NAMESPACE) == [] and cluster.find("secrets", NAMESPACE) == []


def test_kubernetes_retries_a_failed_job_once_and_the_timeline_says_so(
    cli: Cli, cluster: standin.Cluster,
) -> None:
    uuid = json.loads(cli("run", "-f", str(FILES / "pod.yaml"), "-P", "exit_code=4",
                          "-o", "json").stdout)["uuid"]
    state = wait_final(uuid)
    assert state["status"] == "failed"
    assert state["retries"] == 0, "the Job retried it; the orchestrator does not retry it again"
    reasons = [(status, reason) for status, reason, _ in state["conditions"]]
    assert ("failed", "exit code") in reasons
    assert "exited with code 4" in state["conditions"][-1][2]
    assert cli("ops", "logs", "-uid", uuid).stdout.count("hello from a pod") == 2
    assert run_state(uuid)["meta_info"]["attempts"] == 1


def test_a_cluster_answering_503_keeps_the_run_waiting_not_failed(
    cli: Cli, cluster: standin.Cluster,
) -> None:
    cluster.fail("POST", "/jobs$", 503, times=2)
    uuid = json.loads(cli("run", "-f", str(FILES / "pod.yaml"), "-o", "json").stdout)["uuid"]
    state = wait_final(uuid)
    assert state["status"] == "succeeded"
    job_posts = [path for method, path in cluster.requests if method == "POST" and path.endswith("/jobs")]
    assert len(job_posts) == 3, "refused twice, created on the third pass"


def test_dry_run_prints_the_manifests_and_creates_nothing(cli: Cli, cluster: standin.Cluster) -> None:
    import yaml

    result = cli("run", "-f", str(FILES / "pod.yaml"), "--dry-run", "-o", "yaml")
    documents = list(yaml.safe_load_all(result.stdout))
    assert [document["kind"] for document in documents] == ["Job"]
    job = documents[0]
    assert job["metadata"]["namespace"] == NAMESPACE
    assert job["metadata"]["labels"]["team"] == "vision"
    assert job["spec"]["backoffLimit"] == 1
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "python:3.11-slim"
    # the globals a command sees are the pod's
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["OUTPUTS"] == "/plx-context/artifacts/outputs" and env["NAMESPACE"] == NAMESPACE
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0
    assert cluster.requests == []
    as_json = json.loads(cli("run", "-f", str(FILES / "pod.yaml"), "--dry-run", "-o", "json").stdout)
    assert as_json[0]["kind"] == "Job"


def test_dry_run_and_check_refuse_what_kubernetes_cannot_run(
    cli: Cli, cluster: standin.Cluster, tmp_path: object,
) -> None:
    from pathlib import Path

    no_image = Path(str(tmp_path)) / "no-image.yaml"
    no_image.write_text("version: 1.1\nkind: component\nrun:\n  kind: job\n"
                        "  container: {command: [python, -c, 'print(1)']}\n")
    checked = cli("check", "-f", str(no_image), check=False)
    assert checked.returncode == 1
    assert "run.container.image: Kubernetes runs images" in checked.stdout
    previewed = cli("run", "-f", str(no_image), "--dry-run", check=False)
    assert previewed.returncode == 1 and "Traceback" not in previewed.stderr
    assert "run.container.image: Kubernetes runs images" in previewed.stderr
    sweep = cli("run", "-f", str(FILES / "grid.yaml"), "--dry-run", check=False)
    assert sweep.returncode == 1 and "one run's objects" in sweep.stderr
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0


def test_a_tfjob_previews_as_the_training_operators_resource(cli: Cli, cluster: standin.Cluster) -> None:
    import yaml

    documents = list(yaml.safe_load_all(cli("run", "-f", str(FILES / "tfjob.yaml"), "-P", "lr=0.5",
                                            "--dry-run").stdout))
    assert [document["kind"] for document in documents] == ["TFJob"]
    replicas = documents[0]["spec"]["tfReplicaSpecs"]
    assert replicas["Worker"]["replicas"] == 2
    assert replicas["Chief"]["template"]["spec"]["containers"][0]["command"][-1] == "--lr=0.5"


def test_the_local_scheduler_refuses_a_tfjob_and_says_which_scheduler_runs_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_SCHEDULER", "local")
    refused = cli("run", "-f", str(FILES / "tfjob.yaml"), check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "use POLYAXON_SCHEDULER=kubernetes" in refused.stderr
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0
    checked = cli("check", "-f", str(FILES / "tfjob.yaml"), check=False)
    assert checked.returncode == 1 and "run.kind" in checked.stdout


def test_logs_follow_a_pod_while_it_runs_to_its_end(cli: Cli, cluster: standin.Cluster) -> None:
    uuid = json.loads(cli("run", "-f", str(FILES / "pod-slow.yaml"), "-o", "json").stdout)["uuid"]
    followed = cli("ops", "logs", "-uid", uuid, "--follow")
    assert [line for line in followed.stdout.splitlines() if line.startswith("step")] == [
        f"step {index}" for index in range(5)]
    assert run_state(uuid)["status"] == "succeeded"


def test_an_orchestrator_killed_mid_run_is_succeeded_by_one_that_adopts_the_job(
    cli: Cli, cluster: standin.Cluster, home: object, tmp_path: object,
) -> None:
    import os
    import signal
    from pathlib import Path

    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import OrchestratorLock
    from polyaxon_core.testing.scheduler import wait_until
    from tests.orchestrator.conftest import wait_for

    gate = Path(str(tmp_path)) / "gate"
    uuid = json.loads(cli("run", "-f", str(FILES / "pod-gate.yaml"), "-P", f"gate={gate}",
                          "-o", "json").stdout)["uuid"]
    wait_for(uuid, lambda state: state["status"] == "running")
    lock = OrchestratorLock(load_settings())
    pid = lock.holder_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not lock.is_held())
    gate.write_text("open")
    watched = cli("ops", "get", uuid, "--watch", check=False)  # starts a new orchestrator
    assert run_state(uuid)["status"] == "succeeded", watched.stdout + watched.stderr
    job_posts = [path for method, path in cluster.requests if method == "POST" and path.endswith("/jobs")]
    assert len(job_posts) == 1, "the new orchestrator adopted the Job rather than creating another"
    # nothing is lost; what the killed one copied after it last noted its progress on the
    # pod (at most ten seconds of output) is copied again
    log = cli("ops", "logs", "-uid", uuid).stdout.splitlines()
    assert log[-1] == "after the gate" and log.count("after the gate") == 1
    assert set(log[:-1]) == {"before the gate"} and 1 <= len(log[:-1]) <= 2


def test_dry_run_of_a_built_run_shows_the_image_its_build_would_push(
    cli: Cli, cluster: standin.Cluster, home: object, tmp_path: object,
) -> None:
    import pathlib

    import yaml

    assert isinstance(home, pathlib.Path) and isinstance(tmp_path, pathlib.Path)
    (home / "connections.yaml").write_text(json.dumps({"connections": [
        {"name": "registry", "kind": "registry", "schema": {"url": "registry.example.org"}}]}))
    built = tmp_path / "built.yaml"
    built.write_text(
        "version: 1.1\nkind: component\nname: built\n"
        "build:\n  hubRef: kaniko\n  connection: registry\n"
        "  params: {destination: {value: team/app:v1}}\n"
        "  runPatch: {init: [{dockerfile: {image: python:3.11-slim, run: [pip install numpy]}}]}\n"
        "run: {kind: job, container: {command: [python, -c, print(1)]}}\n")

    documents = list(yaml.safe_load_all(cli("run", "-f", str(built), "--dry-run", "-o", "yaml").stdout))

    job = next(document for document in documents if document["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.org/team/app:v1"
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0
    assert not [path for method, path in cluster.requests if method == "POST"]


def test_a_bad_sidecar_setting_is_refused_with_the_fix(
    cli: Cli, cluster: standin.Cluster, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_K8S_SIDECAR", "maybe")
    previewed = cli("run", "-f", str(FILES / "pod.yaml"), "--dry-run", check=False)
    assert previewed.returncode != 0 and "Traceback" not in previewed.stderr
    assert "POLYAXON_K8S_SIDECAR='maybe' is neither `on` nor `off`" in previewed.stderr
    monkeypatch.setenv("POLYAXON_K8S_SIDECAR", "on")
    monkeypatch.setenv("POLYAXON_K8S_SIDECAR_INTERVAL", "0.1")
    previewed = cli("run", "-f", str(FILES / "pod.yaml"), "--dry-run", check=False)
    assert previewed.returncode != 0
    assert "POLYAXON_K8S_SIDECAR_INTERVAL=0.1 must be >= 1.0" in previewed.stderr
    assert cluster.requests == []
