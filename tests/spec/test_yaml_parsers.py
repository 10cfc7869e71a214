"""Polyaxonfiles are read with libyaml's parser when PyYAML has it, and with the
pure-Python one otherwise or when libyaml refuses the text: both must read every
document alike, field positions included, and a problem is said in one set of words."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from polyaxon_core.spec import PolyaxonfileError
from polyaxon_core.spec.loader import _FAST_LOADER, _parsed, parse_text

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(path for folder in ("examples", "tests")
                   for path in (ROOT / folder).rglob("*.y*ml")
                   if "node_modules" not in path.parts and "billion" not in path.name)


def test_pyyaml_here_has_libyaml() -> None:
    assert _FAST_LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_both_parsers_read_each_document_alike(path: Path) -> None:
    text = path.read_text()
    try:
        pure = _parsed(yaml.SafeLoader(text), path.name, None)
    except (yaml.YAMLError, PolyaxonfileError) as exc:  # a file of the tests' that is meant to be wrong
        with pytest.raises(type(exc)):
            _parsed(yaml.CSafeLoader(text), path.name, None)
        return
    fast = _parsed(yaml.CSafeLoader(text), path.name, None)
    assert (fast.data, fast.positions) == (pure.data, pure.positions)


def test_a_document_libyaml_refuses_is_said_in_the_pure_parsers_words() -> None:
    text = "run:\n  kind: job\n  container: {command: [python, -c\n"
    with pytest.raises(yaml.YAMLError) as fast:
        _parsed(yaml.CSafeLoader(text), "f.yaml", None)
    with pytest.raises(yaml.YAMLError) as pure:
        _parsed(yaml.SafeLoader(text), "f.yaml", None)
    assert str(fast.value) != str(pure.value)  # libyaml says it otherwise
    with pytest.raises(PolyaxonfileError) as said:
        parse_text(text, "f.yaml")
    error = pure.value
    assert isinstance(error, yaml.MarkedYAMLError)
    detail = " ".join(part for part in (error.context, error.problem) if part)
    assert said.value.problems[0].message == f"invalid YAML: {detail}"


def test_text_libyaml_cannot_take_is_a_problem_not_a_crash() -> None:
    # a lone surrogate, as a JSON body's "\\ud800" gives: libyaml cannot encode it
    with pytest.raises(UnicodeEncodeError):
        yaml.CSafeLoader("name: \ud800\n").get_single_node()
    with pytest.raises(PolyaxonfileError, match="unacceptable character #xd800"):
        parse_text("name: \ud800\n", "body.json")
