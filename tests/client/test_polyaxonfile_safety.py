"""What a real server refuses to do with a polyaxonfile: expand an alias bomb, fetch a
urlRef, accept a section it would then ignore. Every URL here is on 127.0.0.1."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyaxon_core.client.errors import ApiError
from tests.client.conftest import Deployment
from tests.spec.conftest import ComponentServer

BILLION_LAUGHS = Path(__file__).parents[1] / "spec" / "files" / "billion-laughs.yaml"
COMPONENT = (
    "kind: component\nname: fetched\nrun: {kind: job, container: {image: busybox, command: ['true']}}\n"
)


@pytest.fixture
def component_server() -> Iterator[ComponentServer]:
    server = ComponentServer()
    yield server
    server.close()


def test_an_alias_bomb_is_a_422_that_says_why(deployment: Deployment, project: str) -> None:
    assert len(BILLION_LAUGHS.read_bytes()) < 400

    with pytest.raises(ApiError) as caught:
        deployment.client().create_run(project, BILLION_LAUGHS.read_text())

    assert caught.value.status == 422
    assert "the document expands to more than 100,000 values" in str(caught.value)
    # the server is still there and created nothing
    assert deployment.client().list_runs(project)["count"] == 0


def test_a_recursive_alias_is_a_422(deployment: Deployment, project: str) -> None:
    with pytest.raises(ApiError) as caught:
        deployment.client().create_run(project, "kind: operation\nparams: &p {a: *p}\n")

    assert caught.value.status == 422
    assert "a recursive alias" in str(caught.value)


def test_a_small_alias_still_creates_a_run(deployment: Deployment, project: str) -> None:
    content = textwrap.dedent("""\
        kind: component
        name: aliased
        inputs: [{name: a, type: int, value: 1}]
        run:
          kind: job
          container: &container {image: busybox, command: ["true"]}
          init: [{container: *container}]
        """)

    run = deployment.client().create_run(project, content)

    assert run["name"] == "aliased"


def test_the_server_never_fetches_a_url_ref(
    deployment: Deployment, project: str, component_server: ComponentServer
) -> None:
    component_server.files["/train.yaml"] = COMPONENT
    url = f"{component_server.url}/train.yaml"

    for content in (f"kind: operation\nurlRef: {url}\n",
                    json.dumps({"kind": "operation", "urlRef": url})):
        with pytest.raises(ApiError) as caught:
            deployment.client().create_run(project, content)
        assert caught.value.status == 422
        assert f"urlRef `{url}` is not fetched here" in str(caught.value)

    assert component_server.requested == []
    assert deployment.client().list_runs(project)["count"] == 0


def test_polyaxon_run_fetches_the_url_ref_on_the_client(
    deployment: Deployment, project: str, component_server: ComponentServer, tmp_path: Path
) -> None:
    component_server.files["/train.yaml"] = COMPONENT
    path = tmp_path / "op.yaml"
    path.write_text(f"kind: operation\nurlRef: {component_server.url}/train.yaml\n")

    result = deployment.cli("run", "-f", str(path), "-p", project, "-o", "json")

    run = json.loads(result.stdout)
    assert run["name"] == "fetched"
    # one request: the client's; the server compiled the component it was sent
    assert component_server.requested == ["/train.yaml"]
    stored = deployment.client().get_run(project, run["uuid"])
    assert json.loads(stored["content"])["component"]["name"] == "fetched"


def test_polyaxon_run_refuses_a_file_url_ref(deployment: Deployment, project: str, tmp_path: Path) -> None:
    component = tmp_path / "train.yaml"
    component.write_text(COMPONENT)
    path = tmp_path / "op.yaml"
    path.write_text(f"kind: operation\nurlRef: {component.as_uri()}\n")

    result = deployment.cli("run", "-f", str(path), "-p", project, check=False)

    assert result.returncode == 1
    assert "uses `file` scheme; only http and https URLs are fetched" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_the_server_refuses_a_section_that_would_not_act(deployment: Deployment, project: str) -> None:
    content = textwrap.dedent("""\
        kind: operation
        events: [{kinds: [run_status_succeeded], ref: ops.upstream}]
        component:
          run: {kind: job, container: {image: busybox, command: ["true"]}}
        """)

    with pytest.raises(ApiError) as caught:
        deployment.client().create_run(project, content)

    assert caught.value.status == 400
    message = str(caught.value)
    assert "refused rather than silently ignored: `events` do not act yet" in message
    assert deployment.client().list_runs(project)["count"] == 0


def test_a_schedule_created_through_the_server_waits_on_schedule(
    deployment: Deployment, project: str
) -> None:
    content = textwrap.dedent("""\
        kind: operation
        schedule: {kind: cron, cron: "0 3 * * *", startAt: "2099-01-01T00:00:00Z"}
        component:
          run: {kind: job, container: {image: busybox, command: ["true"]}}
        """)

    created = deployment.client().create_run(project, content)

    assert created["status"] == "on_schedule"
    runs = deployment.client().list_runs(project)
    assert [(run["uuid"], run["status"]) for run in runs["results"]] == [(created["uuid"], "on_schedule")]
    stopped = deployment.client().stop_run(project, created["uuid"])
    assert stopped is not None and stopped["status"] == "stopped"
