"""The HTTP server of ``polyaxon server``: Werkzeug's threaded server, with the answers it
gives itself (before the application sees a request) in the API's JSON error shape,
and without a version banner."""

from __future__ import annotations

import json
from http import HTTPStatus

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

#: what the server says itself, by status: what went wrong and the fix
SERVER_ANSWERS = {
    HTTPStatus.REQUEST_URI_TOO_LONG: "the request line is longer than 65536 bytes: shorten "
                                     "the URL (its query, most likely)",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "the request has too many headers, or one "
                                                "longer than 65536 bytes: send fewer, shorter "
                                                "headers",
}


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, answering its own errors as JSON and naming no versions."""

    def version_string(self) -> str:
        return "polyaxon"

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """What :class:`http.server.BaseHTTPRequestHandler` does, with a JSON body."""
        status = HTTPStatus(code)
        text = SERVER_ANSWERS.get(status) or (
            f"{message or status.phrase}: {explain}" if explain else message or status.phrase)
        self.log_error("code %d, message %s", code, text)
        body = json.dumps({"code": code, "message": text, "errors": {}}).encode()
        self.send_response(code, status.phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


def make_api_server(host: str, port: int, app: Flask) -> BaseWSGIServer:
    """A threaded server for ``app`` on ``host:port`` (0: any free port)."""
    return make_server(host, port, app, threaded=True, request_handler=RequestHandler)
