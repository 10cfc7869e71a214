"""``scheduler-kubernetes``: every run is a set of Kubernetes objects in one namespace.

Select it with ``POLYAXON_SCHEDULER=kubernetes`` (the ``kubernetes`` extra of
``polyaxon-schedulers`` installs the official client; :mod:`.api` says how it finds the
cluster). A ``job`` run becomes a Job, a ``service`` run a Deployment and a Service, each
with a Secret holding the run's token (:mod:`.manifests`).

* **Submit** creates the objects in order. A ``409 AlreadyExists`` for an object labelled
  with the same run and attempt is that object, created by this scheduler before a
  restart: it is adopted, not created twice. Another object of that name is an error
  that says so.
* **Status** comes from watches on the run Jobs, Deployments and pods of the namespace
  (one list, then a watch from its resource version, listed again after ``410 Gone``),
  kept in memory and read by :meth:`KubernetesScheduler.poll`; until the first list
  arrived, and for a run it has not seen yet, a direct read answers. A pod waiting on an
  image it cannot pull is a ``warning``; a pod the cluster cannot place ``unschedulable``,
  each with the cluster's reason; a failed pod the Job retries (``backoffLimit``) a
  ``warning`` that names why it failed (``OOMKilled``, ``Evicted``, a lost node, an exit
  code); the Job's ``Complete`` and ``Failed`` conditions end the run.
* **Stop** deletes the Job or Deployment with the grace period (``Foreground``: its pods
  get SIGTERM, the run is ``stopping`` while they end); forced, the pods are deleted with
  no grace.
* **Cleanup** (once the run is final) deletes every object of the run; a Job with
  ``termination.ttl`` is left to Kubernetes to collect after that time.
* An API server that cannot be reached, or answers 5xx or 429, is waited for: the run
  stays scheduled (submit) or keeps its status (poll) until it answers. A 403 or 422 fails
  the run with the cluster's message.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from polyaxon_core.config import ConfigurationError, Settings, _float_setting
from polyaxon_core.entities import LaunchRequest, RunEntity, StatusUpdate
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Scheduler
from polyaxon_core.interfaces.scheduler import SchedulerUnavailable
from polyaxon_core.lifecycle import is_final
from polyaxon_schedulers.kubernetes.api import KubeApi, KubeError, configured_namespace, plural_of
from polyaxon_schedulers.kubernetes.manifests import (
    CONTEXT_PATH,
    DEFAULT_INIT_IMAGE,
    DISTRIBUTED,
    KUBEFLOW_VERSION,
    MAIN,
    MANAGED_BY,
    POD_CONTEXT,
    STORE_PATHS,
    attempt_of,
    render,
)
from polyaxon_schedulers.kubernetes.sidecar import DEFAULT_INTERVAL as DEFAULT_SIDECAR_INTERVAL

logger = logging.getLogger(__name__)

#: the run context values kept in the run's Secret rather than in its pod spec
SECRET_CONTEXT = ("POLYAXON_AUTH_TOKEN",)
#: what a waiting container's reason means for the run
IMAGE_PROBLEMS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                            "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError"})
#: a watch is renewed this often (seconds), as clients of Kubernetes do
WATCH_SECONDS = 240
#: the longest wait before a failed watch is listed again (seconds; doubling from 2)
MAX_RETRY_SECONDS = 60.0
#: how long a poll waits for a watch's first list before asking the API itself
SYNC_WAIT = 2.0
RUN_LABEL = "polyaxon.io/run-uuid"
LOG_BYTES = "polyaxon.io/log-bytes"
LOG_SHIPPED = "polyaxon.io/log-shipped"
ATTEMPT_LABEL = "polyaxon.io/attempt"
#: the resources whose objects a run's status is read from, and their API versions
VERSIONS = {"jobs": "batch/v1", "deployments": "apps/v1", "pods": "v1",
            **{plural_of(kind.kind): KUBEFLOW_VERSION for kind in DISTRIBUTED.values()}}


class Watcher:
    """One resource of the namespace, listed then watched, kept by run uuid."""

    def __init__(self, api: KubeApi, api_version: str, plural: str, stopping: threading.Event,
                 retry_seconds: float = 2.0) -> None:
        self.api, self.api_version, self.plural = api, api_version, plural
        self.stopping = stopping
        self.retry_seconds = retry_seconds
        self.synced = threading.Event()
        self.lock = threading.Lock()
        self.by_run: dict[str, dict[str, dict[str, Any]]] = {}
        self.lists = 0
        self.thread = threading.Thread(target=self._loop, name=f"kubernetes-watch-{plural}",
                                       daemon=True)

    def objects(self, run_uuid: str) -> list[dict[str, Any]] | None:
        """The run's objects as last seen; ``None`` before the first list."""
        if not self.synced.is_set():
            return None
        with self.lock:
            return list(self.by_run.get(run_uuid, {}).values())

    def _loop(self) -> None:
        selector = f"app.kubernetes.io/managed-by={MANAGED_BY}"
        version: str | None = None
        failures = 0
        while not self.stopping.is_set():
            try:
                if version is None:
                    version = self._list(selector)
                version = self._follow(selector, version)
                failures = 0
            except Exception as exc:  # noqa: BLE001 — the API or urllib3: listed again later
                failures += 1
                wait = min(self.retry_seconds * 2 ** (failures - 1), MAX_RETRY_SECONDS)
                logger.warning("watching %s failed, listed again in %gs: %s", self.plural, wait, exc)
                version = None
                self.stopping.wait(wait)

    def _list(self, selector: str) -> str:
        listed = self.api.list(self.api_version, self.plural, selector)
        by_run: dict[str, dict[str, dict[str, Any]]] = {}
        for obj in listed.get("items") or []:
            uuid = (obj["metadata"].get("labels") or {}).get(RUN_LABEL)
            if uuid:
                by_run.setdefault(uuid, {})[obj["metadata"]["name"]] = obj
        with self.lock:
            self.by_run = by_run
            self.lists += 1
        self.synced.set()
        return str(listed["metadata"]["resourceVersion"])

    def _follow(self, selector: str, version: str) -> str | None:
        """Apply events until the watch ends; the version to go on from, ``None`` to list."""
        for event in self.api.watch(self.api_version, self.plural, selector, version, WATCH_SECONDS):
            if self.stopping.is_set():
                return version
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") != 410:
                    logger.warning("watching %s: %s", self.plural, obj.get("message"))
                return None  # 410 Gone: the version is too old; list again
            version = str(obj["metadata"].get("resourceVersion") or version)
            if kind == "BOOKMARK":
                continue
            uuid = (obj["metadata"].get("labels") or {}).get(RUN_LABEL)
            if not uuid:
                continue
            with self.lock:
                objects = self.by_run.setdefault(uuid, {})
                if kind == "DELETED":
                    objects.pop(obj["metadata"]["name"], None)
                    if not objects:
                        del self.by_run[uuid]
                else:
                    objects[obj["metadata"]["name"]] = obj
        return version


