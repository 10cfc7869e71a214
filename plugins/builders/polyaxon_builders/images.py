"""What the builders share about image references."""

from __future__ import annotations


def pinned(destination: str, digest: str) -> str:
    """``registry/repo:tag`` and the digest it was pushed with -> ``registry/repo@sha256:...``:
    the image exactly as built, whatever the tag names later."""
    repository, _, last = destination.rpartition("/")
    return f"{repository + '/' if repository else ''}{last.split(':', 1)[0]}@{digest}"
