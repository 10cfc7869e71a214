"""The parser alone: the tree and the values it reads from a query text."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from polyaxon_core.query import And, Condition, Operator, Or, Period, Query, parse_query


def condition(text: str) -> Condition:
    root = parse_query(text).root
    assert isinstance(root, Condition)
    return root


def shape(text: str) -> object:
    """The tree as nested tuples of ("and" | "or", ...) over "field:operator" leaves."""

    def walk(node: object) -> object:
        if isinstance(node, And):
            return ("and", *map(walk, node.children))
        if isinstance(node, Or):
            return ("or", *map(walk, node.children))
        assert isinstance(node, Condition)
        return f"{node.name}{'~' if node.negated else ''}{node.operator.value}"

    return walk(parse_query(text).root)


def test_a_condition_reads_field_operator_and_value() -> None:
    parsed = parse_query("status:running")
    assert parsed == Query(
        text="status:running",
        root=Condition(field="status", key=None, operator=Operator.EQUAL,
                       values=("running",), negated=False, span=(0, 14)),
    )


def test_parsed_queries_are_immutable() -> None:
    parsed = parse_query("status:running, tags:a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.text = "other"  # type: ignore[misc]
    assert isinstance(parsed.root, And)
    assert isinstance(parsed.root.children, tuple)


def test_whitespace_around_the_colon_and_value_is_ignored() -> None:
    parsed = condition("  metrics.loss :  < 0.1  ")
    assert (parsed.field, parsed.key, parsed.operator, parsed.values) == (
        "metrics", "loss", Operator.LESS, (0.1,))
    assert parsed.span == (2, 23)


@pytest.mark.parametrize(
    ("text", "operator", "values"),
    [
        ("duration:<5", Operator.LESS, (5.0,)),
        ("duration:<=5", Operator.LESS_OR_EQUAL, (5.0,)),
        ("duration:=<5", Operator.LESS_OR_EQUAL, (5.0,)),
        ("duration:>5", Operator.GREATER, (5.0,)),
        ("duration:>=5", Operator.GREATER_OR_EQUAL, (5.0,)),
        ("duration:=>5", Operator.GREATER_OR_EQUAL, (5.0,)),
        ("duration:-1.5e2", Operator.EQUAL, (-150.0,)),
        ("duration:1 .. 2.5", Operator.RANGE, (1.0, 2.5)),
        ("duration:1..1", Operator.RANGE, (1.0, 1.0)),
        ("duration:nil", Operator.NIL, ()),
        ("name:%res%", Operator.CONTAINS, ("res",)),
        ("name:res%", Operator.STARTS_WITH, ("res",)),
        ("name:%res", Operator.ENDS_WITH, ("res",)),
        ("name:a|b | c", Operator.ONE_OF, ("a", "b", "c")),
        ("name:50 percent", Operator.EQUAL, ("50 percent",)),
        ("name:a:b", Operator.EQUAL, ("a:b",)),
        ("status:queued|running", Operator.ONE_OF, ("queued", "running")),
        ("tags:nil", Operator.NIL, ()),
    ],
)
def test_operators_are_read_from_the_value(
    text: str, operator: Operator, values: tuple[object, ...]
) -> None:
    parsed = condition(text)
    assert (parsed.operator, parsed.values, parsed.negated) == (operator, values, False)


@pytest.mark.parametrize(
    ("text", "operator"),
    [
        ("status:~running", Operator.EQUAL),
        ("status:~ running", Operator.EQUAL),
        ("status:~running|queued", Operator.ONE_OF),
        ("name:~nil", Operator.NIL),
        ("metrics.loss:~<=0.1", Operator.LESS_OR_EQUAL),
        ("created_at:~2024-01-01 .. 2024-02-01", Operator.RANGE),
        ("name:~%x%", Operator.CONTAINS),
    ],
)
def test_tilde_after_the_colon_negates_any_operator(text: str, operator: Operator) -> None:
    parsed = condition(text)
    assert parsed.negated
    assert parsed.operator is operator


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("inputs.lr:0.1", 0.1),
        ("inputs.epochs:10", 10.0),
        ("inputs.flag:true", True),
        ("inputs.flag:false", False),
        ("inputs.flag:True", "True"),
        ("inputs.optimizer:adam", "adam"),
        ('inputs.version:"10"', "10"),
        ('inputs.range:"a|b .. c%"', "a|b .. c%"),
        ('inputs.quote:"', '"'),
    ],
)
def test_json_values_are_typed_literals(text: str, value: object) -> None:
    parsed = condition(text)
    assert parsed.values == (value,)
    assert type(parsed.values[0]) is type(value)


def test_quoted_strings_take_part_in_membership() -> None:
    assert condition('inputs.epochs:10|"10"|true').values == (10.0, "10", True)


@pytest.mark.parametrize(
    ("text", "start", "length"),
    [
        ("2024-01-31", datetime(2024, 1, 31, tzinfo=UTC), timedelta(days=1)),
        ("2024-01-31 10:05", datetime(2024, 1, 31, 10, 5, tzinfo=UTC), timedelta(minutes=1)),
        ("2024-01-31T10:05:09", datetime(2024, 1, 31, 10, 5, 9, tzinfo=UTC),
         timedelta(seconds=1)),
        ("2024-01-31 10:05:09.25", datetime(2024, 1, 31, 10, 5, 9, 250000, tzinfo=UTC),
         timedelta(milliseconds=10)),
        ("2024-01-31 10:05Z", datetime(2024, 1, 31, 10, 5, tzinfo=UTC), timedelta(minutes=1)),
        ("2024-01-31 10:05+02:00", datetime(2024, 1, 31, 8, 5, tzinfo=UTC),
         timedelta(minutes=1)),
        ("2024-01-31 10:05-0130", datetime(2024, 1, 31, 11, 35, tzinfo=UTC),
         timedelta(minutes=1)),
    ],
)
def test_datetimes_name_the_period_of_their_precision_in_utc(
    text: str, start: datetime, length: timedelta
) -> None:
    assert condition(f"created_at:{text}").values == (Period(start=start, end=start + length),)


def test_a_datetime_range_keeps_both_periods() -> None:
    low, high = condition("finished_at:2024-01-01 .. 2024-01-31 12:00").values
    assert low == Period(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
    assert high == Period(datetime(2024, 1, 31, 12, tzinfo=UTC),
                          datetime(2024, 1, 31, 12, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("id:" + "a" * 32, "uuid"),
        ("uid:" + "a" * 32, "uuid"),
        ("params.lr:1", "inputs.lr"),
        ("in.lr:1", "inputs.lr"),
        ("out.model:x", "outputs.model"),
    ],
)
def test_polyaxon_aliases_name_the_same_fields(text: str, canonical: str) -> None:
    assert condition(text).name == canonical


def test_uuids_are_read_in_any_spelling_as_32_lowercase_hex() -> None:
    expected = ("0123456789abcdef0123456789abcdef",)
    assert condition("uuid:0123456789ABCDEF0123456789ABCDEF").values == expected
    assert condition("pipeline:01234567-89ab-cdef-0123-456789abcdef").values == expected


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("name:a, kind:b", ("and", "namex", "kindx")),
        ("name:a AND kind:b and queue:c", ("and", "namex", "kindx", "queuex")),
        ("name:a OR kind:b or queue:c", ("or", "namex", "kindx", "queuex")),
        ("name:a | kind:b", ("or", "namex", "kindx")),
        ("name:a | (kind:b)", ("or", "namex", "kindx")),
        ("name:a, kind:b OR queue:c", ("or", ("and", "namex", "kindx"), "queuex")),
        ("name:a OR kind:b, queue:c", ("or", "namex", ("and", "kindx", "queuex"))),
        ("name:a OR kind:b AND queue:c | runtime:d",
         ("or", "namex", ("and", "kindx", "queuex"), "runtimex")),
        ("(name:a OR kind:b), queue:c", ("and", ("or", "namex", "kindx"), "queuex")),
        ("(name:a)AND(kind:b)", ("and", "namex", "kindx")),
        ("(name:a)|(kind:b)", ("or", "namex", "kindx")),
        ("((name:a, (kind:b)))", ("and", "namex", "kindx")),
        ("name:a OR (kind:b OR queue:c)", ("or", "namex", ("or", "kindx", "queuex"))),
    ],
)
def test_and_binds_tighter_than_or_and_parentheses_group(text: str, tree: object) -> None:
    assert shape(text) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("status:queued|running", "statusa|b"),
        ("status:queued | running", "statusa|b"),
        ("status:queued | kind:job", ("or", "statusx", "kindx")),
        ("name:queued |kind:job", "namea|b"),
        ("name:x | (kind:job)", ("or", "namex", "kindx")),
        ("name:band, kind:orchestra", ("and", "namex", "kindx")),
        ("name:ANDROID", "namex"),
        ("name:x ORx", "namex"),
    ],
)
def test_bar_and_keywords_separate_conditions_only_between_them(
    text: str, tree: object
) -> None:
    assert shape(text) == tree


def test_the_membership_values_keep_spaces_inside_them() -> None:
    assert condition("name:big model | small model").values == ("big model", "small model")


def test_a_condition_span_covers_field_to_value_end() -> None:
    text = "  status:running ,  (metrics.loss:<0.1 OR tags:a)"
    parsed = parse_query(text)
    assert isinstance(parsed.root, And)
    first, group = parsed.root.children
    assert isinstance(first, Condition) and isinstance(group, Or)
    second, third = group.children
    assert isinstance(second, Condition) and isinstance(third, Condition)
    assert [text[slice(*leaf.span)] for leaf in (first, second, third)] == [
        "status:running", "metrics.loss:<0.1", "tags:a"]
