"""Frames of (camera, day) groups rendered in this process, on a pool of Blender processes, or on Dask.

Unit of work: the frames of one (camera, day) group that are still to do. They share one anomaly
placement search, so a group never spans two tasks and the placement (found from the group's seed
alone) is the one a serial run finds. Each worker process holds one :class:`BlenderSession` (``bpy`` is
one global scene per process): built on the process's first task, reused by every later task of the
same resolved config and thread count (a module-level cache, kept across runs on a Dask worker).

Determinism: Cycles' output for a fixed ``scene.cycles.seed`` (set per frame from the group seed) does
not depend on the number of render threads nor on which frames a session rendered before (checked at
32², 64² and 256², 1 to 4 threads, frames in reverse order), so every ``--workers``,
``--threads-per-worker`` and executor gives the bytes of a serial run (``tests/render/test_parallel.py``).

Stopping: Ctrl-C in the main process touches ``OUT/.oodforge/render.stop``; every worker checks it
before each frame, so running groups end after their current frame instead of rendering to the end.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from oodforge.export.layout import DatasetLayout
from oodforge.render._bpy_scene import import_bpy
from oodforge.render.config import RenderConfig
from oodforge.render.frame import process_frame
from oodforge.render.plan import FrameSpec

if TYPE_CHECKING:
    from oodforge.render._bpy_frame import BlenderSession

__all__ = [
    "STOP_NAME",
    "GroupResult",
    "RenderJob",
    "cpu_slots",
    "default_threads",
    "group_todo",
    "guard_exit_off_main_thread",
    "render_group",
    "render_group_task",
    "set_threads",
    "stop_on_interrupt",
]

#: the stop flag's name under ``OUT/.oodforge``
STOP_NAME = "render.stop"


@dataclass(frozen=True)
class RenderJob:
    """What every worker needs, sent once per worker (picklable)."""

    cfg: RenderConfig
    config_sha: str  # the records' config hash
    session_key: str  # identity of a worker's Blender scene: resolved config bytes (paths included) + threads
    root: str  # the output root (on a file system every worker sees)
    threads: int | None  # Cycles threads per Blender process; None = Blender's automatic (every core)
    stop_file: str
    tmp_root: str | None = None  # local pool: a folder of the main process for the workers' scratch files


@dataclass
class GroupResult:
    """The records one task wrote, with its timings (seconds, in the worker)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    frames_s: float = 0.0  # placement, posing, render call, masks, writes, records
    render_call_s: float = 0.0  # inside Blender's render call
    placement_s: float = 0.0
    setup_s: float = 0.0  # building the worker's scene (its first task only)
    built_scene: bool = False  # this task built its worker's scene
    device: str = ""
    stopped: bool = False  # the stop flag ended the task before its last frame


