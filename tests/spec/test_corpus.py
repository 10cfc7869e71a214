"""The corpus of polyaxonfiles: our verdicts, and that it covers what it claims to."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyaxon_core.spec import PolyaxonfileError, read_polyaxonfile
from polyaxon_core.spec.matrix import DISTRIBUTION_KINDS, MATRIX_SCHEMAS, SHAPES

from .helpers import CORPUS, INVALID_FILES, VALID_FILES


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda path: path.name)
def test_valid_corpus_file_is_accepted(path: Path) -> None:
    spec = read_polyaxonfile(path)

    assert spec.run_kind in ("job", "service", "dag")


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda path: path.name)
def test_invalid_corpus_file_is_rejected_with_located_problems(path: Path) -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path)

    for problem in caught.value.problems:
        assert problem.file.endswith(".yaml")
        assert problem.line is not None
        assert problem.valid


def test_each_invalid_file_is_wrong_in_its_own_way() -> None:
    reasons = Counter()
    for path in INVALID_FILES:
        with pytest.raises(PolyaxonfileError) as caught:
            read_polyaxonfile(path)
        first = caught.value.problems[0]
        reasons[(first.path, first.message)] += 1

    assert len(reasons) == len(INVALID_FILES)


def test_corpus_has_enough_files_about_half_of_them_invalid() -> None:
    total = len(VALID_FILES) + len(INVALID_FILES)

    assert total >= 44
    assert 0.4 <= len(INVALID_FILES) / total <= 0.6


def _matrices(data: Any) -> list[dict[str, Any]]:
    """Every `matrix` section of a document, DAG operations included."""
    found = []
    if isinstance(data, dict):
        if isinstance(data.get("matrix"), dict):
            found.append(data["matrix"])
        for value in data.values():
            found.extend(_matrices(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(_matrices(item))
    return found


def _written_form(value: Any) -> str:
    return {list: "list", dict: "dict", str: "string"}[type(value)]


def test_valid_files_cover_every_matrix_kind_and_distribution_form() -> None:
    kinds: set[str] = set()
    forms: set[tuple[str, str]] = set()
    for path in VALID_FILES:
        for matrix in _matrices(yaml.safe_load(path.read_text())):
            kinds.add(matrix["kind"])
            for distribution in (matrix.get("params") or {}).values():
                forms.add((distribution["kind"], _written_form(distribution["value"])))

    expected_forms = {("choice", "list"), ("pchoice", "list")}
    for kind, shape in SHAPES.items():
        expected_forms |= {(kind, "list"), (kind, "dict")}
        if shape.string_form:
            expected_forms.add((kind, "string"))
    assert kinds == set(MATRIX_SCHEMAS)
    assert {kind for kind, _ in forms} == set(DISTRIBUTION_KINDS)
    assert expected_forms <= forms


def test_valid_files_cover_run_kinds_references_and_operation_sections() -> None:
    run_kinds, sections = set(), set()
    for path in VALID_FILES:
        data = yaml.safe_load(path.read_text())
        spec = read_polyaxonfile(path)
        run_kinds.add(spec.run_kind)
        sections |= {
            key
            for key in data
            if key in ("component", "pathRef", "hooks", "joins", "schedule", "build", "plugins")
        }

    assert run_kinds == {"job", "service", "dag"}
    assert sections == {"component", "pathRef", "hooks", "joins", "schedule", "build", "plugins"}


def test_shared_component_is_only_used_by_reference() -> None:
    referencing = [path for path in VALID_FILES + INVALID_FILES if "../shared/train.yaml" in path.read_text()]

    assert (CORPUS / "shared" / "train.yaml").is_file()
    assert len(referencing) >= 3
