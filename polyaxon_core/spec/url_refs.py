"""Fetching the component a ``urlRef`` names: on the client only, over http(s) only.

``urllib.request`` (and the HTTP and e-mail modules it brings) is loaded by a fetch
alone: compiling a polyaxonfile without a ``urlRef`` (every run the orchestrator launches,
nearly every ``polyaxon run``) never needs it.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

TIMEOUT_SECONDS = 10.0
#: A component fetched from a urlRef is refused beyond this many bytes.
MAX_BYTES = 1_000_000
SCHEMES = ("http", "https")


def scheme_of(url: str) -> str:
    return urllib.parse.urlsplit(url).scheme.lower()


def fetch_component(url: str) -> str:
    """The text at the http(s) ``url``, following redirects to http(s) URLs only (urllib
    would also follow ftp); ValueError past MAX_BYTES, OSError (urllib's URLError among
    them) when it cannot be read."""
    import urllib.request

    class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                             headers: Any, newurl: str) -> urllib.request.Request | None:
            if scheme_of(newurl) not in SCHEMES:
                raise ValueError(f"redirected to `{newurl}`, which is not an http(s) URL")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.build_opener(HttpOnlyRedirects)
    with opener.open(url, timeout=TIMEOUT_SECONDS) as response:
        body: bytes = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES:,} bytes")
    return body.decode("utf-8")
