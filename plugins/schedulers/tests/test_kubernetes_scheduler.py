"""The Kubernetes scheduler over HTTP, through the official client, against the API
stand-in of :mod:`polyaxon_schedulers.kubernetes.standin` on 127.0.0.1.

No Kubernetes cluster exists on these machines: the stand-in is a mock of the API server,
with a Job controller and (for the contract) a kubelet that runs a pod's command as a
process here. What the scheduler sends is checked against the official schemas (strict
``kubernetes-validate``) as the stand-in receives it. Not run: a real API server,
admission, real images, the kubelet's own reasons (the tests write them).
"""

from __future__ import annotations

import dataclasses
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from polyaxon_schedulers.kubernetes import standin
from polyaxon_schedulers.kubernetes.scheduler import KubernetesScheduler

from polyaxon_core.config import ConfigurationError, Settings
from polyaxon_core.entities import ContainerSpec, LaunchRequest, RunEntity, StatusUpdate
from polyaxon_core.interfaces.scheduler import ActiveRun, SchedulerUnavailable
from polyaxon_core.testing import SchedulerContract
from polyaxon_core.testing.scheduler import wait_until

NAMESPACE = "ml-runs"


@pytest.fixture
def kubelet() -> bool:
    return True


@pytest.fixture
def cluster(kubelet: bool, monkeypatch: pytest.MonkeyPatch) -> Iterator[standin.StandIn]:
    running = standin.start(standin.Cluster(kubelet=kubelet))
    monkeypatch.setenv("POLYAXON_K8S_API", running.url)
    monkeypatch.setenv("POLYAXON_K8S_NAMESPACE", NAMESPACE)
    yield running
    running.close()


@pytest.fixture
def scheduler(cluster: standin.StandIn, polyaxon_settings: Settings) -> Iterator[KubernetesScheduler]:
    made = KubernetesScheduler(polyaxon_settings)
    yield made
    made.close()


@pytest.fixture
def make_launch() -> Callable[..., LaunchRequest]:
    def make(script: str, env: dict[str, str] | None = None, **section: Any) -> LaunchRequest:
        run_uuid = uuid.uuid4().hex
        run = RunEntity(uuid=run_uuid, project="contract", owner="default", name="contract",
                        kind="job", runtime="job", status="scheduled", meta_info={"attempts": 1})
        return LaunchRequest(
            run=run,
            container=ContainerSpec(image="python:3.11-slim", command=(sys.executable, "-c", script)),
            env={"POLYAXON_RUN_UUID": run_uuid, "POLYAXON_AUTH_TOKEN": "token-" + run_uuid, **(env or {})},
            run_path=f"/srv/runs/{run_uuid}",
            run_section={"kind": "job", **section},
        )

    return make


class TestKubernetesScheduler(SchedulerContract):
    """Exit codes, the run context, idempotent submission, graceful then forced stops and
    a new scheduler object adopting earlier runs, through the API."""


def _wait_for(scheduler: KubernetesScheduler, launch: LaunchRequest, handle: Any,
              predicate: Callable[[StatusUpdate], bool], status: str = "running") -> StatusUpdate:
    run = dataclasses.replace(launch.run, status=status)
    seen: list[StatusUpdate] = []

    def reached() -> bool:
        seen.append(scheduler.poll(run, handle))
        return predicate(seen[-1])

    wait_until(reached)
    return seen[-1]


def _pod(cluster: standin.StandIn, launch: LaunchRequest) -> dict[str, Any]:
    pods = cluster.cluster.find("pods", NAMESPACE, f"polyaxon.io/run-uuid={launch.run.uuid}")
    assert pods, "the Job controller made no pod"
    return pods[-1]


