"""The ``az`` artifact store: ``POLYAXON_ARTIFACTS_STORE=az://container/prefix``, through adlfs.

Credentials come from Azure's own conventions: ``AZURE_STORAGE_CONNECTION_STRING``, or
``AZURE_STORAGE_ACCOUNT_NAME`` with ``AZURE_STORAGE_ACCOUNT_KEY`` or
``AZURE_STORAGE_SAS_TOKEN``, or a service principal (``AZURE_STORAGE_CLIENT_ID``,
``AZURE_STORAGE_CLIENT_SECRET``, ``AZURE_STORAGE_TENANT_ID``); a connection string whose
``BlobEndpoint`` is an emulator's (Azurite) reaches the emulator.
"""

from __future__ import annotations

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


@hookimpl
def polyaxon_register_stores() -> list[type[ArtifactStore]]:
    return [AzureArtifactStore]
