"""Fixtures for the polyaxonfile tests."""

from __future__ import annotations

import http.server
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

WriteFile = Callable[..., Path]


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """Write a dedented polyaxonfile under the test's folder and return its path."""

    def write(text: str, name: str = "polyaxonfile.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write


class ComponentServer:
    """An HTTP server on 127.0.0.1 serving ``files`` (path -> text) and logging every
    request path it receives, so a test can tell who fetched what."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.requested: list[str] = []
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                served.requested.append(self.path)
                text = served.files.get(self.path)
                body = (text if text is not None else "not found").encode()
                self.send_response(200 if text is not None else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads ``requested`` instead."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def component_server() -> Iterator[ComponentServer]:
    """A loopback HTTP server for urlRef tests."""
    server = ComponentServer()
    yield server
    server.close()
