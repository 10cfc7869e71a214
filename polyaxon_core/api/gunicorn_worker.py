"""A gunicorn worker that answers the requests gunicorn cannot parse in the API's JSON error
shape, as ``polyaxon server`` does (:mod:`polyaxon_core.api.serving`).

Such requests (an over-long request line, too many or too large headers, a malformed
request line or header) never reach the application: gunicorn's worker answers them
itself, with a small HTML page. :class:`JsonErrorWorker` is gunicorn's threaded worker
whose answers to them are ``{"code", "message", "errors": {}}`` with
``Content-Type: application/json`` and ``X-Content-Type-Options: nosniff``::

    gunicorn -k polyaxon_core.api.gunicorn_worker.JsonErrorWorker --threads 8 ...

gunicorn still decides which status a failure gets and logs it; this worker only
replaces what is written to the client. Only gunicorn imports this module.
"""

from __future__ import annotations

import html
import json
import re
from http import HTTPStatus
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})")
_MESSAGE = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.DOTALL)


class _Captured:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # "non-blocking": gunicorn then writes without changing the mode

    def sendall(self, data: bytes) -> None:
        self.data += data


class JsonErrorWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker, answering unparseable requests in JSON."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        found = _STATUS_LINE.match(captured.data)
        if found is None:  # nothing was written: nothing to answer
            return
        code = int(found.group(1))
        detail = _MESSAGE.search(captured.data)
        text = html.unescape(detail.group(1).decode("latin-1")) if detail else ""
        body = json.dumps({"code": code, "message": self.message(code, text),
                           "errors": {}}).encode()
        head = (f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\n"
                "Connection: close\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                "X-Content-Type-Options: nosniff\r\n"
                "Cache-Control: no-store\r\n\r\n").encode()
        try:
            client.sendall(head + body)
        except OSError:
            self.log.debug("the client left before its error answer was sent")

    def message(self, code: int, detail: str) -> str:
        """What went wrong and the fix, by status (``detail``: gunicorn's own words)."""
        if code == HTTPStatus.REQUEST_URI_TOO_LONG:
            return (f"the request line is longer than {self.cfg.limit_request_line} bytes: "
                    "shorten the URL (its query, most likely), or raise gunicorn's "
                    "--limit-request-line")
        if code == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE:
            return (f"the request has more than {self.cfg.limit_request_fields} headers, or one "
                    f"longer than {self.cfg.limit_request_field_size} bytes: send fewer, "
                    "shorter headers, or raise gunicorn's --limit-request-fields / "
                    "--limit-request-field_size")
        if code == HTTPStatus.INTERNAL_SERVER_ERROR:
            return "the server failed to handle the request; its log says why"
        phrase = HTTPStatus(code).phrase.lower()
        return (f"{phrase}: {detail}; send a well-formed HTTP/1.1 request" if detail
                else f"{phrase}; send a well-formed HTTP/1.1 request")
