"""Our parser splits queries exactly as the official Polyaxon client does.

The official client (``make official-client`` installs it in ``.venv-official``) parses
a query into a tree of AND / OR nodes over ``(field, operation)`` leaves. The same
queries must give the same tree here, leaf texts taken from each condition's span.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest

from polyaxon_core.query import And, Condition, Node, Or, QueryError, parse_query

pytestmark = pytest.mark.official

OFFICIAL_PYTHON = Path(__file__).resolve().parents[2] / ".venv-official" / "bin" / "python"

_OFFICIAL_TREES = """
import json, sys
from polyaxon._pql.ast import AndNode, OrNode
from polyaxon._pql.grammar import parse_query

def tree(node):
    if isinstance(node, (AndNode, OrNode)):
        return ["and" if isinstance(node, AndNode) else "or", *map(tree, node.children)]
    return [node.field, node.operation]

trees = []
for query in json.load(sys.stdin):
    try:
        trees.append(tree(parse_query(query)))
    except Exception:
        trees.append(None)
json.dump(trees, sys.stdout)
"""

HANDWRITTEN = [
    "status:running",
    "status : running",
    "status:running|queued",
    "status: running | queued | failed",
    "status:running, kind:job",
    "status:running,kind:job",
    "status:running AND kind:job",
    "status:running and kind:job",
    "status:running AnD kind:job",
    "status:running OR kind:job",
    "status:running or kind:job",
    "status:running | kind:job",
    "name:a | b",
    "name:a |kind:job",
    "name:a| kind:job",
    "name:a | (kind:job)",
    "(status:running)|(kind:job)",
    "(status:running)AND(kind:job)",
    "(status:running) OR (kind:job), name:x",
    "status:running, kind:job OR name:x AND tags:a | queue:b",
    "((status:running, (kind:job OR kind:dag)))",
    "name:ANDROID",
    "name:x ORx",
    "name:a:b",
    "name:a b c",
    "created_at:2024-01-01 10:00 .. 2024-02-01",
    "created_at:>=2024-01-01 10:00:00, metrics.loss:<0.1",
    "metrics.loss:~<=0.1 | metrics.loss:nil",
    "inputs.lr:0.1|0.01, outputs.model:~resnet",
    "name:%res%, uuid:abc%",
    "tags:vision\t,\nkind:job",
    "  status:running  ",
    "status:~running|queued OR (tags:nil, pipeline:~nil)",
]

SYNTAX_ERRORS = [
    "name:x OR",
    "name:x AND",
    "name:rock and roll",
    "status:running AND",
    "status:running,",
    "(status:running",
    "status:running)",
    "()",
    ", kind:job",
    "kind:job OR",
    "kind:job, , name:x",
    "status",
    "metrics.a.b:1",
    "name:foo(1)",
]


def _combinations() -> list[str]:
    """Three conditions under every pair of separators and every grouping."""
    separators = [", ", ",", " AND ", " and ", " OR ", " or ", " | "]
    leaves = ("status:running|queued", "metrics.loss:<0.1", "name:a b")
    queries = []
    for first, second in itertools.product(separators, repeat=2):
        a, b, c = leaves
        queries += [
            f"{a}{first}{b}{second}{c}",
            f"({a}{first}{b}){second}{c}",
            f"{a}{first}({b}{second}{c})",
        ]
    return queries


def _official_trees(queries: list[str]) -> list[object]:
    completed = subprocess.run(
        [str(OFFICIAL_PYTHON), "-c", _OFFICIAL_TREES], input=json.dumps(queries),
        capture_output=True, text=True, check=True, timeout=120,
    )
    trees: list[object] = json.loads(completed.stdout)
    return trees


def _our_tree(text: str, node: Node) -> object:
    if isinstance(node, Condition):
        field, _, operation = text[slice(*node.span)].partition(":")
        return [field.strip(), operation.strip()]
    kind = "and" if isinstance(node, And) else "or"
    assert isinstance(node, And | Or)
    return [kind, *(_our_tree(text, child) for child in node.children)]


def test_queries_split_into_the_same_tree_as_the_official_client() -> None:
    queries = HANDWRITTEN + _combinations()
    differences = [
        (query, official, _our_tree(query, parse_query(query).root))
        for query, official in zip(queries, _official_trees(queries), strict=True)
        if official is None or _our_tree(query, parse_query(query).root) != official
    ]
    assert differences == []


def test_what_the_official_client_cannot_parse_is_a_query_error_here() -> None:
    assert _official_trees(SYNTAX_ERRORS) == [None] * len(SYNTAX_ERRORS)
    for query in SYNTAX_ERRORS:
        with pytest.raises(QueryError):
            parse_query(query)
