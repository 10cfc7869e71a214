"""Paths of the polyaxonfile corpus and small helpers shared by the spec tests."""

from __future__ import annotations

from pathlib import Path

SPEC_TESTS = Path(__file__).parent
CORPUS = SPEC_TESTS / "corpus"
VALID_FILES = sorted((CORPUS / "valid").iterdir())
INVALID_FILES = sorted((CORPUS / "invalid").iterdir())


def line_of(path: Path, fragment: str) -> int:
    """The 1-based number of the first line of ``path`` containing ``fragment``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} is not in {path}")
