"""The ``az`` artifact store: ``POLYAXON_ARTIFACTS_STORE=az://container/prefix``, through adlfs.

Credentials come from Azure's own conventions: ``AZURE_STORAGE_CONNECTION_STRING``, or
``AZURE_STORAGE_ACCOUNT_NAME`` with ``AZURE_STORAGE_ACCOUNT_KEY`` or
``AZURE_STORAGE_SAS_TOKEN``, or a service principal (``AZURE_STORAGE_CLIENT_ID``,
``AZURE_STORAGE_CLIENT_SECRET``, ``AZURE_STORAGE_TENANT_ID``); a connection string whose
``BlobEndpoint`` is an emulator's (Azurite) reaches the emulator. A store taken from a
`wasb` connection of the catalog (``POLYAXON_ARTIFACTS_CONNECTION``) reads the first four
names as the keys of the connection's secret, and the account from a
``wasbs://container@account.blob.core.windows.net`` bucket.
"""

from __future__ import annotations

from typing import Any

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_stores.objects import ObjectArtifactStore


class AzureArtifactStore(ObjectArtifactStore):
    name = "az"
    description = ("Artifacts and logs in an Azure Blob Storage container (adlfs): "
                   "POLYAXON_ARTIFACTS_STORE=az://CONTAINER/PREFIX.")
    protocol = "az"
    package = "adlfs"
    extra = "azure"
    credential_keys = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME",
                       "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN")

    def credential_options(self, secret: dict[str, str], schema: Any) -> dict[str, Any]:
        options = {option: secret[key] for key, option in (
            ("AZURE_STORAGE_CONNECTION_STRING", "connection_string"),
            ("AZURE_STORAGE_ACCOUNT_NAME", "account_name"),
            ("AZURE_STORAGE_ACCOUNT_KEY", "account_key"),
            ("AZURE_STORAGE_SAS_TOKEN", "sas_token")) if key in secret}
        bucket = str(schema.get("bucket", ""))
        if "@" in bucket and "account_name" not in options and "connection_string" not in options:
            # wasbs://container@ACCOUNT.blob.core.windows.net/...: the account is in the URL
            options["account_name"] = bucket.partition("@")[2].split(".", 1)[0]
        return options


@hookimpl
def polyaxon_register_stores() -> list[type[ArtifactStore]]:
    return [AzureArtifactStore]
