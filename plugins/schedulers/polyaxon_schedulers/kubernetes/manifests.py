"""The Kubernetes objects of a run, as plain dictionaries (no client library needed).

A ``job`` run becomes a ``batch/v1`` Job; a ``service`` run a ``apps/v1`` Deployment and
a ``v1`` Service in front of it; a ``tfjob``, ``pytorchjob`` or ``mpijob`` the Kubeflow
training operator's ``TFJob``, ``PyTorchJob`` or ``MPIJob`` (``kubeflow.org/v1``), each
role of the polyaxonfile (``chief``, ``ps``, ``worker``, ``evaluator``; ``master``;
``launcher``) a replica spec whose pods are built as a Job's are, their container named
as the operator expects (``tensorflow``, ``pytorch``, ``mpi``), and ``termination`` in
its ``runPolicy``. Both come with a ``v1`` Secret holding the run's own
context (its API token): the container reads it through ``secretKeyRef``, so no token is
written into a manifest, an annotation or a log.

What the polyaxonfile says maps one to one (the field names are Kubernetes' already):

* ``termination``: ``maxRetries`` -> ``backoffLimit``, ``timeout`` ->
  ``activeDeadlineSeconds``, ``ttl`` -> ``ttlSecondsAfterFinished``;
* ``environment``: labels and annotations on every object and the pod, and the pod
  fields (``nodeSelector``, ``affinity``, ``tolerations``, ``serviceAccountName``,
  ``imagePullSecrets``, ``securityContext``, ``priorityClassName``, ``hostNetwork``...);
  ``restartPolicy`` (``Never`` by default for a Job, ``Always`` for a Deployment);
* the container as written (``resources`` with GPUs included), named ``polyaxon-main``,
  its command, args and env rendered, with the run context (its paths under
  ``/plx-context``; the embedded default's database and store left out: a run in a pod
  tracks through the API); ``sidecars`` and ``volumes`` as written;
* ``init``: each initializer an init container of the init image running
  ``python -m polyaxon_schedulers.initializers`` (the same code the local scheduler
  runs), a custom init ``container`` as written; they share the ``polyaxon-context``
  volume (``/plx-context``) with the main container, where they write;
* for a run that tracks through the API (its context has ``POLYAXON_HOST`` and a token),
  the outputs sidecar (:mod:`polyaxon_schedulers.kubernetes.sidecar`) after them: a native
  sidecar (an init container with ``restartPolicy: Always``, Kubernetes 1.29 and later)
  of the init image that sends what the pod writes under ``/plx-context/artifacts`` to
  the run's artifacts; its startup probe holds the main container back until the outputs
  folder exists;
* ``connections``: a ``host_path`` as a ``hostPath`` volume and a ``volume_claim`` as a
  ``persistentVolumeClaim``, each mounted at its ``mountPath``; a connection's secret and
  config map as ``secretKeyRef`` / ``configMapKeyRef`` variables (its ``items``), or as a
  volume at their ``mountPath``; each to the containers that name it only.

Every object carries the labels ``app.kubernetes.io/managed-by: polyaxon-core``,
``app.kubernetes.io/instance: <run uuid>`` and ``polyaxon.io/run-uuid``, so a scheduler
finds a run's objects again from the run alone, and a name derived from the uuid and the
attempt (``plx-<uuid>``, then ``plx-<uuid>-2``...), so creating them again finds them there.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyaxon_core.connections.secrets import env_name
from polyaxon_core.entities import ConnectionEntity, ContainerSpec, InitStep, LaunchRequest

MAIN = "polyaxon-main"
SIDECAR = "polyaxon-sidecar"
CONTEXT_VOLUME = "polyaxon-context"
CONTEXT_PATH = "/plx-context"
#: the image the initializers run in unless the scheduler is told another one
DEFAULT_INIT_IMAGE = "polyaxon-core/polyaxon-init:latest"
MANAGED_BY = "polyaxon-core"
#: the run context's paths, as they are in the pod
POD_CONTEXT = {"POLYAXON_RUN_ARTIFACTS_PATH": f"{CONTEXT_PATH}/artifacts",
               "POLYAXON_RUN_OUTPUTS_PATH": f"{CONTEXT_PATH}/artifacts/outputs",
               "POLYAXON_CONTEXT_PATH": CONTEXT_PATH}
#: the run context of the embedded default (a database and a store on this machine),
#: which means nothing in a pod: a run there tracks through the API
LOCAL_ONLY = frozenset({"POLYAXON_HOME", "POLYAXON_DB_URL", "POLYAXON_STORE"})

#: why a ``paths`` or ``artifacts`` initializer without a connection cannot run in a pod
STORE_PATHS = ("copying from the artifacts store inside a pod does not act on Kubernetes yet: "
               "copy from a host_path or volume_claim connection (`connection:`), or fetch the "
               "files in the command with the tracking SDK")
#: ``environment`` fields that are pod spec fields of the same name
POD_FIELDS = ("nodeSelector", "affinity", "tolerations", "nodeName", "serviceAccountName",
              "hostAliases", "securityContext", "hostNetwork", "hostPID", "dnsPolicy",
              "dnsConfig", "schedulerName", "priorityClassName", "priority")
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]")


def object_name(uuid: str, suffix: str = "", attempt: int = 1) -> str:
    """``plx-<uuid>[-<attempt>][-suffix]``: a DNS-1123 name found again from the run's
    uuid and attempt (the first attempt's names carry no number; a later attempt's do, so
    it never meets what an earlier one left, such as a Job kept for ``termination.ttl``)."""
    return f"plx-{uuid}{f'-{attempt}' if attempt > 1 else ''}{'-' + suffix if suffix else ''}"


def attempt_of(launch: LaunchRequest) -> int:
    return int(launch.run.meta_info.get("attempts", 1) or 1)


def label_value(value: str) -> str:
    """``value`` as a label value: at most 63 characters of letters, digits, ``-._``,
    starting and ending with a letter or digit."""
    cleaned = _LABEL_VALUE.sub("-", value)[:63].strip("-._")
    return cleaned or "none"


def run_labels(launch: LaunchRequest) -> dict[str, str]:
    run = launch.run
    return {
        "app.kubernetes.io/name": "polyaxon-run",
        "app.kubernetes.io/instance": run.uuid,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/component": label_value(run.kind),
        "polyaxon.io/run-uuid": run.uuid,
        "polyaxon.io/project": label_value(run.project),
        "polyaxon.io/owner": label_value(run.owner),
    }


def selector(uuid: str) -> str:
    """The label selector of every object of the run ``uuid``."""
    return f"app.kubernetes.io/managed-by={MANAGED_BY},polyaxon.io/run-uuid={uuid}"


class ManifestError(ValueError):
    """A run that cannot become Kubernetes objects (the message says why and the fix)."""


def render(launch: LaunchRequest, namespace: str, init_image: str = DEFAULT_INIT_IMAGE,
           context_secret: Mapping[str, str] | None = None,
           outputs_interval: float | None = None) -> list[dict[str, Any]]:
    """The objects that run ``launch`` in ``namespace``, in the order to create them.

    ``context_secret``: the run context values to keep in the run's Secret rather than in
    the pod spec (its token); the rest of ``launch.env`` goes in the spec as values.
    ``outputs_interval``: the seconds between two passes of the outputs sidecar, which
    each pod of a run that tracks through the API gets; None: no sidecar."""
    section = launch.run_section
    kind = str(section.get("kind") or launch.run.kind)
    if kind not in {"job", "service", *DISTRIBUTED}:
        raise ManifestError(f"`run.kind: {kind}` does not run on Kubernetes yet; use a job, a "
                            f"service or one of {', '.join(DISTRIBUTED)}")
    secret_values = dict(context_secret or {})
    labels = {**run_labels(launch), **_mapping(section, "environment", "labels")}
    annotations = _mapping(section, "environment", "annotations")
    metadata = {"name": object_name(launch.run.uuid, attempt=attempt_of(launch)), "namespace": namespace,
                "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    objects: list[dict[str, Any]] = []
    if secret_values:
        objects.append({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {**metadata, "name": object_name(launch.run.uuid, "context", attempt_of(launch)),
                         "labels": dict(labels)},
            "type": "Opaque", "stringData": secret_values,
        })
    if kind in DISTRIBUTED:
        objects.append(_distributed(launch, kind, metadata, labels, annotations, secret_values,
                                    init_image, outputs_interval))
        return objects
    pod = _pod_spec(launch, kind, secret_values, init_image, outputs_interval)
    # each object its own labels: a change to one (a label added) is not made to the others
    template = {"metadata": {"labels": dict(labels),
                             **({"annotations": dict(annotations)} if annotations else {})},
                "spec": pod}
    if kind == "job":
        spec: dict[str, Any] = {"backoffLimit": int(launch.termination.get("max_retries", 0)),
                                "template": template}
        if "timeout" in launch.termination:
            spec["activeDeadlineSeconds"] = int(launch.termination["timeout"])
        if "ttl" in launch.termination:
            spec["ttlSecondsAfterFinished"] = int(launch.termination["ttl"])
        objects.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec})
        return objects
    match = {"polyaxon.io/run-uuid": launch.run.uuid}
    objects.append({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
        "spec": {"replicas": int(section.get("replicas") or 1),
                 "selector": {"matchLabels": match}, "template": template},
    })
    ports = [int(port) for port in section.get("ports") or []]
    if ports:
        objects.append({
            "apiVersion": "v1", "kind": "Service", "metadata": {**metadata, "labels": dict(labels)},
            "spec": {"selector": match,
                     "type": "LoadBalancer" if section.get("isExternal") else "ClusterIP",
                     "ports": [{"name": f"port-{port}", "port": port, "targetPort": port,
                                "protocol": "TCP"} for port in ports]},
        })
    return objects


@dataclass(frozen=True)
class Distributed:
    """A run kind of the Kubeflow training operator: its resource and replica roles."""

    kind: str
    replica_specs: str
    #: the name the operator looks for in each replica's pods
    container: str
    #: polyaxonfile role -> the operator's replica type
    roles: Mapping[str, str]
    #: polyaxonfile field -> the field of the resource's spec
    fields: Mapping[str, str]


DISTRIBUTED: dict[str, Distributed] = {
    "tfjob": Distributed("TFJob", "tfReplicaSpecs", "tensorflow",
                         {"chief": "Chief", "ps": "PS", "worker": "Worker", "evaluator": "Evaluator"},
                         {"successPolicy": "successPolicy", "enableDynamicWorker": "enableDynamicWorker"}),
    "pytorchjob": Distributed("PyTorchJob", "pytorchReplicaSpecs", "pytorch",
                              {"master": "Master", "worker": "Worker"},
                              {"elasticPolicy": "elasticPolicy", "nProcPerNode": "nprocPerNode"}),
    "mpijob": Distributed("MPIJob", "mpiReplicaSpecs", "mpi", {"launcher": "Launcher", "worker": "Worker"},
                          {"slotsPerWorker": "slotsPerWorker"}),
}
KUBEFLOW_VERSION = "kubeflow.org/v1"


def _distributed(launch: LaunchRequest, kind: str, metadata: Mapping[str, Any],
                 labels: Mapping[str, str], annotations: Mapping[str, str],
                 secret_values: Mapping[str, str], init_image: str,
                 outputs_interval: float | None) -> dict[str, Any]:
    """The training operator's resource: each role of the polyaxonfile a replica spec
    whose pods run the role's container (named as the operator expects)."""
    section = launch.run_section
    what = DISTRIBUTED[kind]
    replicas: dict[str, Any] = {}
    for role, replica_type in what.roles.items():
        replica = section.get(role)
        if not isinstance(replica, Mapping):
            continue
        written = _mapping(replica, "container")
        as_launch = dataclasses.replace(launch, run_section=replica, container=_container_of(written),
                                        init=(), connections=())
        pod = _pod_spec(as_launch, "job", secret_values, init_image, outputs_interval)
        pod["containers"][0]["name"] = what.container
        replica_labels = {**labels, "polyaxon.io/replica": role}
        replicas[replica_type] = {
            "replicas": int(replica.get("replicas", 1)),
            "restartPolicy": pod["restartPolicy"],
            "template": {"metadata": {"labels": replica_labels,
                                      **({"annotations": dict(annotations)} if annotations else {})},
                         "spec": pod},
        }
    if not replicas:
        raise ManifestError(f"a `{kind}` names no replica; give at least one of "
                            f"{', '.join(what.roles)}, each with its container")
    run_policy: dict[str, Any] = {"backoffLimit": int(launch.termination.get("max_retries", 0))}
    if section.get("cleanPodPolicy"):
        run_policy["cleanPodPolicy"] = section["cleanPodPolicy"]
    if isinstance(section.get("schedulingPolicy"), Mapping):
        run_policy["schedulingPolicy"] = dict(section["schedulingPolicy"])
    if "timeout" in launch.termination:
        run_policy["activeDeadlineSeconds"] = int(launch.termination["timeout"])
    if "ttl" in launch.termination:
        run_policy["ttlSecondsAfterFinished"] = int(launch.termination["ttl"])
    spec: dict[str, Any] = {"runPolicy": run_policy, what.replica_specs: replicas}
    for written_name, field_name in what.fields.items():
        if section.get(written_name) is not None:
            spec[field_name] = section[written_name]
    return {"apiVersion": KUBEFLOW_VERSION, "kind": what.kind,
            "metadata": {**metadata, "labels": dict(labels)}, "spec": spec}