def cpu_slots() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_threads(workers: int) -> int | None:
    """Cycles threads per Blender process: None (Blender's automatic) for one, else the CPUs shared out."""
    return None if workers <= 1 else max(1, cpu_slots() // workers)


def set_threads(session: BlenderSession, threads: int | None) -> None:
    """Fix the session's Cycles thread count (``None``: Blender's automatic, one per CPU)."""
    r = session.scene.render
    if threads is None:
        r.threads_mode = "AUTO"
    else:
        r.threads_mode = "FIXED"
        r.threads = threads


def group_todo(frames: list[FrameSpec]) -> list[list[FrameSpec]]:
    """The frames split by (camera, day) group, in first-seen order (frame order kept inside a group)."""
    groups: dict[tuple[str, int], list[FrameSpec]] = {}
    for f in frames:
        groups.setdefault(f.group, []).append(f)
    return list(groups.values())


def render_group(
    session: BlenderSession,
    lay: DatasetLayout,
    frames: list[FrameSpec],
    config_sha: str,
    *,
    stop: Callable[[], bool] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> GroupResult:
    """Render the frames of one group (placement searched once, at its first anomalous frame)."""
    cfg = session.cfg
    offsets = cfg.modes.depth.offsets if cfg.modes.depth else [0.0]
    res = GroupResult(device=session.device)
    placement: tuple[Any, int] | None = None
    placed = False
    t0 = time.perf_counter()
    for frame in frames:
        if stop is not None and stop():
            res.stopped = True
            break
        if frame.anomalous and not placed:
            t = time.perf_counter()
            placement, placed = session.place(frame, offsets), True
            res.placement_s += time.perf_counter() - t
        rec, render_s = process_frame(session, lay, frame, config_sha, placement)
        res.render_call_s += render_s
        res.records.append(rec)
        if on_record is not None:
            on_record(rec)
    res.frames_s = time.perf_counter() - t0
    return res


# ---- worker side -----------------------------------------------------------------------------------
_LOCK = threading.Lock()  # one Blender scene per process: tasks of a multi-threaded Dask worker take turns
_HELD: dict[str, Any] = {}  # "key", "session", "tmp": the process's session and its scratch folder; "exit_guard"


def _drop_inherited_blender_paths() -> None:
    """Remove the parent's Blender script folders from ``sys.path`` before this process imports ``bpy``.

    Importing ``bpy`` puts ``.../bpy/<version>/scripts/modules`` (and siblings) ahead on ``sys.path``; a
    spawned worker inherits that path, and its own ``import bpy`` would then find the pure-Python
    ``scripts/modules/bpy`` package instead of the compiled module ("No module named '_bpy'").
    """
    if "bpy" in sys.modules:
        return
    keep = []
    for entry in sys.path:
        parts = Path(entry).parts
        if "bpy" in parts and "scripts" in parts[parts.index("bpy") :]:
            continue
        keep.append(entry)
    sys.path[:] = keep


def guard_exit_off_main_thread() -> None:
    """Call before Blender is used; off the main thread, end the process at exit before Blender's own handler.

    Once ``bpy`` has been used outside the main thread (a Dask worker runs tasks in a thread pool),
    Blender's exit handler crashes the interpreter at exit (SIGSEGV, seen as "killed by signal 11" by a
    Dask nanny). An ``atexit`` handler registered after ``bpy``'s runs before it, removes the scratch
    folders (ours and Blender's session folder), flushes the streams and ends the process with status 0
    (every output was written and every result sent by then).
    """
    if threading.current_thread() is threading.main_thread() or _HELD.get("exit_guard"):
        return
    _HELD["exit_guard"] = True
    bpy = import_bpy()  # bpy registers its handler on import: ours must come later to run first

    def _exit_now() -> None:
        held = _HELD.get("tmp")
        if held is not None:
            held.cleanup()  # os._exit skips the finalizers
        with suppress(Exception):  # and Blender's purge of its session folder (/tmp/blender_*)
            shutil.rmtree(bpy.app.tempdir, ignore_errors=True)
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):
                stream.flush()
        os._exit(0)

    atexit.register(_exit_now)


def _worker_session(job: RenderJob) -> tuple[BlenderSession, float | None]:
    """The process's session for ``job`` and the seconds spent building it (None: it was already there)."""
    if _HELD.get("key") == job.session_key:
        return _HELD["session"], None
    _drop_inherited_blender_paths()
    from oodforge.render._bpy_frame import BlenderSession

    old = _HELD.pop("tmp", None)
    for name in ("key", "session"):
        _HELD.pop(name, None)
    if old is not None:
        old.cleanup()
    guard_exit_off_main_thread()
    parent = job.tmp_root if job.tmp_root and Path(job.tmp_root).is_dir() else None
    tmp = tempfile.TemporaryDirectory(prefix="oodforge-render-w", dir=parent, ignore_cleanup_errors=True)
    t = time.perf_counter()
    session = BlenderSession(job.cfg, Path(tmp.name))
    set_threads(session, job.threads)
    _HELD.update(key=job.session_key, session=session, tmp=tmp)
    return session, time.perf_counter() - t


def render_group_task(job: RenderJob, frames: list[FrameSpec]) -> GroupResult:
    """The pool / Dask task: render one group with this process's session (nothing left when stopped)."""
    stop_path = Path(job.stop_file)
    if stop_path.exists():
        return GroupResult(stopped=True)
    with _LOCK:
        session, setup_s = _worker_session(job)
        res = render_group(session, DatasetLayout(Path(job.root)), frames, job.config_sha, stop=stop_path.exists)
    res.setup_s, res.built_scene = setup_s or 0.0, setup_s is not None
    return res


# ---- main side ---------------------------------------------------------------------------------------
@contextmanager
def stop_on_interrupt(stop_file: Path) -> Iterator[None]:
    """While inside, Ctrl-C also touches ``stop_file`` (so workers stop too) before raising KeyboardInterrupt.

    Only in the main thread and only when Ctrl-C has Python's default handler; elsewhere a no-op.
    """
    own = threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )

    def handler(signum: int, frame: FrameType | None) -> None:
        with suppress(OSError):
            stop_file.touch()
        raise KeyboardInterrupt

    if own:
        signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        if own:
            signal.signal(signal.SIGINT, signal.default_int_handler)
