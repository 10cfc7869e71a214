"""``hub-http``: a hub served over HTTP — ``index.json`` at its URL lists the components
(``{"components": [{"owner", "name", "versions", "description"}]}``), each version at
``<URL>/<owner>/<name>/<version>.yaml``.

Any web server over a folder hub with its ``index.json`` (``polyaxon hub index``) is one,
and so is a polyaxon server's own hub, ``<server>/api/v1/<owner>/hub`` (its projects'
component versions): requests to the server the CLI is logged in to (``POLYAXON_HOST``)
carry its token, and ``polyaxon hub push`` there adds a component version to the project
``<name>`` (which must exist).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import TYPE_CHECKING, Any, ClassVar

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces.hub import ComponentHub, HubEntry, HubUnavailable

# urllib.request and urllib.error are imported by the methods that send: the plugin is
# loaded by every process that lists the plugins, and sends nothing in most of them
if TYPE_CHECKING:
    import urllib.request

#: seconds one request may take
TIMEOUT = 10.0


class HttpHub(ComponentHub):
    name = "http"
    description = "a hub served over HTTP: index.json, then <owner>/<name>/<version>.yaml"
    location_kind: ClassVar[str] = "url"

    def __init__(self, location: str) -> None:
        super().__init__(location.rstrip("/"))
        self._index: list[HubEntry] | None = None

    def _headers(self) -> dict[str, str]:
        """The token of the server the CLI talks to, for that server only."""
        from polyaxon_core.client.credentials import resolve

        credentials = resolve()
        if credentials is None or not credentials.token:
            return {}
        ours, theirs = urllib.parse.urlsplit(self.location), urllib.parse.urlsplit(credentials.host)
        if (ours.scheme, ours.netloc) != (theirs.scheme, theirs.netloc):
            return {}
        return {"Authorization": f"Token {credentials.token}"}

    def _open(self, request: urllib.request.Request) -> bytes:
        """The body of the answer to ``request``; an HTTPError for an error status, a
        HubUnavailable when the hub cannot be reached."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 - http(s) only
                return bytes(answer.read())
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HubUnavailable(f"the hub at {self.location} cannot be reached: {reason}") from None

    def _get(self, path: str) -> bytes:
        import urllib.error
        import urllib.request

        try:
            return self._open(urllib.request.Request(f"{self.location}/{path}", headers=self._headers()))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise KeyError(path) from None
            raise HubUnavailable(f"the hub at {self.location} answered HTTP {exc.code} for {path}") from None

    def components(self) -> list[HubEntry]:
        if self._index is None:
            try:
                data: Any = json.loads(self._get("index.json"))
            except KeyError:
                raise HubUnavailable(f"the hub at {self.location} has no index.json") from None
            except ValueError:
                raise HubUnavailable(f"the index of the hub at {self.location} is not JSON") from None
            listed = data.get("components") if isinstance(data, dict) else None
            if not isinstance(listed, list):
                raise HubUnavailable(f"the index of the hub at {self.location} lists no `components`")
            self._index = [
                HubEntry(str(item["owner"]), str(item["name"]), tuple(str(v) for v in item["versions"]),
                         str(item.get("description") or ""))
                for item in listed
                if isinstance(item, dict) and {"owner", "name", "versions"} <= item.keys()
                and isinstance(item["versions"], list)]
        return self._index

    def read(self, owner: str, name: str, version: str) -> str:
        path = "/".join(urllib.parse.quote(part, safe="") for part in (owner, name, f"{version}.yaml"))
        try:
            return self._get(path).decode("utf-8")
        except UnicodeDecodeError:
            raise HubUnavailable(f"{self.location}/{path} is not text") from None

    def push(self, owner: str, name: str, version: str, text: str, replace: bool) -> None:
        """Only a polyaxon server's hub takes pushes: the component version ``version`` of
        its project ``name``."""
        import urllib.error
        import urllib.request

        parts = urllib.parse.urlsplit(self.location)
        found = SERVER_HUB.fullmatch(parts.path)
        if found is None:
            raise HubUnavailable(f"the hub at {self.location} is served over HTTP read-only; push to "
                                 "the folder it serves, or to a server's hub (<server>/api/v1/<owner>/hub)")
        if owner != found.group("owner"):
            raise HubUnavailable(f"the hub at {self.location} holds components of "
                                 f"{found.group('owner')}; push as {found.group('owner')}/{name}:{version}")
        url = (f"{parts.scheme}://{parts.netloc}{found.group('api')}/{urllib.parse.quote(owner, safe='')}/"
               f"{urllib.parse.quote(name, safe='')}/versions/component")
        body = json.dumps({"name": version, "content": text, "force": replace}).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={
            **self._headers(), "Content-Type": "application/json"})
        try:
            self._open(request)
        except urllib.error.HTTPError as exc:
            try:
                message = str(json.loads(exc.read()).get("message"))
            except (ValueError, AttributeError):
                message = f"HTTP {exc.code}"
            if exc.code == 409:
                raise FileExistsError(message) from None
            raise HubUnavailable(f"the hub at {self.location} refused the push: {message}") from None


#: a polyaxon server's own hub: ``<prefix>/api/v1/<owner>/hub``
SERVER_HUB = re.compile(r"(?P<api>.*/api/v1)/(?P<owner>[^/]+)/hub")


@hookimpl
def polyaxon_register_hubs() -> list[type[ComponentHub]]:
    return [HttpHub]
