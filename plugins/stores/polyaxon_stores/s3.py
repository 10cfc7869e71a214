"""The ``s3`` artifact store: ``POLYAXON_ARTIFACTS_STORE=s3://bucket/prefix``, through s3fs.

Credentials and the endpoint come from the AWS SDK's own conventions:
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and
``~/.aws/credentials``, an instance role; ``AWS_ENDPOINT_URL`` for an S3-compatible
service (MinIO, Ceph, moto), ``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_stores.objects import ObjectArtifactStore


class S3ArtifactStore(ObjectArtifactStore):
    name = "s3"
    description = "Artifacts and logs in an S3 bucket (s3fs): POLYAXON_ARTIFACTS_STORE=s3://BUCKET/PREFIX."
    protocol = "s3"
    package = "s3fs"
    extra = "s3"


@hookimpl
def polyaxon_register_stores() -> list[type[ArtifactStore]]:
    return [S3ArtifactStore]
