"""The Kubernetes objects of runs, for a corpus of polyaxonfiles covering the fields they
map, validated with ``kubernetes-validate`` in strict mode against the oldest and the
newest Kubernetes versions it bundles (no cluster exists on these machines: the objects
are checked against the official schemas, not created)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from polyaxon_schedulers.kubernetes.manifests import (
    ManifestError,
    object_name,
    render,
    selector,
)

from polyaxon_core.entities import (
    ConnectionEntity,
    ContainerSpec,
    LaunchRequest,
    ResourceReference,
    RunEntity,
)
from polyaxon_core.orchestrator import initializers
from polyaxon_core.services import declared_ports
from polyaxon_core.spec import read_polyaxonfile

VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
UUID = "0d7f98bcb90e4542b4f9893e50a905e8"
RUN_PATH = "/srv/polyaxon/runs/" + UUID
CATALOG = {
    "code": ConnectionEntity(name="code", kind="git",
                             schema={"url": "https://git.example.org/org/models.git"},
                             secret=ResourceReference("git-login", items=("POLYAXON_GIT_CREDENTIALS",))),
    "datasets": ConnectionEntity(name="datasets", kind="volume_claim",
                                 schema={"volumeClaim": "datasets", "mountPath": "/data", "readOnly": True}),
    "scratch": ConnectionEntity(name="scratch", kind="host_path",
                                schema={"hostPath": "/mnt/scratch", "mountPath": "/scratch"}),
    "aws": ConnectionEntity(name="aws", kind="s3", schema={"bucket": "s3://models"},
                            secret=ResourceReference("aws-keys")),
    "warehouse": ConnectionEntity(name="warehouse", kind="postgres", schema={"host": "db"},
                                  secret=ResourceReference("warehouse-login", mount_path="/etc/warehouse"),
                                  config_map=ResourceReference("warehouse-settings", items=("PGDATABASE",))),
}

JOB = """
version: 1.1
kind: operation
termination: {maxRetries: 3, timeout: 3600, ttl: 600}
params:
  lr: {value: 0.01}
