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

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oodforge.config.identity import config_sha256
from oodforge.export.layout import DatasetLayout
from oodforge.export.output_root import check_output_root, open_output_root
from oodforge.export.records import rebuild_manifest, record_complete
from oodforge.render.config import RenderConfig
from oodforge.render.config_io import check_input_files, dump_resolved_render, load_render_config
from oodforge.render.frame import process_frame
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
    config_sha = config_sha256(resolved)
    frames = plan_frames(cfg, limit=limit)
    from oodforge.render._bpy_frame import BlenderSession
    from oodforge.render._bpy_scene import import_bpy

    import_bpy()  # fail before writing anything when Blender is missing
    root = Path(cfg.output_root)
    same = check_output_root(root, resolved, overwrite=overwrite)
    lay = DatasetLayout(root)
    todo = [f for f in frames if not (same and record_complete(lay, f.camera, f.frame_id, config_sha))]
    summary = RenderSummary(root, total=len(frames), skipped=len(frames) - len(todo))
    cameras = [name for name, _ in camera_names(cfg)]

    def tally(rec: dict[str, Any]) -> None:
        s = summary.per_camera.setdefault(
            rec["camera"], {"frames": 0, "normal": 0, "anomalous": 0, "hidden": 0, "failed": 0}
        )
        s["frames"] += 1
        s["normal"] += int(rec.get("status") == "ok" and not rec.get("is_anomalous"))
        s["anomalous"] += int(rec.get("status") == "ok" and bool(rec.get("has_anomaly")))
        s["hidden"] += int(bool(rec.get("anomaly_hidden")))
        s["failed"] += int(rec.get("status") != "ok")

    with tempfile.TemporaryDirectory(prefix="oodforge-render-") as tmp:
        session = None
        if todo:  # build the scene (imports every mesh) before writing anything
            t = time.perf_counter()
            session = BlenderSession(cfg, Path(tmp))
            summary.device = session.device
            summary.setup_s = time.perf_counter() - t
        with open_output_root(
            root, resolved, splits=cameras, managed=MANAGED_SUBDIRS, overwrite=overwrite, command="oodforge render"
        ) as out:
            if not out.same_config:  # cleared or new: every frame is to do
                todo, summary.skipped = frames, 0
            if progress:
                progress(STAGE, summary.skipped, len(frames))
            try:
                if session is None and todo:
                    session = BlenderSession(cfg, Path(tmp))
                    summary.device = session.device
                if session is not None:
                    _render_todo(session, out.layout, todo, config_sha, summary, progress)
            finally:
                rebuild_manifest(out.layout, cameras, tally)
    return summary
