"""Name the path and the cause when storage cannot be written: a full disk, a read-only
or foreign-owned home, a database file that refuses writes.

These failures come as an ``OSError`` (the run folders, the logs) or as the database
driver's own error, wrapped by SQLAlchemy together with the statement and its parameters
(which may hold a whole polyaxonfile). Both become one line that names the path and the
cause, for the CLI's error, the orchestrator's status and the run's failure reason.
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from polyaxon_core.config import Settings

#: errno values that mean "this storage cannot take writes"
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})

#: SQLite's messages for the same situations (they carry no path and no errno) -> the
#: errno they mean; for the vaguer ones, the errno assumed when the file system shows
#: neither a read-only mount nor a full disk
_SQLITE_MESSAGES = {
    "database or disk is full": (errno.ENOSPC, False),
    "attempt to write a readonly database": (errno.EROFS, False),
    "unable to open database file": (errno.EACCES, True),
    "disk I/O error": (errno.EIO, True),  # e.g. WAL shared memory that cannot grow
}


@dataclass(frozen=True)
class StorageFailure:
    """What could not be written, and why."""

    path: str
    errno: int

    @property
    def cause(self) -> str:
        return os.strerror(self.errno)

    @property
    def message(self) -> str:
        # a permission error may come from a read as well; the others only from writes
        verb = "access" if self.errno in {errno.EACCES, errno.EPERM} else "write"
        if self.errno in {errno.ENOSPC, errno.EDQUOT}:
            fix = "free space there"
        elif self.errno == errno.EIO:
            fix = "check that disk"
        else:
            fix = "make it writable for this user"
        return (f"cannot {verb} {self.path}: {self.cause}; {fix}, or point POLYAXON_HOME "
                "(POLYAXON_DB_URL for the database) somewhere writable")

    @property
    def http_status(self) -> int:
        """507 Insufficient Storage for a full disk, 503 for storage that refuses writes."""
        return 507 if self.errno in {errno.ENOSPC, errno.EDQUOT} else 503

    @property
    def exit_code(self) -> int:
        """1 for a full disk or a failing one (the request could not be done), 2 for
        storage that this configuration cannot write at all."""
        return 1 if self.errno in {errno.ENOSPC, errno.EDQUOT, errno.EIO} else 2


def describe_storage_error(exc: BaseException, settings: Settings | None = None) -> StorageFailure | None:
    """The storage failure behind ``exc`` (or what caused it), or None for anything else."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _from_os_error(current) or _from_database_error(current, settings)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _from_os_error(exc: BaseException) -> StorageFailure | None:
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        path = exc.filename if exc.filename is not None else "a file"
        return StorageFailure(str(path), exc.errno)
    return None


def _from_database_error(exc: BaseException, settings: Settings | None) -> StorageFailure | None:
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or not isinstance(exc, sqlalchemy_exc.OperationalError):
        return None
    text = str(exc.orig).strip()
    database = _sqlite_path(settings)
    if database is None:
        if "No space left on device" in text:
            return StorageFailure(f"the database ({text.splitlines()[0]})", errno.ENOSPC)
        return None
    for message, (code, look) in _SQLITE_MESSAGES.items():
        if text.startswith(message):
            return StorageFailure(str(database), _why_not_writable(database, code) if look else code)
    return None


def _sqlite_path(settings: Settings | None) -> Path | None:
    if settings is None:
        from polyaxon_core.config import load_settings

        try:
            settings = load_settings()
        except Exception:  # the settings' own error is reported elsewhere
            return None
    url = settings.db_url
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return None
    return Path(url.removeprefix("sqlite:///")).expanduser()


def _why_not_writable(path: Path, otherwise: int) -> int:
    """EROFS or ENOSPC when the file system of ``path`` shows it, else ``otherwise``."""
    try:
        status = os.statvfs(path.parent)
    except OSError as exc:
        return exc.errno or otherwise
    if status.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if status.f_bavail == 0:
        return errno.ENOSPC
    return otherwise