def _container_of(written: Mapping[str, Any]) -> ContainerSpec:
    """A replica's container (templates already rendered) as the main container."""

    def argv(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            return tuple(shlex.split(value))
        return tuple(str(item) for item in value or ())

    env = {str(entry["name"]): str(entry["value"]) for entry in written.get("env") or []
           if isinstance(entry, Mapping) and "value" in entry}
    return ContainerSpec(image=written.get("image"), command=argv(written.get("command")),
                         args=argv(written.get("args")), env=env, working_dir=written.get("workingDir"))


def _mapping(section: Mapping[str, Any], *path: str) -> dict[str, Any]:
    found: Any = section
    for key in path:
        found = found.get(key) if isinstance(found, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def _pod_spec(launch: LaunchRequest, kind: str, secret_values: Mapping[str, str],
              init_image: str, outputs_interval: float | None) -> dict[str, Any]:
    section = launch.run_section
    environment = _mapping(section, "environment")
    written = _mapping(section, "container")
    if not launch.container.image:
        raise ManifestError("the container has no `image`: Kubernetes runs images; name one "
                            "in run.container.image")
    volumes: list[dict[str, Any]] = [{"name": CONTEXT_VOLUME, "emptyDir": {}}]
    volumes += [dict(volume) for volume in section.get("volumes") or []]
    main = _main_container(launch, written, secret_values)
    exposure = connection_exposure(launch.connections)
    exposure.apply(main)
    volumes += exposure.volumes
    inits = []
    for index, step in enumerate(launch.init):
        container, step_volumes = _init_container(launch, step, index, init_image)
        inits.append(container)
        volumes += step_volumes
    if outputs_interval is not None and "POLYAXON_HOST" in launch.env \
            and "POLYAXON_AUTH_TOKEN" in secret_values:
        inits.append(_outputs_sidecar(launch, init_image, outputs_interval))
    pod: dict[str, Any] = {
        "restartPolicy": str(environment.get("restartPolicy")
                             or ("Never" if kind == "job" else "Always")),
        "containers": [main, *[dict(sidecar) for sidecar in section.get("sidecars") or []]],
        "volumes": _unique(volumes),
    }
    if inits:
        pod["initContainers"] = inits
    for name in POD_FIELDS:
        if environment.get(name) is not None:
            pod[name] = environment[name]
    if environment.get("imagePullSecrets"):
        pod["imagePullSecrets"] = [{"name": str(name)} for name in environment["imagePullSecrets"]]
    return pod


def _main_container(launch: LaunchRequest, written: Mapping[str, Any],
                    secret_values: Mapping[str, str]) -> dict[str, Any]:
    container = launch.container
    main: dict[str, Any] = {
        key: value for key, value in written.items()
        if key not in {"name", "command", "args", "env", "workingDir", "image"}
    }
    main.update(name=MAIN, image=container.image)
    if container.command:
        main["command"] = list(container.command)
    if container.args:
        main["args"] = list(container.args)
    if container.working_dir:
        main["workingDir"] = container.working_dir
    context = {name: POD_CONTEXT.get(name, value) for name, value in launch.env.items()
               if name not in LOCAL_ONLY}
    env: list[dict[str, Any]] = [{"name": name, "value": value} for name, value in context.items()
                                 if name not in secret_values]
    env += [{"name": name, "valueFrom": {"secretKeyRef": {
        "name": object_name(launch.run.uuid, "context", attempt_of(launch)), "key": name}}}
        for name in secret_values]
    written_env = {entry.get("name"): entry for entry in written.get("env") or []
                   if isinstance(entry, Mapping)}
    for name, value in container.env.items():
        env.append({"name": name, "value": value})
    env += [dict(entry) for name, entry in written_env.items() if "valueFrom" in entry]
    main["env"] = env
    main["volumeMounts"] = [*(written.get("volumeMounts") or []),
                            {"name": CONTEXT_VOLUME, "mountPath": CONTEXT_PATH}]
    if launch.ports and "readinessProbe" not in main:
        # a service is running once its first port answers, as on the local scheduler
        main["readinessProbe"] = {"tcpSocket": {"port": launch.ports[0]}, "periodSeconds": 2}
    return main


def _outputs_sidecar(launch: LaunchRequest, init_image: str, interval: float) -> dict[str, Any]:
    """The native sidecar that sends the pod's artifacts to the run (see the module)."""
    context = {name: POD_CONTEXT.get(name, launch.env[name])
               for name in ("POLYAXON_HOST", "POLYAXON_OWNER", "POLYAXON_PROJECT", "POLYAXON_RUN_UUID",
                            "POLYAXON_RUN_ARTIFACTS_PATH") if name in launch.env}
    outputs = POD_CONTEXT["POLYAXON_RUN_OUTPUTS_PATH"]
    return {
        "name": SIDECAR, "image": init_image, "restartPolicy": "Always",
        "command": ["python", "-m", "polyaxon_schedulers.kubernetes.sidecar"],
        "args": ["--interval", f"{interval:g}"],
        "env": [*({"name": name, "value": value} for name, value in context.items()),
                {"name": "POLYAXON_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {
                    "name": object_name(launch.run.uuid, "context", attempt_of(launch)),
                    "key": "POLYAXON_AUTH_TOKEN"}}}],
        "volumeMounts": [{"name": CONTEXT_VOLUME, "mountPath": CONTEXT_PATH}],
        "startupProbe": {"exec": {"command": ["test", "-d", outputs]},
                         "periodSeconds": 1, "failureThreshold": 60},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    }


