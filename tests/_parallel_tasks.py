"""Task functions for the process-pool tests of :mod:`oodforge._parallel` (module-level, so spawned workers
can import them: ``tests/`` is on the pythonpath, which spawned workers inherit)."""

from __future__ import annotations

import os
import time


def sleep_then(scale: float, task: tuple[float, int]) -> int:
    """Sleep ``scale * task[0]`` seconds, then return ``task[1]`` (completion order != task order)."""
    time.sleep(scale * task[0])
    return task[1]


def worker_pid(_: object, __: int) -> int:
    """The pid of the process that ran the task."""
    return os.getpid()


def die(_: object, task: int) -> int:
    """End the worker process abruptly on task 0 (like the OOM killer would)."""
    if task == 0:
        os._exit(9)
    return task
