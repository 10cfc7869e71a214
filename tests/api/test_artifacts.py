"""Artifacts: upload (streamed, limited, recorded), list, download; paths stay in the run."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Artifact
from polyaxon_core.db.session import session_scope
from tests.api.conftest import Account, create_run

RUNS = "/api/v1/default/p/runs"


def test_an_uploaded_file_is_listed_downloaded_and_recorded(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    base = f"{RUNS}/{run['uuid']}/artifacts"
    data = bytes(range(256)) * 100
    uploaded = client.post(f"{base}/upload?path=model/weights.bin", headers=owner.headers,
                           data=data, content_type="application/octet-stream")
    assert (uploaded.status_code, uploaded.json) == (201, {"path": "model/weights.bin",
                                                          "size": len(data)})
    root = client.get(f"{base}/tree", headers=owner.headers).json
    assert root == {"path": "", "files": [{"path": "model", "size": 0, "is_dir": True}]}
    folder = client.get(f"{base}/tree?path=model", headers=owner.headers).json
    assert folder["files"] == [{"path": "model/weights.bin", "size": len(data), "is_dir": False}]
    downloaded = client.get(f"{base}/download?path=model/weights.bin", headers=owner.headers)
    assert downloaded.status_code == 200 and downloaded.data == data
    assert "weights.bin" in downloaded.headers["Content-Disposition"]
    with session_scope(settings.db_url) as session:
        artifact = session.scalars(select(Artifact)).one()
        assert (artifact.name, artifact.summary) == ("model/weights.bin", {"size": len(data)})


def test_a_chunked_upload_is_streamed_into_the_store(
    client: FlaskClient, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    stream = io.BytesIO(b"x" * 5000)
    # a WSGI server that decoded a chunked body marks it terminated (werkzeug, gunicorn)
    uploaded = client.post(f"{RUNS}/{run['uuid']}/artifacts/upload?path=a.txt",
                           headers={**owner.headers, "Transfer-Encoding": "chunked"},
                           input_stream=stream, content_type="application/octet-stream",
                           environ_overrides={"wsgi.input_terminated": True})
    assert uploaded.status_code == 201 and uploaded.json["size"] == 5000
    unmarked = client.post(f"{RUNS}/{run['uuid']}/artifacts/upload?path=b.txt",
                           headers={**owner.headers, "Transfer-Encoding": "chunked"},
                           input_stream=io.BytesIO(b"y"), content_type="application/octet-stream")
    assert unmarked.status_code == 411


@pytest.mark.parametrize("chunked", [False, True], ids=["with-length", "chunked"])
def test_an_upload_over_the_limit_is_a_413_and_stores_nothing(
    client: FlaskClient, owner: Account, project: str, chunked: bool
) -> None:
    run = create_run(client, owner)
    too_big = b"x" * (64 * 1024 + 1)  # the test app's limit is 64 KiB
    headers = {**owner.headers, **({"Transfer-Encoding": "chunked"} if chunked else {})}
    answer = client.post(f"{RUNS}/{run['uuid']}/artifacts/upload?path=big.bin", headers=headers,
                         input_stream=io.BytesIO(too_big) if chunked else None,
                         data=None if chunked else too_big,
                         content_type="application/octet-stream",
                         environ_overrides={"wsgi.input_terminated": True} if chunked else None)
    assert answer.status_code == 413 and "65536 bytes" in answer.json["message"]
    listing = client.get(f"{RUNS}/{run['uuid']}/artifacts/tree", headers=owner.headers).json
    assert listing["files"] == []


@pytest.mark.parametrize("path", ["../other-run/file", "/etc/passwd", "a/../../x"])
def test_paths_outside_the_run_are_refused(
    client: FlaskClient, owner: Account, project: str, path: str
) -> None:
    run = create_run(client, owner)
    base = f"{RUNS}/{run['uuid']}/artifacts"
    for answer in (
        client.post(f"{base}/upload", query_string={"path": path}, headers=owner.headers, data=b"x"),
        client.get(f"{base}/download", query_string={"path": path}, headers=owner.headers),
        client.get(f"{base}/tree", query_string={"path": path}, headers=owner.headers),
    ):
        assert answer.status_code == 400 and "path" in answer.json["errors"]


def test_missing_files_and_folders_answer_clearly(
    client: FlaskClient, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    base = f"{RUNS}/{run['uuid']}/artifacts"
    client.post(f"{base}/upload?path=dir/f.txt", headers=owner.headers, data=b"x")
    assert client.get(f"{base}/download?path=nope.txt", headers=owner.headers).status_code == 404
    folder = client.get(f"{base}/download?path=dir", headers=owner.headers)
    assert folder.status_code == 400
    file_as_folder = client.get(f"{base}/tree?path=dir/f.txt", headers=owner.headers)
    assert file_as_folder.status_code == 400
    no_path = client.get(f"{base}/download", headers=owner.headers)
    assert no_path.status_code == 400 and list(no_path.json["errors"]) == ["path"]
