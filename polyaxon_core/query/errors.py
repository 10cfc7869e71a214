"""The one error type of the query language."""

from __future__ import annotations


class QueryError(ValueError):
    """A query or sort text that cannot be understood.

    ``message`` says what is wrong and what would have been valid, ``position`` is the
    0-based character offset of the offending ``token`` in ``text`` (the query or sort
    as given). ``str()`` shows the message, then the text with a caret under the token::

        `status` takes `x`, `a|b`, `nil` (each negatable with `~`), not `>`
          status:>running
                 ^
    """

    def __init__(self, message: str, *, text: str, position: int, token: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.position = position
        self.token = token

    def __str__(self) -> str:
        # Tabs, newlines and other unprintable characters would move the caret away
        # from its token, so each is shown as one space.
        shown = "".join(char if char.isprintable() else " " for char in self.text)
        caret = " " * self.position + "^" * max(1, len(self.token))
        return f"{self.message}\n  {shown}\n  {caret}"
