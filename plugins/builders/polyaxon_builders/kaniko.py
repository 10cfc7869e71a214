"""``builder-kaniko``: builds a run's image in the cluster with Kaniko, pushed to a registry.

A build is a ``batch/v1`` Job in the scheduler's namespace (the same API configuration as
the Kubernetes scheduler: ``POLYAXON_K8S_API``, in-cluster, or the kubeconfig), named
from the build's key (``plx-build-<key>``, then ``-<attempt>``), so that starting it
again, from another orchestrator or after a restart, finds it there (``409`` adopts it):

* init containers make the context in an ``emptyDir`` (``/plx-context``): each of the
  build's initializers run by the init image (``python -m polyaxon_schedulers.initializers``,
  the code a run's initializers run), the Dockerfile written the same way;
* the Kaniko executor (``POLYAXON_KANIKO_IMAGE``, default
  ``gcr.io/kaniko-project/executor:v1.23.2``) builds it and pushes to the destination,
  its digest written as the container's termination message, so the run gets the image
  pinned by digest (``repo@sha256:...``);
* the registry connection's secret (a Docker configuration: the key
  ``.dockerconfigjson``, or the first of its ``items``) is mounted as
  ``/kaniko/.docker/config.json``; ``insecure: true`` lets Kaniko push over HTTP;
* ``build.runPatch``: its ``container.resources`` are the executor's, its
  ``environment`` (node selector, tolerations, service account...) the pod's.

The Job is kept an hour after it ends (``ttlSecondsAfterFinished``); a failed build's
message ends with the executor's last log lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from polyaxon_schedulers.kubernetes.manifests import (
    CONTEXT_PATH,
    CONTEXT_VOLUME,
    MANAGED_BY,
    POD_FIELDS,
    connection_exposure,
    label_value,
)

from polyaxon_builders.images import pinned
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces.builder import Builder, BuildRequest, BuildState, BuildUnavailable
from polyaxon_core.interfaces.scheduler import SchedulerUnavailable

DEFAULT_KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
EXECUTOR = "kaniko"
#: how long an ended build's Job stays for its log (seconds)
KEEP_FINISHED = 3600
TAIL_LINES = 20


def kaniko_image() -> str:
    return os.environ.get("POLYAXON_KANIKO_IMAGE", "").strip() or DEFAULT_KANIKO_IMAGE


def job_name(request: BuildRequest) -> str:
    return f"plx-build-{request.key[:40]}{f'-{request.attempt}' if request.attempt > 1 else ''}"


def _in_context(request: BuildRequest, path: str) -> str:
    """A path under the build's context on this machine, as the pod has it."""
    context = str(PurePosixPath(request.folder) / "context")
    relative = PurePosixPath(path).relative_to(context)
    return str(PurePosixPath(CONTEXT_PATH) / relative)


def build_job(request: BuildRequest, namespace: str, executor_image: str,
              init_image: str) -> dict[str, Any]:
    """The Job that builds ``request`` in ``namespace`` (see the module docstring)."""
    name = job_name(request)
    labels = {"app.kubernetes.io/name": "polyaxon-build", "app.kubernetes.io/instance": name,
              "app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/component": "build",
              "polyaxon.io/build-key": request.key[:63], "polyaxon.io/run-uuid": request.run.uuid,
              "polyaxon.io/project": label_value(request.run.project)}
    mount = {"name": CONTEXT_VOLUME, "mountPath": CONTEXT_PATH}
    volumes: list[dict[str, Any]] = [{"name": CONTEXT_VOLUME, "emptyDir": {}}]
    init_containers = []
    writes = [*[(step.kind, step.destination, dict(step.value), step.sources, step.connection)
                for step in request.steps],
              ("file", request.dockerfile_path, {"content": request.dockerfile}, (), None)]
    for index, (kind, destination, value, sources, connection) in enumerate(writes):
        if kind == "paths":
            if connection is None:
                raise ValueError("a build's `paths` initializer copies from a host_path or "
                                 "volume_claim connection on Kubernetes: give it `connection:`")
            value["root"] = str(connection.schema["mountPath"])
        record = {"kind": kind, "destination": _in_context(request, destination), "value": value,
                  "sources": [[source, _in_context(request, target)] for source, target in sources]}
        container: dict[str, Any] = {
            "name": f"polyaxon-init-{index + 1}", "image": init_image,
            "command": ["python", "-m", "polyaxon_schedulers.initializers"],
            "args": [json.dumps(record, sort_keys=True)], "volumeMounts": [dict(mount)]}
        exposure = connection_exposure([connection] if connection is not None else [])
        exposure.apply(container)
        volumes += [volume for volume in exposure.volumes if volume not in volumes]
        init_containers.append(container)
    args = [f"--context=dir://{CONTEXT_PATH}",
            f"--dockerfile={_in_context(request, request.dockerfile_path)}",
            f"--destination={request.destination}",
            "--digest-file=/dev/termination-log"]
    executor: dict[str, Any] = {"name": EXECUTOR, "image": executor_image, "args": args,
                                "volumeMounts": [dict(mount)]}
    registry = request.connection
    if registry is not None:
        if registry.schema.get("insecure"):
            args += ["--insecure", "--skip-tls-verify"]
        if registry.secret is not None:
            key = registry.secret.items[0] if registry.secret.items else ".dockerconfigjson"
            volumes.append({"name": "registry-auth", "secret": {
                "secretName": registry.secret.name, "items": [{"key": key, "path": "config.json"}]}})
            executor["volumeMounts"].append({"name": "registry-auth", "mountPath": "/kaniko/.docker",
                                             "readOnly": True})
    patch = request.run_patch
    container_patch = patch.get("container")
    resources = container_patch.get("resources") if isinstance(container_patch, Mapping) else None
    if resources:
        executor["resources"] = dict(resources)
    pod: dict[str, Any] = {"restartPolicy": "Never", "initContainers": init_containers,
                           "containers": [executor], "volumes": volumes}
    environment = patch.get("environment") or {}
    pod.update({field: environment[field] for field in POD_FIELDS if field in environment})
    if environment.get("imagePullSecrets"):
        pod["imagePullSecrets"] = environment["imagePullSecrets"]
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": KEEP_FINISHED,
                 "template": {"metadata": {"labels": dict(labels)}, "spec": pod}},
    }


