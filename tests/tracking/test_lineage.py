"""Everything the SDK logs beside metrics, and the lineage it records, on both transports:
the database (SQLite and PostgreSQL) and a real `polyaxon server`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy
import pandas
import plotly.graph_objects as go
import pytest
from PIL import Image
from sklearn.metrics import average_precision_score, roc_auc_score
from sqlalchemy import select

from polyaxon_core import tracking
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.tracking import TrackingError
from tests.client.conftest import Deployment
from tests.tracking.helpers import tracked_run

COMPONENT = json.dumps({
    "version": 1.1, "kind": "component", "name": "tracked",
    "run": {"kind": "job", "container": {"image": "python", "command": ["true"]}},
})
POLYAXON = str(Path(sys.executable).parent / "polyaxon")
Y_TRUE = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0]
Y_SCORE = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.65, 0.5, 0.3, 0.05]


def _git(folder: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=folder, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit and a change not committed, the working folder."""
    folder = tmp_path / "code"
    folder.mkdir()
    _git(folder, "init", "-q", "-b", "main")
    (folder / "train.py").write_text("print('v1')\n")
    _git(folder, "add", ".")
    _git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "v1")
    (folder / "train.py").write_text("print('v2')\n")
    monkeypatch.chdir(folder)
    return folder


def log_everything(tmp_path: Path) -> dict[str, Any]:
    """Log one of each kind; what a test expects back."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("x,y\n1,2\n")
    (data / "test.csv").write_text("x,y\n3,4\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x01" * 300)
    (model / "config.json").write_text("{}")

    run = tracking.init(track_env=True)
    tracking.set_name("tracked-everything")
    tracking.set_description("all kinds")
    tracking.log_progress(0.5)
    tracking.log_meta(dataset="mnist")
    pixels = numpy.zeros((4, 6, 3), dtype=numpy.uint8)
    pixels[:, :3] = (255, 0, 0)
    tracking.log_image(pixels, "samples", step=0)
    tracking.log_image(Image.new("L", (5, 2), color=128), "samples", step=1)
    tracking.log_images([numpy.full((2, 2), 0.5), numpy.ones((3, 3))], "grid", step=0)
    tracking.log_histogram([1, 2, 2, 3, 3, 3, 10], "weights", bins=3, step=0)
    tracking.log_text("epoch one", "notes", step=0)
    tracking.log_html("<b>done</b>", "report")
    tracking.log_curve([0, 1, 2], [0, 1, 4], "square", annotation="x²")
    auc = tracking.log_roc_auc_curve(Y_TRUE, Y_SCORE, step=0)
    average_precision = tracking.log_pr_curve(Y_TRUE, Y_SCORE, step=0)
    tracking.log_confusion_matrix(["cat", "dog"], ["cat", "dog"], [[5, 1], [2, 7]])
    tracking.log_plotly_chart(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), "scatter")
    tracking.log_dataframe(pandas.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}), "predictions")
    tracking.log_model(model, "classifier", framework="sklearn", accuracy=0.9)
    data_hash = tracking.log_data_ref("mnist", data)
    tracking.log_data_ref("imagenet", content_hash="sha256:abc", version="2012")
    tracking.end()
    return {"run": run, "auc": auc, "average_precision": average_precision, "data_hash": data_hash,
            "data": data}


def check_everything(logged: dict[str, Any], lineage: list[dict[str, Any]],
                     read: Callable[[str], bytes], run: dict[str, Any], repository: Path) -> None:
    """What :func:`log_everything` must have left: lineage rows, files, and the run."""
    rows = {row["name"]: row for row in lineage}
    assert {name: row["kind"] for name, row in rows.items()} == {
        "code": "code", "env": "env", "images/samples": "image", "images/grid/0": "image",
        "images/grid/1": "image", "histograms/weights": "histogram", "texts/notes": "text",
        "html/report": "html", "curves/square": "curve", "curves/roc": "curve",
        "curves/pr": "curve", "confusion/confusion": "confusion", "charts/scatter": "chart",
        "dataframes/predictions.csv": "dataframe", "models/classifier": "model",
        "data/mnist": "data", "data/imagenet": "data",
    }
    # code: the commit, the branch, dirty, and the diff that makes the tree
    code = rows["code"]["summary"]
    assert code["commit"] == _git(repository, "rev-parse", "HEAD")
    assert (code["branch"], code["is_dirty"]) == ("main", True)
    assert "+print('v2')" in read(code["diff"]).decode()
    # images: two steps of one series, each a real PNG of the right size
    samples = rows["images/samples"]["summary"]
    assert (samples["steps"], samples["last_step"]) == (2, 1)
    first = Image.open(io.BytesIO(read("images/samples/0.png")))
    assert first.size == (6, 4) and first.getpixel((0, 0)) == (255, 0, 0)
    assert first.getpixel((5, 3)) == (0, 0, 0)
    assert Image.open(io.BytesIO(read("images/samples/1.png"))).size == (5, 2)
    assert Image.open(io.BytesIO(read("images/grid/0/0.png"))).getpixel((0, 0)) == 128
    assert Image.open(io.BytesIO(read("images/grid/1/0.png"))).getpixel((2, 2)) == 255  # 1.0
    assert samples["size"] == len(read("images/samples/0.png")) + len(read("images/samples/1.png"))
    # histogram and curves against numpy and scikit-learn
    histogram = json.loads(read("histograms/weights/0.json"))
    counts, edges = numpy.histogram([1, 2, 2, 3, 3, 3, 10], bins=3)
    assert histogram["counts"] == counts.tolist()
    assert histogram["edges"] == pytest.approx(edges.tolist())
    assert logged["auc"] == pytest.approx(roc_auc_score(Y_TRUE, Y_SCORE))
    assert rows["curves/roc"]["summary"]["auc"] == pytest.approx(logged["auc"])
    assert logged["average_precision"] == pytest.approx(average_precision_score(Y_TRUE, Y_SCORE))
    assert json.loads(read("curves/square/0.json")) == {"x": [0, 1, 2], "y": [0, 1, 4],
                                                       "annotation": "x²"}
    assert json.loads(read("confusion/confusion/0.json"))["z"] == [[5, 1], [2, 7]]
    assert json.loads(read("charts/scatter/0.json"))["data"][0]["y"] == [3, 4]
    assert read("texts/notes/0.txt") == b"epoch one"
    assert read("html/report/0.html") == b"<b>done</b>"
    # dataframe, model, environment
    assert read("dataframes/predictions.csv") == b"a,b\n1,x\n2,y\n3,z\n"
    assert rows["dataframes/predictions.csv"]["summary"]["rows"] == 3
    model = rows["models/classifier"]["summary"]
    assert (model["framework"], model["files"], model["size"], model["accuracy"]) == ("sklearn", 2, 302, 0.9)
    assert read("models/classifier/weights.bin") == b"\x01" * 300
    env = json.loads(read("env.json"))
    assert env["python"] == sys.version.split()[0] and "numpy" in env["packages"]
    # data references by content: the hash of the folder's files, as computed here
    digest = hashlib.sha256()
    for name in ("test.csv", "train.csv"):
        digest.update(name.encode() + b"\0" + (logged["data"] / name).read_bytes())
    assert logged["data_hash"] == f"sha256:{digest.hexdigest()}"
    assert rows["data/mnist"]["summary"]["hash"] == logged["data_hash"]
    assert rows["data/imagenet"]["summary"] == {"hash": "sha256:abc", "size": None, "version": "2012"}
    # what describes the run
    assert (run["name"], run["description"]) == ("tracked-everything", "all kinds")
    assert run["meta_info"]["meta"] == {"progress": 0.5, "dataset": "mnist"}


@pytest.fixture
def run_uuid(db_url: str, polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("POLYAXON_RESOURCES_INTERVAL", "0")
    return tracked_run(db_url, monkeypatch)


def cli(*args: str) -> str:
    answer = subprocess.run([POLYAXON, *args], capture_output=True, text=True, timeout=120,
                            env=os.environ.copy(), check=False)
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def test_everything_is_stored_and_recorded_in_the_database(
    db_url: str, run_uuid: str, tmp_path: Path, repository: Path,
) -> None:
    logged = log_everything(tmp_path)
    folder = logged["run"].artifacts_path
    detail = json.loads(cli("ops", "get", run_uuid, "-p", "p", "-o", "json"))
    check_everything(logged, detail["lineage"], lambda path: (folder / path).read_bytes(),
                     detail, repository)
    table = cli("ops", "get", run_uuid, "-p", "p")
    assert "Lineage" in table and "models/classifier" in table and "sklearn" not in table


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    setup = Deployment(tmp_path_factory.mktemp("lineage"), None,
                       server_env={"POLYAXON_ORCHESTRATOR": "external"})
    setup.create_user("ada", "owner")
    setup.server.start()
    yield setup
    setup.stop()


def _remote_run(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    client = deployment.client()
    try:
        client.create_project("vision")
    except Exception as exc:  # created by an earlier test of the module
        assert "already exists" in str(exc)
    uuid = str(client.create_run("vision", COMPONENT)["uuid"])
    for key, value in {**deployment.client_env, "POLYAXON_HOST": deployment.url,
                       "POLYAXON_AUTH_TOKEN": client.transport.token or "",
                       "POLYAXON_RUN_UUID": uuid, "POLYAXON_PROJECT": "vision",
                       "POLYAXON_RESOURCES_INTERVAL": "0"}.items():
        monkeypatch.setenv(key, value)
    return client, uuid


def test_everything_arrives_through_the_api(
    deployment: Deployment, tmp_path: Path, repository: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, uuid = _remote_run(deployment, monkeypatch)
    logged = log_everything(tmp_path)

    def read(path: str) -> bytes:
        return client.download_artifact("vision", uuid, path, tmp_path / "copy").read_bytes()

    check_everything(logged, client.lineage("vision", uuid), read, client.get_run("vision", uuid),
                     repository)
    # the per-step files were not recorded one by one
    assert not [row for row in client.lineage("vision", uuid) if row["name"].endswith(".png")]


def test_lineage_requests_are_checked(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    client, uuid = _remote_run(deployment, monkeypatch)
    url = f"{deployment.url}/api/v1/default/vision/runs/{uuid}/lineage/artifacts"
    for body, field, status in [
        ({"artifacts": [{"name": "x", "kind": "file", "path": "../other/x"}]}, "artifacts.0.path", 422),
        ({"artifacts": [{"name": "y", "kind": "file", "path": "/etc/passwd"}]}, "artifacts.0.path", 422),
        ({"artifacts": [{"name": "x", "kind": "spreadsheet", "path": "x"}]}, "kind", 400),
        ({"artifacts": []}, "artifacts", 400),
    ]:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"token {client.transport.token}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == status
        assert field in refused.value.read().decode()
    assert client.lineage("vision", uuid) == []  # nothing half-recorded


def test_bad_values_are_refused_with_what_would_do(run_uuid: str, tmp_path: Path) -> None:
    tracking.init(track_code=False)
    for call, message in [
        (lambda: tracking.log_image("missing.png", "x"), "no such image file"),
        (lambda: tracking.log_image([[[1, 2]]], "x"), "1, 3 or 4 channels"),
        (lambda: tracking.log_histogram([], "h"), "at least one finite number"),
        (lambda: tracking.log_roc_auc_curve([0, 2], [0.1, 0.2]), "0 or 1"),
        (lambda: tracking.log_confusion_matrix(["a"], ["a", "b"], [[1]]), "2 rows"),
        (lambda: tracking.log_text("x", "../escape"), "not a usable name"),
        (lambda: tracking.log_artifact(__file__, name="../../escape.py"), "escape"),
        (lambda: tracking.log_progress(1.5), "from 0 to 1"),
        (lambda: tracking.log_data_ref("d"), "path, or its content_hash"),
        (lambda: tracking.log_dataframe(object(), "d"), "DataFrame"),
    ]:
        with pytest.raises(TrackingError, match=message):
            call()
    assert not any(tracking.get_artifacts_path().rglob("*.png"))


def test_an_uncaught_exception_is_recorded_and_buffered_points_are_kept(
    db_url: str, run_uuid: str, tmp_path: Path,
) -> None:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        from polyaxon_core import tracking
        tracking.init(track_code=False)
        for step in range(3000):
            tracking.log_metrics(step=step, loss=1.0 / (step + 1))
        raise ValueError("the loss diverged")
    """))
    answer = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=os.environ.copy(), timeout=120, check=False)
    assert answer.returncode == 1 and "ValueError: the loss diverged" in answer.stderr
    with session_scope(db_url) as session:
        run = session.scalars(select(Run).where(Run.uuid == run_uuid)).one()
        assert run.meta_info["meta"]["error"] == {"message": "ValueError: the loss diverged",
                                                  "attempt": None}
        assert run.last_metrics == {"loss": pytest.approx(1 / 3000)}  # end() ran at exit
