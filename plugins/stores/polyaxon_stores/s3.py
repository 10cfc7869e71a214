"""The ``s3`` artifact store: ``POLYAXON_ARTIFACTS_STORE=s3://bucket/prefix``, through s3fs.

Credentials and the endpoint come from the AWS SDK's own conventions:
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and
``~/.aws/credentials``, an instance role; ``AWS_ENDPOINT_URL`` for an S3-compatible
service (MinIO, Ceph, moto), ``AWS_DEFAULT_REGION``. A store taken from an `s3`
connection of the catalog (``POLYAXON_ARTIFACTS_CONNECTION``) reads the same names as the
keys of the connection's secret, and uses them rather than the process's.

A download is one streamed ``GetObject`` (from the position read, with a ``Range`` after a
seek), read a chunk at a time: one request whatever the object's size, and never more
than a chunk held.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_stores.objects import READ_SIZE, ObjectArtifactStore


class S3ArtifactStore(ObjectArtifactStore):
    name = "s3"
    description = "Artifacts and logs in an S3 bucket (s3fs): POLYAXON_ARTIFACTS_STORE=s3://BUCKET/PREFIX."
    protocol = "s3"
    package = "s3fs"
    extra = "s3"
    credential_keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                       "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION")

    def chunks(self, key: str, size: int, start: int) -> Iterator[bytes]:
        from fsspec.asyn import sync

        bucket, path, _ = self.fs.split_path(key)
        response = sync(self.fs.loop, self.fs._call_s3, "get_object", Bucket=bucket, Key=path,
                        Range=f"bytes={start}-")
        body = response["Body"]
        try:
            while chunk := sync(self.fs.loop, body.read, READ_SIZE):
                yield chunk
        finally:
            body.close()

    def credential_options(self, secret: dict[str, str], schema: Any) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for key, option in (("AWS_ACCESS_KEY_ID", "key"), ("AWS_SECRET_ACCESS_KEY", "secret"),
                            ("AWS_SESSION_TOKEN", "token")):
            if key in secret:
                options[option] = secret[key]
        client: dict[str, str] = {}
        if "AWS_ENDPOINT_URL" in secret:
            client["endpoint_url"] = secret["AWS_ENDPOINT_URL"]
        region = secret.get("AWS_REGION") or secret.get("AWS_DEFAULT_REGION")
        if region:
            client["region_name"] = region
        if client:
            options["client_kwargs"] = client
        return options


@hookimpl
def polyaxon_register_stores() -> list[type[ArtifactStore]]:
    return [S3ArtifactStore]
