"""Worker-process hygiene shared by every local process pool (synth, verify).

A worker started by oodforge must not outlive the process that started it: when the parent is
killed (kill -9, OOM killer) nothing shuts the pool down, and spawned workers would otherwise wait on
their task queue forever, each holding its memory. :func:`init_worker_process` starts a daemon thread
that waits on the parent's sentinel (``multiprocessing.parent_process().sentinel``, ready when the
parent is gone, on every platform) and ends the worker at once. It also makes workers ignore Ctrl-C:
the terminal sends SIGINT to the whole process group, and only the parent decides how to stop (it
finishes writing the manifest and says how to resume).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from multiprocessing.connection import wait

__all__ = ["init_worker_process"]


def _watch_parent(sentinel: int) -> None:
    wait([sentinel])
    os._exit(3)  # the parent is gone: no one will read our results


def init_worker_process() -> None:
    """Call first in a pool worker's initializer (no-op in the main process)."""
    parent = mp.parent_process()
    if parent is None:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent.sentinel,), name="oodforge-parent-watch", daemon=True).start()
