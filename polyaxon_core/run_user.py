"""``POLYAXON_RUN_AS_USER``: the unprivileged OS user a server's runs execute as.

A scheduler that starts processes on this machine (``scheduler-local``) switches to this
user for the run's command, so the code in a run cannot read what the server's own user
can. :func:`secure_home` lays ``POLYAXON_HOME`` out for that: the home and its ``runs``
and ``artifacts`` folders can be crossed but not listed (0711), and everything else in
it (the SQLite database, saved logins, connections, run logs, the orchestrator's files)
is readable by the server's user only. A run's own folders are handed to the run user
while it runs, and taken back when it ends (see the local scheduler).

Switching users needs root (or the capability to set user ids), which is checked here
so that a server or a scheduler refuses to start rather than failing every run.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Mapping
from dataclasses import dataclass

from polyaxon_core.config import ConfigurationError, Settings

RUN_AS_USER_VARIABLE = "POLYAXON_RUN_AS_USER"

#: files and folders created while runs are isolated: the server's user only
PRIVATE_UMASK = 0o077


@dataclass(frozen=True)
class RunAsUser:
    """The OS user runs execute as."""

    name: str
    uid: int
    gid: int
    #: supplementary groups, as ``initgroups`` would set them
    groups: tuple[int, ...]
    home: str


def run_as_user(environ: Mapping[str, str] | None = None) -> RunAsUser | None:
    """The user ``POLYAXON_RUN_AS_USER`` names, or None when it is not set.

    ConfigurationError when the user does not exist, is root or this process's own user,
    or when this process cannot switch to it (it is not root).
    """
    name = (os.environ if environ is None else environ).get(RUN_AS_USER_VARIABLE, "").strip()
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ConfigurationError(
            f"{RUN_AS_USER_VARIABLE}={name!r} is not a user of this machine; create it "
            f"(`useradd -M -s /usr/sbin/nologin {name}`) or unset the variable"
        ) from None
    if entry.pw_uid == 0:
        raise ConfigurationError(
            f"{RUN_AS_USER_VARIABLE}={name!r} is root; name an unprivileged user"
        )
    if entry.pw_uid == os.geteuid():
        raise ConfigurationError(
            f"{RUN_AS_USER_VARIABLE}={name!r} is the user this process runs as, which isolates "
            "nothing; name another, unprivileged user"
        )
    if os.geteuid() != 0:
        raise ConfigurationError(
            f"{RUN_AS_USER_VARIABLE}={name!r}: this process (uid {os.geteuid()}) cannot switch "
            "to another user; run the server and the scheduler as root, or unset the variable"
        )
    groups = tuple(os.getgrouplist(name, entry.pw_gid))
    return RunAsUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid, groups=groups,
                     home=entry.pw_dir)


def secure_home(settings: Settings, user: RunAsUser) -> None:
    """Make ``settings.home`` unreadable to ``user`` except for the run folders it is given.

    The home, ``runs/`` and ``artifacts/`` become 0711 (crossed, not listed); every other
    entry of the home loses all group and other permissions; every run folder not
    currently handed to ``user`` becomes 0700. Idempotent; called whenever a server or a
    scheduler with a run user starts.
    """
    home = settings.home
    for folder in (home, settings.runs_path, settings.artifacts_path):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o711)
    shared = {settings.runs_path.name, settings.artifacts_path.name}
    for entry in home.iterdir():
        if entry.name not in shared and not entry.is_symlink():
            os.chmod(entry, stat.S_IMODE(entry.lstat().st_mode) & 0o700)
    for parent in (settings.runs_path, settings.artifacts_path):
        for entry in parent.iterdir():
            info = entry.lstat()
            if stat.S_ISDIR(info.st_mode) and info.st_uid != user.uid and info.st_gid != user.gid:
                os.chmod(entry, 0o700)
            elif not stat.S_ISDIR(info.st_mode) and not stat.S_ISLNK(info.st_mode):
                os.chmod(entry, stat.S_IMODE(info.st_mode) & 0o700)


def isolate_process(settings: Settings) -> RunAsUser | None:
    """For a server or scheduler process: the run user (None without one), with the home
    secured and this process's umask private, so what it creates later stays private too."""
    user = run_as_user()
    if user is not None:
        os.umask(PRIVATE_UMASK)
        secure_home(settings, user)
    return user
