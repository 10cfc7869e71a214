"""The ``run`` section: jobs, services and DAGs, with Kubernetes-style containers.

Container, volume and environment fields use the Kubernetes names so that the same file
runs on the local scheduler and on Kubernetes. The parts a scheduler acts on (image,
command, env, resources, mounts) are checked in depth; the rest of the Kubernetes
objects (probes, affinity, ...) are checked for their field names and kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, validates_schema

from polyaxon_core.spec.errors import Issue
from polyaxon_core.spec.fields import (
    Anything,
    Boolean,
    ByKind,
    Choice,
    Integer,
    ListOf,
    MappingOf,
    Section,
    SpecField,
    SpecSchema,
    Text,
    camel_case,
)
from polyaxon_core.spec.matrix import EarlyStopping
from polyaxon_core.spec.types import IO_TYPES, TypeMismatch

# -- containers ------------------------------------------------------------------------


class Argv(SpecField):
    """``command``/``args``: a list of strings (numbers are accepted and become strings),
    or one string, which is split like a shell would."""

    def default_description(self) -> str:
        return "a list of strings, e.g. [python, train.py]"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        if not isinstance(value, list):
            raise self.fail(value)
        errors = {
            index: [Issue(f"expected a string, got {type(item).__name__}", "a string (quote it)")]
            for index, item in enumerate(value)
            if not isinstance(item, str | int | float) or isinstance(item, bool)
        }
        if errors:
            raise ValidationError(errors)
        return value


class KubeObject(SpecField):
    """A Kubernetes object kept as written (affinity, probes, ...)."""

    def default_description(self) -> str:
        return "a mapping"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise self.fail(value)
        return value


#: a Kubernetes resource quantity: a number, an exponent, a suffix (decimal or binary)
QUANTITY = re.compile(
    r"^\s*[+]?(\d+(?:\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?\s*$")
_SUFFIXES = {"": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "P": 1e15, "E": 1e18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40,
             "Pi": 2 ** 50, "Ei": 2 ** 60}


def quantity_value(text: str) -> float | None:
    """The number the quantity ``text`` stands for (``500m`` -> 0.5, ``1Ki`` -> 1024);
    None when it is none."""
    match = QUANTITY.match(text)
    if match is None:
        return None
    number, exponent, suffix = match.groups()
    return float(number + (exponent or "")) * _SUFFIXES[suffix or ""]


class Quantity(SpecField):
    """A Kubernetes resource quantity: ``2``, ``500m``, ``1.5Gi``."""

    def default_description(self) -> str:
        return "a quantity such as 1, 500m or 2Gi"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(value)
        if isinstance(value, int | float):
            if value < 0:
                raise self.fail(value, "a quantity cannot be negative")
            return value
        if "{{" in value:
            return value
        if not QUANTITY.match(value):
            raise self.fail(value, f"`{value}` is not a quantity")
        return value


class ResourcesSchema(SpecSchema):
    limits = MappingOf(Quantity())
    requests = MappingOf(Quantity())
    claims = ListOf(KubeObject())

    @validates_schema
    def _extended_resources(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        """An extended resource (``nvidia.com/gpu``...) is never overcommitted: a request
        needs a limit of the same amount, and amounts are whole."""
        limits, requests = data.get("limits") or {}, data.get("requests") or {}
        for section, values in (("requests", requests), ("limits", limits)):
            for name, amount in values.items():
                if "/" not in str(name) or _is_template(amount):
                    continue
                if not _is_whole(amount):
                    raise ValidationError({section: {name: [Issue(
                        f"{name} is counted in whole devices, not {amount!r}", "a whole number")]}})
                if section == "requests" and name not in limits:
                    raise ValidationError({section: {name: [Issue(
                        f"a request of {name} needs a limit of the same amount (devices are "
                        f"never shared); add limits.{name}: {amount}", f"limits.{name}")]}})
                if section == "requests" and str(limits[name]) != str(amount):
                    raise ValidationError({section: {name: [Issue(
                        f"the request of {name} ({amount}) differs from its limit "
                        f"({limits[name]}); devices are never shared, make them equal",
                        f"{limits[name]}")]}})


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _is_whole(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and value.strip().isdigit()


class TolerationSchema(SpecSchema):
    key = Text()
    operator = Choice(["Exists", "Equal"], what="toleration operator")
    value = Text()
    effect = Choice(["NoSchedule", "PreferNoSchedule", "NoExecute"], what="taint effect")
    toleration_seconds = Integer()

    @validates_schema
    def _exists_has_no_value(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data.get("operator") == "Exists" and data.get("value"):
            raise ValidationError({"value": [Issue(
                "a toleration with operator Exists matches any value; remove `value` or use "
                "operator Equal", "no value with Exists")]})


class EnvVarSchema(SpecSchema):
    name = Text(required=True)
    # Kubernetes only takes strings here; a YAML `1` or `true` must be quoted.
    value = Text(help_text="a string (quote numbers and booleans)")
    value_from = KubeObject()


class VolumeMountSchema(SpecSchema):
    name = Text(required=True)
    mount_path = Text(required=True)
    read_only = Boolean()
    sub_path = Text()
    sub_path_expr = Text()
    mount_propagation = Text()
    recursive_read_only = Text()


class ContainerSchema(SpecSchema):
    name = Text()
    image = Text()
    image_pull_policy = Choice(["Always", "IfNotPresent", "Never"], what="image pull policy")
    command = Argv()
    args = Argv()
    working_dir = Text()
    env = ListOf(Section(EnvVarSchema))
    env_from = ListOf(KubeObject())
    resources = Section(ResourcesSchema)
    volume_mounts = ListOf(Section(VolumeMountSchema))
    volume_devices = ListOf(KubeObject())
    ports = ListOf(KubeObject())
    security_context = KubeObject()
    lifecycle = KubeObject()
    liveness_probe = KubeObject()
    readiness_probe = KubeObject()
    startup_probe = KubeObject()
    resize_policy = ListOf(KubeObject())
    restart_policy = Text()
    stdin = Boolean()
    stdin_once = Boolean()
    tty = Boolean()
    termination_message_path = Text()
    termination_message_policy = Text()


# -- volumes, init, environment --------------------------------------------------------

VOLUME_SOURCES = (
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
)


class _VolumeSchema(SpecSchema):
    name = Text(required=True)

    @validates_schema
    def _one_source(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        given = [source for source in VOLUME_SOURCES if data.get(source) is not None]
        if len(given) > 1:
            raise ValidationError(
                {given[1]: [Issue(f"a volume has one source, this one has {', '.join(given)}", "one source")]}
            )


VolumeSchema = type(
    "VolumeSchema",
    (_VolumeSchema,),
    {source: KubeObject(data_key=source) for source in VOLUME_SOURCES},
)


class TypedValue(SpecField):
    """A value of one of the IO types (``git``, ``dockerfile``...), as in ``init``."""

    def __init__(self, type_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.type_name = type_name

    def default_description(self) -> str:
        return IO_TYPES[self.type_name].describe

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            return value
        try:
            IO_TYPES[self.type_name].convert(value)
        except TypeMismatch as exc:
            raise self.fail(value, str(exc)) from None
        return value


class Paths(SpecField):
    def default_description(self) -> str:
        return "a list of paths, each a string or a [from, to] pair"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        valid = isinstance(value, list) and all(
            isinstance(item, str) or (isinstance(item, list) and all(isinstance(part, str) for part in item))
            for item in value
        )
        if not valid:
            raise self.fail(value)
        return value


INIT_SOURCES = (
    "artifacts",
    "paths",
    "git",
    "dockerfile",
    "file",
    "tensorboard",
    "lineage_ref",
    "model_ref",
    "artifact_ref",
)


class InitSchema(SpecSchema):
    artifacts = TypedValue("artifacts")
    paths = Paths()
    git = TypedValue("git")
    dockerfile = TypedValue("dockerfile")
    file = TypedValue("file")
    tensorboard = TypedValue("tensorboard")
    lineage_ref = Text()
    model_ref = Text()
    artifact_ref = Text()
    connection = Text()
    path = Text()
    container = Section(ContainerSchema)

    @validates_schema
    def _one_source(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        given = [camel_case(source) for source in INIT_SOURCES if data.get(source)]
        if len(given) > 1:
            raise ValidationError(
                {
                    given[1]: [
                        Issue(
                            f"an initializer has one source, this one has {', '.join(given)}",
                            "one of: " + ", ".join(map(camel_case, INIT_SOURCES)),
                        )
                    ]
                }
            )
        git = data.get("git")
        if isinstance(git, Mapping) and not git.get("url") and not data.get("connection"):
            raise ValidationError(
                {
                    "git": [
                        Issue("a git initializer without `url` needs a `connection`", "git.url or connection")
                    ]
                }
            )


class EnvironmentSchema(SpecSchema):
    labels = MappingOf(Text())
    annotations = MappingOf(Text())
    node_selector = MappingOf(Text())
    affinity = KubeObject()
    tolerations = ListOf(Section(TolerationSchema))
    node_name = Text()
    service_account_name = Text()
    host_aliases = ListOf(KubeObject())
    security_context = KubeObject()
    image_pull_secrets = ListOf(Text())
    host_network = Boolean()
    host_pid = Boolean(data_key="hostPID")
    dns_policy = Text()
    dns_config = KubeObject()
    scheduler_name = Text()
    priority_class_name = Text()
    priority = Integer()
    restart_policy = Choice(["Always", "OnFailure", "Never", "ExitCode"], what="restart policy")


# -- run kinds -------------------------------------------------------------------------


class _RunSchema(SpecSchema):
    environment = Section(EnvironmentSchema)
    connections = ListOf(Text())
    volumes = ListOf(Section(VolumeSchema))


class JobSchema(_RunSchema):
    kind = Choice(["job"])
    init = ListOf(Section(InitSchema))
    sidecars = ListOf(Section(ContainerSchema))
    container = Section(ContainerSchema, required=True)

    field_hints = {
        "ports": "ports belong to `kind: service` runs",
        "operations": "operations belong to `kind: dag` runs",
    }


class ServiceSchema(JobSchema):
    kind = Choice(["service"])
    ports = ListOf(Integer(minimum=1, maximum=65535))
    rewrite_path = Boolean()
    is_external = Boolean()
    replicas = Integer(minimum=1)


def _operation_schema() -> type[SpecSchema]:
    from polyaxon_core.spec.schemas import OperationSchema

    return OperationSchema


def _component_schema() -> type[SpecSchema]:
    from polyaxon_core.spec.schemas import ComponentSchema

    return ComponentSchema


class DagSchema(_RunSchema):
    kind = Choice(["dag"])
    operations = ListOf(Section(_operation_schema), required=True, min_items=1)
    components = ListOf(Section(_component_schema))
    concurrency = Integer(minimum=1)
    early_stopping = EarlyStopping()

    field_hints = {"container": "a dag runs operations; containers belong to their components"}


class ReplicaSchema(_RunSchema):
    """A replica of a distributed run (Polyaxon's ``V1KFReplica``): a pod template."""

    replicas = Integer(minimum=0)
    init = ListOf(Section(InitSchema))
    sidecars = ListOf(Section(ContainerSchema))
    container = Section(ContainerSchema, required=True)


class SchedulingPolicySchema(SpecSchema):
    min_available = Integer(minimum=0)
    queue = Text()
    min_resources = MappingOf(Anything())
    priority_class = Text()
    schedule_timeout_seconds = Integer(minimum=0)


class _DistributedSchema(SpecSchema):
    """The Kubeflow training operator's runs: replicas by role, each its own pods."""

    clean_pod_policy = Choice(["All", "Running", "None"], what="clean pod policy")
    scheduling_policy = Section(SchedulingPolicySchema)


class TFJobSchema(_DistributedSchema):
    kind = Choice(["tfjob"])
    enable_dynamic_worker = Boolean()
    success_policy = Text()
    chief = Section(ReplicaSchema)
    ps = Section(ReplicaSchema)
    worker = Section(ReplicaSchema)
    evaluator = Section(ReplicaSchema)


class PyTorchJobSchema(_DistributedSchema):
    kind = Choice(["pytorchjob"])
    elastic_policy = KubeObject()
    n_proc_per_node = Integer(minimum=1)
    master = Section(ReplicaSchema)
    worker = Section(ReplicaSchema)


class MPIJobSchema(_DistributedSchema):
    kind = Choice(["mpijob"])
    slots_per_worker = Integer(minimum=1)
    launcher = Section(ReplicaSchema)
    worker = Section(ReplicaSchema)


RUN_SCHEMAS: dict[str, type[SpecSchema]] = {
    "job": JobSchema, "service": ServiceSchema, "dag": DagSchema,
    "tfjob": TFJobSchema, "pytorchjob": PyTorchJobSchema, "mpijob": MPIJobSchema}


def Run(**kwargs: Any) -> ByKind:  # noqa: N802 - a field, like the others
    return ByKind(RUN_SCHEMAS, what="run", **kwargs)
