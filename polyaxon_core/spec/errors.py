"""Problems found in a polyaxonfile, and the exception that carries all of them.

Validation never stops at the first mistake: every stage appends :class:`Problem` objects
and the caller raises one :class:`PolyaxonfileError` holding the whole list, so a user
fixes a file in one pass instead of one error per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a polyaxonfile.

    ``file`` is the file (or source name) the problem is in, ``line`` its 1-based line
    when known, ``path`` the dotted field path (``matrix.params.lr.value.low``, list items
    as ``inputs[0]``; empty for the document itself), ``message`` what is wrong and
    ``valid`` what would have been accepted (alternatives, a "did you mean"), if any.
    """

    file: str
    line: int | None
    path: str
    message: str
    valid: str | None = None

    def __str__(self) -> str:
        location = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{location}: {self.path}: {self.message}" if self.path else f"{location}: {self.message}"
        return f"{text}; valid: {self.valid}" if self.valid else text

    def to_dict(self) -> dict[str, object]:
        """The problem as JSON-serializable data (used by ``polyaxon check -o json``)."""
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "valid": self.valid,
        }


class PolyaxonfileError(Exception):
    """A polyaxonfile (or values given for it) is not valid; ``problems`` lists everything found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = _in_reading_order(_deduplicate(problems))
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} found in the polyaxonfile:"
        return "\n".join([header, *(f"  {problem}" for problem in self.problems)])


def _deduplicate(problems: Iterable[Problem]) -> list[Problem]:
    # A component shared by several DAG operations is checked once per operation; the
    # user should still see each of its problems once.
    seen: set[Problem] = set()
    unique = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return unique


def _in_reading_order(problems: list[Problem]) -> list[Problem]:
    # Files in the order they were first reported, lines in order within each file;
    # problems without a line (e.g. about -P values) lead their file.
    files = {problem.file: index for index, problem in reversed(list(enumerate(problems)))}
    return sorted(problems, key=lambda problem: (files[problem.file], problem.line or 0))


class Issue(str):
    """A validation message that also says what would have been valid.

    Marshmallow keeps error messages as given, so carrying ``valid`` on a ``str``
    subclass lets it travel through nested schemas untouched.
    """

    valid: str | None

    def __new__(cls, message: str, valid: str | None = None) -> Issue:
        issue = super().__new__(cls, message)
        issue.valid = valid
        return issue


def one_of(value: object, options: Iterable[str], noun: str = "one of") -> str:
    """Describe the valid options, leading with the closest match to ``value`` if any."""
    names = list(options)
    listing = f"{noun}: {', '.join(names)}" if names else f"{noun}: none declared"
    if isinstance(value, str):
        close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
        if close:
            return f"did you mean `{close[0]}`? {listing}"
    return listing


def describe_value(value: object) -> str:
    """A short rendering of a user value for messages: ``'abc' (str)``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
