"""The registry: runs promoted to model versions from inside them (the SDK, through the
server with the run's own token, and on the embedded default), listed, staged and read
through the CLI and the API; what may not be done is refused with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conftest import POLYAXON, Deployment

TRAIN = """\
from pathlib import Path
from polyaxon_core import tracking
tracking.init()
Path("model.pt").write_bytes(b"weights")
tracking.log_model("model.pt", name="model", framework="pytorch")
tracking.log_artifact("model.pt", name="weights-copy")
version = tracking.promote_to_model_version("v1", description="first", tags=["baseline"])
print("promoted", version["name"], version["artifacts"], version["stage"], version["run"])
"""


def _api(deployment: Deployment, method: str, path: str, token: str,
         body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(deployment.url + path, data=data, method=method,
                                     headers={"Authorization": f"Token {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _train(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TRAIN)
    job = tmp_path / "job.yaml"
    job.write_text(json.dumps({"kind": "component", "run": {"kind": "job", "container": {
        "command": [sys.executable, str(tmp_path / "train.py")], "workingDir": str(tmp_path)}}}))
    return job


def test_a_run_promotes_itself_through_the_server_and_the_team_stages_it(
    deployment: Deployment, project: str, tmp_path: Path
) -> None:
    uuid = json.loads(deployment.cli("run", "-f", str(_train(tmp_path)), "-p", project,
                                     "-o", "json").stdout)["uuid"]
    deployment.cli("ops", "get", uuid, "-p", project, "--watch", timeout=120)
    logs = deployment.cli("ops", "logs", uuid, "-p", project).stdout
    assert f"promoted v1 ['models/model'] testing {uuid}" in logs

    staged = deployment.cli("models", "stage", "v1", "production", "-p", project, "-m", "beats baseline")
    shown = json.loads(deployment.cli("models", "get", "v1", "-p", project, "-o", "json").stdout)
    listed = json.loads(deployment.cli("models", "ls", "-p", project, "-o", "json").stdout)

    assert staged.stdout.strip() == "model version v1 is production."
    assert shown["run"] == uuid and shown["artifacts"] == ["models/model"]
    assert shown["tags"] == ["baseline"] and shown["description"] == "first"
    assert [(entry["stage"], entry["reason"], entry["message"])
            for entry in shown["stage_conditions"]] == [
        ("testing", "promoted", f"from run {uuid}"), ("production", "staged", "beats baseline")]
    assert shown["stage_conditions"][-1]["user"] == "ada"
    assert [row["name"] for row in listed["results"]] == ["v1"]
    # the same name again is refused, and names the run it points at; --force moves it
    again = deployment.cli("models", "promote", uuid, "--name", "v1", "-p", project, check=False)
    assert again.returncode == 1 and f"(it points at {uuid[:12]})" in again.stderr
    moved = deployment.cli("models", "promote", uuid, "--name", "v1", "-p", project, "--force",
                           "--kind", "artifact", "--artifact", "weights-copy")
    assert moved.stdout.strip() == (f"artifact version v1 points at run {uuid[:12]} (weights-copy); "
                                    "stage testing.")
    unknown = deployment.cli("models", "promote", uuid, "--name", "v2", "-p", project,
                             "--artifact", "nothing", check=False)
    assert unknown.returncode == 1 and "logged no 'nothing' in its lineage" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_what_the_registry_refuses_through_the_api(deployment: Deployment, project: str,
                                                   tmp_path: Path) -> None:
    deployment.create_user("vic", "viewer")
    token, viewer = deployment.token("ada"), deployment.token("vic")
    base = f"/api/v1/default/{project}/versions"

    component = {"name": "1.0",
                 "content": "kind: component\nrun: {kind: job, container: {command: [echo, hi]}}\n"}
    created = _api(deployment, "POST", f"{base}/component", token, component)
    broken = _api(deployment, "POST", f"{base}/component", token,
                  {"name": "1.1", "content": "kind: component\nrun: {kind: jobb}\n"})
    staged_by_viewer = _api(deployment, "POST", f"{base}/component/1.0/stages", viewer,
                            {"stage": "production"})
    read_by_viewer = _api(deployment, "GET", f"{base}/component/1.0", viewer)
    bad_stage = _api(deployment, "POST", f"{base}/component/1.0/stages", token, {"stage": "live"})
    bad_kind = _api(deployment, "GET", f"{base}/dataset", token)
    no_run = _api(deployment, "POST", f"{base}/model", token, {"name": "v1"})

    assert created[0] == 201 and created[1]["content"] == component["content"]
    assert broken[0] == 422 and "Traceback" not in json.dumps(broken[1])
    assert _api(deployment, "GET", f"{base}/component/1.1", token)[0] == 404
    assert staged_by_viewer[0] == 403
    assert read_by_viewer[0] == 200 and read_by_viewer[1]["stage"] == "testing"
    assert bad_stage[0] == 400 and "stage" in bad_stage[1]["errors"]
    assert bad_kind[0] == 404 and "component, model, artifact" in bad_kind[1]["message"]
    assert no_run[0] == 400 and "give `run`" in no_run[1]["message"]
    deleted = _api(deployment, "DELETE", f"{base}/component/1.0", token)
    assert deleted[0] == 204
    assert _api(deployment, "GET", f"{base}/component", token)[1]["count"] == 0


def _trained_on_the_embedded_default(
    tmp_path: Path
) -> tuple[Callable[..., subprocess.CompletedProcess[str]], str]:
    """The CLI on an embedded home of its own, and a run of it that promoted itself."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
    env.update(POLYAXON_HOME=str(tmp_path / "home"), POLYAXON_POLL_INTERVAL="0.1")

    def polyaxon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([POLYAXON, *args], capture_output=True, text=True, env=env, timeout=120)

    assert polyaxon("project", "create", "demo").returncode == 0
    uuid = json.loads(polyaxon("run", "-f", str(_train(tmp_path)), "-p", "demo", "-o", "json").stdout)["uuid"]
    assert polyaxon("ops", "get", uuid, "-p", "demo", "--watch").returncode == 0
    return polyaxon, uuid


