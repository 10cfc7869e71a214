"""``polyaxon run`` handed to the running orchestrator: a submission without the database layer.

Submitting in the command's own process means importing SQLAlchemy, the models and the
spec compiler first: most of the second ``polyaxon run`` takes, paid again by every
command. The orchestrator serving a home has imported all of that already. While it runs,
it takes submissions on a Unix socket of its own (its :class:`Intake`), in a folder only
its user can open, whose path it publishes in its lock file's status
(:class:`~polyaxon_core.orchestrator.embedded.OrchestratorLock`); ``polyaxon run -f``
sends it the polyaxonfile's path and its options (:func:`submit`) and prints the run it
made. The orchestrator does exactly what the command would have done: the same
:class:`~polyaxon_core.client.local.LocalPlatform`, the same domain call, one transaction.

It takes a submission only from a process of its own user (checked from the socket's
peer credentials, on top of the folder's permissions) and configured as it is: the same
``POLYAXON_*`` variables (:func:`configuration`), so that the run is made with the
settings, backends and hubs the command would have used. Anything else, and any failure
before the run is written (a polyaxonfile with problems, an unknown project, an
orchestrator of an older version), is *declined*: nothing was written, and the command
submits in its own process, which reports a problem exactly as it always does. A
connection that breaks once the submission was sent is never retried that way (the run
may exist): the command says so instead.

Protocol: one JSON object per line each way. The request is
``{"submit": {...}, "configuration": {...}}``; the answer ``{"ok": run, "what": kind}``
(the run's document, its times in ISO 8601) or ``{"declined": reason}``.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from polyaxon_core.client.local import LocalPlatform
from polyaxon_core.config import Settings
from polyaxon_core.errors import PolyaxonError
from polyaxon_core.wakeup import waking_scope

logger = logging.getLogger(__name__)

#: the orchestrator's lock status entry that holds the intake's socket path
STATUS_KEY = "intake"
#: variables a command reads for itself, which the run it submits does not depend on
COMMAND_ONLY = frozenset({"POLYAXON_PROJECT", "POLYAXON_ORCHESTRATOR", "POLYAXON_DEBUG"})
#: the longest request taken (a polyaxonfile travels as its path, not its content)
REQUEST_LIMIT = 1024 * 1024
#: how long a command waits for the answer: a submission is one transaction
ANSWER_TIMEOUT = 120.0


class SubmissionLost(PolyaxonError):
    """The orchestrator took a submission and ended before it answered."""


def configuration(environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``POLYAXON_*`` variables a submission depends on (all but :data:`COMMAND_ONLY`)."""
    environment = os.environ if environment is None else environment
    return {name: value for name, value in sorted(environment.items())
            if name.startswith("POLYAXON_") and name not in COMMAND_ONLY}


# -------------------------------------------------------------------- the command's side
def submit(settings: Settings, files: Sequence[Path], params: Mapping[str, str], *,
           project: str, name: str | None, description: str | None, tags: Sequence[str],
           queue: str | None) -> tuple[dict[str, Any], str] | None:
    """The run the orchestrator serving ``settings.home`` made of the polyaxonfile
    ``files[0]`` (``files[1:]``: its presets) and what kind it is; None when no
    orchestrator took the submission (none runs, it has no intake, it declined): nothing
    was written, submit it here. Raises :class:`SubmissionLost` when the connection broke
    after the submission was sent."""
    from polyaxon_core.orchestrator.embedded import OrchestratorLock

    lock = OrchestratorLock(settings)
    address = lock.holder_status().get(STATUS_KEY)
    if not isinstance(address, str) or not lock.is_held():
        return None
    request = json.dumps({
        "submit": {"files": [str(Path(file).resolve()) for file in files], "params": dict(params),
                   "project": project, "name": name, "description": description,
                   "tags": list(tags), "queue": queue},
        "configuration": configuration(),
    }).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(ANSWER_TIMEOUT)
        try:
            connection.connect(address)
        except OSError:
            return None  # gone, or not ours to reach: nothing was sent
        try:
            connection.sendall(request)
            with connection.makefile("rb") as answers:
                line = answers.readline()  # a run's document: as long as its content is
        except OSError as exc:
            line, failure = b"", f"{exc.strerror or exc}"
        else:
            failure = "it closed the connection"
    if not line.endswith(b"\n"):  # nothing, or an answer cut short
        raise SubmissionLost(
            f"the orchestrator serving {settings.home} (pid {lock.holder_pid()}) took the "
            f"submission and did not answer ({failure}); `polyaxon ops ls` shows whether the "
            "run was made before you submit it again")
    answer = json.loads(line)
    if "ok" not in answer:
        logger.debug("the orchestrator declined the submission: %s", answer.get("declined"))
        return None
    return _with_times(answer["ok"]), str(answer["what"])


def _with_times(document: dict[str, Any]) -> dict[str, Any]:
    """The run's times back as datetimes, as a submission in this process returns them."""
    return {key: datetime.fromisoformat(value) if key.endswith("_at") and isinstance(value, str)
            else value for key, value in document.items()}


# --------------------------------------------------------------- the orchestrator's side
def submission_kind(spec: Any, document: Mapping[str, Any]) -> str:
    """What the run is, as ``polyaxon run`` says it: its kind, or the sweep's."""
    return f"sweep ({spec.matrix.kind})" if spec.matrix else str(document["kind"])


def read_polyaxonfiles(files: Sequence[Path], params: Mapping[str, str]) -> tuple[Any, str, str]:
    """The operation of the polyaxonfile ``files[0]`` patched with the presets ``files[1:]``,
    the text it was made from and the folder it came from (the run's context)."""
    from polyaxon_core.spec import read_polyaxonfile

    polyaxonfile, *presets = files
    spec = read_polyaxonfile(polyaxonfile, params, presets=presets)
    return spec, polyaxonfile.read_text(), str(polyaxonfile.resolve().parent)


