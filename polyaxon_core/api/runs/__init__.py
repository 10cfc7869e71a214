"""Runs: create, list, read, change, stop, restart, resume, archive, delete; their
statuses, logs, metrics and artifacts (``/api/v1/{owner}/{project}/runs/...``)."""
