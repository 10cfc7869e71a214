"""Agents: one server driving two clusters, each through a `polyaxon agent` process.

Everything is real except the clusters: a `polyaxon server` with authentication, its
orchestrator, and two `polyaxon agent` processes that talk to it over HTTP with their
own tokens; each agent's Kubernetes scheduler talks to a Kubernetes API stand-in
(:mod:`polyaxon_schedulers.kubernetes.standin`, a mock: no cluster exists on these
machines) whose kubelet runs a pod's command, and its outputs sidecar, as processes here.
The agents share the server's artifacts store (a bucket of moto's S3 server), where the
pods' logs go; the sidecars send the pods' files to the server through its API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid as uuid_module
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from polyaxon_schedulers.kubernetes import standin

from plugins.stores.tests.conftest import start_moto
from tests.client.conftest import POLYAXON, Deployment, _base_env
from tests.orchestrator.conftest import FILES

Agents = Callable[[str, str], tuple[standin.Cluster, str]]


@pytest.fixture(scope="module")
def store() -> Iterator[dict[str, str]]:
    """The artifacts store the server and its agents share: a bucket of moto's S3 server."""
    with start_moto() as moto:
        moto.create_bucket("platform")
        yield {**moto.environment, "POLYAXON_ARTIFACTS_STORE": "s3://platform/artifacts"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, store: dict[str, str]) -> Iterator[Deployment]:
    setup = Deployment(tmp_path_factory.mktemp("agents"), None, server_env=store)
    setup.create_user("ada", "owner")
    setup.server.start()
    setup.login("ada")
    yield setup
    setup.stop()


@pytest.fixture
def project(server: Deployment) -> str:
    name = f"p-{uuid_module.uuid4().hex[:10]}"
    server.cli("project", "create", name)
    return name


