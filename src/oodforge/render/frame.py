"""One frame: pose, render, masks from the object-index pass, atomic writes, the manifest record.

A frame whose anomaly is fully hidden (0 pixels in the index pass) is recorded with
``anomaly_hidden: true`` and ``has_anomaly: false`` (its GT is empty): it is never counted as anomalous.

Each record says which camera source posed the frame (``camera_source``, with ``allo_camera``: the
table, row and noisy pose of an ALLO camera) and which masks were written (``masks``: ``gt_pixel`` and
``fb_mask`` are hard 0/1 masks from the index pass, ``coverage`` the 0..255 share of samples on the
anomaly). With an ephemeris it also holds the day's table row, the bodies as placed and the light
direction (``ephemeris``, ``light``). Files go to the oodforge layout or to ALLO's
(:mod:`oodforge.render.allo_layout`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from oodforge._io import atomic_write_bytes, atomic_write_json, encode_png, sha256_bytes
from oodforge.errors import SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.render.allo_layout import allo_mask_png_array, allo_rels
from oodforge.render.masks import coverage_to_uint8, index_to_masks, strip_png_metadata
from oodforge.render.plan import FrameSpec

if TYPE_CHECKING:
    from oodforge.render._bpy_frame import BlenderSession

__all__ = ["RECORD_SCHEMA", "coverage_rel", "fb_rel", "process_frame"]

RECORD_SCHEMA = 1


def fb_rel(camera: str, frame_id: str) -> str:
    """``<camera>/fb_mask/<frame_id>.png``."""
    return f"{camera}/fb_mask/{frame_id}.png"


def coverage_rel(camera: str, frame_id: str) -> str:
    """``<camera>/coverage/<frame_id>.png``."""
    return f"{camera}/coverage/{frame_id}.png"


def _r(values: Any) -> list[float]:
    return [round(float(v), 6) for v in values]


def _base_record(frame: FrameSpec, config_sha: str, active: list[str]) -> dict[str, Any]:
    modes = {
        "active": active,
        "sun_strength": frame.sun_strength,
        "sun_azimuth_deg": round(frame.sun_azimuth_deg, 6),
        "sun_elevation_deg": round(frame.sun_elevation_deg, 6),
        "depth_offset": frame.depth_offset,
        "scale": frame.scale,
        "colour": frame.colour,
        "colour_rgb": list(frame.colour_rgb) if frame.colour_rgb is not None else None,
    }
    return {
        "schema": RECORD_SCHEMA,
        "kind": "render",
        "config_sha256": config_sha,
        "split": frame.camera,
        "image_id": frame.frame_id,
        "camera": frame.camera,
        "day": frame.day,
        "is_anomalous": frame.anomalous,
        "has_anomaly": False,
        "anomaly_hidden": False,
        "modes": modes,
        "object": frame.anomaly,
        "pose": None,
        "camera_location": None,
        "pixel_count": 0,
        "foreground_pixel_count": 0,
        "seed": frame.seed,
        "camera_source": frame.camera_source,
        "masks": [],
        "outputs": {},
        "sha256": {},
        "status": "ok",
    }


def _view_record(frame: FrameSpec, moved: list[str]) -> dict[str, Any]:
    """The ALLO camera pose and the ephemeris day of a frame, as recorded (empty when neither is used)."""
    out: dict[str, Any] = {}
    p = frame.allo_pose
    if p is not None:
        out["allo_camera"] = {"table": p.table, "row": p.row, "table_pose": _r((*p.table_location, *p.table_rotation)),
                              "location": _r(p.location), "rotation_euler": _r(p.rotation_euler)}  # fmt: skip
    eph = frame.ephemeris
    if eph is not None:
        bodies = {name: {"location": _r(b.location), "radius": round(b.radius, 6), "dimensions": _r([2 * b.radius] * 3)}
                  for name, b in eph.bodies().items()}  # fmt: skip
        out["ephemeris"] = {"day": eph.day, "row": eph.row, "line": eph.row + 1, "bodies": bodies, "moved": moved}
        out["light"] = {"source": "ephemeris", "direction": _r(eph.light_direction),
                        "towards_sun": _r(eph.sun_direction)}  # fmt: skip
    return out


def _files(session: BlenderSession, frame: FrameSpec, out: Any, gt: np.ndarray, fb: np.ndarray) -> dict[str, bytes]:
    """The bytes of each output of a frame (image, masks) in the config's layout."""
    cfg = session.cfg
    files = {"image": strip_png_metadata(out.png)}
    if cfg.output.layout == "allo":
        if frame.anomalous:
            files["gt_pixel"] = encode_png(allo_mask_png_array(gt))
        files["fb_mask"] = encode_png(allo_mask_png_array(fb))
        if cfg.render.coverage_mask and frame.anomalous:
            files["coverage"] = encode_png(coverage_to_uint8(out.coverage))
        return files
    files["gt_pixel"], files["fb_mask"] = encode_png(gt), encode_png(fb)
    if cfg.render.coverage_mask:
        files["coverage"] = encode_png(coverage_to_uint8(out.coverage))
    return files