def test_the_token_is_in_a_secret_and_every_object_is_labelled_with_the_run(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
) -> None:
    launch = make_launch("import os; assert os.environ['POLYAXON_AUTH_TOKEN'].startswith('token-')")
    handle = scheduler.submit(launch)
    update = _wait_for(scheduler, launch, handle, lambda u: u.status in {"succeeded", "failed"})
    assert update.status == "succeeded"
    secret = cluster.cluster.get("secrets", NAMESPACE, f"plx-{launch.run.uuid}-context")
    job = cluster.cluster.get("jobs", NAMESPACE, f"plx-{launch.run.uuid}")
    assert secret is not None and job is not None
    assert "token-" + launch.run.uuid not in str(job)
    for obj in (secret, job, _pod(cluster, launch)):
        labels = obj["metadata"]["labels"]
        assert labels["polyaxon.io/run-uuid"] == launch.run.uuid
        assert labels["app.kubernetes.io/managed-by"] == "polyaxon-core"
        assert labels["polyaxon.io/attempt"] == "1"
    scheduler.cleanup(launch.run, handle)
    assert cluster.cluster.find("jobs", NAMESPACE) == []
    assert cluster.cluster.find("secrets", NAMESPACE) == []
    assert cluster.cluster.find("pods", NAMESPACE) == []


def test_a_job_with_a_ttl_is_left_to_kubernetes_but_its_secret_goes(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
) -> None:
    launch = dataclasses.replace(make_launch("pass"), termination={"ttl": 600})
    handle = scheduler.submit(launch)
    assert _wait_for(scheduler, launch, handle, lambda u: u.status == "succeeded")
    scheduler.cleanup(launch.run, handle)
    kept = cluster.cluster.find("jobs", NAMESPACE)
    assert [job["spec"]["ttlSecondsAfterFinished"] for job in kept] == [600]
    assert cluster.cluster.find("secrets", NAMESPACE) == []