@pytest.fixture
def agents(server: Deployment, store: dict[str, str], tmp_path: Path) -> Iterator[Agents]:
    """``start(name, namespace)``: register an agent, start its cluster and its process."""
    started: list[tuple[subprocess.Popen[bytes], standin.StandIn]] = []

    def start(name: str, namespace: str) -> tuple[standin.Cluster, str]:
        created = json.loads(server.admin("agent", "create", name, "--namespace", namespace,
                                          "-o", "json").stdout)
        cluster = standin.start(standin.Cluster(kubelet=True))
        home = tmp_path / f"agent-{name}"
        home.mkdir()
        env = {**_base_env(home), "POLYAXON_HOST": server.url, "POLYAXON_AUTH_TOKEN": created["token"],
               "POLYAXON_K8S_API": cluster.url, "POLYAXON_K8S_SIDECAR_INTERVAL": "1", **store}
        log = open(home / "agent.log", "ab")  # noqa: SIM115 - the child keeps it open
        process = subprocess.Popen([POLYAXON, "agent", "--namespace", namespace, "--name", name,
                                    "--interval", "0.2"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        started.append((process, cluster))
        return cluster.cluster, str(created["token"])

    yield start
    for process, cluster in started:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        cluster.close()


def run_in(server: Deployment, project: str, queue: str, file: str = "pod.yaml") -> str:
    answer = server.cli("run", "-f", str(FILES / file), "-p", project, "-q", queue, "-o", "json")
    return str(json.loads(answer.stdout)["uuid"])


def wait_run(server: Deployment, project: str, uuid: str, done: Callable[[dict[str, Any]], bool],
             timeout: float = 120) -> dict[str, Any]:
    client = server.client()
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_run(project, uuid)
        if done(run):
            return run
        assert time.monotonic() < deadline, f"run {uuid} never got there: {run['status']}"
        time.sleep(0.1)


FINAL = {"succeeded", "failed", "stopped"}


def test_one_server_drives_two_clusters_each_through_its_agent(
    server: Deployment, project: str, agents: Agents,
) -> None:
    east, _ = agents("east", "team-east")
    west, _ = agents("west", "team-west")

    to_east = run_in(server, project, "east/cpu")
    to_west = run_in(server, project, "west/gpu")
    runs = [wait_run(server, project, uuid, lambda run: run["status"] in FINAL)
            for uuid in (to_east, to_west)]

    assert [run["status"] for run in runs] == ["succeeded", "succeeded"]
    assert [run["meta_info"]["agent"] for run in runs] == ["east", "west"]
    east_jobs = {job["metadata"]["labels"]["polyaxon.io/run-uuid"]
                 for job in east.find("jobs", "team-east")} | {
        pod["metadata"]["labels"]["polyaxon.io/run-uuid"] for pod in east.find("pods", "team-east")}
    assert east_jobs <= {to_east} and east.find("pods", "team-west") == []
    assert not west.find("pods", "team-east")
    posted = [path for method, path in west.requests if method == "POST"]
    assert any(path.endswith("/namespaces/team-west/jobs") for path in posted)
    logs = server.cli("ops", "logs", "-p", project, "-uid", to_east).stdout
    assert "hello from a pod" in logs
    statuses = [condition["type"] for condition in
                server.client().get_statuses(project, to_west)["status_conditions"]]
    assert statuses[-4:] == ["scheduled", "starting", "running", "succeeded"]


def test_a_run_stopped_on_the_server_is_stopped_in_its_cluster(
    server: Deployment, project: str, agents: Agents,
) -> None:
    cluster, _ = agents("north", "team-north")
    uuid = run_in(server, project, "north/cpu", "pod-slow.yaml")
    wait_run(server, project, uuid, lambda run: run["status"] == "running")

    server.cli("ops", "stop", "-p", project, "-uid", uuid, "--yes")
    stopped = wait_run(server, project, uuid, lambda run: run["status"] in FINAL)

    assert stopped["status"] == "stopped"
    deletes = [path for method, path in cluster.requests if method == "DELETE"]
    assert any(f"plx-{uuid}" in path for path in deletes)


def test_an_agents_token_acts_as_that_agent_only(
    server: Deployment, project: str, agents: Agents,
) -> None:
    _, token = agents("south", "team-south")

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> int:
        request = urllib.request.Request(
            f"{server.url}{path}", method=method, data=json.dumps(body).encode() if body else None,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    assert call("GET", "/api/v1/orgs/default/agents/south/runs") == 200
    assert call("GET", f"/api/v1/default/{project}/runs") == 403
    assert call("POST", "/api/v1/orgs/default/agents/east/claim", {"limit": 1}) == 403
    assert call("POST", "/api/v1/orgs/default/agents", {"name": "rogue", "namespace": "x"}) == 403


def test_the_servers_orchestrator_leaves_an_agents_runs_to_it(
    server: Deployment, project: str,
) -> None:
    server.admin("agent", "create", "idle", "--namespace", "team-idle")

    uuid = run_in(server, project, "idle/cpu")
    other = run_in(server, project, "unregistered/cpu", "pod-slow.yaml")
    ran = wait_run(server, project, other, lambda run: run["status"] in FINAL)
    waiting = server.client().get_run(project, uuid)
    listed = json.loads(server.admin("agent", "ls", "-o", "json").stdout)

    assert ran["status"] == "succeeded", "a queue named like no agent's runs here"
    assert waiting["status"] == "queued", "nobody but agent idle starts it"
    assert {row["name"]: row["waiting"] for row in listed["results"]}["idle"] == 1


def test_a_pods_files_reach_the_runs_artifacts_while_it_runs_and_when_it_ends(
    server: Deployment, project: str, agents: Agents,
) -> None:
    cluster, _ = agents("outputs", "team-outputs")
    uuid = run_in(server, project, "outputs/cpu", "pod-outputs.yaml")
    client = server.client()

    def outputs() -> dict[str, str]:
        found = {}
        for entry in client.artifacts_tree(project, uuid, "outputs"):
            if not entry.is_dir:
                copy = client.download_artifact(project, uuid, entry.path, Path(cluster.workdir) / "copy")
                found[entry.path] = copy.read_text()
        return found

    early = wait_run(server, project, uuid,
                     lambda run: run["status"] == "running" and "outputs/checkpoint.txt" in outputs())
    assert outputs() == {"outputs/checkpoint.txt": "epoch 1"}, "sent while the run runs"
    assert early["status"] == "running"

    [pod] = cluster.find("pods", "team-outputs")
    sidecar = pod["spec"]["initContainers"][-1]
    assert sidecar["name"] == "polyaxon-sidecar" and sidecar["restartPolicy"] == "Always"
    context = cluster.workdir / f"team-outputs-{pod['metadata']['name']}-volumes" / "polyaxon-context"
    (context / "gate").write_text("go")
    ended = wait_run(server, project, uuid, lambda run: run["status"] in FINAL)

    assert ended["status"] == "succeeded"
    # the last versions, sent when the kubelet stopped the sidecar; the link out of the
    # folder stays behind
    assert outputs() == {"outputs/checkpoint.txt": "epoch 2", "outputs/model.txt": "weights"}
    assert "trained" in server.cli("ops", "logs", "-p", project, "-uid", uuid).stdout
