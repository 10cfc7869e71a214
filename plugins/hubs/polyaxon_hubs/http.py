"""``hub-http``: a hub served over HTTP — ``index.json`` at its URL lists the components
(``{"components": [{"owner", "name", "versions", "description"}]}``), each version at
``<URL>/<owner>/<name>/<version>.yaml``.

Any web server over a folder hub with its ``index.json`` (``polyaxon hub index``) is one.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, ClassVar

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces.hub import ComponentHub, HubEntry, HubUnavailable

#: seconds one request may take
TIMEOUT = 10.0


class HttpHub(ComponentHub):
    name = "http"
    description = "a hub served over HTTP: index.json, then <owner>/<name>/<version>.yaml"
    location_kind: ClassVar[str] = "url"

    def __init__(self, location: str) -> None:
        super().__init__(location.rstrip("/"))
        self._index: list[HubEntry] | None = None

    def _get(self, path: str) -> bytes:
        url = f"{self.location}/{path}"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 - http(s) only
                return bytes(answer.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise KeyError(path) from None
            raise HubUnavailable(f"the hub at {self.location} answered HTTP {exc.code} for {path}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HubUnavailable(f"the hub at {self.location} cannot be reached: {reason}") from None

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


@hookimpl
def polyaxon_register_hubs() -> list[type[ComponentHub]]:
    return [HttpHub]