@pytest.mark.parametrize("kubelet", [False])
def test_statuses_follow_the_pods_and_the_job(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
) -> None:
    """Pods driven by the test as a kubelet would: unschedulable, an image it cannot pull,
    running, an OOMKilled pod the Job retries, and the Job failing for good."""
    launch = dataclasses.replace(make_launch("pass"), termination={"max_retries": 1})
    handle = scheduler.submit(launch)
    pod = _pod(cluster, launch)["metadata"]["name"]
    api = cluster.cluster
    assert _wait_for(scheduler, launch, handle, lambda u: True, "starting").status == "starting"

    api.patch("pods", NAMESPACE, pod, {"status": {"conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]}}, status=True)
    update = _wait_for(scheduler, launch, handle, lambda u: u.status == "unschedulable")
    assert update.message == "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."

    waiting = {"name": "polyaxon-main", "image": "python:3.11-slim", "ready": False, "restartCount": 0,
               "imageID": "", "state": {"waiting": {"reason": "ImagePullBackOff",
                                                    "message": "Back-off pulling image"}}}
    api.patch("pods", NAMESPACE, pod, {"status": {
        "conditions": [{"type": "PodScheduled", "status": "True"}], "containerStatuses": [waiting]}},
        status=True)
    update = _wait_for(scheduler, launch, handle, lambda u: u.status == "warning")
    assert update.reason == "ImagePullBackOff" and "python:3.11-slim" in (update.message or "")

    running = {"name": "polyaxon-main", "image": "python:3.11-slim", "ready": True, "restartCount": 0,
               "imageID": "", "state": {"running": {"startedAt": "2026-12-04T10:00:00Z"}}}
    api.patch("pods", NAMESPACE, pod, {"status": {"phase": "Running", "containerStatuses": [running]}},
              status=True)
    assert _wait_for(scheduler, launch, handle, lambda u: u.status == "running")

    oom = {**running, "ready": False, "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}
    api.patch("pods", NAMESPACE, pod, {"status": {"phase": "Failed", "containerStatuses": [oom]}},
              status=True)
    update = _wait_for(scheduler, launch, handle, lambda u: u.status == "warning")
    assert update.reason == "OOMKilled" and pod in (update.message or "")

    second = [p["metadata"]["name"] for p in api.find("pods", NAMESPACE) if p["metadata"]["name"] != pod]
    assert len(second) == 1, "the Job controller starts one more pod (backoffLimit 1)"
    api.patch("pods", NAMESPACE, second[0], {"status": {"phase": "Failed", "reason": "Evicted",
                                                        "message": "The node was low on memory."}},
              status=True)
    update = _wait_for(scheduler, launch, handle, lambda u: u.status == "failed")
    assert update.reason == "Evicted"
    assert "The node was low on memory." in (update.message or "")
    assert "backoff limit" in (update.message or "")


@pytest.mark.parametrize("kubelet", [False])
def test_a_watch_that_expired_lists_again(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
) -> None:
    launch = make_launch("pass")
    handle = scheduler.submit(launch)
    assert scheduler.poll(launch.run, handle).status == "starting"
    watchers = {plural: scheduler._watcher(plural) for plural in ("jobs", "pods")}
    wait_until(lambda: all(w.synced.is_set() for w in watchers.values()))
    lists = watchers["pods"].lists
    # the events the watch would resume from are forgotten; the next one it gets is 410
    cluster.cluster.expire_events()
    pod = _pod(cluster, launch)["metadata"]["name"]
    cluster.cluster.patch("pods", NAMESPACE, pod, {"status": {"phase": "Running"}}, status=True)
    wait_until(lambda: watchers["pods"].lists > lists)
    assert _wait_for(scheduler, launch, handle, lambda u: u.status == "running")


def test_a_second_submission_adopts_what_the_first_created(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
    polyaxon_settings: Settings,
) -> None:
    launch = make_launch("pass")
    # the first scheduler died after creating the Secret, before the Job
    cluster.cluster.fail("POST", "/jobs$", 503)
    with pytest.raises(SchedulerUnavailable, match="503"):
        scheduler.submit(launch)
    assert cluster.cluster.find("jobs", NAMESPACE) == []
    successor = KubernetesScheduler(polyaxon_settings)
    handle = successor.submit(launch)
    assert _wait_for(successor, launch, handle, lambda u: u.status == "succeeded")
    assert len(cluster.cluster.find("secrets", NAMESPACE)) == 1
    successor.close()


def test_a_later_attempt_has_objects_of_its_own_and_a_stranger_is_not_adopted(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
) -> None:
    launch = dataclasses.replace(make_launch("pass"), termination={"ttl": 600})
    handle = scheduler.submit(launch)
    assert _wait_for(scheduler, launch, handle, lambda u: u.status == "succeeded")
    scheduler.cleanup(launch.run, handle)  # the Job stays for its ttl
    again = dataclasses.replace(launch, run=dataclasses.replace(launch.run, meta_info={"attempts": 2}))
    second = scheduler.submit(again)
    assert second["workload"][2] == f"plx-{launch.run.uuid}-2"
    assert _wait_for(scheduler, again, second, lambda u: u.status == "succeeded")
    assert {job["metadata"]["name"] for job in cluster.cluster.find("jobs", NAMESPACE)} == {
        f"plx-{launch.run.uuid}", f"plx-{launch.run.uuid}-2"}

    stranger = make_launch("pass")
    cluster.cluster.create("secrets", NAMESPACE, {"metadata": {
        "name": f"plx-{stranger.run.uuid}-context", "labels": {"app": "someone-else"}}})
    with pytest.raises(RuntimeError, match="already exists in namespace ml-runs and is not this attempt's"):
        scheduler.submit(stranger)


@pytest.mark.parametrize(("code", "expected"), [
    (403, "needs the right to create jobs in namespace ml-runs"),
    (404, "Does namespace ml-runs exist"),
    (422, r"\(422 Invalid\): spec.template is bad"),
])
def test_a_refusal_of_the_cluster_fails_the_launch_with_its_message(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
    code: int, expected: str,
) -> None:
    cluster.cluster.fail("POST", "/jobs$", code, message="spec.template is bad" if code == 422 else "")
    with pytest.raises(RuntimeError, match=expected):
        scheduler.submit(make_launch("pass"))


def test_an_invalid_object_is_refused_by_the_schemas_with_the_field(
    scheduler: KubernetesScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    launch = make_launch("pass", environment={"nodeSelector": {"disk": 1}})
    with pytest.raises(RuntimeError, match=r"422 Invalid\).*nodeSelector"):
        scheduler.submit(launch)


def test_an_unreachable_api_server_is_waited_for(
    polyaxon_settings: Settings, make_launch: Callable[..., LaunchRequest], monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("POLYAXON_K8S_API", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("POLYAXON_K8S_NAMESPACE", NAMESPACE)
    unreachable = KubernetesScheduler(polyaxon_settings)
    launch = make_launch("pass")
    with pytest.raises(SchedulerUnavailable, match=f"127.0.0.1:{port} cannot be reached"):
        unreachable.submit(launch)
    running = dataclasses.replace(launch.run, status="running")
    handle = {"workload": ["batch/v1", "jobs", f"plx-{launch.run.uuid}"], "attempt": 1}
    with pytest.raises(SchedulerUnavailable):
        unreachable.sync([ActiveRun(running, handle)])
    unreachable.close()


def test_a_job_deleted_from_outside_is_lost(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
) -> None:
    launch, handle = _started(scheduler, make_launch)
    cluster.cluster.delete("jobs", NAMESPACE, f"plx-{launch.run.uuid}", grace=0)
    update = _wait_for(scheduler, launch, handle, lambda u: u.status == "failed")
    assert update.reason == "lost"


def _started(scheduler: KubernetesScheduler,
             make_launch: Callable[..., LaunchRequest]) -> tuple[LaunchRequest, Any]:
    launch = make_launch("import time; time.sleep(120)")
    handle = scheduler.submit(launch)
    _wait_for(scheduler, launch, handle, lambda u: u.status == "running", "starting")
    return launch, handle


def test_without_a_cluster_the_scheduler_says_how_to_name_one(
    polyaxon_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
) -> None:
    for name in ("POLYAXON_K8S_API", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    with pytest.raises(ConfigurationError, match="POLYAXON_K8S_API"):
        KubernetesScheduler(polyaxon_settings)


def test_the_pod_output_is_in_the_run_log_before_the_run_ends(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
    polyaxon_settings: Settings,
) -> None:
    from polyaxon_core.plugins import create

    launch = make_launch("import sys\nfor i in range(3): print('line', i)\nprint('oops', file=sys.stderr)")
    handle = scheduler.submit(launch)
    assert _wait_for(scheduler, launch, handle, lambda u: u.status == "succeeded")
    log = create("store", polyaxon_settings.store, polyaxon_settings).read_log(launch.run.uuid).data
    assert log.decode().splitlines() == ["line 0", "line 1", "line 2", "oops"]
    annotations = _pod(cluster, launch)["metadata"]["annotations"]
    assert annotations["polyaxon.io/log-shipped"] == "true"
    assert annotations["polyaxon.io/log-bytes"] == str(len(log))


@pytest.mark.parametrize("kubelet", [False])
def test_a_new_scheduler_copies_only_the_output_its_predecessor_did_not(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
    polyaxon_settings: Settings,
) -> None:
    from polyaxon_core.plugins import create

    store = create("store", polyaxon_settings.store, polyaxon_settings)
    launch = make_launch("pass")
    handle = scheduler.submit(launch)
    pod = _pod(cluster, launch)["metadata"]["name"]
    # the predecessor copied the first line, noted it on the pod and died
    (cluster.cluster.workdir / f"{NAMESPACE}-{pod}.log").write_bytes(b"first\nsecond\n")
    store.append_log(launch.run.uuid, b"first\n")
    noted = {"metadata": {"annotations": {"polyaxon.io/log-bytes": "6"}}}
    cluster.cluster.patch("pods", NAMESPACE, pod, noted)
    cluster.cluster.patch("pods", NAMESPACE, pod, {"status": {"phase": "Succeeded", "containerStatuses": [{
        "name": "polyaxon-main", "image": "python:3.11-slim", "ready": False, "restartCount": 0,
        "imageID": "", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}, status=True)
    assert _wait_for(scheduler, launch, handle, lambda u: u.status == "succeeded")
    assert store.read_log(launch.run.uuid).data == b"first\nsecond\n"


@pytest.mark.parametrize("kubelet", [False])
def test_a_tfjob_follows_the_training_operators_conditions_and_its_pods(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
) -> None:
    """No training operator runs here: the test writes its conditions and a pod, as it would."""
    worker = {"replicas": 2, "container": {"image": "tensorflow/tensorflow:2.15.0",
                                           "command": ["python", "train.py"]}}
    launch = dataclasses.replace(make_launch("pass"), container=ContainerSpec(image=None),
                                 run_section={"kind": "tfjob", "worker": worker})
    handle = scheduler.submit(launch)
    assert handle["workload"][:2] == ["kubeflow.org/v1", "tfjobs"]
    api, name = cluster.cluster, handle["workload"][2]
    assert api.get("tfjobs", NAMESPACE, name)["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == 2
    assert _wait_for(scheduler, launch, handle, lambda u: True, "starting").status == "starting"

    created = {"type": "Created", "status": "True", "reason": "TFJobCreated"}
    running = {"type": "Running", "status": "True", "reason": "TFJobRunning"}
    api.patch("tfjobs", NAMESPACE, name, {"status": {"conditions": [created, running]}}, status=True)
    assert _wait_for(scheduler, launch, handle, lambda u: u.status == "running")

    labels = {"polyaxon.io/run-uuid": launch.run.uuid, "polyaxon.io/attempt": "1",
              "app.kubernetes.io/managed-by": "polyaxon-core"}
    api.create("pods", NAMESPACE, {"metadata": {"name": f"{name}-worker-0", "labels": labels},
                                   "spec": {"containers": [{"name": "tensorflow", "image": "tf"}]}})
    api.patch("pods", NAMESPACE, f"{name}-worker-0", {"status": {"phase": "Failed", "containerStatuses": [{
        "name": "tensorflow", "image": "tf", "imageID": "", "ready": False, "restartCount": 0,
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}, status=True)
    # whether the watch brought the failed pod before the condition or not, the reason is found
    failed = {"type": "Failed", "status": "True", "reason": "TFJobFailed",
              "message": "TFJob ml-runs/plx is failed because 1 Worker replica(s) failed."}
    api.patch("tfjobs", NAMESPACE, name, {"status": {"conditions": [created, running, failed]}},
              status=True)
    update = _wait_for(scheduler, launch, handle, lambda u: u.status == "failed")
    assert update.reason == "OOMKilled" and update.exit_code == 137
    assert "1 Worker replica(s) failed" in (update.message or "")
    scheduler.cleanup(launch.run, handle)
    assert api.find("tfjobs", NAMESPACE) == [] and api.find("secrets", NAMESPACE) == []


@pytest.mark.parametrize("kubelet", [False])
def test_a_status_the_cluster_refuses_to_show_keeps_the_run_as_it_is_and_says_why(
    scheduler: KubernetesScheduler, cluster: standin.StandIn, make_launch: Callable[..., LaunchRequest],
) -> None:
    launch = make_launch("pass")
    handle = scheduler.submit(launch)
    cluster.cluster.fail("GET", "/(jobs|pods)$", 403, times=1000, message="pods is forbidden")
    running = dataclasses.replace(launch.run, status="running")
    with pytest.raises(SchedulerUnavailable, match="needs get, list and watch on jobs and pods"):
        scheduler.sync([ActiveRun(running, handle)])
