"""The Kubernetes API as this plugin uses it: JSON in, JSON out, through the official client.

The official ``kubernetes`` client provides the connection — kubeconfig or in-cluster
credentials, TLS, bearer tokens — and this module speaks to the paths directly with plain
dictionaries (the same objects :mod:`.manifests` renders), so no object is converted to
and from the client's model classes.

Where it connects (read once, from the environment):

* ``POLYAXON_K8S_API``: the API server's URL, without credentials (``kubectl proxy``, an
  API server stand-in in tests);
* otherwise, inside a pod, the pod's service account (``KUBERNETES_SERVICE_HOST``);
* otherwise the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``), its context
  ``POLYAXON_K8S_CONTEXT`` or the current one.

The namespace is ``POLYAXON_K8S_NAMESPACE``, else the pod's own namespace, else the
context's, else ``default``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyaxon_core.config import ConfigurationError
from polyaxon_core.interfaces.scheduler import SchedulerUnavailable

_IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: how long one request may take before the API server is reported unreachable
REQUEST_TIMEOUT = 30.0
#: a followed log silent this long is asked for again (a connection may be gone unnoticed)
LOG_READ_TIMEOUT = 300.0


class KubeError(Exception):
    """The API server answered with an error status."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message = code, reason, message


def collection_path(api_version: str, namespace: str, plural: str) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{plural}"


def plural_of(kind: str) -> str:
    """The resource of a kind (Job -> jobs, PyTorchJob -> pytorchjobs)."""
    return kind.lower() + "s"


def configured_namespace() -> str:
    """The namespace to work in, from the configuration alone (no connection made)."""
    named = os.environ.get("POLYAXON_K8S_NAMESPACE", "").strip()
    if named:
        return named
    if os.environ.get("KUBERNETES_SERVICE_HOST") and _IN_CLUSTER_NAMESPACE.exists():
        return _IN_CLUSTER_NAMESPACE.read_text().strip()
    if not os.environ.get("POLYAXON_K8S_API", "").strip():
        try:
            from kubernetes import config

            _, active = config.list_kube_config_contexts()
            found = (active or {}).get("context", {}).get("namespace")
            if found:
                return str(found)
        except Exception:  # noqa: BLE001 — no kubeconfig (or no client): the default
            return "default"
    return "default"


