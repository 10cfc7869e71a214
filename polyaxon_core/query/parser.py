"""Reading query and sort texts; see ``docs/query-language.md`` for the language.

The grammar is Polyaxon's::

    query      = or_expr
    or_expr    = and_expr (("OR" | " | ") and_expr)*        AND binds tighter than OR
    and_expr   = primary (("," | "AND") primary)*
    primary    = "(" or_expr ")" | condition
    condition  = field ":" operation                      whitespace around ":" is allowed
    field      = name ("." name)?                         name = [A-Za-z_][A-Za-z0-9_]*
    operation  = ["~"] ("nil" | a ".." b | ("<" | "<=" | ">" | ">=") x
                        | a "|" b ... | "%" x "%" | x "%" | "%" x | x)

``AND`` and ``OR`` are words in any case, with whitespace around them after a value.
A ``|`` between spaces separates two conditions when ``(`` or ``field:`` follows it;
otherwise it separates the values of one membership (``status:queued | running``).
A value runs to the next ``,``, ``)``, ``AND``, ``OR`` or such a ``|``, and cannot
contain ``(``.
"""

from __future__ import annotations

import re

from polyaxon_core.query.ast import (
    And,
    Condition,
    Node,
    Operator,
    Or,
    Period,
    Query,
    SortKey,
    Value,
)
from polyaxon_core.query.errors import QueryError
from polyaxon_core.query.fields import (
    FAMILIES,
    FIELDS,
    SORTABLE,
    FieldType,
    canonical,
    field_listing,
    operator_listing,
    suggestion,
)

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?", re.ASCII)
# What makes `|` a disjunction rather than a membership separator: Polyaxon's look-ahead.
_NEXT_CONDITION = re.compile(r"\(|[A-Za-z_][A-Za-z0-9_.]*:", re.ASCII)
_COMPARISON_PREFIXES: tuple[tuple[str, Operator], ...] = (
    ("<=", Operator.LESS_OR_EQUAL),
    ("=<", Operator.LESS_OR_EQUAL),
    (">=", Operator.GREATER_OR_EQUAL),
    ("=>", Operator.GREATER_OR_EQUAL),
    ("<", Operator.LESS),
    (">", Operator.GREATER),
)
_WORD_END = frozenset(",:()")
_FIELD_END = frozenset(":,()|")
#: How deep parentheses may nest: deeper is no real query, and would exhaust the stack.
MAX_NESTING = 32
#: The longest query text and the most conditions one query may hold: the databases
#: refuse (SQLite) or take seconds over (PostgreSQL) expressions much larger than this.
MAX_QUERY_LENGTH = 4096
MAX_CONDITIONS = 128
#: The most fields one sort may name.
MAX_SORT_KEYS = 16
_FORGOTTEN_SEPARATOR = re.compile(r"\s([A-Za-z_][A-Za-z0-9_.]*:)", re.ASCII)


def parse_query(text: str) -> Query:
    """Parse a query such as ``status:running, metrics.loss:<0.1``.

    Returns an immutable :class:`Query`; raises :class:`QueryError` for anything that is
    not a valid query (and for a ``text`` that is not a string).
    """
    if not isinstance(text, str):
        raise QueryError(f"a query is text, got {type(text).__name__}", text="", position=0)
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is {len(text)} characters long, more than the "
                         f"{MAX_QUERY_LENGTH} allowed; narrow it with fewer conditions "
                         "(a membership `field:a|b|c` is shorter than an `OR` chain)",
                         text=text[:40], position=0)
    for position, char in enumerate(text):
        # Neither database takes these in a value: NUL is refused by PostgreSQL, lone
        # surrogates (undecodable bytes of a command line) cannot be encoded at all.
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            raise QueryError(f"the query contains {char!r}, which is not valid in text",
                             text=text, position=position, token=char)
    return Query(text=text, root=_QueryParser(text).parse())


