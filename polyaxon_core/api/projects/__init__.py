"""Projects and their members: ``/api/v1/{owner}/projects/...`` and ``/api/v1/{owner}/{project}``."""
