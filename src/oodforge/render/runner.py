"""``oodforge render``: prepare the output root, render every planned frame, rebuild the manifest.

Layout (relied on by the Anomalib exporter)::

    OUT/config.yaml                        resolved config (paths absolute, output_root ".")
    OUT/manifest.jsonl                     one record per frame, sorted by (split, image_id)
    OUT/<camera>/images/<frame_id>.png     RGB render (split = camera name)
    OUT/<camera>/gt_pixel/<frame_id>.png   uint8 0 normal / 1 anomaly visible (object-index pass)
    OUT/<camera>/fb_mask/<frame_id>.png    uint8 0 background (space) / 1 any object (object-index pass)
    OUT/.oodforge/records/<camera>/<frame_id>.json   per-frame records (resume state)

Resume works like ``oodforge synth``: each frame writes its files atomically, then its record; a re-run
skips frames whose record is complete and rebuilds ``manifest.jsonl`` from the records.

Parallel: ``workers > 1`` renders (camera, day) groups on a local pool of Blender processes, and
``executor="dask"`` on a Dask cluster (:mod:`oodforge.render._parallel_render`); the outputs are
byte-identical to a serial run. Ctrl-C keeps the finished frames (``interrupted`` in the summary).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oodforge._parallel import check_options, run_tasks
from oodforge.config.identity import config_sha256
from oodforge.errors import UsageError
from oodforge.export.layout import DatasetLayout
from oodforge.export.output_root import check_output_root, open_output_root
from oodforge.export.records import read_record, rebuild_manifest, record_complete
from oodforge.render._parallel_render import (
    STOP_NAME,
    GroupResult,
    RenderJob,
    default_threads,
    group_todo,
    guard_exit_off_main_thread,
    render_group,
    render_group_task,
    set_threads,
    stop_on_interrupt,
)
from oodforge.render.allo_layout import managed_folders
from oodforge.render.config import RenderConfig
from oodforge.render.config_io import check_input_files, dump_resolved_render, load_render_config
from oodforge.render.plan import FrameSpec, camera_names, plan_frames

if TYPE_CHECKING:
    from oodforge.render._bpy_frame import BlenderSession

__all__ = ["MANAGED_SUBDIRS", "RenderSummary", "render_dataset"]

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]
STAGE = "rendering frames"
#: the folders oodforge writes in each camera folder
MANAGED_SUBDIRS = ("images", "gt_pixel", "fb_mask")


@dataclass
class RenderSummary:
    """What a run did, with timings (``render_call_s``: inside Blender's render call).

    With several workers the timings are summed over the workers (CPU-side seconds, not wall time).
    """

    output_root: Path
    device: str = ""
    total: int = 0
    skipped: int = 0
    processed: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (camera, frame_id, error)
    per_camera: dict[str, dict[str, int]] = field(default_factory=dict)
    setup_s: float = 0.0  # Blender reset, scene build, mesh imports (this process's check + each worker's)
    frames_s: float = 0.0  # the frame loop (placement, pose, render call, masks, writes, records)
    render_call_s: float = 0.0  # inside ``bpy.ops.render.render`` (Cycles, compositor, Blender's file output)
    placement_s: float = 0.0  # the anomaly placement searches (part of frames_s)
    workers: int = 1  # local Blender processes that rendered (1: this process; 0: a Dask cluster's workers)
    threads: int | None = None  # Cycles threads per Blender process (None: Blender's automatic)
    executor: str = "local"
    worker_scenes: int = 0  # scenes the pool / Dask workers built (none where a Dask worker already held it)
    interrupted: bool = False  # Ctrl-C: the finished frames are kept; the same command resumes


def _add(summary: RenderSummary, res: GroupResult, progress: Progress | None) -> None:
    summary.frames_s += res.frames_s
    summary.render_call_s += res.render_call_s
    summary.placement_s += res.placement_s
    summary.setup_s += res.setup_s
    summary.worker_scenes += int(res.built_scene)
    if res.device and res.device not in summary.device.split(", "):
        summary.device = ", ".join(d for d in (summary.device, res.device) if d)
    for rec in res.records:
        summary.processed += 1
        if rec["status"] != "ok":
            summary.failed.append((rec["camera"], rec["image_id"], str(rec.get("error"))))
    if progress and res.records:
        progress(STAGE, summary.skipped + summary.processed, summary.total)


def _render_here(
    session: BlenderSession, lay: DatasetLayout, groups: list[list[FrameSpec]], config_sha: str,
    threads: int | None, summary: RenderSummary, progress: Progress | None,
) -> None:  # fmt: skip
    set_threads(session, threads)
    done = summary.skipped

    def tick(_: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(STAGE, done, summary.total)

    for frames in groups:
        _add(summary, render_group(session, lay, frames, config_sha, on_record=tick), None)


def _render_pool(
    job: RenderJob, groups: list[list[FrameSpec]], workers: int, executor: str, scheduler: str | None,
    summary: RenderSummary, progress: Progress | None,
) -> None:  # fmt: skip
    results = run_tasks(render_group_task, job, groups, workers=workers, executor=executor, scheduler=scheduler)
    with closing(results):
        for res in results:
            _add(summary, res, progress)


def render_dataset(
    config: str | Path | RenderConfig,
    *,
    limit: int | None = None,
    overwrite: bool = False,
    workers: int = 1,
    threads_per_worker: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> RenderSummary:
    """Render or resume a dataset (the library function behind ``oodforge render``).

    Args:
        config: a YAML path or a validated config.
        limit: only the first N frames (sorted names) per camera.
        overwrite: replace a dataset made from another config.
        workers: local Blender processes; (camera, day) groups are spread over them (1: this process).
        threads_per_worker: Cycles threads per Blender process; default: the CPUs divided by ``workers``
            on the local pool, Blender's automatic (every CPU) for one worker and on Dask.
        executor: ``local`` or ``dask`` (``scheduler``: the address of a running Dask scheduler; the
            output root must be on a file system every Dask worker sees).
        scheduler: see ``executor``.
        progress: ``progress(stage, done, total)``.

    Ctrl-C (KeyboardInterrupt) stops the run cleanly: running groups end after their current frame, the
    manifest is rebuilt from the finished frames and the summary comes back with ``interrupted`` set.

    Raises:
        UsageError: bad config, missing input file, bpy not installed, bad arguments (nothing is
            written before these checks), or a mesh Blender cannot import.
        OodforgeError: a local worker process died (killed, out of memory); the finished frames are kept.
    """
    check_options(workers, executor, scheduler)
    if threads_per_worker is not None and threads_per_worker < 1:
        raise UsageError(f"--threads-per-worker: {threads_per_worker}; expected an integer >= 1")
    if isinstance(config, RenderConfig):
        cfg = config
        check_input_files(cfg)
    else:
        cfg = load_render_config(config)
    resolved = dump_resolved_render(cfg)
    config_sha = config_sha256(resolved)
    frames = plan_frames(cfg, limit=limit)
    from oodforge.render._bpy_frame import BlenderSession
    from oodforge.render._bpy_scene import import_bpy

    import_bpy()  # fail before writing anything when Blender is missing
    root = Path(cfg.output_root)
    same = check_output_root(root, resolved, overwrite=overwrite)
    lay = DatasetLayout(root)
    todo = [f for f in frames if not (same and record_complete(lay, f.camera, f.frame_id, config_sha))]
    summary = RenderSummary(root, total=len(frames), skipped=len(frames) - len(todo), executor=executor)
    cameras = [name for name, _ in camera_names(cfg)]
    folders = managed_folders(cfg, camera_names(cfg))  # the folders this layout writes (stale temp files)

    def tally(rec: dict[str, Any]) -> None:
        s = summary.per_camera.setdefault(
            rec["camera"], {"frames": 0, "normal": 0, "anomalous": 0, "hidden": 0, "failed": 0}
        )
        s["frames"] += 1
        s["normal"] += int(rec.get("status") == "ok" and not rec.get("is_anomalous"))
        s["anomalous"] += int(rec.get("status") == "ok" and bool(rec.get("has_anomaly")))
        s["hidden"] += int(bool(rec.get("anomaly_hidden")))
        s["failed"] += int(rec.get("status") != "ok")

    started_ns = time.time_ns()  # well before the first record (the scene is built first)
    with tempfile.TemporaryDirectory(prefix="oodforge-render-") as tmp:
        session = None
        if todo:  # build the scene (imports every mesh) before writing anything
            guard_exit_off_main_thread()
            t = time.perf_counter()
            session = BlenderSession(cfg, Path(tmp))
            summary.device = session.device
            summary.setup_s = time.perf_counter() - t
        with open_output_root(
            root, resolved, splits=folders[0], managed=folders[1], overwrite=overwrite, command="oodforge render"
        ) as out:
            if not out.same_config:  # cleared or new: every frame is to do
                todo, summary.skipped = frames, 0
            if progress:
                progress(STAGE, summary.skipped, len(frames))
            groups = group_todo(todo)
            here = executor == "local" and (workers == 1 or len(groups) <= 1)
            summary.workers = 1 if here else (0 if executor == "dask" else workers)
            summary.threads = threads_per_worker or (None if here or executor == "dask" else default_threads(workers))
            stop_file = lay.state_dir / STOP_NAME
            stop_file.unlink(missing_ok=True)  # a killed run's flag (the root is locked: no run is live)
            try:
                with stop_on_interrupt(stop_file):
                    if here and todo:
                        if session is None:
                            session = BlenderSession(cfg, Path(tmp))
                            summary.device = session.device
                        _render_here(session, out.layout, groups, config_sha, summary.threads, summary, progress)
                    elif todo:
                        key = hashlib.sha256(resolved + f"\0threads={summary.threads}".encode()).hexdigest()
                        job = RenderJob(cfg, config_sha, key, str(root.resolve()), summary.threads,
                                        str(stop_file.resolve()), tmp if executor == "local" else None)  # fmt: skip
                        summary.device = ""  # the workers say which device they rendered on
                        _render_pool(job, groups, workers, executor, scheduler, summary, progress)
            except KeyboardInterrupt:
                summary.interrupted = True  # the results of unfinished groups never came back: count records
                _recount(summary, out.layout, todo, config_sha, started_ns)
            finally:
                stop_file.unlink(missing_ok=True)
                rebuild_manifest(out.layout, cameras, tally)
    return summary


def _recount(summary: RenderSummary, lay: DatasetLayout, todo: list[FrameSpec], sha: str, since_ns: int) -> None:
    """Set ``processed`` / ``failed`` from the records of ``todo`` written since ``since_ns`` (file times)."""
    summary.processed, summary.failed = 0, []
    for f in todo:
        path = lay.record_path(f.camera, f.frame_id)
        try:
            if path.stat().st_mtime_ns < since_ns:
                continue
        except OSError:
            continue
        rec = read_record(path)
        if rec is None or rec.get("config_sha256") != sha:
            continue
        summary.processed += 1
        if rec.get("status") != "ok":
            summary.failed.append((f.camera, f.frame_id, str(rec.get("error"))))