@dataclass
class KubeApi:
    """An API server and the namespace this scheduler works in."""

    client: Any
    namespace: str

    @classmethod
    def from_environment(cls, user: str = "POLYAXON_SCHEDULER=kubernetes") -> KubeApi:
        """The API server the environment configures; ``user`` names who needs it in the
        errors (the scheduler, a builder)."""
        try:
            from kubernetes import client, config
        except ImportError:
            raise ConfigurationError(
                f"{user} needs the Kubernetes client: "
                "pip install 'polyaxon-schedulers[kubernetes]'") from None

        url = os.environ.get("POLYAXON_K8S_API", "").strip()
        if url:
            configuration = client.Configuration()
            configuration.host = url.rstrip("/")
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
        else:
            configuration = client.Configuration()
            context = os.environ.get("POLYAXON_K8S_CONTEXT") or None
            try:
                config.load_kube_config(context=context, client_configuration=configuration)
            except (config.ConfigException, OSError) as exc:
                raise ConfigurationError(
                    f"{user} found no cluster to use: {exc}. Set "
                    "POLYAXON_K8S_API to the API server's URL, run inside the cluster, or give "
                    "a kubeconfig (KUBECONFIG, POLYAXON_K8S_CONTEXT)") from None
        configuration.retries = 0  # an unreachable server is reported at once, then retried later
        return cls(client.ApiClient(configuration), configured_namespace())

    def _call(self, method: str, path: str, query: Sequence[tuple[str, Any]] = (),
              body: Any = None, content_type: str = "application/json",
              timeout: float | tuple[float, float] = REQUEST_TIMEOUT) -> Any:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            return self.client.call_api(
                path, method, query_params=list(query),
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body, auth_settings=["BearerToken"], _preload_content=False,
                _return_http_data_only=True, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status == 0:  # the client's own: TLS and the like
                raise SchedulerUnavailable(
                    f"the Kubernetes API at {self.host} failed: {exc.reason}") from None
            raise self._error(exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise SchedulerUnavailable(
                f"the Kubernetes API at {self.host} cannot be reached ({type(exc).__name__}); "
                "it is tried again on the next pass") from None

    @property
    def host(self) -> str:
        return str(self.client.configuration.host)

    @staticmethod
    def _error(exc: Any) -> Exception:
        try:
            status = json.loads(exc.body or b"{}")
        except ValueError:
            status = {}
        message = str(status.get("message") or exc.reason or "")
        reason = str(status.get("reason") or exc.reason or "")
        if exc.status >= 500 or exc.status == 429:
            return SchedulerUnavailable(f"the Kubernetes API answered {exc.status} {reason}: {message}")
        return KubeError(int(exc.status), reason, message)

    def request(self, method: str, path: str, query: Sequence[tuple[str, Any]] = (),
                body: Any = None, content_type: str = "application/json") -> dict[str, Any]:
        response = self._call(method, path, query, body, content_type)
        try:
            return dict(json.loads(response.data or b"{}"))
        finally:
            response.release_conn()

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        path = collection_path(obj["apiVersion"], self.namespace, plural_of(obj["kind"]))
        return self.request("POST", path, body=obj)

    def read(self, api_version: str, plural: str, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", f"{collection_path(api_version, self.namespace, plural)}/{name}")
        except KubeError as exc:
            if exc.code == 404:
                return None
            raise

    def list(self, api_version: str, plural: str, selector: str) -> dict[str, Any]:
        return self.request("GET", collection_path(api_version, self.namespace, plural),
                            [("labelSelector", selector)])

    def delete(self, api_version: str, plural: str, name: str, grace: int | None = None,
               propagation: str = "Background") -> bool:
        """Delete; ``False`` when it was already gone."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1",
                                   "propagationPolicy": propagation}
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        try:
            self.request("DELETE", f"{collection_path(api_version, self.namespace, plural)}/{name}",
                         body=options)
        except KubeError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def patch(self, api_version: str, plural: str, name: str, patch: Mapping[str, Any]) -> None:
        """A JSON merge patch of the object."""
        self.request("PATCH", f"{collection_path(api_version, self.namespace, plural)}/{name}",
                     body=patch, content_type="application/merge-patch+json")

    def log(self, pod: str, container: str, follow: bool) -> Iterator[bytes]:
        """The container's output as it comes (while it runs when ``follow``)."""
        response = self._call("GET", f"{collection_path('v1', self.namespace, 'pods')}/{pod}/log",
                              [("container", container), ("follow", "true" if follow else "false")],
                              timeout=(REQUEST_TIMEOUT, LOG_READ_TIMEOUT) if follow else REQUEST_TIMEOUT)
        try:
            yield from response.stream(amt=None, decode_content=False)
        finally:
            response.release_conn()

    def watch(self, api_version: str, plural: str, selector: str, version: str,
              timeout: int) -> Iterator[dict[str, Any]]:
        """The events after resource ``version``, for at most ``timeout`` seconds."""
        response = self._call("GET", collection_path(api_version, self.namespace, plural), [
            ("labelSelector", selector), ("watch", "true"), ("resourceVersion", version),
            ("allowWatchBookmarks", "true"), ("timeoutSeconds", timeout)],
            timeout=(REQUEST_TIMEOUT, timeout + REQUEST_TIMEOUT))
        try:
            pending = b""
            for chunk in response.stream(amt=None, decode_content=False):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        finally:
            response.release_conn()

    def close(self) -> None:
        self.client.close()