def _rels(session: BlenderSession, lay: DatasetLayout, frame: FrameSpec) -> dict[str, str]:
    cfg = session.cfg
    if cfg.output.layout == "allo":
        return allo_rels(cfg, frame, coverage=cfg.render.coverage_mask)
    rels = {
        "image": lay.image_rel(frame.camera, frame.frame_id, "png"),
        "gt_pixel": lay.gt_rel(frame.camera, frame.frame_id),
        "fb_mask": fb_rel(frame.camera, frame.frame_id),
    }
    if cfg.render.coverage_mask:
        rels["coverage"] = coverage_rel(frame.camera, frame.frame_id)
    return rels


def process_frame(
    session: BlenderSession,
    lay: DatasetLayout,
    frame: FrameSpec,
    config_sha: str,
    placement: tuple[Any, int] | None,
) -> tuple[dict[str, Any], float]:
    """Render one frame, write its image and masks, then its record; returns (record, Blender seconds).

    A frame that cannot be made (no valid anomaly placement, a Blender error) gets a ``failed`` record.
    """
    rec = _base_record(frame, config_sha, session.cfg.modes.active())
    rec.update(_view_record(frame, session.moved_bodies))
    render_s = 0.0
    try:
        if frame.anomalous and placement is None:
            tries = session.cfg.placement.max_tries
            raise SampleError(f"no valid anomaly placement in {tries} tries (see placement.* and min_pixel)")
        cam = session.setup(frame, placement[0] if placement else None)
        rec["camera_location"] = _r(cam.location)
        rec["camera_rotation_euler"] = _r(cam.euler)
        if frame.anomalous and placement is not None:
            loc = np.asarray(placement[0]) + cam.forward * (frame.depth_offset or 0.0)
            rec["pose"] = {
                "location": _r(loc),
                "rotation_euler": _r(frame.rotation or ()),
                "distance": round(float(np.dot(loc - cam.location, cam.forward)), 6),
                "placement_tries": placement[1],
            }
        out = session.render()
        render_s = out.blender_s
        w, h = session.cfg.render.resolution
        if out.index.shape != (h, w):
            raise SampleError(f"object-index pass has shape {out.index.shape}, expected {(h, w)}")
        gt, fb = index_to_masks(out.index)
        files, rels = _files(session, frame, out, gt, fb), _rels(session, lay, frame)
        for key, data in files.items():
            atomic_write_bytes(lay.abs(rels[key]), data)
        pixels = int(gt.sum())
        rec.update(
            has_anomaly=frame.anomalous and pixels > 0,
            anomaly_hidden=frame.anomalous and pixels == 0,
            pixel_count=pixels,
            foreground_pixel_count=int(fb.sum()),
            masks=[k for k in ("gt_pixel", "fb_mask", "coverage") if k in files],
            outputs={k: rels[k] for k in files},
            sha256={k: sha256_bytes(v) for k, v in files.items()},
        )
    except (SampleError, RuntimeError, OSError, ValueError) as exc:
        rec.update(status="failed", error=str(exc).strip().replace("\n", " "), outputs={}, sha256={})
    atomic_write_json(lay.record_path(frame.camera, frame.frame_id), rec)
    return rec, render_s