component:
  inputs: [{name: lr, type: float}]
  run:
    kind: job
    environment:
      labels: {team: vision}
      annotations: {owner: ada}
      nodeSelector: {pool: gpu}
      tolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a, b]}]}]
      serviceAccountName: trainer
      imagePullSecrets: [registry-login]
      securityContext: {runAsUser: 1000, fsGroup: 1000}
      priorityClassName: high
      restartPolicy: OnFailure
      hostNetwork: false
    connections: [datasets, scratch, aws, warehouse]
    volumes: [{name: shm, emptyDir: {medium: Memory}}]
    init:
      - {connection: code, git: {revision: v1.2}}
      - {file: {content: "lr: 0.1", filename: conf.yaml}}
      - {dockerfile: {image: "python:3.11"}}
      - {paths: [["checkpoints/best", model]], connection: scratch}
      - {container: {image: busybox, command: [sh, -c, "ls /plx-context"]}}
    sidecars: [{name: logger, image: busybox, command: [sh, -c, "tail -f /dev/null"]}]
    container:
      image: pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime
      imagePullPolicy: IfNotPresent
      command: [python, train.py]
      args: ["--lr={{ lr }}"]
      workingDir: /plx-context/models
      env: [{name: MODE, value: train}, {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
      resources:
        limits: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}
        requests: {cpu: "2", memory: 8Gi, nvidia.com/gpu: 1}
      volumeMounts: [{name: shm, mountPath: /dev/shm}]
"""

SERVICE = """
version: 1.1
kind: component
run:
  kind: service
  ports: [8888, 6006]
  replicas: 2
  isExternal: true
  container:
    image: jupyter/base-notebook
    command: [start-notebook.sh]
"""


def _launch(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> LaunchRequest:
    source = tmp_path / "polyaxonfile.yaml"
    source.write_text(text)
    spec = read_polyaxonfile(source)
    inputs = spec.resolve_inputs({})
    globals_context = {"run_artifacts_path": "/plx-context/artifacts", "uuid": UUID}
    steps = initializers.plan(spec.render_init(inputs, globals_context), Path(RUN_PATH),
                              Path(RUN_PATH) / "artifacts", CATALOG.__getitem__, lambda uuid: True)
    termination = spec.termination
    return LaunchRequest(
        run=RunEntity(uuid=UUID, project="Vision Models", owner="ada", name="train",
                      kind=spec.run_kind, runtime=spec.run_kind, status="scheduled"),
        container=(spec.render_container(inputs, globals_context) if "container" in spec.run
                   else ContainerSpec(image=None)),
        env=env or {"POLYAXON_RUN_UUID": UUID, "POLYAXON_HOST": "http://polyaxon:8000",
                    "POLYAXON_AUTH_TOKEN": "secret-token", "POLYAXON_RUN_ARTIFACTS_PATH": "/local/a",
                    "POLYAXON_DB_URL": "sqlite:////local/db"},
        run_path=RUN_PATH,
        connections=tuple(CATALOG[name] for name in spec.render_connections(inputs, globals_context)),
        init=steps,
        run_section=spec.render_run(inputs, globals_context),
        ports=tuple(declared_ports(spec.run)) if spec.run_kind == "service" else (),
        termination={key: value for key, value in (
            ("max_retries", termination.max_retries), ("timeout", termination.timeout),
            ("ttl", termination.ttl)) if value is not None} if termination else {},
    )


def _validated(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for manifest in objects:
        for version in VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)
    return {manifest["kind"]: manifest for manifest in objects}


def test_a_job_maps_every_field_and_validates_strictly(tmp_path: Path) -> None:
    launch = _launch(JOB, tmp_path)
    objects = _validated(render(launch, "ml", context_secret={"POLYAXON_AUTH_TOKEN": "secret-token"}))
    assert list(objects) == ["Secret", "Job"]
    job = objects["Job"]
    assert job["metadata"]["name"] == object_name(UUID) and job["metadata"]["namespace"] == "ml"
    assert job["metadata"]["labels"]["polyaxon.io/run-uuid"] == UUID
    assert job["metadata"]["labels"]["polyaxon.io/project"] == "Vision-Models"
    assert job["metadata"]["labels"]["team"] == "vision"
    assert job["metadata"]["annotations"] == {"owner": "ada"}
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"],
            job["spec"]["ttlSecondsAfterFinished"]) == (3, 3600, 600)
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "OnFailure" and pod["serviceAccountName"] == "trainer"
    assert pod["imagePullSecrets"] == [{"name": "registry-login"}]
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["priorityClassName"] == "high"
    main, sidecar = pod["containers"]
    assert sidecar["name"] == "logger"
    assert main["name"] == "polyaxon-main" and main["args"] == ["--lr=0.01"]
    assert main["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert main["imagePullPolicy"] == "IfNotPresent"
    env = {entry["name"]: entry for entry in main["env"]}
    # the token from the run's Secret, never as a value; the local database left out
    assert env["POLYAXON_AUTH_TOKEN"] == {"name": "POLYAXON_AUTH_TOKEN", "valueFrom": {
        "secretKeyRef": {"name": object_name(UUID, "context"), "key": "POLYAXON_AUTH_TOKEN"}}}
    assert "secret-token" not in json.dumps(job)
    assert "POLYAXON_DB_URL" not in env
    assert env["POLYAXON_RUN_ARTIFACTS_PATH"]["value"] == "/plx-context/artifacts"
    assert env["NODE"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["PGDATABASE"]["valueFrom"] == {"configMapKeyRef": {"name": "warehouse-settings",
                                                                  "key": "PGDATABASE"}}
    assert main["envFrom"] == [{"secretRef": {"name": "aws-keys"}}]
    mounts = {mount["mountPath"]: mount for mount in main["volumeMounts"]}
    assert set(mounts) == {"/dev/shm", "/plx-context", "/data", "/scratch", "/etc/warehouse"}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes[mounts["/data"]["name"]]["persistentVolumeClaim"] == {
        "claimName": "datasets", "readOnly": True}
    assert volumes[mounts["/scratch"]["name"]]["hostPath"] == {"path": "/mnt/scratch"}
    git, file, dockerfile, paths, custom = pod["initContainers"]
    step = json.loads(git["args"][0])
    assert step["kind"] == "git" and step["destination"] == "/plx-context/models"
    assert step["value"] == {"url": "https://git.example.org/org/models.git", "revision": "v1.2"}
    # the git connection's secret reaches the git step only
    assert {e["name"] for e in git["env"]} >= {"POLYAXON_GIT_CREDENTIALS"}
    assert "POLYAXON_GIT_CREDENTIALS" not in env
    assert json.loads(file["args"][0])["destination"] == "/plx-context/conf.yaml"
    assert json.loads(dockerfile["args"][0])["destination"] == "/plx-context/Dockerfile"
    # copied from the connection's folder as the init container has it: where it is mounted
    copied = json.loads(paths["args"][0])
    assert copied["sources"] == [["checkpoints/best", "/plx-context/model"]]
    assert copied["value"]["root"] == "/scratch"
    assert {mount["mountPath"] for mount in paths["volumeMounts"]} == {"/plx-context", "/scratch"}
    assert custom["image"] == "busybox" and custom["command"] == ["sh", "-c", "ls /plx-context"]
    assert objects["Secret"]["stringData"] == {"POLYAXON_AUTH_TOKEN": "secret-token"}
    assert selector(UUID) == "app.kubernetes.io/managed-by=polyaxon-core,polyaxon.io/run-uuid=" + UUID


def test_a_service_is_a_deployment_and_a_service_that_validate(tmp_path: Path) -> None:
    objects = _validated(render(_launch(SERVICE, tmp_path), "ml"))
    assert list(objects) == ["Deployment", "Service"]
    deployment, service = objects["Deployment"], objects["Service"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert deployment["spec"]["selector"]["matchLabels"] == {"polyaxon.io/run-uuid": UUID}
    assert service["spec"]["type"] == "LoadBalancer"
    assert [port["port"] for port in service["spec"]["ports"]] == [8888, 6006]
    # running once the first port answers
    main = deployment["spec"]["template"]["spec"]["containers"][0]
    assert main["readinessProbe"]["tcpSocket"] == {"port": 8888}


def test_what_cannot_run_on_kubernetes_is_refused_with_the_fix(tmp_path: Path) -> None:
    from polyaxon_schedulers.kubernetes.scheduler import KubernetesScheduler

    from_store = JOB.replace("{paths: [[\"checkpoints/best\", model]], connection: scratch}",
                             "{paths: [[\"d0c1a7e3a1f54bbc8fbf8c5b9b0a8d53/outputs/model\", model]]}")
    with pytest.raises(ManifestError, match="from the artifacts store inside a pod"):
        render(_launch(from_store, tmp_path), "ml")
    spec = read_polyaxonfile(tmp_path / "polyaxonfile.yaml")
    assert [path for path, _ in KubernetesScheduler.check_run(spec.run)] == ["run.init[3]"]
    no_image = JOB.replace("      image: pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime\n", "")
    with pytest.raises(ManifestError, match="no `image`"):
        render(_launch(no_image, tmp_path), "ml")
    clash = JOB.replace("volumes: [{name: shm, emptyDir: {medium: Memory}}]",
                        "volumes: [{name: polyaxon-context, emptyDir: {medium: Memory}}]")
    with pytest.raises(ManifestError, match="two volumes are called `polyaxon-context`"):
        render(_launch(clash, tmp_path), "ml")


TFJOB = """
version: 1.1
kind: operation
termination: {maxRetries: 2, timeout: 7200, ttl: 300}
params:
  lr: {value: 0.05}
component:
  inputs: [{name: lr, type: float}]
  run:
    kind: tfjob
    cleanPodPolicy: Running
    schedulingPolicy: {minAvailable: 3, queue: gpus, priorityClass: high}
    successPolicy: ChiefWorker
    chief:
      replicas: 1
      environment:
        nodeSelector: {pool: gpu}
        tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
        restartPolicy: OnFailure
      container:
        image: tensorflow/tensorflow:2.15.0-gpu
        command: [python, train.py, "--lr={{ lr }}"]
        resources: {limits: {nvidia.com/gpu: 1, memory: 8Gi}, requests: {nvidia.com/gpu: 1}}
    ps:
      replicas: 1
      container: {image: tensorflow/tensorflow:2.15.0, command: [python, train.py]}
    worker:
      replicas: 3
      volumes: [{name: shm, emptyDir: {medium: Memory}}]
      container:
        image: tensorflow/tensorflow:2.15.0-gpu
        command: python train.py --role worker
        env: [{name: TF_CPP_MIN_LOG_LEVEL, value: "2"}]
        volumeMounts: [{name: shm, mountPath: /dev/shm}]
    evaluator:
      container: {image: tensorflow/tensorflow:2.15.0, command: [python, evaluate.py]}
"""

PYTORCHJOB = """
version: 1.1
kind: component
run:
  kind: pytorchjob
  nProcPerNode: 4
  elasticPolicy: {minReplicas: 1, maxReplicas: 4, rdzvBackend: c10d}
  master:
    replicas: 1
    container: {image: pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime, command: [torchrun, train.py]}
  worker:
    replicas: 2
    container: {image: pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime, command: [torchrun, train.py]}
"""

MPIJOB = """
version: 1.1
kind: component
run:
  kind: mpijob
  slotsPerWorker: 2
  launcher:
    container: {image: mpioperator/mpi-pi:openmpi, command: [mpirun, -n, "4", /home/mpiuser/pi]}
  worker:
    replicas: 2
    container: {image: mpioperator/mpi-pi:openmpi}
"""


def _pod_templates_validated(resource: dict[str, Any], replica_specs: str) -> dict[str, Any]:
    """Each replica's pod template against the official PodTemplate schema (the training
    operator's own schema is not bundled with kubernetes-validate)."""
    for replica in resource["spec"][replica_specs].values():
        template = {"apiVersion": "v1", "kind": "PodTemplate",
                    "metadata": {"name": "replica"}, "template": replica["template"]}
        for version in VERSIONS:
            kubernetes_validate.validate(template, version, strict=True)
    return dict(resource["spec"][replica_specs])


def test_a_tfjob_is_the_training_operators_tfjob_with_every_role(tmp_path: Path) -> None:
    objects = render(_launch(TFJOB, tmp_path), "ml", context_secret={"POLYAXON_AUTH_TOKEN": "secret-token"})
    assert [obj["kind"] for obj in objects] == ["Secret", "TFJob"]
    tfjob = objects[1]
    assert tfjob["apiVersion"] == "kubeflow.org/v1" and tfjob["metadata"]["name"] == object_name(UUID)
    assert tfjob["spec"]["runPolicy"] == {
        "backoffLimit": 2, "cleanPodPolicy": "Running", "activeDeadlineSeconds": 7200,
        "ttlSecondsAfterFinished": 300,
        "schedulingPolicy": {"minAvailable": 3, "queue": "gpus", "priorityClass": "high"}}
    assert tfjob["spec"]["successPolicy"] == "ChiefWorker"
    replicas = _pod_templates_validated(tfjob, "tfReplicaSpecs")
    assert list(replicas) == ["Chief", "PS", "Worker", "Evaluator"]
    assert [replicas[name]["replicas"] for name in replicas] == [1, 1, 3, 1]
    chief = replicas["Chief"]
    assert chief["restartPolicy"] == "OnFailure" == chief["template"]["spec"]["restartPolicy"]
    main = chief["template"]["spec"]["containers"][0]
    assert main["name"] == "tensorflow"
    assert main["command"] == ["python", "train.py", "--lr=0.05"]
    assert main["resources"]["limits"]["nvidia.com/gpu"] == 1
    env = {item["name"]: item for item in main["env"]}
    assert env["POLYAXON_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == object_name(UUID, "context")
    assert "POLYAXON_DB_URL" not in env
    assert chief["template"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert chief["template"]["metadata"]["labels"]["polyaxon.io/replica"] == "chief"
    worker = replicas["Worker"]["template"]["spec"]
    assert worker["containers"][0]["command"] == ["python", "train.py", "--role", "worker"]
    assert {"name": "TF_CPP_MIN_LOG_LEVEL", "value": "2"} in worker["containers"][0]["env"]
    assert {volume["name"] for volume in worker["volumes"]} == {"polyaxon-context", "shm"}
    assert "secret-token" not in json.dumps(tfjob)


def test_a_pytorchjob_and_an_mpijob_name_their_containers_as_the_operator_expects(tmp_path: Path) -> None:
    pytorch = render(_launch(PYTORCHJOB, tmp_path), "ml")[-1]
    assert pytorch["kind"] == "PyTorchJob"
    assert pytorch["spec"]["nprocPerNode"] == 4 and pytorch["spec"]["elasticPolicy"]["maxReplicas"] == 4
    replicas = _pod_templates_validated(pytorch, "pytorchReplicaSpecs")
    assert {name: r["template"]["spec"]["containers"][0]["name"] for name, r in replicas.items()} == {
        "Master": "pytorch", "Worker": "pytorch"}
    mpi = render(_launch(MPIJOB, tmp_path), "ml")[-1]
    assert mpi["kind"] == "MPIJob" and mpi["spec"]["slotsPerWorker"] == 2
    replicas = _pod_templates_validated(mpi, "mpiReplicaSpecs")
    assert replicas["Launcher"]["template"]["spec"]["containers"][0]["name"] == "mpi"
    assert "command" not in replicas["Worker"]["template"]["spec"]["containers"][0]


def test_what_kubernetes_cannot_run_of_a_distributed_run_is_named_by_check() -> None:
    from polyaxon_schedulers.kubernetes.scheduler import KubernetesScheduler
    from polyaxon_schedulers.local import LocalScheduler

    run = {"kind": "tfjob", "chief": {"container": {"command": ["python"]}},
           "worker": {"init": [{"git": {"url": "x"}}], "container": {"image": "tf"}}}
    assert KubernetesScheduler.check_run(run) == [
        ("run.chief.container.image", "Kubernetes runs images: name the one the command runs in, "
                                      "e.g. image: python:3.11-slim"),
        ("run.worker.init", "a replica's `init` does not act on Kubernetes yet; remove it")]
    assert KubernetesScheduler.check_run({"kind": "mpijob"}) == [
        ("run", "a `mpijob` needs at least one replica: launcher, worker")]
    assert [path for path, _ in LocalScheduler.check_run({"kind": "pytorchjob"})] == ["run.kind"]


#: native sidecars (an init container's ``restartPolicy``) are in the API from 1.28 and
#: on by default from 1.29
SIDECAR_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


def test_a_run_that_tracks_through_the_api_gets_the_outputs_sidecar_last(tmp_path: Path) -> None:
    objects = render(_launch(JOB, tmp_path), "ml", context_secret={"POLYAXON_AUTH_TOKEN": "secret-token"},
                     outputs_interval=5)
    job = objects[-1]
    for version in SIDECAR_VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)
    with pytest.raises(kubernetes_validate.ValidationError, match="restartPolicy"):
        kubernetes_validate.validate(job, "1.27.0", strict=True)
    pod = job["spec"]["template"]["spec"]
    *initializers_, sidecar = pod["initContainers"]
    assert len(initializers_) == 5, "after every initializer: what they wrote is there when it starts"
    assert sidecar["name"] == "polyaxon-sidecar" and sidecar["restartPolicy"] == "Always"
    assert sidecar["command"] == ["python", "-m", "polyaxon_schedulers.kubernetes.sidecar"]
    assert sidecar["args"] == ["--interval", "5"]
    env = {entry["name"]: entry for entry in sidecar["env"]}
    assert env["POLYAXON_RUN_ARTIFACTS_PATH"]["value"] == "/plx-context/artifacts"
    assert env["POLYAXON_HOST"]["value"] == "http://polyaxon:8000"
    assert env["POLYAXON_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == object_name(UUID, "context")
    # the run's own token and nothing else: no connection, no store credential, no database
    assert set(env) == {"POLYAXON_HOST", "POLYAXON_RUN_UUID", "POLYAXON_RUN_ARTIFACTS_PATH",
                        "POLYAXON_AUTH_TOKEN"}
    assert "envFrom" not in sidecar and "secret-token" not in json.dumps(job)
    assert sidecar["volumeMounts"] == [{"name": "polyaxon-context", "mountPath": "/plx-context"}]
    assert sidecar["startupProbe"]["exec"]["command"] == ["test", "-d", "/plx-context/artifacts/outputs"]
    # every replica of a distributed run sends its files too
    tfjob = render(_launch(TFJOB, tmp_path), "ml", context_secret={"POLYAXON_AUTH_TOKEN": "t"},
                   outputs_interval=5)[-1]
    for replica in tfjob["spec"]["tfReplicaSpecs"].values():
        assert [c["name"] for c in replica["template"]["spec"]["initContainers"]] == ["polyaxon-sidecar"]


def test_no_sidecar_without_an_api_to_send_to_or_when_turned_off(tmp_path: Path) -> None:
    embedded = {"POLYAXON_RUN_UUID": UUID, "POLYAXON_RUN_ARTIFACTS_PATH": "/local/a",
                "POLYAXON_DB_URL": "sqlite:////local/db"}
    for objects in (render(_launch(SERVICE, tmp_path, env=embedded), "ml", outputs_interval=5),
                    render(_launch(SERVICE, tmp_path), "ml",
                           context_secret={"POLYAXON_AUTH_TOKEN": "secret-token"}, outputs_interval=None)):
        deployment = _validated(objects)["Deployment"]
        assert "initContainers" not in deployment["spec"]["template"]["spec"]
