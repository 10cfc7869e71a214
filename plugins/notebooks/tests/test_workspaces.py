"""`polyaxon notebook` and `polyaxon tensorboard` through the real executable on the
embedded default: a real JupyterLab started, found, reached and stopped by its commands;
a workspace over runs; and the starts that are refused without creating a run."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from polyaxon_notebooks.tensorboard import TensorboardService

from polyaxon_core.config import load_settings
from polyaxon_core.interfaces import PluginConfigError
from tests.api.servers import stop_runs
from tests.orchestrator.conftest import Cli, run_state, wait_final

#: a service taking runs, as the tensorboard component does, that Python's own web server
#: stands in for: it lists the uuids it was given at its base URL
BOARD = """version: 1.1
kind: component
name: board
inputs:
  - {name: uuids, type: str}
run:
  kind: service
  ports: [6006]
  container:
    command: [python, -c, "import http.server, os, sys\\n\
os.makedirs('{{ globals.base_url }}'.strip('/'), exist_ok=True)\\n\
open('{{ globals.base_url }}'.strip('/') + '/index.html', 'w').write('runs: {{ uuids }}')\\n\
http.server.test(http.server.SimpleHTTPRequestHandler, port={{ globals.ports[0] }}, \
bind='{{ globals.bind_address }}')"]
"""
JOB = """version: 1.1
kind: component
run:
  kind: job
  container: {command: [python, -c, "print('done')"]}
"""


@pytest.fixture
def workspaces(cli: Cli, home: Path) -> Iterator[Cli]:
    """The CLI; every service the test started is stopped after it."""
    yield cli
    stop_runs(home)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return bytes(answer.read())


def _queued(stderr: str) -> str:
    """The uuid of the run ``start`` said it queued."""
    return next(line.split()[1] for line in stderr.splitlines() if " queued in project " in line)


def test_a_notebook_is_started_listed_reached_and_stopped_by_its_commands(workspaces: Cli) -> None:
    assert workspaces("notebook", "ls").stdout == "No notebook is live in project tests.\n"

    started = workspaces("notebook", "start", "--culling", "900")
    uuid = _queued(started.stderr)
    url = started.stdout.strip()

    assert url.startswith("http://127.0.0.1:")
    assert url.endswith(f"/services/v1/local/default/tests/runs/{uuid}/8888/")
    # JupyterLab's own API answers at the URL printed
    status = json.loads(_get(url + "api/status"))
    assert status["kernels"] == 0 and "last_activity" in status
    assert [row["uuid"] for row in json.loads(workspaces("notebook", "ls", "-o", "json").stdout)] == [uuid]
    assert workspaces("notebook", "url").stdout.strip() == url
    state = run_state(uuid)
    assert "notebook" in state["tags"] and state["name"] == "notebook"
    assert "polyaxon/jupyterlab:4.2" in state["raw_content"]
    assert json.loads(state["content"])["termination"]["culling"] == {"timeout": 900}

    assert workspaces("notebook", "stop", "-y").stdout == f"Notebook {uuid[:12]} is stopping.\n"
    assert wait_final(uuid)["status"] == "stopped"
    with pytest.raises(urllib.error.URLError):
        _get(url + "api/status")
    assert workspaces("notebook", "ls").stdout == "No notebook is live in project tests.\n"


def test_a_workspace_over_runs_reads_their_full_uuids_and_two_live_ones_must_be_named(
    workspaces: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = tmp_path / "hub"
    (tmp_path / "board.yaml").write_text(BOARD)
    (tmp_path / "job.yaml").write_text(JOB)
    workspaces("hub", "push", str(tmp_path / "board.yaml"), "--as", "team/board:1.0", "--to", str(hub))
    monkeypatch.setenv("POLYAXON_HUBS", str(hub))
    first, second = (json.loads(workspaces("run", "-f", str(tmp_path / "job.yaml"), "-o", "json").stdout)
                     ["uuid"] for _ in range(2))

    started = workspaces("tensorboard", "start", "--hub", "team/board", "-u", first[:8],
                         "-P", f"uuids={second},{first}")
    board = _queued(started.stderr)

    assert _get(started.stdout.strip()).decode() == f"runs: {first},{second}"
    assert run_state(board)["inputs"]["uuids"] == f"{first},{second}"
    other = _queued(workspaces("tensorboard", "start", "--hub", "team/board", "-u", second,
                               "--no-wait").stderr)
    both = workspaces("tensorboard", "url", check=False)
    assert both.returncode == 1
    assert "2 tensorboard workspaces are live in project tests" in both.stderr
    assert board[:12] in both.stderr and other[:12] in both.stderr
    assert workspaces("tensorboard", "stop", other, "-y").stdout.startswith(f"Tensorboard {other[:12]} is")
    assert wait_final(other)["status"] == "stopped"


@pytest.mark.parametrize(("args", "message"), [
    (("tensorboard", "start"), "name them with -u UUID"),
    (("tensorboard", "start", "-u", "abcdef12"), "no run 'abcdef12'"),
    (("notebook", "start", "--hub", "git-clone", "-P", "url=https://git.example.org/a.git"),
     "the hub component git-clone is a job, not a service"),
    (("notebook", "start", "--hub", "jupyterlap"), "jupyterlab"),
    (("notebook", "start", "--hub", "jupyterlab:9.9"), "4.2"),
    (("notebook", "start", "--no-wait", "--open"), "--open waits for the URL; drop --no-wait"),
    (("notebook", "start", "-f", "/no/such/preset.yaml"), "no such file"),
    (("notebook", "url"), "no notebook is live in project tests: start one with "
                          "`polyaxon notebook start -p tests`"),
    (("notebook", "stop", "-y"), "no notebook is live in project tests"),
])
def test_a_start_or_a_lookup_that_cannot_be_done_is_a_message_and_creates_no_run(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    refused = cli(*args, check=False)

    assert refused.returncode == 1, refused.stdout
    assert message in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0


def test_a_tensorboard_reads_the_runs_given_once_each_in_order() -> None:
    service = TensorboardService(load_settings())

    assert service.inputs(["a1", "b2"], {"uuids": "b2, c3", "image": "tb:2"}) == {
        "uuids": "a1,b2,c3", "image": "tb:2"}
    with pytest.raises(PluginConfigError, match="-u UUID"):
        service.inputs([], {"image": "tb:2"})
