"""The Kaniko builder: its Job validated with ``kubernetes-validate`` in strict mode
against the oldest and newest Kubernetes versions it bundles, and its start / poll over
HTTP against the Kubernetes API stand-in (a mock: no cluster exists on these machines,
and no Kaniko runs here), the build pod's status and log written by the test as a
kubelet would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from polyaxon_builders.kaniko import KanikoBuilder, build_job, job_name
from polyaxon_schedulers.kubernetes import standin

from polyaxon_core.config import Settings
from polyaxon_core.entities import ConnectionEntity, ResourceReference, RunEntity
from polyaxon_core.interfaces.builder import BuildRequest, BuildUnavailable
from polyaxon_core.orchestrator import initializers

VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
NAMESPACE = "polyaxon-builds"
FOLDER = "/srv/polyaxon/runs/0d7f98bcb90e4542b4f9893e50a905e8/build"
CONTEXT = FOLDER + "/context"
DIGEST = "sha256:" + "ab" * 32
CATALOG = {
    "registry": ConnectionEntity(name="registry", kind="registry",
                                 schema={"url": "registry.example.org:5000", "insecure": True},
                                 secret=ResourceReference("registry-auth")),
    "code": ConnectionEntity(name="code", kind="git", schema={"url": "https://git.example.org/org/app.git"},
                             secret=ResourceReference("git-login", items=("POLYAXON_GIT_CREDENTIALS",))),
    "datasets": ConnectionEntity(name="datasets", kind="volume_claim",
                                 schema={"volumeClaim": "datasets", "mountPath": "/data"}),
}


def make_request(init: list[dict[str, Any]] | None = None, key: str = "c0ffee" * 10 + "abcd",
                 attempt: int = 1, **patch: Any) -> BuildRequest:
    entries = init if init is not None else [
        {"connection": "code", "git": {"revision": "4f2c1e0"}},
        {"connection": "datasets", "paths": ["vocab.txt"]},
        {"dockerfile": {"image": "python:3.11-slim", "run": ["pip install -r app/requirements.txt"]}},
    ]
    steps = initializers.plan(entries, Path(CONTEXT), Path(CONTEXT), CATALOG.__getitem__, lambda _: True)
    dockerfile = next(step for step in steps if step.kind == "dockerfile")
    return BuildRequest(
        run=RunEntity(uuid="0d7f98bcb90e4542b4f9893e50a905e8", project="vision", owner="team",
                      name="train", kind="job", runtime="job", status="scheduled"),
        key=key, destination="registry.example.org:5000/team/train:v1",
        dockerfile=initializers.dockerfile_text(dockerfile.value), dockerfile_path=dockerfile.destination,
        folder=FOLDER, steps=tuple(step for step in steps if step.kind != "dockerfile"),
        connection=CATALOG["registry"], run_patch=patch, attempt=attempt)


def validated(job: dict[str, Any]) -> dict[str, Any]:
    for version in VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)
    return job


def test_the_build_job_makes_the_context_then_runs_kaniko_and_is_valid() -> None:
    job = validated(build_job(make_request(
        container={"resources": {"limits": {"cpu": "2", "memory": "4Gi"}}},
        environment={"nodeSelector": {"pool": "builds"}, "serviceAccountName": "builder",
                     "tolerations": [{"key": "builds", "operator": "Exists", "effect": "NoSchedule"}]}),
        NAMESPACE, "kaniko:test", "init:test"))

    pod = job["spec"]["template"]["spec"]
    init = pod["initContainers"]
    records = [json.loads(container["args"][0]) for container in init]
    assert [record["kind"] for record in records] == ["git", "paths", "file"]
    assert records[0]["destination"] == "/plx-context/app"
    assert records[1]["value"]["root"] == "/data", "copied from where the claim is mounted"
    assert records[2] == {"kind": "file", "destination": "/plx-context/Dockerfile", "sources": [],
                          "value": {"content": make_request().dockerfile}}
    assert {"name": "POLYAXON_GIT_CREDENTIALS", "valueFrom": {"secretKeyRef": {
        "name": "git-login", "key": "POLYAXON_GIT_CREDENTIALS"}}} in init[0]["env"]
    assert "env" not in init[2], "the git login goes to the git step only"
    kaniko = pod["containers"][0]
    assert kaniko["args"] == ["--context=dir:///plx-context", "--dockerfile=/plx-context/Dockerfile",
                              "--destination=registry.example.org:5000/team/train:v1",
                              "--digest-file=/dev/termination-log", "--insecure", "--skip-tls-verify"]
    assert {"name": "registry-auth", "mountPath": "/kaniko/.docker",
            "readOnly": True} in kaniko["volumeMounts"]
    assert {"name": "registry-auth", "secret": {"secretName": "registry-auth", "items": [
        {"key": ".dockerconfigjson", "path": "config.json"}]}} in pod["volumes"]
    assert kaniko["resources"] == {"limits": {"cpu": "2", "memory": "4Gi"}}
    assert (pod["nodeSelector"], pod["serviceAccountName"]) == ({"pool": "builds"}, "builder")
    assert job["spec"]["backoffLimit"] == 0
    assert job["metadata"]["labels"]["polyaxon.io/build-key"] == make_request().key[:63], "a label holds 63"


def test_a_build_started_again_is_another_job_and_names_fit_kubernetes() -> None:
    first, second = job_name(make_request()), job_name(make_request(attempt=2))

    assert first != second and second.endswith("-2")
    assert max(len(first), len(second)) <= 63


def test_a_store_paths_initializer_without_a_connection_is_refused() -> None:
    from polyaxon_core.interfaces.builder import BuildRequest as Request

    request = make_request()
    store_paths = initializers.plan([{"paths": ["0d7f98bcb90e4542b4f9893e50a905e8/outputs/x"]}],
                                    Path(CONTEXT), Path(CONTEXT), CATALOG.__getitem__, lambda _: True)
    broken = Request(**{**request.__dict__, "steps": store_paths})

    with pytest.raises(ValueError, match="host_path or volume_claim connection"):
        build_job(broken, NAMESPACE, "kaniko:test", "init:test")


# -- over HTTP, against the stand-in --------------------------------------------------


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[standin.StandIn]:
    running = standin.start(standin.Cluster(kubelet=False))
    monkeypatch.setenv("POLYAXON_K8S_API", running.url)
    monkeypatch.setenv("POLYAXON_K8S_NAMESPACE", NAMESPACE)
    yield running
    running.close()


@pytest.fixture
def builder(cluster: standin.StandIn, polyaxon_settings: Settings) -> KanikoBuilder:
    return KanikoBuilder(polyaxon_settings)


def _end_pod(cluster: standin.StandIn, name: str, code: int, message: str = "", log: str = "") -> None:
    """What the kubelet would write once Kaniko exits."""
    pods = cluster.cluster.find("pods", NAMESPACE, f"job-name={name}")
    assert len(pods) == 1, "the Job controller made the build's pod"
    pod = pods[0]["metadata"]["name"]
    if log:
        (cluster.cluster.workdir / f"{NAMESPACE}-{pod}.log").write_text(log)
    cluster.cluster.patch("pods", NAMESPACE, pod, {"status": {
        "phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [{
            "name": "kaniko", "ready": False, "restartCount": 0, "image": "kaniko:test", "imageID": "",
            "state": {"terminated": {"exitCode": code, "message": message,
                                     "reason": "Completed" if code == 0 else "Error"}}}]}}, status=True)


def test_a_build_succeeds_with_the_image_pinned_by_its_digest(
    builder: KanikoBuilder, cluster: standin.StandIn,
) -> None:
    handle = builder.start(make_request())
    running = builder.poll(handle)
    _end_pod(cluster, handle["job"], 0, message=DIGEST)

    done = builder.poll(handle)

    assert running.status == "running"
    assert (done.status, done.image) == ("succeeded", f"registry.example.org:5000/team/train@{DIGEST}")
    assert [job["metadata"]["name"] for job in cluster.cluster.find("jobs", NAMESPACE)] == [handle["job"]]


def test_starting_a_build_already_in_the_cluster_adopts_it(
    builder: KanikoBuilder, cluster: standin.StandIn,
) -> None:
    first = builder.start(make_request())
    again = KanikoBuilder(builder.settings).start(make_request())

    assert first == again
    assert len(cluster.cluster.find("jobs", NAMESPACE)) == 1
    posts = [path for method, path in cluster.cluster.requests if method == "POST" and path.endswith("/jobs")]
    assert len(posts) == 2, "created once, then found there (409)"


def test_a_failed_build_reports_kanikos_last_log_lines(
    builder: KanikoBuilder, cluster: standin.StandIn,
) -> None:
    handle = builder.start(make_request())
    log = "".join(f"INFO line {index}\n" for index in range(40)) + \
        "error building image: error building stage: failed to execute command: exit status 3\n"
    _end_pod(cluster, handle["job"], 1, log=log)

    failed = builder.poll(handle)

    assert failed.status == "failed"
    assert failed.message is not None
    assert "exit status 3" in failed.message and "INFO line 39" in failed.message
    assert "INFO line 5\n" not in failed.message, "only the last lines"


def test_an_unreachable_cluster_is_a_wait_and_a_refusal_fails_the_build(
    builder: KanikoBuilder, cluster: standin.StandIn,
) -> None:
    cluster.cluster.fail("POST", "/jobs$", 503)
    with pytest.raises(BuildUnavailable):
        builder.start(make_request())
    cluster.cluster.fail("POST", "/jobs$", 403, message="jobs.batch is forbidden")
    with pytest.raises(ValueError, match="forbidden"):
        builder.start(make_request())
    no_registry = BuildRequest(**{**make_request().__dict__, "connection": None})
    with pytest.raises(ValueError, match="give build.connection"):
        builder.start(no_registry)
    assert cluster.cluster.find("jobs", NAMESPACE) == []