@dataclass
class Exposure:
    """What gives a container its connections: volumes of the pod, and the container's
    volume mounts, variables and ``envFrom`` sources."""

    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)
    env_from: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, container: dict[str, Any]) -> None:
        for key, items in (("env", self.env), ("volumeMounts", self.mounts),
                           ("envFrom", self.env_from)):
            if items:
                container[key] = [*container.get(key, []), *items]


def _volume_name(prefix: str, name: str) -> str:
    return f"{prefix}-{label_value(name).lower().replace('_', '-').replace('.', '-')}"[:63].rstrip("-")


def connection_exposure(connections: Sequence[ConnectionEntity]) -> Exposure:
    """How a container gets these connections (see the module docstring)."""
    exposure = Exposure()
    if connections:
        from polyaxon_core.connections.exposure import catalog_entry

        exposure.env.append({"name": "POLYAXON_CONNECTIONS",
                             "value": json.dumps([catalog_entry(c) for c in connections])})
    for connection in connections:
        prefix = f"POLYAXON_CONNECTION_{env_name(connection.name)}"
        schema = connection.schema
        volume = _volume_name("connection", connection.name)
        if connection.kind == "host_path":
            exposure.volumes.append({"name": volume, "hostPath": {"path": str(schema["hostPath"])}})
        elif connection.kind == "volume_claim":
            exposure.volumes.append({"name": volume, "persistentVolumeClaim": {
                "claimName": str(schema["volumeClaim"]),
                "readOnly": bool(schema.get("readOnly", False))}})
        if connection.kind in {"host_path", "volume_claim"}:
            exposure.mounts.append({"name": volume, "mountPath": str(schema["mountPath"]),
                                    "readOnly": bool(schema.get("readOnly", False))})
            exposure.env.append({"name": f"{prefix}_PATH", "value": str(schema["mountPath"])})
        elif connection.kind in {"s3", "gcs", "wasb"}:
            exposure.env.append({"name": f"{prefix}_BUCKET", "value": str(schema["bucket"])})
        elif "url" in schema:
            exposure.env.append({"name": f"{prefix}_URL", "value": str(schema["url"])})
        for what, reference in (("secret", connection.secret), ("configMap", connection.config_map)):
            if reference is None:
                continue
            if reference.mount_path:
                volume = _volume_name(what.lower(), reference.name)
                source = ({"secret": {"secretName": reference.name}} if what == "secret"
                          else {"configMap": {"name": reference.name}})
                exposure.volumes.append({"name": volume, **source})
                exposure.mounts.append({"name": volume, "mountPath": reference.mount_path,
                                        "readOnly": True})
                suffix = "SECRET_PATH" if what == "secret" else "CONFIG_MAP_PATH"
                exposure.env.append({"name": f"{prefix}_{suffix}", "value": reference.mount_path})
            elif reference.items:
                key_ref = "secretKeyRef" if what == "secret" else "configMapKeyRef"
                exposure.env += [{"name": key, "valueFrom": {key_ref: {
                    "name": reference.name, "key": key}}} for key in reference.items]
            else:
                exposure.env_from.append({f"{what}Ref": {"name": reference.name}})
    return exposure


