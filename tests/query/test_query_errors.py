"""Malformed queries and sorts: one QueryError, pointing at the offending token."""

from __future__ import annotations

import pytest

from polyaxon_core.query import QueryError, parse_query, parse_sort

# (query, position, token, words the message must contain)
QUERY_ERRORS = [
    ("", 0, "", "the query is empty"),
    ("   ", 3, "", "the query is empty"),
    ("stauts:running", 0, "stauts", "unknown field `stauts` (did you mean `status`?)"),
    ("status:running, foo.bar:1", 16, "foo.bar", "unknown field `foo.bar`"),
    ("status.x:1", 0, "status.x", "`status` has no `.x`"),
    ("metrics:1", 0, "metrics", "`metrics` needs a name to query: `metrics.<name>`"),
    ("metrics.a.b:1", 0, "metrics.a.b", "`metrics.a.b` is not a field name"),
    ("inputs.:1", 0, "inputs.", "`inputs.` is not a field name"),
    ("status-code:1", 0, "status-code", "`status-code` is not a field name"),
    ("name :x, status~:running", 9, "status~", "`status~` is not a field name"),
    ("status", 0, "status", "expected `:` after `status`"),
    ("~status:failed", 0, "~status", "`~` goes after the colon"),
    ("status:>running", 7, ">", "takes `x` (equals), `a|b` (one of), `nil` (null)"),
    ("kind:job, created_at:%2024%", 21, "%2024%", "`created_at` (datetime) takes"),
    ("duration:a|b", 10, "|", "`duration` (number) takes"),
    ("tags:%vision", 5, "%vision", "`tags` (tags) takes"),
    ("status:running..queued", 14, "..", "not `a .. b`"),
    ("status:", 7, "", "expected a value after `status:`"),
    ("status: , kind:job", 8, ",", "expected a value after `status:`"),
    ("status:~", 7, "~", "expected a value after `~`"),
    ("duration:<", 9, "<", "expected a value after `<`"),
    ("metrics.loss:<abc", 14, "abc", "expected a number, got `abc`"),
    ("metrics.loss:inf", 13, "inf", "expected a number"),
    ("metrics.loss:1e999", 13, "1e999", "out of range"),
    ("inputs.lr:>true", 11, "true", "expected a number, got `true`"),
    ("created_at:2024-13-01", 11, "2024-13-01", "not a valid date"),
    ("created_at:yesterday", 11, "yesterday", "expected a date `YYYY-MM-DD`"),
    ("created_at:>=2024-01-01 25:00", 13, "2024-01-01 25:00", "not a valid date"),
    ("uuid:xyz", 5, "xyz", "expected a run uuid"),
    ("pipeline:abc|" + "a" * 32, 9, "abc", "expected a run uuid"),
    ("status:runing", 7, "runing", "unknown status `runing` (did you mean `running`?)"),
    ("status:running kind:job", 7, "running kind:job", "is a `,` missing before `kind:`?"),
    ("duration:1 ..", 11, "..", "unbalanced range: expected a value after `..`"),
    ("duration:.. 2", 9, "..", "unbalanced range: expected a value before `..`"),
    ("duration:1..2..3", 13, "..", "a range has two ends"),
    ("duration:2 .. 1", 9, "2 .. 1", "the range is empty"),
    ("created_at:2024-02-01 .. 2024-01-01", 11, "2024-02-01 .. 2024-01-01", "range is empty"),
    ("created_at:2024-01-01 .. x", 25, "x", "expected a date"),
    ("name:a||b", 7, "|", "empty value in `a|b`"),
    ("name:a|", 6, "|", "empty value in `a|b`"),
    ("name:|a", 5, "|", "empty value in `a|b`"),
    ("name:%", 5, "%", "expected text beside `%`"),
    ("name:a%b%", 6, "%", "`%` goes only at the start or the end"),
    ("name:foo(1)", 8, "(", "`(` cannot be part of a value"),
    ("status:running,", 14, ",", "`,` must be followed by a condition"),
    ("status:running,,kind:job", 14, ",", "`,` must be followed by a condition"),
    ("status:running AND", 15, "AND", "`AND` must be followed by a condition"),
    ("status:running and OR kind:job", 15, "and", "`and` must be followed by a condition"),
    ("status:running OR", 15, "OR", "`OR` must be followed by a condition"),
    # As in Polyaxon, a keyword ends a value only before whitespace or the end.
    ("(status:running OR)", 8, "running OR", "unknown status `running OR`"),
    ("(status:running", 0, "(", "unbalanced `(`: it is never closed"),
    ("kind:job, ((status:running)", 10, "(", "unbalanced `(`"),
    ("status:running)", 14, ")", "unbalanced `)`"),
    ("()", 1, ")", "expected a condition inside the parentheses"),
    ("(kind:job) status:running", 11, "status", "expected `,`, `AND` or `OR` before"),
    ("((kind:job) status:running)", 12, "status", "expected `,`, `AND`, `OR` or `)`"),
    (", kind:job", 0, ",", "expected a field name, got `,`"),
    ("name:a\x00b", 6, "\x00", "not valid in text"),
    ("name:caf\udce9", 8, "\udce9", "not valid in text"),
]