def submit_spec(platform: Any, project: str, read: tuple[Any, str, str], *, name: str | None,
                description: str | None, tags: Sequence[str],
                queue: str | None) -> tuple[dict[str, Any], str]:
    """Submit the operation ``read`` (what :func:`read_polyaxonfiles` returns) through
    ``platform``: the run's document and what kind it is. What ``polyaxon run`` does, in
    its process or in the orchestrator's."""
    spec, raw_content, context_path = read
    document = platform.submit_run(project, spec, raw_content=raw_content, context_path=context_path,
                                   name=name, description=description, tags=list(tags), queue=queue)
    return document, submission_kind(spec, document)


def _peer_uid(connection: socket.socket) -> int:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return int(uid)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} values cannot be sent as JSON")


class _Itself(LocalPlatform):
    """The platform in the orchestrator: it is what keeps the runs going."""

    def keep_going(self) -> None:
        return None


class Intake:
    """Takes the submissions of commands configured as ``settings`` on a socket of its own,
    each connection in a thread; :attr:`address` is what the lock's status publishes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.platform = _Itself(settings, partial(waking_scope, settings))
        self.configuration = configuration()
        # a folder of this user's alone (0700): nobody else can reach the socket
        self._folder = tempfile.mkdtemp(prefix="polyaxon-intake-")
        self.address = os.path.join(self._folder, "intake.sock")
        #: connections taken and not answered yet (closing waits for them)
        self._in_flight = 0
        self._answered = threading.Condition()
        #: written to when closing: the thread taking connections stops waiting for more
        self._closing, self._told_to_close = os.pipe()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._listener.bind(self.address)
            self._listener.listen(64)
        except OSError:
            self._listener.close()
            self._release()
            raise
        self._taking = threading.Thread(target=self._accept, name="polyaxon-intake", daemon=True)
        self._taking.start()

    def _accept(self) -> None:
        waiting = select.poll()
        waiting.register(self._listener, select.POLLIN)
        waiting.register(self._closing, select.POLLIN)
        while True:
            ready = {descriptor for descriptor, _ in waiting.poll()}
            if self._listener.fileno() in ready:
                self._take_one()
            if self._closing in ready:
                break
        # the commands that connected before the socket was removed are answered too
        self._listener.setblocking(False)
        while self._take_one():
            pass
        self._listener.close()

    def _take_one(self) -> bool:
        """Serve a connection waiting to be accepted, in a thread; whether there was one."""
        try:
            connection, _ = self._listener.accept()
        except OSError:  # none waiting (BlockingIOError), or one that left meanwhile
            return False
        connection.setblocking(True)
        with self._answered:
            self._in_flight += 1
        threading.Thread(target=self._serve, args=(connection,), daemon=True).start()
        return True

    def _serve(self, connection: socket.socket) -> None:
        try:
            self._take(connection)
        finally:
            with self._answered:
                self._in_flight -= 1
                self._answered.notify_all()

    def _take(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as requests:
            # read before answering, whoever asks: the request is not left unread for the
            # answer to break
            line = requests.readline(REQUEST_LIMIT + 1)
            if _peer_uid(connection) != os.getuid():
                answer: dict[str, Any] = {"declined": "a process of another user"}
            elif len(line) > REQUEST_LIMIT or not line.endswith(b"\n"):
                answer = {"declined": f"a request over {REQUEST_LIMIT} bytes, or cut short"}
            else:
                answer = self.answer(line)
            try:
                connection.sendall(json.dumps(answer, default=_iso).encode() + b"\n")
            except OSError:
                logger.warning("a command left before hearing of its submission: %s",
                               answer.get("ok", {}).get("uuid") or answer.get("declined"))

    def answer(self, line: bytes) -> dict[str, Any]:
        """The answer to one request line; ``declined`` whenever nothing was written."""
        try:
            request = json.loads(line)
            submission, wanted = request["submit"], request["configuration"]
            files = [Path(file) for file in submission["files"]]
            params = {str(key): str(value) for key, value in dict(submission["params"]).items()}
            options = {key: submission[key] for key in ("name", "description", "queue")}
            tags, project = [str(tag) for tag in submission["tags"]], str(submission["project"])
        except (ValueError, KeyError, TypeError) as exc:
            return {"declined": f"not a submission: {type(exc).__name__}: {exc}"}
        if wanted != self.configuration:
            return {"declined": "a command configured otherwise (its POLYAXON_* variables differ)"}
        if not files or not all(file.is_absolute() for file in files):
            return {"declined": "no polyaxonfile, or a relative path"}
        try:
            document, what = submit_spec(self.platform, project, read_polyaxonfiles(files, params),
                                         tags=tags, **options)
        except Exception as exc:  # rolled back: the command submits it and says what it is
            return {"declined": f"{type(exc).__name__}: {exc}"}
        logger.info("run %s submitted by a command (%s)", document["uuid"], files[0])
        return {"ok": document, "what": what}

    def close(self) -> None:
        """Take no more submissions, and return once those already taken, or waiting to be,
        are answered (at most :data:`ANSWER_TIMEOUT` later): a run they make is written
        before the orchestrator leaves. A command that finds the socket gone submits itself."""
        with suppress(FileNotFoundError):
            os.unlink(self.address)
        os.write(self._told_to_close, b"!")
        self._taking.join()
        with self._answered:
            self._answered.wait_for(lambda: self._in_flight == 0, timeout=ANSWER_TIMEOUT)
        self._release()

    def _release(self) -> None:
        os.close(self._closing)
        os.close(self._told_to_close)
        shutil.rmtree(self._folder, ignore_errors=True)
