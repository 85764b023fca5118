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
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from oodforge._io import atomic_write_bytes
from oodforge.errors import UsageError
from oodforge.export.layout import DatasetLayout
from oodforge.render.config import RenderConfig
from oodforge.render.config_io import check_input_files, dump_resolved_render, load_render_config
from oodforge.render.frame import process_frame
from oodforge.render.plan import FrameSpec, camera_names, plan_frames
from oodforge.synth.runner import rebuild_manifest

if TYPE_CHECKING:
    from oodforge.render._bpy_frame import BlenderSession

__all__ = ["RenderSummary", "prepare_render_output", "render_dataset"]

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]
STAGE = "rendering frames"
_MANAGED_SUBDIRS = ("images", "gt_pixel", "fb_mask")


@dataclass
class RenderSummary:
    """What a run did, with timings (``render_call_s``: inside Blender's render call)."""

    output_root: Path
    device: str = ""
    total: int = 0
    skipped: int = 0
    processed: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (camera, frame_id, error)
    per_camera: dict[str, dict[str, int]] = field(default_factory=dict)
    setup_s: float = 0.0  # Blender reset, scene build, mesh imports
    frames_s: float = 0.0  # the frame loop (placement, pose, render call, masks, writes, records)
    render_call_s: float = 0.0  # inside ``bpy.ops.render.render`` (Cycles, compositor, Blender's file output)
    placement_s: float = 0.0  # the anomaly placement searches (part of frames_s)


def _check_output(root: Path, resolved: bytes, *, overwrite: bool) -> bool:
    """Refuse an output root holding another config (unless ``overwrite``); True when it holds this one."""
    lay = DatasetLayout(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"output_root {root}: exists and is not a folder")
    same = lay.config_path.is_file() and lay.config_path.read_bytes() == resolved
    if root.is_dir() and any(root.iterdir()) and not same and not overwrite:
        if lay.config_path.is_file():
            raise UsageError(
                f"{root}: holds a dataset made from another config ({lay.config_path} differs); "
                "use --overwrite to replace it or choose another output_root"
            )
        raise UsageError(
            f"{root}: folder is not empty and holds no oodforge dataset; use --overwrite or an empty folder"
        )
    return same


def prepare_render_output(root: Path, resolved: bytes, *, overwrite: bool) -> DatasetLayout:
    """Create or validate the output root; refuse a folder holding another config unless ``overwrite``."""
    lay = DatasetLayout(root)
    same = _check_output(root, resolved, overwrite=overwrite)
    if root.is_dir() and overwrite and not same:
        _clear_dataset(lay)
    root.mkdir(parents=True, exist_ok=True)
    for tmp in root.rglob(".*.tmp"):  # leftovers of a killed run
        tmp.unlink(missing_ok=True)
    if not same:
        atomic_write_bytes(lay.config_path, resolved)
    return lay


def _clear_dataset(lay: DatasetLayout) -> None:
    for p in (lay.config_path, lay.manifest_path):
        p.unlink(missing_ok=True)
    shutil.rmtree(lay.state_dir, ignore_errors=True)
    for sub in lay.root.iterdir():
        if sub.is_dir() and any((sub / m).is_dir() for m in _MANAGED_SUBDIRS):
            for m in _MANAGED_SUBDIRS:
                shutil.rmtree(sub / m, ignore_errors=True)
            if not any(sub.iterdir()):
                sub.rmdir()


def _record_complete(lay: DatasetLayout, frame: FrameSpec, config_sha: str) -> bool:
    try:
        rec = json.loads(lay.record_path(frame.camera, frame.frame_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if rec.get("status") != "ok" or rec.get("config_sha256") != config_sha:
        return False
    return all(lay.abs(rel).is_file() for rel in rec.get("outputs", {}).values())


def _render_todo(
    session: BlenderSession,
    lay: DatasetLayout,
    todo: list[FrameSpec],
    config_sha: str,
    summary: RenderSummary,
    progress: Progress | None,
) -> None:
    cfg = session.cfg
    offsets = cfg.modes.depth.offsets if cfg.modes.depth else [0.0]
    placements: dict[tuple[str, int], tuple[object, int] | None] = {}
    t = time.perf_counter()
    for frame in todo:
        if frame.anomalous and frame.group not in placements:
            t_place = time.perf_counter()
            placements[frame.group] = session.place(frame, offsets)
            summary.placement_s += time.perf_counter() - t_place
        rec, render_s = process_frame(session, lay, frame, config_sha, placements.get(frame.group))
        summary.render_call_s += render_s
        summary.processed += 1
        if rec["status"] != "ok":
            summary.failed.append((frame.camera, frame.frame_id, str(rec.get("error"))))
        if progress:
            progress(STAGE, summary.skipped + summary.processed, summary.total)
    summary.frames_s += time.perf_counter() - t


def render_dataset(
    config: str | Path | RenderConfig,
    *,
    limit: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> RenderSummary:
    """Render or resume a dataset (the library function behind ``oodforge render``).

    Raises:
        UsageError: bad config, missing input file, bpy not installed, bad arguments (nothing is
            written before these checks), or a mesh Blender cannot import.
    """
    if isinstance(config, RenderConfig):
        cfg = config
        check_input_files(cfg)
    else:
        cfg = load_render_config(config)
    resolved = dump_resolved_render(cfg)
    config_sha = hashlib.sha256(resolved).hexdigest()
    frames = plan_frames(cfg, limit=limit)
    from oodforge.render._bpy_frame import BlenderSession
    from oodforge.render._bpy_scene import import_bpy

    import_bpy()  # fail before writing anything when Blender is missing
    root = Path(cfg.output_root)
    same = _check_output(root, resolved, overwrite=overwrite)
    todo = [f for f in frames if not (same and _record_complete(DatasetLayout(root), f, config_sha))]
    summary = RenderSummary(root, total=len(frames), skipped=len(frames) - len(todo))
    with tempfile.TemporaryDirectory(prefix="oodforge-render-") as tmp:
        session = None
        if todo:  # build the scene (imports every mesh) before writing anything
            t = time.perf_counter()
            session = BlenderSession(cfg, Path(tmp))
            summary.device = session.device
            summary.setup_s = time.perf_counter() - t
        lay = prepare_render_output(root, resolved, overwrite=overwrite)
        if progress:
            progress(STAGE, summary.skipped, len(frames))
        try:
            if session is not None:
                _render_todo(session, lay, todo, config_sha, summary, progress)
        finally:
            records = rebuild_manifest(lay, [name for name, _ in camera_names(cfg)])
    for rec in records:
        s = summary.per_camera.setdefault(
            rec["camera"], {"frames": 0, "normal": 0, "anomalous": 0, "hidden": 0, "failed": 0}
        )
        s["frames"] += 1
        s["normal"] += int(rec["status"] == "ok" and not rec["is_anomalous"])
        s["anomalous"] += int(rec["status"] == "ok" and rec["has_anomaly"])
        s["hidden"] += int(bool(rec.get("anomaly_hidden")))
        s["failed"] += int(rec["status"] != "ok")
    return summary