@pytest.mark.parametrize(("query", "position", "token", "message"), QUERY_ERRORS)
def test_malformed_queries_point_at_the_offending_token(
    query: str, position: int, token: str, message: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    error = caught.value
    assert (error.position, error.token) == (position, token)
    assert message in error.message
    assert query[position:position + len(token)] == token


def test_the_error_shows_the_query_with_a_caret_under_the_token() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("kind:job, metrics.loss:<abc")
    assert str(caught.value) == (
        "expected a number, got `abc`\n"
        "  kind:job, metrics.loss:<abc\n"
        "                          ^^^"
    )


def test_the_caret_stays_under_the_token_across_tabs_and_newlines() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("kind:job,\n\tstatus:>x")
    lines = str(caught.value).splitlines()
    assert lines[1:] == ["  kind:job,  status:>x", "                    ^"]


def test_parentheses_nest_32_levels_deep_and_no_deeper() -> None:
    parse_query("(" * 32 + "status:running" + ")" * 32)
    with pytest.raises(QueryError, match="deeper than 32 levels") as caught:
        parse_query("(" * 2_000 + "status:running" + ")" * 2_000)  # within the length limit
    assert (caught.value.position, caught.value.token) == (32, "(")


def test_a_query_past_its_length_or_its_conditions_is_refused_with_the_limit() -> None:
    with pytest.raises(QueryError, match="more than the 4096 allowed"):
        parse_query("(" * 10_000 + "status:running" + ")" * 10_000)
    parse_query(" OR ".join(f"name:{index}" for index in range(128)))
    with pytest.raises(QueryError, match="more than 128 conditions") as caught:
        parse_query(" OR ".join(f"name:{index}" for index in range(129)))
    assert caught.value.text[caught.value.position:].startswith("name:128")
    with pytest.raises(QueryError, match="more than the 16 allowed"):
        parse_sort(",".join(f"metrics.m{index}" for index in range(17)))


def test_an_unknown_field_lists_every_field_and_family() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("colour:red")
    message = caught.value.message
    for name in ("uuid", "status", "tags", "pipeline", "created_at", "duration",
                 "inputs.<name>", "outputs.<name>", "metrics.<name>"):
        assert name in message


def test_an_unknown_status_lists_the_statuses() -> None:
    with pytest.raises(QueryError, match="upstream_failed"):
        parse_query("status:broken")


def test_a_query_that_is_not_text_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="a query is text, got int"):
        parse_query(42)  # type: ignore[arg-type]


def test_query_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        parse_query("status:")


# (sort, position, token, words the message must contain)
SORT_ERRORS = [
    ("", 0, "", "the sort is empty"),
    ("  ", 0, "", "the sort is empty"),
    ("name,,created_at", 5, ",", "expected a field to sort by"),
    ("name,", 5, "", "expected a field to sort by"),
    ("-", 0, "-", "expected a field to sort by, got `-`"),
    ("- name", 0, "- name", "expected a field to sort by"),
    ("+name", 0, "+name", "expected a field to sort by"),
    ("created_at, colour", 12, "colour", "unknown field `colour`"),
    ("tags", 0, "tags", "cannot sort by `tags`"),
    ("-pipeline", 1, "pipeline", "cannot sort by `pipeline`"),
    ("metrics", 0, "metrics", "`metrics` needs a name to sort by"),
    ("metrics.loss, -metrics.loss", 15, "metrics.loss", "in the sort twice"),
    ("id, uuid", 4, "uuid", "`uuid` is in the sort twice"),
]


@pytest.mark.parametrize(("sort", "position", "token", "message"), SORT_ERRORS)
def test_malformed_sorts_point_at_the_offending_field(
    sort: str, position: int, token: str, message: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse_sort(sort)
    error = caught.value
    assert (error.position, error.token) == (position, token)
    assert message in error.message


def test_a_sort_error_lists_the_sortable_fields() -> None:
    with pytest.raises(QueryError) as caught:
        parse_sort("colour")
    assert "created_at" in caught.value.message
    assert "metrics.<name>" in caught.value.message
    assert "tags" not in caught.value.message
