"""An advisory lock on an output root, so two runs never write (or clean up) the same folder at once.

The lock is ``fcntl.flock`` on ``OUT/.oodforge/lock``: the kernel drops it when the holding process
dies (even by kill -9), so a stale lock never blocks a resume. The file holds who took it (pid,
host, command, time) for the message a second run prints; it is never deleted (deleting a lock file
races with a run that is just opening it). Where ``fcntl`` does not exist (Windows) runs are not
locked; that is documented, not hidden.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from oodforge.errors import UsageError

__all__ = ["LOCK_NAME", "RootLockedError", "hold_lock"]

LOCK_NAME = "lock"

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class RootLockedError(UsageError):
    """Another oodforge run holds the output root."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']} ({info['command']}, since {info['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def hold_lock(state_dir: Path, what: str) -> Iterator[None]:
    """Hold the run lock of the output root whose state folder is ``state_dir`` for the block.

    Args:
        state_dir: ``OUT/.oodforge`` (created when missing).
        what: the command taking the lock, for the holder line (e.g. ``oodforge synth``).

    Raises:
        RootLockedError: another live process holds the lock (the message says which).
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            root = state_dir.parent
            raise RootLockedError(
                f"{root}: in use by {_holder(path)}; wait for that run to finish or stop it, then run again"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": what,
            "argv": sys.argv[1:],
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)  # closing drops the flock
