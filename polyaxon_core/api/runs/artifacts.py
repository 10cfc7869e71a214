"""A run's artifacts: list a folder, download a file, upload one; paths stay in the run.

Every path is relative to the run; ``..`` and absolute paths are refused (400) by the
store's :meth:`~polyaxon_core.interfaces.ArtifactStore.safe_path`. Downloads and uploads
stream: neither holds a whole file in memory.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import IO, BinaryIO, cast
from urllib.parse import quote

from flask import Response, request
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import LengthRequired

from polyaxon_core.api.common import Answer, InputSchema, dump, load_body, load_query
from polyaxon_core.api.errors import ParameterError, UnprocessableParameter
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.api.runs.api import RUN_PATH, find_run
from polyaxon_core.domain.artifacts import LINEAGE_KINDS, lineage_of, record_lineage, record_upload
from polyaxon_core.errors import NotFound
from polyaxon_core.permissions import RUN_READ, RUN_UPDATE

CHUNK = 1024 * 1024
#: what file systems hold: a name of at most 255 bytes, and a path well within 4096
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024


def _path(schema: type[InputSchema]) -> str:
    """The ``path`` query parameter, refused (400) when no file system could hold it."""
    path: str = load_query(schema)["path"]
    encoded = path.encode("utf-8")
    if len(encoded) > MAX_PATH_BYTES or any(
            len(name) > MAX_NAME_BYTES for name in encoded.split(b"/")):
        raise ParameterError("path", f"the path is too long: at most {MAX_NAME_BYTES} bytes "
                                     f"per name and {MAX_PATH_BYTES} in all")
    return path


class FolderQuery(InputSchema):
    path = fields.String(load_default="", metadata={"description": "a folder of the run (default: its root)"})


class FileQuery(InputSchema):
    path = fields.String(required=True, metadata={"description": "a file of the run"})


class UploadQuery(FileQuery):
    record = fields.Boolean(load_default=True, metadata={
        "description": "record the file in the run's lineage (false: the client records "
                       "it itself, e.g. as a step of an image series)"})


class LineageEntrySchema(InputSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=256))
    kind = fields.String(required=True, validate=validate.OneOf(LINEAGE_KINDS))
    path = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PATH_BYTES))
    summary = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "what describes it: size, hash, count of steps, framework..."})


class LineageBodySchema(InputSchema):
    artifacts = fields.List(fields.Nested(LineageEntrySchema), required=True,
                            validate=validate.Length(min=1, max=1000))


class LineageRowSchema(Schema):
    name = fields.String(required=True)
    kind = fields.String(required=True)
    path = fields.String(required=True)
    summary = fields.Dict(required=True)
    run = fields.String(required=True, metadata={"description": "the uuid of the run that produced it"})
    created_at = fields.DateTime(required=True)


class LineageSchema(Schema):
    count = fields.Integer(required=True)
    results = fields.List(fields.Nested(LineageRowSchema), required=True)


class ArtifactEntrySchema(Schema):
    path = fields.String(required=True)
    size = fields.Integer(required=True, metadata={"description": "bytes (0 for folders)"})
    is_dir = fields.Boolean(required=True)


class ArtifactTreeSchema(Schema):
    path = fields.String(required=True)
    files = fields.List(fields.Nested(ArtifactEntrySchema), required=True)


class UploadedSchema(Schema):
    path = fields.String(required=True)
    size = fields.Integer(required=True)


def _run_uuid(owner: str, project: str, uuid: str) -> str:
    with server.session() as session:
        return find_run(session, owner, project, uuid).uuid


def run_artifacts_tree(owner: str, project: str, uuid: str) -> Answer:
    """List the files and folders directly under a folder of a run's artifacts."""
    path = _path(FolderQuery)
    run_uuid = _run_uuid(owner, project, uuid)
    try:
        entries = server.store.list(run_uuid, path)
    except NotADirectoryError as exc:
        raise ParameterError("path", str(exc)) from None
    payload = dump(ArtifactTreeSchema, {
        "path": path,
        "files": [{"path": entry.path, "size": entry.size, "is_dir": entry.is_dir} for entry in entries],
    })
    return payload, 200


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def run_artifact_download(owner: str, project: str, uuid: str) -> Response:
    """Download one file of a run's artifacts, streamed."""
    path = _path(FileQuery)
    run_uuid = _run_uuid(owner, project, uuid)
    try:
        stream = server.store.open(run_uuid, path)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"the run has no artifact {path!r}") from None
    except IsADirectoryError as exc:
        raise ParameterError("path", str(exc)) from None
    name = posixpath.basename(path.rstrip("/")) or "artifact"
    return Response(_chunks(stream), mimetype="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


def run_artifact_upload(owner: str, project: str, uuid: str) -> Answer:
    """Upload one file into a run's artifacts: the raw request body, streamed.

    At most `POLYAXON_MAX_UPLOAD_BYTES` (413 beyond, and nothing is stored). The file
    is recorded as the run's artifact under its path, replacing one already there.
    """
    path = _path(UploadQuery)
    record = load_query(UploadQuery)["record"]
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if chunked and "wsgi.input_terminated" not in request.environ:
        # a chunked body can only be read to its end if the server decoded and marked it;
        # a request with neither a length nor chunks has an empty body (RFC 9112, 6.3)
        raise LengthRequired("send Content-Length, or a chunked body to a server that decodes it")
    run_uuid = _run_uuid(owner, project, uuid)
    request.max_content_length = server.config.max_upload_bytes
    try:
        info = server.store.put_stream(run_uuid, cast(BinaryIO, request.stream), path)
    except IsADirectoryError as exc:
        raise ParameterError("path", str(exc)) from None
    except (FileExistsError, NotADirectoryError):
        raise ParameterError("path", f"{path!r} goes through a file of the run: one of its "
                                     "folders is a file already") from None
    if record:
        with server.session() as session:
            record_upload(session, find_run(session, owner, project, run_uuid), info)
    payload = dump(UploadedSchema, {"path": info.path, "size": info.size})
    return payload, 201


def run_lineage(owner: str, project: str, uuid: str) -> Answer:
    """The run's lineage: every artifact it logged, with its kind, path and summary."""
    with server.session() as session:
        rows = lineage_of(session, find_run(session, owner, project, uuid))
    return dump(LineageSchema, {"count": len(rows), "results": rows}), 200


def run_lineage_record(owner: str, project: str, uuid: str) -> Answer:
    """Record lineage rows, each replacing the run's row of the same name; all or none.
    A path that leaves the run (absolute, or through `..`) is a 422 naming the entry."""
    entries = load_body(LineageBodySchema)["artifacts"]
    for index, entry in enumerate(entries):
        if entry["kind"] == "data":  # a data reference names a place outside the run
            continue
        try:
            server.store.safe_path(entry["path"])
        except ValueError as exc:
            raise UnprocessableParameter(f"artifacts.{index}.path", str(exc)) from None
    with server.session() as session:
        run = find_run(session, owner, project, uuid)
        for entry in entries:
            record_lineage(session, run, entry["name"], entry["kind"], entry["path"],
                           entry["summary"])
        rows = lineage_of(session, run)
    return dump(LineageSchema, {"count": len(rows), "results": rows}), 201


ROUTES = [
    Route("GET", f"{RUN_PATH}/lineage/artifacts", run_lineage, RUN_READ, "artifacts",
          {200: Reply("the run's lineage", LineageSchema)}),
    Route("POST", f"{RUN_PATH}/lineage/artifacts", run_lineage_record, RUN_UPDATE, "artifacts",
          {201: Reply("recorded; the run's whole lineage", LineageSchema)}, body=LineageBodySchema,
          errors=(422,)),
    Route("GET", f"{RUN_PATH}/artifacts/tree", run_artifacts_tree, RUN_READ, "artifacts",
          {200: Reply("the entries of the folder", ArtifactTreeSchema)}, query=FolderQuery),
    Route("GET", f"{RUN_PATH}/artifacts/download", run_artifact_download, RUN_READ, "artifacts",
          {200: Reply("the file", content_type="application/octet-stream")}, query=FileQuery),
    Route("POST", f"{RUN_PATH}/artifacts/upload", run_artifact_upload, RUN_UPDATE, "artifacts",
          {201: Reply("stored", UploadedSchema)}, query=UploadQuery,
          raw_body="application/octet-stream", errors=(411, 413)),
]