def parse_sort(text: str) -> tuple[SortKey, ...]:
    """Parse a sort such as ``-created_at, metrics.loss``: fields, ``-`` for descending.

    Raises :class:`QueryError` for an empty sort or item, an unknown or unsortable
    field, or a field named twice.
    """
    if not isinstance(text, str):
        raise QueryError(f"a sort is text, got {type(text).__name__}", text="", position=0)
    if not text.strip():
        raise QueryError("the sort is empty: expected fields such as `-created_at`",
                         text=text, position=0)
    items = text.split(",")
    if len(items) > MAX_SORT_KEYS:
        raise QueryError(f"the sort names {len(items)} fields, more than the {MAX_SORT_KEYS} "
                         "allowed", text=text, position=0)
    keys: list[SortKey] = []
    start = 0
    for item in items:
        keys.append(_sort_key(text, item, start, keys))
        start += len(item) + 1
    return tuple(keys)


def _sort_key(text: str, item: str, start: int, previous: list[SortKey]) -> SortKey:
    position = start + len(item) - len(item.lstrip())
    word = item.strip()
    if not word:
        position = min(position, len(text))
        raise QueryError("expected a field to sort by", text=text,
                         position=position, token=text[position:position + 1])
    descending = word.startswith("-")
    name_position = position + 1 if descending else position
    name = word[1:] if descending else word
    if not _FIELD.fullmatch(name):
        raise QueryError(f"expected a field to sort by, got `{word}`; fields you can sort "
                         f"by: {field_listing(SORTABLE)}", text=text, position=position,
                         token=word)
    field, _, key = name.partition(".")
    field = canonical(field)
    if not (field in SORTABLE and not key or field in FAMILIES and key):
        raise QueryError(_field_problem(field, key, SORTABLE, "sort by"), text=text,
                         position=name_position, token=name)
    sort_key = SortKey(field=field, key=key or None, descending=descending)
    if any(other.name == sort_key.name for other in previous):
        raise QueryError(f"`{sort_key.name}` is in the sort twice", text=text,
                         position=name_position, token=name)
    return sort_key


def _field_problem(field: str, key: str, names: tuple[str, ...], verb: str) -> str:
    if field in FAMILIES:
        return f"`{field}` needs a name to {verb}: `{field}.<name>`"
    if field in names:
        return f"`{field}` has no `.{key}`; fields you can {verb}: {field_listing(names)}"
    if field in FIELDS:
        return f"cannot {verb} `{field}`; fields you can {verb}: {field_listing(names)}"
    shown = f"{field}.{key}" if key else field
    return (f"unknown field `{shown}`{suggestion(field, names)}; "
            f"fields you can {verb}: {field_listing(names)}")