class KanikoBuilder(Builder):
    name = "kaniko"
    description = "Builds in the Kubernetes cluster with a Kaniko Job, pushed to a registry connection."

    def __init__(self, settings: Any) -> None:
        from polyaxon_schedulers.kubernetes.api import KubeApi

        super().__init__(settings)
        self.api = KubeApi.from_environment("the Kaniko builder (build.hubRef: kaniko)")

    def start(self, request: BuildRequest) -> Mapping[str, Any]:
        from polyaxon_schedulers.kubernetes.api import KubeError
        from polyaxon_schedulers.kubernetes.scheduler import init_image

        if request.connection is None:
            raise ValueError("a Kaniko build pushes its image to a registry the cluster pulls "
                             "from: give build.connection, a `registry` connection")
        job = build_job(request, self.api.namespace, kaniko_image(), init_image())
        try:
            self.api.create(job)
        except KubeError as exc:
            if exc.code != 409:
                raise ValueError(f"the cluster refused the build's Job: {exc}") from None
        except SchedulerUnavailable as exc:
            raise BuildUnavailable(str(exc)) from None
        return {"job": job["metadata"]["name"], "destination": request.destination}

    def poll(self, handle: Mapping[str, Any]) -> BuildState:
        from polyaxon_schedulers.kubernetes.api import KubeError

        name = str(handle["job"])
        try:
            job = self.api.read("batch/v1", "jobs", name)
            if job is None:
                return BuildState("failed", message=f"the build's Job {name} is gone from the cluster")
            conditions = {item.get("type"): item for item in (job.get("status") or {}).get("conditions") or []
                          if item.get("status") == "True"}
            if "Complete" not in conditions and "Failed" not in conditions:
                return BuildState("running")
            pods = self.api.list("v1", "pods", f"job-name={name}").get("items") or []
            if "Complete" in conditions:
                digest = _termination_message(pods)
                destination = str(handle["destination"])
                return BuildState("succeeded", image=pinned(destination, digest) if digest.startswith(
                    "sha256:") else destination)
            reason = conditions["Failed"].get("message") or conditions["Failed"].get("reason") or "failed"
            return BuildState("failed", message=f"the Kaniko build failed ({reason}); its log ends "
                                                f"with:\n{self._tail(pods)}")
        except SchedulerUnavailable as exc:
            raise BuildUnavailable(str(exc)) from None
        except KubeError as exc:
            raise BuildUnavailable(f"the cluster refused to report on the build: {exc}") from None

    def _tail(self, pods: list[dict[str, Any]]) -> str:
        if not pods:
            return "(no pod)"
        pod = pods[-1]["metadata"]["name"]
        text = b"".join(self.api.log(pod, EXECUTOR, follow=False)).decode(errors="replace")
        return "\n".join(text.rstrip().splitlines()[-TAIL_LINES:]) or "(empty log)"


def _termination_message(pods: list[dict[str, Any]]) -> str:
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated") or {}
            if status.get("name") == EXECUTOR and terminated.get("exitCode") == 0:
                return str(terminated.get("message") or "").strip()
    return ""


@hookimpl
def polyaxon_register_builders() -> list[type[Builder]]:
    return [KanikoBuilder]
