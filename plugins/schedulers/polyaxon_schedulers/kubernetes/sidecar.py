"""The outputs sidecar: what a pod writes under its artifacts folder reaches the run's
artifacts, through the API, while it runs and once more when it ends.

Each pod of a run that tracks through the API gets it as a native sidecar (an init
container with ``restartPolicy: Always``, Kubernetes 1.29 and later) of the init image:
``python -m polyaxon_schedulers.kubernetes.sidecar``. It shares the ``/plx-context``
volume with the main container and reads the run's own context from its environment
(``POLYAXON_HOST``, ``POLYAXON_AUTH_TOKEN`` from the run's Secret, ``POLYAXON_OWNER``,
``POLYAXON_PROJECT``, ``POLYAXON_RUN_UUID``, ``POLYAXON_RUN_ARTIFACTS_PATH``): it
uploads with the run's token, the one the run already has, so it needs no credential of
the store and no access to the Kubernetes API.

It first makes the outputs folder (the main container starts once it exists: the
sidecar's startup probe), then every ``--interval`` seconds uploads each file that is new
or changed since it was last sent and has not changed for one interval (a file being
written is left for the next pass). When the kubelet stops it (SIGTERM, once the main
container ended) it sends every file not sent as it now is, and exits. Files are sent at
the path they have under the artifacts folder, as the local scheduler's runner does at
the end of a run; a symbolic link that leads out of the folder is not the run's and is
not sent. A file the server refuses (larger than its upload limit) is said once and
tried again only if it changes; one that could not be sent (the server away) is tried
again on the next pass.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from polyaxon_schedulers.folders import files_of

#: seconds between two passes, unless ``--interval`` says otherwise
DEFAULT_INTERVAL = 10.0
#: what the sidecar reads from its environment
REQUIRED = ("POLYAXON_HOST", "POLYAXON_AUTH_TOKEN", "POLYAXON_PROJECT", "POLYAXON_RUN_UUID",
            "POLYAXON_RUN_ARTIFACTS_PATH")

Signature = tuple[int, int]


@dataclass
class Pass:
    """What one pass did: files sent (path, bytes), and those not sent with why."""

    sent: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Shipper:
    """Sends the files of ``folder`` through ``send(file, path)``, each version once."""

    folder: Path
    send: Callable[[Path, str], None]
    #: path -> the signature (size, mtime) of the version sent, or refused for good
    settled: dict[str, Signature] = field(default_factory=dict)
    #: path -> the signature the previous pass saw
    seen: dict[str, Signature] = field(default_factory=dict)

    def ship(self, final: bool = False) -> Pass:
        """One pass; ``final``: send every file not sent as it is now, changing or not."""
        from polyaxon_core.client.errors import PayloadTooLarge

        done = Pass()
        current: dict[str, Signature] = {}
        for file in files_of(self.folder):
            path = file.relative_to(self.folder).as_posix()
            try:
                stat = file.stat()
            except FileNotFoundError:
                continue  # removed while the folder was read
            signature = (stat.st_size, stat.st_mtime_ns)
            current[path] = signature
            if self.settled.get(path) == signature:
                continue
            if not final and self.seen.get(path) != signature:
                continue  # new or still changing: sent once it stays as it is
            try:
                self.send(file, path)
            except PayloadTooLarge as exc:
                self.settled[path] = signature
                done.failed.append((path, f"refused by the server: {exc}"))
            except Exception as exc:  # noqa: BLE001 — the server away, the file gone: next pass
                done.failed.append((path, f"{type(exc).__name__}: {exc}"))
            else:
                self.settled[path] = signature
                done.sent.append((path, signature[0]))
        self.seen = current
        return done


def _say(done: Pass, final: bool) -> None:
    if done.sent:
        size = sum(bytes_ for _, bytes_ in done.sent)
        print(f"sent {len(done.sent)} file(s), {size} bytes{' (last pass)' if final else ''}", flush=True)
    for path, why in done.failed:
        print(f"{path} was not sent: {why}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polyaxon_schedulers.kubernetes.sidecar",
                                     description="Send a pod's artifacts to its run, through the API.")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL,
                        help="seconds between two passes (default 10)")
    options = parser.parse_args(argv)
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(f"the sidecar needs {', '.join(missing)} in its environment: it runs in a pod of a "
              "run that tracks through the API (set POLYAXON_API_HOST for the orchestrator)",
              file=sys.stderr)
        return 2
    if options.interval <= 0:
        print(f"--interval must be more than 0 seconds, not {options.interval}", file=sys.stderr)
        return 2

    environ = os.environ
    folder = Path(environ["POLYAXON_RUN_ARTIFACTS_PATH"])
    (folder / "outputs").mkdir(parents=True, exist_ok=True)  # the main container waits for it

    from polyaxon_core.client.api import DEFAULT_OWNER, ApiClient

    client = ApiClient(environ["POLYAXON_HOST"], environ["POLYAXON_AUTH_TOKEN"],
                       owner=environ.get("POLYAXON_OWNER") or DEFAULT_OWNER)
    project, uuid = environ["POLYAXON_PROJECT"], environ["POLYAXON_RUN_UUID"]
    shipper = Shipper(folder, lambda file, path: client.upload_artifact(project, uuid, path, file,
                                                                         record=False))
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping.wait(options.interval):
        _say(shipper.ship(), final=False)
    _say(shipper.ship(final=True), final=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