def test_a_run_promotes_itself_on_the_embedded_default(tmp_path: Path) -> None:
    polyaxon, uuid = _trained_on_the_embedded_default(tmp_path)
    listed = json.loads(polyaxon("models", "ls", "-p", "demo", "-o", "json").stdout)
    missing = polyaxon("models", "get", "v9", "-p", "demo")
    wrong_stage = polyaxon("models", "stage", "v1", "live", "-p", "demo")

    assert [(row["name"], row["run"], row["stage"]) for row in listed["results"]] == [("v1", uuid, "testing")]
    assert missing.returncode == 1
    assert "has no model version 'v9'; its model versions: v1" in missing.stderr
    assert wrong_stage.returncode == 2 and "Traceback" not in wrong_stage.stderr


def test_the_servers_hub_takes_pushes_and_runs_its_components(
    deployment: Deployment, project: str, tmp_path: Path
) -> None:
    hub = f"{deployment.url}/api/v1/default/hub"
    component = tmp_path / "hello.yaml"
    component.write_text("kind: component\nname: hello\ndescription: says hello\n"
                         "inputs: [{name: who, type: str}]\n"
                         "run: {kind: job, container: {command: [echo, 'hello {{ who }}']}}\n")

    pushed = deployment.cli("hub", "push", str(component), "--as", f"default/{project}:1.0", "--to", hub)
    again = deployment.cli("hub", "push", str(component), "--as", f"default/{project}:1.0", "--to", hub,
                           check=False)
    elsewhere = deployment.cli("hub", "push", str(component), "--as", f"team/{project}:1.0", "--to", hub,
                               check=False)
    listed = deployment.cli("hub", "ls", "-o", "json", extra_env={"POLYAXON_HUBS": hub})
    started = deployment.cli("run", "--hub", f"default/{project}:1.0", "-P", "who=team", "-p", project,
                             "-o", "json", extra_env={"POLYAXON_HUBS": hub})

    assert pushed.stdout.strip() == f"Pushed default/{project}:1.0 to {hub}."
    assert again.returncode == 1 and "pass --force to replace it" in again.stderr
    assert elsewhere.returncode == 1 and f"push as default/{project}:1.0" in elsewhere.stderr
    ours = [row for row in json.loads(listed.stdout)["results"]
            if row["component"] == f"default/{project}"]
    assert [(row["versions"], row["description"], row["hub"]) for row in ours] == [
        (["1.0"], "says hello", hub)]
    uuid = json.loads(started.stdout)["uuid"]
    deployment.cli("ops", "get", uuid, "-p", project, "--watch", timeout=120)
    assert "hello team" in deployment.cli("ops", "logs", uuid, "-p", project).stdout


def test_a_run_a_version_points_at_is_kept_until_the_version_goes(tmp_path: Path) -> None:
    polyaxon, uuid = _trained_on_the_embedded_default(tmp_path)

    kept = polyaxon("ops", "delete", uuid, "-p", "demo", "-y")
    deleted_version = polyaxon("models", "delete", "v1", "-p", "demo", "-y")
    deleted_run = polyaxon("ops", "delete", uuid, "-p", "demo", "-y")

    assert kept.returncode == 1
    assert f"the model version 'v1' points at run {uuid[:12]}" in kept.stderr
    assert "polyaxon models delete v1 --kind model" in kept.stderr
    assert deleted_version.returncode == 0 and deleted_version.stdout.strip() == "Model version v1 deleted."
    assert deleted_run.returncode == 0