class LogShipper:
    """Copies the main container's output of each pod into the run's log in the store.

    A pod's log is followed while it runs; how much was copied is written on the pod
    (annotation ``polyaxon.io/log-bytes``, at most every :attr:`progress_seconds` and at
    the end, with ``polyaxon.io/log-shipped``), so a scheduler started again goes on where
    the last one stopped rather than copying it twice (at most the output of those seconds
    is). A run is reported final only once its pods' logs are all in the store."""

    progress_seconds = 10.0

    def __init__(self, api: KubeApi, settings: Settings, stopping: threading.Event,
                 seen: Callable[[str, str], dict[str, Any] | None]) -> None:
        self.api, self.settings, self.stopping = api, settings, stopping
        #: (run uuid, pod name) -> the pod as the watch last saw it (None: not seen)
        self.seen = seen
        self.lock = threading.Lock()
        self.following: dict[str, threading.Thread] = {}
        #: run uuid -> its pods whose output is all in the store
        self.shipped: dict[str, set[str]] = {}
        self._store: Any = None

    def store(self) -> Any:
        if self._store is None:
            from polyaxon_core.plugins import create

            self._store = create("store", self.settings.store, self.settings)
        return self._store

    def done(self, run_uuid: str, pods: list[dict[str, Any]]) -> bool:
        """Whether every pod's output is in the store; follows those not yet followed."""
        complete = True
        for pod in pods:
            name = pod["metadata"]["name"]
            annotations = pod["metadata"].get("annotations") or {}
            if name in self.shipped.get(run_uuid, ()) or annotations.get(LOG_SHIPPED) == "true":
                continue
            status = pod.get("status") or {}
            main = _main_container(pod)
            started = any((c.get("state") or {}).keys() & {"running", "terminated"}
                          for c in status.get("containerStatuses") or [] if c.get("name") == main)
            if not started:
                if status.get("phase") in {"Succeeded", "Failed"}:
                    continue  # ended before its container started: no output
                complete = False
                continue
            complete = False
            with self.lock:
                if name not in self.following:
                    skip = int(annotations.get(LOG_BYTES, "0") or 0)
                    thread = threading.Thread(target=self._follow, args=(run_uuid, name, main, skip),
                                              name=f"kubernetes-log-{name}", daemon=True)
                    self.following[name] = thread
                    thread.start()
        return complete

    def forget(self, run_uuid: str) -> None:
        """The run is final and its log whole: what was kept for its pods goes."""
        with self.lock:
            self.shipped.pop(run_uuid, None)

    def _follow(self, run_uuid: str, pod: str, container: str, skip: int) -> None:
        copied = skip
        try:
            while not self.stopping.is_set():
                position, noted = 0, time.monotonic()
                for chunk in self.api.log(pod, container, follow=True):
                    if position + len(chunk) > copied:
                        self.store().append_log(run_uuid, chunk[max(copied - position, 0):])
                        copied = position + len(chunk)
                    position += len(chunk)
                    if time.monotonic() - noted >= self.progress_seconds:
                        self._note(pod, {LOG_BYTES: str(copied)})
                        noted = time.monotonic()
                if self._ended(run_uuid, pod):
                    break
                self.stopping.wait(1.0)  # ended early (a lost connection): asked for again
            self._note(pod, {LOG_BYTES: str(copied), LOG_SHIPPED: "true"})
            self._shipped(run_uuid, pod)
        except KubeError as exc:
            if exc.code == 404:  # the pod is gone, and its output with it
                self._shipped(run_uuid, pod)
            else:
                logger.warning("the log of pod %s could not be read: %s", pod, exc)
        except Exception as exc:  # noqa: BLE001 — followed again on the next poll
            logger.warning("the log of pod %s broke off, followed again: %s", pod, exc)
        finally:
            with self.lock:
                self.following.pop(pod, None)

    def _shipped(self, run_uuid: str, pod: str) -> None:
        with self.lock:
            self.shipped.setdefault(run_uuid, set()).add(pod)

    def _ended(self, run_uuid: str, pod: str) -> bool:
        """Whether the pod's containers are done: its output stream ended, the watch says
        so within a moment; else the API is asked."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not self.stopping.is_set():
            seen = self.seen(run_uuid, pod)
            if seen is not None and (seen.get("status") or {}).get("phase") in {"Succeeded", "Failed"}:
                return True
            self.stopping.wait(0.05)
        found = self.api.read("v1", "pods", pod)
        return found is None or (found.get("status") or {}).get("phase") in {"Succeeded", "Failed"}

    def _note(self, pod: str, annotations: Mapping[str, str]) -> None:
        try:
            self.api.patch("v1", "pods", pod, {"metadata": {"annotations": dict(annotations)}})
        except KubeError as exc:
            if exc.code != 404:
                raise


class KubernetesScheduler(Scheduler):
    name = "kubernetes"
    description = "Runs each operation as Kubernetes objects (a Job, or a Deployment and a Service)."
    supports_services: ClassVar[bool] = True
    survives_orchestrator_restart: ClassVar[bool] = True
    retries_itself: ClassVar[bool] = True

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings, clock)
        self.api = KubeApi.from_environment()
        self.namespace = self.api.namespace
        self.init_image = init_image()
        self.outputs_interval = outputs_interval()
        self._stopping = threading.Event()
        self._watchers: dict[str, Watcher] = {}
        self._started = threading.Lock()
        self.logs = LogShipper(self.api, settings, self._stopping, self._seen_pod)
        weakref.finalize(self, self._stopping.set)

    # ------------------------------------------------------------------ submit
    @classmethod
    def run_globals(cls, settings: Settings) -> dict[str, Any]:
        """A pod's paths (``/plx-context``) and namespace: ``{{ globals.run_outputs_path }}``
        in a command names the folder the pod has."""
        return {"namespace": configured_namespace(), "context_path": CONTEXT_PATH,
                "bind_address": "0.0.0.0",
                "run_artifacts_path": POD_CONTEXT["POLYAXON_RUN_ARTIFACTS_PATH"],
                "run_outputs_path": POD_CONTEXT["POLYAXON_RUN_OUTPUTS_PATH"]}

    @classmethod
    def check_run(cls, run: Mapping[str, Any]) -> list[tuple[str, str]]:
        kind = str(run.get("kind") or "job")
        if kind in {"dag"}:
            return []
        if kind in DISTRIBUTED:
            return _replica_problems(kind, run)
        if kind not in {"job", "service"}:
            return [("run.kind", f"`{kind}` does not run on Kubernetes yet; use a job, a service "
                                 f"or one of {', '.join(DISTRIBUTED)}")]
        problems = _image_problems("run.container", run.get("container"))
        for index, entry in enumerate(run.get("init") or []):
            if isinstance(entry, Mapping) and (entry.get("paths") or entry.get("artifacts")) \
                    and not entry.get("connection"):
                problems.append((f"run.init[{index}]", STORE_PATHS))
        return problems

    @classmethod
    def describe(cls, settings: Settings, launch: LaunchRequest) -> list[dict[str, Any]]:
        """The objects :meth:`submit` would create, with the Secret's values left out."""
        objects = manifests(launch, configured_namespace(), init_image(), outputs_interval())
        for obj in objects:
            if obj["kind"] == "Secret":
                obj["stringData"] = {key: "(set when the run starts)" for key in obj["stringData"]}
        return objects

    def submit(self, launch: LaunchRequest) -> Mapping[str, Any]:
        objects = manifests(launch, self.namespace, self.init_image, self.outputs_interval)
        attempt = objects[0]["metadata"]["labels"][ATTEMPT_LABEL]
        for obj in objects:
            self._create(obj, launch.run.uuid, attempt)
        workload = next(obj for obj in objects if obj["kind"] not in {"Secret", "Service"})
        service = next((obj for obj in objects if obj["kind"] == "Service"), None)
        return {
            # where the server's proxy reaches a service: its Service's name in the cluster
            **({"service": {"host": f"{service['metadata']['name']}.{self.namespace}.svc",
                            "ports": {str(port): port for port in launch.ports}}}
               if service is not None else {}),
            "namespace": self.namespace,
            "attempt": int(attempt),
            "workload": [workload["apiVersion"], plural_of(workload["kind"]), workload["metadata"]["name"]],
            "objects": [[obj["apiVersion"], plural_of(obj["kind"]), obj["metadata"]["name"]]
                        for obj in objects],
            "keep": "ttlSecondsAfterFinished" in workload.get("spec", {}),
        }

    def _create(self, obj: dict[str, Any], run_uuid: str, attempt: str) -> None:
        name = obj["metadata"]["name"]
        try:
            self.api.create(obj)
            return
        except KubeError as exc:
            if exc.code != 409:
                raise RuntimeError(self._refused(obj, exc)) from None
        existing = self.api.read(obj["apiVersion"], plural_of(obj["kind"]), name) or {}
        labels = existing.get("metadata", {}).get("labels") or {}
        if labels.get(RUN_LABEL) != run_uuid or labels.get(ATTEMPT_LABEL) != attempt:
            raise RuntimeError(
                f"a {obj['kind']} called {name} already exists in namespace {self.namespace} and "
                "is not this attempt's; delete it (kubectl delete "
                f"{plural_of(obj['kind'])} {name} -n {self.namespace}) and restart the run")

    def _refused(self, obj: Mapping[str, Any], exc: KubeError) -> str:
        what = f"the cluster refused to create the {obj['kind']} {obj['metadata']['name']}"
        if exc.code == 403:
            return (f"{what}: {exc.message}. The scheduler's service account needs the right to "
                    f"create {plural_of(obj['kind'])} in namespace {self.namespace}")
        if exc.code == 404:
            return f"{what}: {exc.message}. Does namespace {self.namespace} exist (POLYAXON_K8S_NAMESPACE)?"
        return f"{what} ({exc.code} {exc.reason}): {exc.message}"

    # ------------------------------------------------------------------ status
    def _watcher(self, plural: str) -> Watcher:
        """The watch of ``plural``, started on first use (a Kubeflow resource is watched
        only once a run of it exists: a cluster without the operator has no such API)."""
        with self._started:
            watcher = self._watchers.get(plural)
            if watcher is None:
                watcher = Watcher(self.api, VERSIONS[plural], plural, self._stopping)
                self._watchers[plural] = watcher
                watcher.thread.start()
        return watcher

    def _seen_pod(self, run_uuid: str, name: str) -> dict[str, Any] | None:
        for pod in self._watcher("pods").objects(run_uuid) or []:
            if pod["metadata"]["name"] == name:
                return pod
        return None

    def _objects(self, run: RunEntity, handle: Mapping[str, Any],
                 plural: str) -> list[dict[str, Any]]:
        """The run's objects of ``plural`` of this attempt, from the watch (its first list
        awaited a moment) or else from the API."""
        watcher = self._watcher(plural)
        watcher.synced.wait(SYNC_WAIT)
        found = watcher.objects(run.uuid)
        return self._listed(run, handle, plural) if found is None else _of_attempt(found, handle)

    def _listed(self, run: RunEntity, handle: Mapping[str, Any], plural: str) -> list[dict[str, Any]]:
        """The run's objects of ``plural`` of this attempt, asked of the API."""
        listed = self.api.list(VERSIONS[plural], plural, f"{RUN_LABEL}={run.uuid}").get("items") or []
        return _of_attempt(listed, handle)

    def _workload(self, run: RunEntity, handle: Mapping[str, Any]) -> dict[str, Any] | None:
        api_version, plural, name = handle["workload"]
        seen = [obj for obj in self._objects(run, handle, plural) if obj["metadata"]["name"] == name]
        if seen:
            return seen[0]
        return self.api.read(api_version, plural, name)  # created since the watch last spoke

    def poll(self, run: RunEntity, handle: Mapping[str, Any]) -> StatusUpdate:
        try:
            return self._poll(run, handle)
        except KubeError as exc:  # the runs keep their statuses until the cluster answers
            raise SchedulerUnavailable(
                f"the status of run {run.uuid} cannot be read: {exc}; the scheduler's service "
                f"account needs get, list and watch on {handle['workload'][1]} and pods in "
                f"namespace {self.namespace}") from None

    def _poll(self, run: RunEntity, handle: Mapping[str, Any]) -> StatusUpdate:
        stopping = run.status == "stopping"
        workload = self._workload(run, handle)
        if workload is None:
            if stopping:
                return StatusUpdate(run.uuid, "stopped", reason="stopped")
            return StatusUpdate(run.uuid, "failed", reason="lost",
                                message=f"{handle['workload'][2]} was deleted from the cluster "
                                        "by something other than polyaxon")
        pods = self._objects(run, handle, "pods")
        update = self._status(run, workload, pods, stopping)
        if update.status == "failed" and _last_failure(pods) is None:
            # the watch of pods may lag behind the workload's: the failed pod says why
            pods = self._listed(run, handle, "pods")
            update = self._status(run, workload, pods, stopping)
        if not self.logs.done(run.uuid, pods) and is_final(update.status):
            return StatusUpdate(run.uuid, run.status)  # final once its log is all in the store
        return update

    def _status(self, run: RunEntity, workload: Mapping[str, Any], pods: list[dict[str, Any]],
                stopping: bool) -> StatusUpdate:
        if workload["kind"] == "Job":
            return self._job_status(run, workload, pods, stopping)
        if workload["kind"] == "Deployment":
            return self._deployment_status(run, workload, pods, stopping)
        return self._distributed_status(run, workload, pods, stopping)

    def _job_status(self, run: RunEntity, job: Mapping[str, Any], pods: list[dict[str, Any]],
                    stopping: bool) -> StatusUpdate:
        conditions = {c.get("type"): c for c in job.get("status", {}).get("conditions") or []
                      if c.get("status") == "True"}
        last = _last_failure(pods)
        if "Complete" in conditions:
            return StatusUpdate(run.uuid, "succeeded", exit_code=0)
        if "Failed" in conditions:
            if stopping:
                return StatusUpdate(run.uuid, "stopped", reason="stopped")
            condition = conditions["Failed"]
            reason = "timeout" if condition.get("reason") == "DeadlineExceeded" else "failed"
            detail = condition.get("message") or condition.get("reason") or "the Job failed"
            return StatusUpdate(run.uuid, "failed", reason=last[0] if last and reason == "failed" else reason,
                                message=f"{last[1]}; {detail}" if last else detail,
                                exit_code=last[2] if last else None)
        if stopping or job["metadata"].get("deletionTimestamp"):
            return StatusUpdate(run.uuid, "stopping")
        return self._pods_status(run, pods, last, retried=True)

    def _distributed_status(self, run: RunEntity, resource: Mapping[str, Any],
                            pods: list[dict[str, Any]], stopping: bool) -> StatusUpdate:
        """From the training operator's conditions (the latest true one), else the pods."""
        conditions = [c for c in resource.get("status", {}).get("conditions") or []
                      if c.get("status") == "True"]
        latest = conditions[-1] if conditions else {}
        last = _last_failure(pods)
        if latest.get("type") == "Succeeded":
            return StatusUpdate(run.uuid, "succeeded", exit_code=0)
        if latest.get("type") == "Failed":
            if stopping:
                return StatusUpdate(run.uuid, "stopped", reason="stopped")
            detail = str(latest.get("message") or latest.get("reason") or "the training job failed")
            return StatusUpdate(run.uuid, "failed", reason=last[0] if last else "failed",
                                message=f"{last[1]}; {detail}" if last else detail,
                                exit_code=last[2] if last else None)
        if stopping or resource["metadata"].get("deletionTimestamp"):
            return StatusUpdate(run.uuid, "stopping")
        from_pods = self._pods_status(run, pods, last, retried=False)
        if from_pods.status in {"warning", "unschedulable"}:
            return from_pods
        if latest.get("type") == "Restarting":
            return StatusUpdate(run.uuid, "warning", reason="restarting",
                                message=str(latest.get("message") or "a replica is restarted"))
        if latest.get("type") == "Running":
            return StatusUpdate(run.uuid, "running")
        return from_pods

    def _deployment_status(self, run: RunEntity, deployment: Mapping[str, Any],
                           pods: list[dict[str, Any]], stopping: bool) -> StatusUpdate:
        if stopping or deployment["metadata"].get("deletionTimestamp"):
            return StatusUpdate(run.uuid, "stopping")
        update = self._pods_status(run, pods, _last_failure(pods), retried=False)
        if update.status == "running" and not any(_ready(pod) for pod in pods):
            # a service is running once its readiness probe (its port) answers
            return StatusUpdate(run.uuid, "starting" if run.status in {"scheduled", "starting"}
                                else run.status)
        return update

    @staticmethod
    def _pods_status(run: RunEntity, pods: list[dict[str, Any]],
                     last: tuple[str, str, int | None] | None, retried: bool) -> StatusUpdate:
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            status = pod.get("status") or {}
            for container in status.get("containerStatuses") or []:
                waiting = (container.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in IMAGE_PROBLEMS:
                    detail = f"{container.get('image')}: {waiting.get('message', '')}"
                    return StatusUpdate(run.uuid, "warning", reason=str(waiting["reason"]),
                                        message=detail.strip(" :"))
            for condition in status.get("conditions") or []:
                if (condition.get("type") == "PodScheduled" and condition.get("status") == "False"
                        and condition.get("reason") == "Unschedulable"):
                    return StatusUpdate(run.uuid, "unschedulable", reason="unschedulable",
                                        message=str(condition.get("message") or ""))
            if status.get("phase") == "Running":
                return StatusUpdate(run.uuid, "running")
        if last is not None and retried:
            return StatusUpdate(run.uuid, "warning", reason=last[0],
                                message=f"{last[1]}; Kubernetes starts it again")
        return StatusUpdate(run.uuid, "starting" if run.status in {"scheduled", "starting"}
                            else run.status)

    # -------------------------------------------------------------------- stop
    def stop(self, run: RunEntity, handle: Mapping[str, Any], force: bool) -> None:
        api_version, plural, name = handle["workload"]
        grace = 0 if force else int(self.settings.stop_grace_period)
        self.api.delete(api_version, plural, name, grace=grace, propagation="Foreground")
        if force:
            for pod in self._objects(run, handle, "pods"):
                self.api.delete("v1", "pods", pod["metadata"]["name"], grace=0)

    def cleanup(self, run: RunEntity, handle: Mapping[str, Any]) -> None:
        self.logs.forget(run.uuid)
        try:
            for api_version, plural, name in handle.get("objects", []):
                if handle.get("keep") and [api_version, plural, name] == list(handle["workload"]):
                    continue  # termination.ttl: Kubernetes deletes it after that time
                self.api.delete(api_version, plural, name, propagation="Background")
        except (KubeError, SchedulerUnavailable) as exc:
            logger.warning("the objects of run %s were not all deleted: %s", run.uuid, exc)

    def close(self) -> None:
        self._stopping.set()


def _image_problems(path: str, container: Any) -> list[tuple[str, str]]:
    if isinstance(container, Mapping) and container.get("image"):
        return []
    return [(f"{path}.image", "Kubernetes runs images: name the one the command runs in, "
                              "e.g. image: python:3.11-slim")]


def _replica_problems(kind: str, run: Mapping[str, Any]) -> list[tuple[str, str]]:
    roles = DISTRIBUTED[kind].roles
    given = [role for role in roles if isinstance(run.get(role), Mapping)]
    if not given:
        return [("run", f"a `{kind}` needs at least one replica: {', '.join(roles)}")]
    problems: list[tuple[str, str]] = []
    for role in given:
        replica = run[role]
        problems += _image_problems(f"run.{role}.container", replica.get("container"))
        for field_name in ("init", "connections"):
            if replica.get(field_name):
                problems.append((f"run.{role}.{field_name}", f"a replica's `{field_name}` does not act "
                                                             "on Kubernetes yet; remove it"))
    return problems


def init_image() -> str:
    return os.environ.get("POLYAXON_K8S_INIT_IMAGE", "").strip() or DEFAULT_INIT_IMAGE


def outputs_interval() -> float | None:
    """The seconds between two passes of the outputs sidecar
    (``POLYAXON_K8S_SIDECAR_INTERVAL``, 10 by default); None with ``POLYAXON_K8S_SIDECAR=off``
    (a cluster older than 1.29, which has no native sidecars)."""
    switch = os.environ.get("POLYAXON_K8S_SIDECAR", "").strip().lower() or "on"
    if switch not in {"on", "off"}:
        raise ConfigurationError(
            f"POLYAXON_K8S_SIDECAR={switch!r} is neither `on` nor `off`: `off` leaves the outputs "
            "sidecar out of the pods (clusters older than Kubernetes 1.29), `on` (the default) "
            "puts it in")
    if switch == "off":
        return None
    return _float_setting("POLYAXON_K8S_SIDECAR_INTERVAL", DEFAULT_SIDECAR_INTERVAL, minimum=1.0)


def manifests(launch: LaunchRequest, namespace: str, init: str,
              outputs: float | None = None) -> list[dict[str, Any]]:
    """The objects of ``launch`` in ``namespace``, labelled with its attempt; ``outputs``:
    the interval of the outputs sidecar (None: none)."""
    attempt = str(attempt_of(launch))
    secret = {name: launch.env[name] for name in SECRET_CONTEXT if name in launch.env}
    objects = render(launch, namespace, init, secret, outputs)
    for obj in objects:
        obj["metadata"]["labels"][ATTEMPT_LABEL] = attempt
        template = obj.get("spec", {}).get("template")
        if template is not None:
            template["metadata"]["labels"][ATTEMPT_LABEL] = attempt
    return objects


def _last_failure(pods: list[dict[str, Any]]) -> tuple[str, str, int | None] | None:
    """Why the latest failed pod failed: (reason, message, exit code)."""
    failed = [pod for pod in pods if (pod.get("status") or {}).get("phase") == "Failed"]
    if not failed:
        return None
    # the last created; pods created in the same second in the order they were first seen
    pod = max(enumerate(failed), key=lambda item: (item[1]["metadata"].get("creationTimestamp", ""),
                                                   item[0]))[1]
    status = pod["status"]
    name = pod["metadata"]["name"]
    if status.get("reason"):  # the pod as a whole: Evicted, NodeLost, DeadlineExceeded
        return str(status["reason"]), f"pod {name}: {status.get('message') or status['reason']}", None
    for container in status.get("containerStatuses") or []:
        if container.get("name") != _main_container(pod):
            continue
        terminated = (container.get("state") or {}).get("terminated") or {}
        code = terminated.get("exitCode")
        reason = str(terminated.get("reason") or "Error")
        if reason == "OOMKilled":
            return "OOMKilled", f"pod {name}: killed for using more memory than its limit", code
        return ("exit code", f"pod {name}: the process exited with code {code}"
                + (f" ({reason})" if reason not in {"Error", "Completed"} else ""), code)
    return "failed", f"pod {name} failed", None


def _of_attempt(objects: list[dict[str, Any]], handle: Mapping[str, Any]) -> list[dict[str, Any]]:
    attempt = str(handle.get("attempt", 1))
    return [obj for obj in objects if (obj["metadata"].get("labels") or {}).get(ATTEMPT_LABEL) == attempt]


def _main_container(pod: Mapping[str, Any]) -> str:
    """The name of the run's own container in ``pod``: the first one, as rendered."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return str(containers[0].get("name") or MAIN)


@hookimpl
def polyaxon_register_schedulers() -> list[type[Scheduler]]:
    return [KubernetesScheduler]


def _ready(pod: Mapping[str, Any]) -> bool:
    """Whether ``pod`` is ready (its readiness probes pass) and not being deleted."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(condition.get("type") == "Ready" and condition.get("status") == "True"
               for condition in (pod.get("status") or {}).get("conditions") or [])
