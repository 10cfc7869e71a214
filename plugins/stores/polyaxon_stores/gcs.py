"""The ``gs`` artifact store: ``POLYAXON_ARTIFACTS_STORE=gs://bucket/prefix``, through gcsfs.

Credentials come from Google Cloud's own conventions: ``GOOGLE_APPLICATION_CREDENTIALS``
(a service account's key file), the gcloud CLI's application default credentials, or
the machine's service account on Google Cloud. ``STORAGE_EMULATOR_HOST`` points it at
an emulator, anonymously, as Google's own client does (and without gcsfs's gRPC
features, which emulators do not have).
"""

from __future__ import annotations

import os
from typing import Any

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_stores.objects import ObjectArtifactStore


class GCSArtifactStore(ObjectArtifactStore):
    name = "gs"
    description = ("Artifacts and logs in a Google Cloud Storage bucket (gcsfs): "
                   "POLYAXON_ARTIFACTS_STORE=gs://BUCKET/PREFIX.")
    protocol = "gcs"
    package = "gcsfs"
    extra = "gcs"

    credential_keys = ("GOOGLE_APPLICATION_CREDENTIALS", "service_account.json")

    def filesystem_options(self) -> dict[str, Any]:
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            # an emulator speaks the JSON API only: gcsfs's gRPC probe for zonal buckets
            # would wait a minute on each bucket (read when gcsfs is first imported)
            os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
            return {"token": "anon"}
        return super().filesystem_options()

    def credential_options(self, secret: dict[str, str], schema: Any) -> dict[str, Any]:
        """A service account's key: the file's path, or its JSON as the secret's
        ``service_account.json`` (Polyaxon's secret layout for GCS)."""
        if "service_account.json" in secret:
            import json

            return {"token": json.loads(secret["service_account.json"])}
        if "GOOGLE_APPLICATION_CREDENTIALS" in secret:
            return {"token": secret["GOOGLE_APPLICATION_CREDENTIALS"]}
        return {}


@hookimpl
def polyaxon_register_stores() -> list[type[ArtifactStore]]:
    return [GCSArtifactStore]