class _QueryParser:
    """A recursive-descent parser over the query text, tracking the character offset."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.depth = 0
        self.conditions = 0

    def error(self, message: str, position: int, token: str = "") -> QueryError:
        return QueryError(message, text=self.text, position=position, token=token)

    def parse(self) -> Node:
        self.skip_space()
        if self.at_end():
            raise self.error("the query is empty: expected a condition such as "
                             "`status:running`", self.position)
        node = self.parse_or()
        self.skip_space()
        if not self.at_end():
            if self.text[self.position] == ")":
                raise self.error("unbalanced `)`: no `(` opened before it", self.position, ")")
            token = self.word_at(self.position)
            raise self.error(f"expected `,`, `AND` or `OR` before `{token}`",
                             self.position, token)
        return node

    # -- structure -------------------------------------------------------------------

    def parse_or(self) -> Node:
        children = [self.parse_and(after=None)]
        while (operator := self.take_or()) is not None:
            children.append(self.parse_and(after=operator))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self, after: tuple[int, str] | None) -> Node:
        children = [self.parse_primary(after)]
        while (operator := self.take_and()) is not None:
            children.append(self.parse_primary(after=operator))
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_primary(self, after: tuple[int, str] | None) -> Node:
        """A group or a condition; ``after`` is the operator before it, if any."""
        self.skip_space()
        if after is not None and self.no_condition_follows():
            position, token = after
            raise self.error(f"`{token}` must be followed by a condition", position, token)
        if self.at_end():
            raise self.error("expected a condition such as `status:running`", self.position)
        if self.text[self.position] == ")":
            raise self.error("expected a condition inside the parentheses, got `)`",
                             self.position, ")")
        if self.text[self.position] != "(":
            return self.parse_condition()
        opening = self.position
        if self.depth == MAX_NESTING:
            raise self.error(f"parentheses nest deeper than {MAX_NESTING} levels", opening,
                             "(")
        self.depth += 1
        self.position += 1
        node = self.parse_or()
        self.skip_space()
        if self.at_end():
            raise self.error("unbalanced `(`: it is never closed", opening, "(")
        if self.text[self.position] != ")":
            token = self.word_at(self.position)
            raise self.error(f"expected `,`, `AND`, `OR` or `)` before `{token}`",
                             self.position, token)
        self.position += 1
        self.depth -= 1
        return node

    def take_and(self) -> tuple[int, str] | None:
        """Consume ``,`` or ``AND`` and return (offset, token), or consume nothing."""
        start = self.position
        self.skip_space()
        if not self.at_end() and self.text[self.position] == ",":
            self.position += 1
            return self.position - 1, ","
        if self.keyword_at(self.position, "AND"):
            self.position += 3
            return self.position - 3, self.text[self.position - 3:self.position]
        self.position = start
        return None

    def take_or(self) -> tuple[int, str] | None:
        """Consume ``OR`` or a ``|`` that separates conditions; else consume nothing."""
        start = self.position
        self.skip_space()
        if self.keyword_at(self.position, "OR"):
            self.position += 2
            return self.position - 2, self.text[self.position - 2:self.position]
        if not self.at_end() and self.text[self.position] == "|":
            after = self.position + 1
            while after < len(self.text) and self.text[after].isspace():
                after += 1
            if _NEXT_CONDITION.match(self.text, after):
                self.position += 1
                return self.position - 1, "|"
        self.position = start
        return None

    # -- conditions ------------------------------------------------------------------

    def parse_condition(self) -> Condition:
        start = self.position
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(f"the query has more than {MAX_CONDITIONS} conditions; narrow it "
                             "with fewer (a membership `field:a|b|c` counts as one)", start,
                             self.word_at(start))
        match = _FIELD.match(self.text, start)
        if match is None:
            token = self.word_at(start)
            hint = ("; `~` goes after the colon, as in `status:~failed`"
                    if token.startswith("~") else "")
            raise self.error(f"expected a field name, got `{token}`{hint}", start, token)
        written = match.group()
        self.position = match.end()
        if not self.at_end() and not (
            self.text[self.position].isspace() or self.text[self.position] in _FIELD_END
        ):
            token = self.word_at(start)
            raise self.error(f"`{token}` is not a field name: a field is `name` or "
                             "`family.name`, of letters, digits and `_`", start, token)
        self.skip_space()
        if self.at_end() or self.text[self.position] != ":":
            raise self.error(f"expected `:` after `{written}`: a condition is "
                             "`field:value`", start, written)
        self.position += 1
        field, _, key = written.partition(".")
        field = canonical(field)
        field_type = FIELDS.get(field) if not key else FAMILIES.get(field)
        if field_type is None:
            names = tuple(FIELDS)
            raise self.error(_field_problem(field, key, names, "query"), start, written)
        self.skip_space()
        value_start = self.position
        value_end = self.scan_value()
        value = self.text[value_start:value_end]
        if not value:
            raise self.error(f"expected a value after `{written}:`", value_start,
                             self.text[value_start:value_start + 1].strip())
        operator, values, negated = self.parse_operation(written, field_type, value,
                                                         value_start)
        return Condition(field=field, key=key or None, operator=operator, values=values,
                         negated=negated, span=(start, value_end))

    def scan_value(self) -> int:
        """Move past a condition's value; return where it ends (trailing space excluded)."""
        text = self.text
        start = index = self.position
        while index < len(text):
            char = text[index]
            if char == "(":
                raise self.error("`(` cannot be part of a value: parentheses group "
                                 "conditions", index, "(")
            if char in ",)":
                break
            if char.isspace():
                following = index
                while following < len(text) and text[following].isspace():
                    following += 1
                if following == len(text) or self.ends_value(following):
                    break
                index = following
                continue
            index += 1
        self.position = index
        while index > start and text[index - 1].isspace():
            index -= 1
        return index

    def ends_value(self, index: int) -> bool:
        """Whether the text at ``index`` (after whitespace) starts the next condition."""
        if self.keyword_at(index, "AND", space_after=True) or self.keyword_at(
            index, "OR", space_after=True
        ):
            return True
        if self.text[index] != "|" or index + 1 >= len(self.text):
            return False
        after = index + 1
        if not self.text[after].isspace():
            return False
        while after < len(self.text) and self.text[after].isspace():
            after += 1
        return _NEXT_CONDITION.match(self.text, after) is not None

    def parse_operation(
        self, written: str, field_type: FieldType, value: str, offset: int
    ) -> tuple[Operator, tuple[Value, ...], bool]:
        negated = value.startswith("~")
        body_offset = offset
        body = value
        if negated:
            body = value[1:].lstrip()
            body_offset = offset + len(value) - len(body)
            if not body:
                raise self.error(f"expected a value after `~` in `{written}`", offset, "~")
        if body == "nil":
            return Operator.NIL, (), negated
        if field_type.quoted_literals and self.is_quoted(body):
            self.check_operator(written, field_type, Operator.EQUAL, body_offset, body)
            return Operator.EQUAL, (self.read(field_type, body, body_offset),), negated
        if ".." in body:
            return Operator.RANGE, self.parse_range(written, field_type, body,
                                                    body_offset), negated
        for prefix, operator in _COMPARISON_PREFIXES:
            if body.startswith(prefix):
                self.check_operator(written, field_type, operator, body_offset, prefix)
                bound = body[len(prefix):].lstrip()
                if not bound:
                    raise self.error(f"expected a value after `{prefix}`", body_offset,
                                     prefix)
                bound_offset = body_offset + len(body) - len(bound)
                return operator, (self.read(field_type, bound, bound_offset,
                                            bound=True),), negated
        if "|" in body:
            return Operator.ONE_OF, self.parse_members(written, field_type, body,
                                                       body_offset), negated
        if body.startswith("%") or body.endswith("%"):
            return (*self.parse_pattern(written, field_type, body, body_offset), negated)
        self.check_operator(written, field_type, Operator.EQUAL, body_offset, body)
        return Operator.EQUAL, (self.read(field_type, body, body_offset),), negated

    def parse_range(
        self, written: str, field_type: FieldType, body: str, offset: int
    ) -> tuple[Value, Value]:
        separator = body.index("..")
        self.check_operator(written, field_type, Operator.RANGE, offset + separator, "..")
        second = body.find("..", separator + 2)
        if second != -1:
            raise self.error("a range has two ends, `a .. b`: unexpected second `..`",
                             offset + second, "..")
        low_text, high_text = body[:separator], body[separator + 2:]
        low, high = low_text.strip(), high_text.strip()
        if not low:
            raise self.error("unbalanced range: expected a value before `..`",
                             offset + separator, "..")
        if not high:
            raise self.error("unbalanced range: expected a value after `..`",
                             offset + separator, "..")
        low_offset = offset + len(low_text) - len(low_text.lstrip())
        high_offset = offset + separator + 2 + len(high_text) - len(high_text.lstrip())
        low_value = self.read(field_type, low, low_offset, bound=True)
        high_value = self.read(field_type, high, high_offset, bound=True)
        if _is_reversed(low_value, high_value):
            raise self.error(f"the range is empty: `{low}` comes after `{high}`",
                             offset, body)
        return low_value, high_value

    def parse_members(
        self, written: str, field_type: FieldType, body: str, offset: int
    ) -> tuple[Value, ...]:
        self.check_operator(written, field_type, Operator.ONE_OF, offset + body.index("|"),
                            "|")
        members: list[Value] = []
        member_offset = offset
        for part in body.split("|"):
            member = part.strip()
            position = member_offset + len(part) - len(part.lstrip())
            if not member:
                bar = min(member_offset + len(part), offset + len(body) - 1)
                raise self.error("empty value in `a|b`: expected a value on each side of "
                                 "`|`", bar, "|")
            members.append(self.read(field_type, member, position))
            member_offset += len(part) + 1
        return tuple(members)

    def parse_pattern(
        self, written: str, field_type: FieldType, body: str, offset: int
    ) -> tuple[Operator, tuple[Value, ...]]:
        leading, trailing = body.startswith("%"), len(body) > 1 and body.endswith("%")
        if leading and trailing:
            operator = Operator.CONTAINS
        elif leading:
            operator = Operator.ENDS_WITH
        else:
            operator = Operator.STARTS_WITH
        self.check_operator(written, field_type, operator, offset, body)
        inner = body[int(leading):len(body) - int(trailing)]
        if "%" in inner:
            raise self.error("`%` goes only at the start or the end of a value",
                             offset + int(leading) + inner.index("%"), "%")
        text = inner.strip()
        if not text:
            raise self.error("expected text beside `%`", offset, body)
        return operator, (text,)

    # -- helpers ---------------------------------------------------------------------

    def check_operator(
        self, written: str, field_type: FieldType, operator: Operator, position: int,
        token: str,
    ) -> None:
        if operator not in field_type.operators:
            shown = token if operator is Operator.EQUAL else operator.value
            raise self.error(
                f"`{written}` ({field_type.name}) takes {operator_listing(field_type)}, "
                f"each negatable with `~`; not `{shown}`", position, token)

    def read(self, field_type: FieldType, raw: str, position: int,
             bound: bool = False) -> Value:
        reader = field_type.read_bound if bound else field_type.read_value
        assert reader is not None
        try:
            return reader(raw)
        except ValueError as problem:
            message = str(problem)
            # `status:running kind:job` reads as one value: say what probably happened.
            if missing := _FORGOTTEN_SEPARATOR.search(raw):
                message = f"is a `,` missing before `{missing.group(1)}`? {message}"
            raise self.error(message, position, raw) from None

    @staticmethod
    def is_quoted(body: str) -> bool:
        return len(body) >= 2 and body[0] == body[-1] == '"' and '"' not in body[1:-1]

    def keyword_at(self, index: int, word: str, space_after: bool = False) -> bool:
        """Whether ``word`` (any case) stands at ``index`` as a word of its own."""
        end = index + len(word)
        found = self.text[index:end]
        if not found.isascii() or found.upper() != word:
            return False
        if end == len(self.text):
            return True
        following = self.text[end]
        return following.isspace() or (not space_after and following == "(")

    def word_at(self, index: int) -> str:
        end = index
        while end < len(self.text) and not self.text[end].isspace() and (
            end == index or self.text[end] not in _WORD_END
        ):
            end += 1
        return self.text[index:end]

    def no_condition_follows(self) -> bool:
        """Whether the text ahead is an end, a separator or a keyword, not a condition."""
        if self.at_end() or self.text[self.position] in ",)|":
            return True
        return self.keyword_at(self.position, "AND") or self.keyword_at(self.position, "OR")

    def skip_space(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def at_end(self) -> bool:
        return self.position >= len(self.text)


def _is_reversed(low: Value, high: Value) -> bool:
    """Whether a range's first end comes after its second (it could match nothing)."""
    if isinstance(low, Period) and isinstance(high, Period):
        return low.start > high.start
    return isinstance(low, float) and isinstance(high, float) and low > high
