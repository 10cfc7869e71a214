"""A stand-in for a Kubernetes cluster, for tests and benchmarks (a mock: it is not Kubernetes).

No kube-apiserver can run where this project is tested, so the Kubernetes scheduler is
exercised against this: a real HTTP server on 127.0.0.1 that speaks the part of the
Kubernetes API the scheduler uses, to the official client, over the wire:

* create, read, list, merge-patch (the object or its ``status``) and delete of namespaced
  objects of any group and version, each object with a ``uid``, a ``resourceVersion``,
  labels matched by equality-based label selectors; ``409 AlreadyExists``, ``404
  NotFound`` and ``422 Invalid`` (every object created is checked with
  ``kubernetes-validate`` in strict mode, as the API server checks it) as a cluster
  answers them;
* watches from a resource version, streamed as lines of JSON events, ending with an
  ``ERROR`` event of code ``410 Gone`` when the version is older than the events kept;
* deletion with a grace period and a propagation policy (``Foreground`` keeps the owner,
  with its ``deletionTimestamp``, until its pods are gone);
* pod logs, followed while the pod runs.

Two controllers play the cluster's part, in this process: a Job controller (a pod per Job,
a replacement while ``backoffLimit`` allows, the Job's ``Complete`` / ``Failed``
conditions) and a Deployment controller simplified to pods owned by the Deployment (no
ReplicaSet). With ``kubelet=True`` a pod's main container runs as a process on this
machine — its command and environment as the pod spec gives them, images ignored (``python``
is this interpreter) — and
deleting the pod sends it SIGTERM, then SIGKILL after the grace period; otherwise pods stay
``Pending`` and a test writes their status through the API, as a kubelet would. The
kubelet also runs a pod's native sidecars (init containers with ``restartPolicy:
Always``) before its main container, waits for their ``exec`` startup probe, and stops
them with SIGTERM (SIGKILL after ``terminationGracePeriodSeconds``) once the main
container ended, before the pod's phase says so. Other init containers are not run. An
``emptyDir`` volume is a folder of this machine, one per pod: a mount path in a
container's command, arguments, variables and working directory is replaced by it.

:meth:`Cluster.fail` makes the next matching requests fail with a given status, to drive
the error paths (403, 422, 500...); :attr:`Cluster.requests` records every request.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuids
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: how many events a watch can resume from (older versions get 410 Gone)
KEPT_EVENTS = 10_000
_PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
                   r"/namespaces/(?P<namespace>[^/]+)/(?P<plural>[^/]+)"
                   r"(?:/(?P<name>[^/]+)(?:/(?P<sub>status|log))?)?$")
_KINDS = {"pods": "Pod", "secrets": "Secret", "services": "Service", "configmaps": "ConfigMap",
          "jobs": "Job", "deployments": "Deployment", "events": "Event"}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """JSON merge patch (RFC 7386): ``None`` removes a key, mappings merge, the rest replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _matches(labels: Mapping[str, str], selector: str) -> bool:
    for term in filter(None, (part.strip() for part in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif labels.get(term) is None:
            return False
    return True


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    code: int
    times: int
    message: str


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    log: Path
    killer: threading.Timer | None = None


@dataclass
class Cluster:
    """The cluster's state; see the module docstring. ``kubelet``: run pods as processes."""

    kubelet: bool = False
    validate_version: str | None = "1.37.0"
    #: images the kubelet cannot pull (their pods wait in ErrImagePull)
    missing_images: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    version: int = 1
    compacted: int = 0
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kube-standin-")))
    processes: dict[str, _Process] = field(default_factory=dict)
    #: pod name -> its native sidecars' processes
    sidecars: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    closed: bool = False

    # ------------------------------------------------------------------ store
    def fail(self, method: str, path: str, code: int, times: int = 1, message: str = "") -> None:
        """The next ``times`` requests ``method`` on a path matching ``path`` answer ``code``."""
        with self.lock:
            self.faults.append(Fault(method.upper(), re.compile(path), code, times,
                                     message or HTTPStatus(code).phrase))

    def _fault(self, method: str, path: str) -> ApiError | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path.search(path) and fault.times > 0:
                    fault.times -= 1
                    reason = {403: "Forbidden", 404: "NotFound", 409: "AlreadyExists",
                              410: "Gone", 422: "Invalid"}.get(fault.code, HTTPStatus(fault.code).phrase)
                    return ApiError(fault.code, reason, fault.message)
        return None

    def _record(self, plural: str, kind: str, obj: dict[str, Any]) -> None:
        """Bump the version, stamp ``obj`` and keep the event (the lock is held)."""
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.events.append((self.version, plural, {"type": kind, "object": copy.deepcopy(obj)}))
        del self.events[:-KEPT_EVENTS]
        self.lock.notify_all()

    def oldest_version(self) -> int:
        """The oldest version a watch can start from."""
        return max(self.compacted, self.events[0][0] - 1 if self.events else self.version)

    def expire_events(self) -> None:
        """Forget the events kept so far, as a compaction does: a watch from an older
        version, the open ones included, gets 410 Gone."""
        with self.lock:
            self.events.clear()
            self.version += 1
            self.compacted = self.version
            self.lock.notify_all()

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.objects.get((plural, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def find(self, plural: str, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(obj) for (kind, ns, _), obj in sorted(self.objects.items())
                    if kind == plural and ns == namespace
                    and _matches(obj["metadata"].get("labels") or {}, selector)]

    def create(self, plural: str, namespace: str, body: Mapping[str, Any],
               api_version: str = "v1") -> dict[str, Any]:
        obj = copy.deepcopy(dict(body))
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", _KINDS.get(plural, plural.capitalize()))
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + secrets.token_hex(3)[:5]
        name = metadata.get("name")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value: name or generateName is required")
        self._validate(obj)
        with self.lock:
            if (plural, namespace, name) in self.objects:
                raise ApiError(409, "AlreadyExists", f'{plural} "{name}" already exists')
            metadata.update(namespace=namespace, uid=str(uuids.uuid4()), creationTimestamp=_now(),
                            generation=1)
            if plural == "secrets" and "stringData" in obj:
                obj["data"] = {**obj.get("data", {}), **{
                    key: base64.b64encode(value.encode()).decode()
                    for key, value in obj.pop("stringData").items()}}
            self.objects[(plural, namespace, name)] = obj
            self._record(plural, "ADDED", obj)
            created = copy.deepcopy(obj)
        self._react(plural, namespace, created)
        return created

    def _validate(self, obj: dict[str, Any]) -> None:
        if self.validate_version is None or obj["kind"] not in _KINDS.values():
            return
        import kubernetes_validate

        try:
            kubernetes_validate.validate(obj, self.validate_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            raise ApiError(422, "Invalid", f"{obj['kind']} is invalid: {path}: {exc.message}") from None

    def patch(self, plural: str, namespace: str, name: str, patch: Mapping[str, Any],
              status: bool = False) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get((plural, namespace, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            _merge(obj, {"status": patch.get("status", {})} if status else patch)
            self._record(plural, "MODIFIED", obj)
            patched = copy.deepcopy(obj)
            remove = (obj["metadata"].get("deletionTimestamp") is not None
                      and not obj["metadata"].get("finalizers"))
        if remove:
            self._remove(plural, namespace, name)
        self._react(plural, namespace, patched)
        return patched

    def delete(self, plural: str, namespace: str, name: str, grace: int | None = None,
               propagation: str = "Background") -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get((plural, namespace, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            metadata = obj["metadata"]
            uid = metadata["uid"]
            if plural == "pods":
                grace = 30 if grace is None else grace
                running = name in self.processes
                if running:
                    first = metadata.get("deletionTimestamp") is None
                    if first or grace < int(metadata.get("deletionGracePeriodSeconds", grace)):
                        metadata.update(deletionTimestamp=_now(), deletionGracePeriodSeconds=grace)
                        self._record(plural, "MODIFIED", obj)
                        deleted = copy.deepcopy(obj)
                        self._terminate(name, grace)
                        return deleted
                    return copy.deepcopy(obj)
            if propagation == "Foreground" and self._dependents(namespace, uid):
                if metadata.get("deletionTimestamp") is None:
                    metadata.update(deletionTimestamp=_now(), finalizers=["foregroundDeletion"])
                    self._record(plural, "MODIFIED", obj)
                deleted = copy.deepcopy(obj)
            else:
                deleted = self._remove_locked(plural, namespace, name)
        if propagation != "Orphan":
            for pod in self._dependents(namespace, uid):
                try:
                    self.delete("pods", namespace, pod, grace)
                except ApiError:
                    continue  # gone meanwhile
        return deleted

    def _dependents(self, namespace: str, uid: str) -> list[str]:
        with self.lock:
            return [name for (plural, ns, name), obj in self.objects.items()
                    if plural == "pods" and ns == namespace
                    and any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences", []))]

    def _remove(self, plural: str, namespace: str, name: str) -> None:
        with self.lock:
            if (plural, namespace, name) in self.objects:
                self._remove_locked(plural, namespace, name)

    def _remove_locked(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.pop((plural, namespace, name))
        self._record(plural, "DELETED", obj)
        if plural == "pods":
            self._release_owner(namespace, obj)
        return copy.deepcopy(obj)

    def _release_owner(self, namespace: str, pod: Mapping[str, Any]) -> None:
        """The last pod of an owner in foreground deletion gone: the owner goes (lock held)."""
        for ref in pod["metadata"].get("ownerReferences", []):
            for key, owner in list(self.objects.items()):
                if owner["metadata"]["uid"] != ref.get("uid"):
                    continue
                waiting = owner["metadata"].get("deletionTimestamp") is not None
                if waiting and not self._dependents(namespace, ref["uid"]):
                    self._remove_locked(*key)

    def watch(self, plural: str, namespace: str, selector: str, since: int | None,
              timeout: float) -> Iterator[dict[str, Any]]:
        """The events after version ``since`` (all objects as ADDED when ``None``), until
        ``timeout`` seconds pass; a 410 ERROR event when ``since`` is too old."""
        deadline = time.monotonic() + timeout
        with self.lock:
            if since is None:
                current = self.find(plural, namespace, selector)
                position = self.version
            elif since < self.oldest_version():
                current, position = [], -1
            else:
                current, position = [], since
        if position < 0:
            yield {"type": "ERROR", "object": ApiError(
                410, "Expired", f"too old resource version: {since} ({self.oldest_version()})").status()}
            return
        for obj in current:
            yield {"type": "ADDED", "object": obj}
        while True:
            with self.lock:
                if position < self.oldest_version():
                    found: list[dict[str, Any]] | None = None
                else:
                    found = [event for version, kind, event in self.events
                             if version > position and kind == plural
                             and event["object"]["metadata"].get("namespace") == namespace
                             and _matches(event["object"]["metadata"].get("labels") or {}, selector)]
                    position = self.version
                if found == []:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.closed:
                        return
                    self.lock.wait(min(remaining, 1.0))
                    continue
            if found is None:
                gone = ApiError(410, "Expired", "too old resource version")
                yield {"type": "ERROR", "object": gone.status()}
                return
            yield from found

    # ------------------------------------------------------------ controllers
    def _react(self, plural: str, namespace: str, obj: dict[str, Any]) -> None:
        """What the controllers do when ``obj`` was created or changed."""
        if obj["metadata"].get("deletionTimestamp") is not None:
            return
        if plural == "jobs" and not obj["metadata"].get("annotations", {}).get("standin/started"):
            self._start_job(namespace, obj)
        elif plural == "deployments" and not obj["metadata"].get("annotations", {}).get("standin/started"):
            self.patch(plural, namespace, obj["metadata"]["name"],
                       {"metadata": {"annotations": {"standin/started": "1"}}})
            for _ in range(int(obj["spec"].get("replicas", 1))):
                self._create_pod(namespace, obj, {})
        elif plural == "pods":
            self._pod_changed(namespace, obj)

    def _start_job(self, namespace: str, job: dict[str, Any]) -> None:
        self.patch("jobs", namespace, job["metadata"]["name"],
                   {"metadata": {"annotations": {"standin/started": "1"}},
                    "status": {"active": 1, "startTime": _now()}})
        self._create_pod(namespace, job, {"job-name": job["metadata"]["name"],
                                          "batch.kubernetes.io/job-name": job["metadata"]["name"],
                                          "controller-uid": job["metadata"]["uid"]})

    def _create_pod(self, namespace: str, owner: dict[str, Any], labels: Mapping[str, str]) -> None:
        template = owner["spec"]["template"]
        metadata = copy.deepcopy(template.get("metadata", {}))
        metadata["labels"] = {**metadata.get("labels", {}), **labels}
        metadata["generateName"] = owner["metadata"]["name"] + "-"
        metadata["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                        "name": owner["metadata"]["name"],
                                        "uid": owner["metadata"]["uid"], "controller": True}]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
               "spec": copy.deepcopy(template["spec"]), "status": {"phase": "Pending"}}
        created = self.create("pods", namespace, pod)
        if self.kubelet:
            threading.Thread(target=self._run_pod, args=(namespace, created), daemon=True).start()

    def _pod_changed(self, namespace: str, pod: dict[str, Any]) -> None:
        """The Job controller's part: a finished pod counts, is replaced or ends the Job."""
        phase = pod.get("status", {}).get("phase")
        owner = next((ref for ref in pod["metadata"].get("ownerReferences", [])
                      if ref.get("kind") == "Job"), None)
        if phase not in {"Succeeded", "Failed"} or owner is None:
            return
        with self.lock:
            job = self.objects.get(("jobs", namespace, owner["name"]))
            counted = pod["metadata"].get("annotations", {}).get("standin/counted")
            if job is None or counted or job["metadata"].get("deletionTimestamp"):
                return
            status = job.setdefault("status", {})
        self.patch("pods", namespace, pod["metadata"]["name"],
                   {"metadata": {"annotations": {"standin/counted": "1"}}})
        name = job["metadata"]["name"]
        if phase == "Succeeded":
            self.patch("jobs", namespace, name, {"status": {
                "active": None, "succeeded": 1, "completionTime": _now(),
                "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": _now()}]}},
                status=True)
            return
        failed = int(status.get("failed", 0)) + 1
        if failed > int(job["spec"].get("backoffLimit", 6)):
            self.patch("jobs", namespace, name, {"status": {
                "active": None, "failed": failed,
                "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                "message": "Job has reached the specified backoff limit",
                                "lastTransitionTime": _now()}]}}, status=True)
            return
        self.patch("jobs", namespace, name, {"status": {"failed": failed}}, status=True)
        self._create_pod(namespace, job, {"job-name": name, "batch.kubernetes.io/job-name": name,
                                          "controller-uid": job["metadata"]["uid"]})

    # --------------------------------------------------------------- kubelet
    def _run_pod(self, namespace: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        main = pod["spec"]["containers"][0]
        if main.get("image") in self.missing_images:
            self.patch("pods", namespace, name, {"status": {"phase": "Pending", "containerStatuses": [{
                "name": main["name"], "ready": False, "restartCount": 0, "image": main["image"],
                "imageID": "", "state": {"waiting": {
                    "reason": "ErrImagePull",
                    "message": f'failed to pull image "{main["image"]}": not found'}}}]}},
                status=True)
            return
        spec = pod["spec"]
        folders = self._empty_dirs(namespace, name, spec)
        sidecars = [container for container in spec.get("initContainers", [])
                    if container.get("restartPolicy") == "Always"]
        with self.lock:
            if ("pods", namespace, name) not in self.objects:
                return
            self.sidecars[name] = [
                self._start(namespace, container, folders,
                            self.workdir / f"{namespace}-{name}-{container['name']}.log")
                for container in sidecars]
        for container, process in zip(sidecars, self.sidecars[name], strict=True):
            if not self._started_up(namespace, container, folders, process):
                self._stop_sidecars(name, 0)
                self.patch("pods", namespace, name, {"status": {
                    "phase": "Failed", "reason": "StartupProbeFailed",
                    "message": f"the startup probe of {container['name']} never succeeded"}},
                    status=True)
                return
        log = self.workdir / f"{namespace}-{name}.log"
        with self.lock:
            gone = ("pods", namespace, name) not in self.objects
            if not gone:
                popen = self._start(namespace, main, folders, log)
                self.processes[name] = _Process(popen, log)
        if gone:  # deleted while its sidecars started
            self._stop_sidecars(name, 0)
            return
        started = _now()
        self.patch("pods", namespace, name, {"status": {
            "phase": "Running", "startTime": started, "containerStatuses": [{
                "name": main["name"], "ready": True, "restartCount": 0, "image": main["image"],
                "imageID": "", "state": {"running": {"startedAt": started}}}]}}, status=True)
        code = popen.wait()
        with self.lock:
            ended = self.processes.pop(name)
            if ended.killer is not None:
                ended.killer.cancel()
            deleting = self.objects.get(("pods", namespace, name), {}).get(
                "metadata", {}).get("deletionTimestamp") is not None
        exit_code = code if code >= 0 else 128 - code
        self._stop_sidecars(name, int(spec.get("terminationGracePeriodSeconds", 30)))
        self.patch("pods", namespace, name, {"status": {
            "phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [{
                "name": main["name"], "ready": False, "restartCount": 0, "image": main["image"],
                "imageID": "", "state": {"terminated": {
                    "exitCode": exit_code, "reason": "Completed" if code == 0 else "Error",
                    "startedAt": started, "finishedAt": _now()}}}]}}, status=True)
        if deleting:
            self._remove("pods", namespace, name)

    def _empty_dirs(self, namespace: str, name: str, spec: Mapping[str, Any]) -> dict[str, Path]:
        """The pod's ``emptyDir`` volumes, each a new folder: volume name -> folder."""
        folders = {}
        for volume in spec.get("volumes", []):
            if "emptyDir" in volume:
                folder = self.workdir / f"{namespace}-{name}-volumes" / volume["name"]
                folder.mkdir(parents=True, exist_ok=True)
                folders[volume["name"]] = folder
        return folders

    def _start(self, namespace: str, container: Mapping[str, Any], folders: Mapping[str, Path],
               log: Path) -> subprocess.Popen[bytes]:
        """The container's command as a process of this machine, its output in ``log``."""
        mounts = _mounts(container, folders)
        env = dict(os.environ)
        env.update({item["name"]: _localized(self._value(namespace, item), mounts)
                    for item in container.get("env", [])})
        workdir = _localized(container.get("workingDir") or "", mounts)
        cwd = workdir if workdir and Path(workdir).is_dir() else str(self.workdir)
        command = [_localized(str(part), mounts)
                   for part in [*container.get("command", []), *container.get("args", [])]]
        if command and command[0] in {"python", "python3"}:
            command[0] = sys.executable  # the image's Python is this machine's
        with log.open("wb") as output:
            return subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def _started_up(self, namespace: str, container: Mapping[str, Any], folders: Mapping[str, Path],
                    process: subprocess.Popen[bytes]) -> bool:
        """Whether the container's ``exec`` startup probe succeeded (tried every
        ``periodSeconds``, ``failureThreshold`` times) while it runs; True without one."""
        probe = container.get("startupProbe") or {}
        if "exec" not in probe:
            return True
        mounts = _mounts(container, folders)
        command = [_localized(str(part), mounts) for part in probe["exec"]["command"]]
        for _ in range(int(probe.get("failureThreshold", 3))):
            if process.poll() is not None or self.closed:
                return False
            if subprocess.run(command, capture_output=True, check=False).returncode == 0:
                return True
            time.sleep(float(probe.get("periodSeconds", 10)))  # the probe's period, as a kubelet waits
        return False

    def _stop_sidecars(self, name: str, grace: int) -> None:
        """SIGTERM to the pod's sidecars, SIGKILL to those still there after ``grace``."""
        with self.lock:
            processes = self.sidecars.pop(name, [])
        for process in processes:
            self._signal(process, signal.SIGTERM if grace else signal.SIGKILL)
        for process in processes:
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal(process, signal.SIGKILL)
                process.wait()

    def _value(self, namespace: str, item: Mapping[str, Any]) -> str:
        if "value" in item:
            return str(item["value"])
        reference = item.get("valueFrom", {}).get("secretKeyRef")
        if reference is None:
            return ""
        secret = self.get("secrets", namespace, reference["name"]) or {}
        encoded = secret.get("data", {}).get(reference["key"], "")
        return base64.b64decode(encoded).decode()

    def _terminate(self, name: str, grace: int) -> None:
        """SIGTERM now, SIGKILL after ``grace`` seconds (the lock is held)."""
        process = self.processes[name]
        if process.killer is not None:
            process.killer.cancel()
        self._signal(process.popen, signal.SIGKILL if grace == 0 else signal.SIGTERM)
        if grace > 0:
            process.killer = threading.Timer(grace, self._signal, (process.popen, signal.SIGKILL))
            process.killer.daemon = True
            process.killer.start()

    @staticmethod
    def _signal(popen: subprocess.Popen[bytes], signum: int) -> None:
        try:
            os.killpg(popen.pid, signum)
        except ProcessLookupError:
            return

    def log(self, name: str, namespace: str, follow: bool) -> Iterator[bytes]:
        """The pod's output (checked before anything is streamed: an error is a status)."""
        path = self.workdir / f"{namespace}-{name}.log"
        if not path.exists():
            pod = self.get("pods", namespace, name) or {}
            states = [status.get("state") or {} for status in
                      (pod.get("status") or {}).get("containerStatuses") or []]
            if not any("running" in state or "terminated" in state for state in states):
                raise ApiError(400, "BadRequest", f'container in pod "{name}" is waiting to start')
            return iter(())  # a pod whose status a test wrote: it printed nothing
        return self._follow_log(path, name, follow)

    def _follow_log(self, path: Path, name: str, follow: bool) -> Iterator[bytes]:
        with path.open("rb") as opened:
            while True:
                chunk = opened.read(65536)
                if chunk:
                    yield chunk
                    continue
                with self.lock:
                    running = name in self.processes
                if not follow or not running:
                    rest = opened.read()
                    if rest:
                        yield rest
                    return
                time.sleep(0.05)

    def close(self) -> None:
        """End the watches and kill what the kubelet runs."""
        with self.lock:
            self.closed = True
            self.lock.notify_all()
            popens = [process.popen for process in self.processes.values()]
            popens += [popen for pods in self.sidecars.values() for popen in pods]
        for popen in popens:
            self._signal(popen, signal.SIGKILL)
            popen.wait()


def _mounts(container: Mapping[str, Any], folders: Mapping[str, Path]) -> dict[str, Path]:
    """The container's mount paths of ``emptyDir`` volumes -> their folders here."""
    return {str(mount["mountPath"]).rstrip("/"): folders[mount["name"]]
            for mount in container.get("volumeMounts", []) if mount.get("name") in folders}


def _localized(value: str, mounts: Mapping[str, Path]) -> str:
    """``value`` with each mount path (followed by ``/`` or ending a path) replaced by the
    folder that stands for it."""
    for path in sorted(mounts, key=len, reverse=True):
        folder = str(mounts[path]).replace("\\", "\\\\")
        value = re.sub(rf"(?<![\w./-]){re.escape(path)}(?=/|$|[^\w.-])", folder, value)
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, code: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, chunks: Iterator[bytes], content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def _handle(self) -> None:
        cluster = self.server.cluster
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        with cluster.lock:
            cluster.requests.append((self.command, self.path))
        try:
            body = self._body() if self.command in {"POST", "PATCH", "PUT", "DELETE"} else {}
            fault = cluster._fault(self.command, url.path)
            if fault is not None:
                raise fault
            match = _PATH.match(url.path)
            if match is None:
                raise ApiError(404, "NotFound", f"the server could not find the resource at {url.path}")
            parts = match.groupdict()
            plural, namespace, name, sub = parts["plural"], parts["namespace"], parts["name"], parts["sub"]
            api_version = "v1" if parts["core"] else f"{parts['group']}/{parts['version']}"
            self._dispatch(cluster, plural, namespace, name, sub, api_version, query, body)
        except ApiError as error:
            self._send(error.code, error.status())
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # noqa: BLE001 — a fault of the stand-in: a 500, as a server answers
            self._send(500, ApiError(500, "InternalError", f"{type(exc).__name__}: {exc}").status())

    def _dispatch(self, cluster: Cluster, plural: str, namespace: str, name: str | None,
                  sub: str | None, api_version: str, query: Mapping[str, str],
                  body: Mapping[str, Any]) -> None:
        if self.command == "POST" and name is None:
            self._send(201, cluster.create(plural, namespace, body, api_version))
        elif self.command == "GET" and name is None and query.get("watch") in {"1", "true"}:
            since = query.get("resourceVersion")
            events = cluster.watch(plural, namespace, query.get("labelSelector", ""),
                                   int(since) if since not in {None, "", "0"} else None,
                                   float(query.get("timeoutSeconds") or 300))
            self._stream((json.dumps(event).encode() + b"\n" for event in events), "application/json")
        elif self.command == "GET" and name is None:
            with cluster.lock:
                items = cluster.find(plural, namespace, query.get("labelSelector", ""))
                version = cluster.version
            self._send(200, {"apiVersion": api_version, "kind": _KINDS.get(plural, plural) + "List",
                             "metadata": {"resourceVersion": str(version)}, "items": items})
        elif self.command == "GET" and sub == "log" and name is not None:
            if cluster.get(plural, namespace, name) is None:
                raise ApiError(404, "NotFound", f'pods "{name}" not found')
            chunks = cluster.log(name, namespace, query.get("follow") == "true")
            self._stream(chunks, "text/plain")
        elif self.command == "GET" and name is not None:
            found = cluster.get(plural, namespace, name)
            if found is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            self._send(200, found)
        elif self.command == "PATCH" and name is not None:
            self._send(200, cluster.patch(plural, namespace, name, body, status=sub == "status"))
        elif self.command == "DELETE" and name is not None:
            grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
            propagation = query.get("propagationPolicy", body.get("propagationPolicy")) or "Background"
            self._send(200, cluster.delete(plural, namespace, name,
                                           int(grace) if grace is not None else None, str(propagation)))
        else:
            raise ApiError(405, "MethodNotAllowed", f"{self.command} is not supported here")

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    cluster: Cluster


@dataclass
class StandIn:
    """A running stand-in: ``url`` to point the scheduler at, ``cluster`` to drive and inspect."""

    cluster: Cluster
    server: _Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.cluster.close()


def start(cluster: Cluster | None = None) -> StandIn:
    """Serve ``cluster`` (a new one by default) on 127.0.0.1, on a free port."""
    cluster = cluster or Cluster()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.cluster = cluster
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return StandIn(cluster, server, thread)
