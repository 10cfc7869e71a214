"""docs/query-language.md shows what the code does."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from polyaxon_core.query import QueryError, parse_query, parse_sort
from polyaxon_core.query.fields import ALIASES, FAMILIES, FIELDS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "query-language.md").read_text()
BLOCKS = re.findall(r"```\n(.*?)\n```", DOC, flags=re.S)


def _section(title: str) -> str:
    return DOC.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


ERROR_BLOCKS = re.findall(r"```\n(.*?)\n```", _section("Errors"), flags=re.S)
COMMANDS = [line for block in BLOCKS for line in block.splitlines()
            if line.startswith("polyaxon ops ls")]


@pytest.mark.parametrize("block", ERROR_BLOCKS)
def test_each_error_example_is_the_message_the_parser_gives(block: str) -> None:
    message, shown, _caret = block.split("\n")
    parse = parse_sort if "sort" in message else parse_query
    with pytest.raises(QueryError) as caught:
        parse(shown.removeprefix("  "))
    assert str(caught.value) == block


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_example_parses(command: str) -> None:
    words = shlex.split(command)
    parse_query(words[words.index("-q") + 1])
    if "-s" in words:
        parse_sort(words[words.index("-s") + 1])


def test_the_examples_were_found() -> None:
    assert len(ERROR_BLOCKS) >= 8
    assert len(COMMANDS) == 4


def test_every_field_family_and_alias_is_documented() -> None:
    fields = _section("Fields")
    for name in FIELDS:
        assert f"`{name}`" in fields, name
    for family in FAMILIES:
        assert f"`{family}.<name>`" in fields, family
    for alias, canonical in ALIASES.items():
        assert (f"`{alias}.`" if canonical in FAMILIES else f"`{alias}`") in fields, alias