def _init_container(launch: LaunchRequest, step: InitStep, index: int,
                    init_image: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    name = f"polyaxon-init-{index + 1}"
    exposure = connection_exposure([step.connection] if step.connection else [])
    if step.container is not None:
        container: dict[str, Any] = {
            "name": name, "image": step.container.image or init_image,
            "command": list(step.container.command) if step.container.command else None,
            "args": list(step.container.args) if step.container.args else None,
            "workingDir": step.container.working_dir or CONTEXT_PATH,
            "env": [{"name": k, "value": v} for k, v in step.container.env.items()],
        }
        container = {key: value for key, value in container.items() if value is not None}
    else:
        value = dict(step.value)
        if step.kind == "paths":
            if step.connection is None:
                raise ManifestError(STORE_PATHS)
            # the connection's folder as the init container has it: where it is mounted
            value["root"] = str(step.connection.schema["mountPath"])
        record = {"kind": step.kind, "destination": _in_context(launch, step.destination),
                  "value": value,
                  "sources": [[source, _in_context(launch, target)] for source, target in step.sources]}
        container = {
            "name": name, "image": init_image,
            "command": ["python", "-m", "polyaxon_schedulers.initializers"],
            "args": [json.dumps(record, sort_keys=True)],
        }
    container["volumeMounts"] = [{"name": CONTEXT_VOLUME, "mountPath": CONTEXT_PATH}]
    exposure.apply(container)
    return container, exposure.volumes


def _in_context(launch: LaunchRequest, path: str) -> str:
    """A path under the run's folder on this machine, as it is in the pod: under
    ``/plx-context``."""
    if path == launch.run_path:
        return CONTEXT_PATH
    prefix = launch.run_path.rstrip("/") + "/"
    return CONTEXT_PATH + "/" + path[len(prefix):] if path.startswith(prefix) else path


def _unique(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The volumes, each name once (a connection named by the run and an initializer);
    ManifestError for two different volumes of one name."""
    seen: dict[str, dict[str, Any]] = {}
    for volume in volumes:
        name = str(volume["name"])
        if name in seen and seen[name] != volume:
            raise ManifestError(f"two volumes are called `{name}`; rename the one in run.volumes")
        seen.setdefault(name, volume)
    return list(seen.values())
