"""ALLO's output layout and file names (``output.layout: allo``, ``oodforge render --layout allo``).

ALLO renders normal and anomalous frames in two runs, each into its own experiment folder::

    OUT/exp_<normal_exp>/Camera<k>/normal/<day>_normal_<illum>.png
    OUT/exp_<normal_exp>/Camera<k>/fb_mask/<day>_normal_<illum>.png
    OUT/exp_<anomalous_exp>/Camera<k>/anomaly/<day>_<anomaly>_<illum>_<scale>_<depth>_<colour>.png
    OUT/exp_<anomalous_exp>/Camera<k>/anomaly_mask/<same name>.png
    OUT/exp_<anomalous_exp>/Camera<k>/fb_mask/<same name>.png
    OUT/exp_<anomalous_exp>/Camera<k>/coverage/<same name>.png      (render.coverage_mask only)

``<day>`` is the day number without padding; numbers are written as Python prints the config value
(``10``, ``2.5``, ``-1``), as ALLO writes its YAML values; ``<scale>`` is ``-1`` when the scale mode is
off, ``<depth>`` is ``0`` when the depth mode is off, ``<colour>`` is ``default`` (the object's own
colours) or the palette colour's name. ``Camera<k>`` is the camera's ``k`` (the orbit slot with
``cameras.source: orbit``). Masks are 8-bit PNGs with 3 equal channels, 255 on the object (what ALLO's
``preprocess.py`` reads); the coverage mask is one 8-bit channel, 0..255. The records, ``config.yaml``
and ``manifest.jsonl`` stay where the oodforge layout has them, and each record lists these paths.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from oodforge.render.config import RenderConfig, anomaly_name
from oodforge.render.plan import FrameSpec

__all__ = ["allo_file_stem", "allo_mask_png_array", "allo_number", "allo_rels", "managed_folders"]

NORMAL_DIRS = ("normal", "fb_mask")
ANOMALY_DIRS = ("anomaly", "anomaly_mask", "fb_mask", "coverage")
_OODFORGE_DIRS = ("images", "gt_pixel", "fb_mask")


def allo_number(value: float) -> str:
    """A number as ALLO's file names show it: integers without a decimal point, else Python's ``str``.

    Example:
        >>> allo_number(10.0), allo_number(2.5), allo_number(-1.0), allo_number(0.47)
        ('10', '2.5', '-1', '0.47')
    """
    v = float(value)
    return str(int(v)) if v.is_integer() else str(v)


def allo_file_stem(cfg: RenderConfig, frame: FrameSpec) -> str:
    """``<day>_normal_<illum>`` or ``<day>_<anomaly>_<illum>_<scale>_<depth>_<colour>``.

    Example:
        >>> from oodforge.render import plan_frames, render_config_from_dict
        >>> cfg = render_config_from_dict({"output_root": "o", "anomalies": ["cube"], "cameras": {"count": 1}})
        >>> [allo_file_stem(cfg, f) for f in plan_frames(cfg)]
        ['1_cube_10_-1_0_default', '1_normal_10']
    """
    illum = allo_number(frame.sun_strength)
    if not frame.anomalous:
        return f"{frame.day}_normal_{illum}"
    if frame.anomaly is None:
        raise ValueError(f"{frame.frame_id}: an anomalous frame without its object")
    scale = allo_number(frame.scale) if cfg.modes.scale is not None and frame.scale is not None else "-1"
    depth = allo_number(frame.depth_offset or 0.0)
    return f"{frame.day}_{anomaly_name(frame.anomaly)}_{illum}_{scale}_{depth}_{frame.colour or 'default'}"


def _camera_dir(cfg: RenderConfig, frame: FrameSpec) -> str:
    exp = cfg.output.anomalous_exp if frame.anomalous else cfg.output.normal_exp
    return f"exp_{exp}/Camera{frame.slot}"


def allo_rels(cfg: RenderConfig, frame: FrameSpec, *, coverage: bool) -> dict[str, str]:
    """Output paths (relative to the output root) of a frame in ALLO's layout, keyed like the oodforge layout.

    Keys: ``image``, ``fb_mask``, and for anomalous frames ``gt_pixel`` (ALLO's ``anomaly_mask``) and,
    with ``coverage``, ``coverage``.
    """
    base, name = _camera_dir(cfg, frame), f"{allo_file_stem(cfg, frame)}.png"
    if not frame.anomalous:
        return {"image": f"{base}/normal/{name}", "fb_mask": f"{base}/fb_mask/{name}"}
    rels = {
        "image": f"{base}/anomaly/{name}",
        "gt_pixel": f"{base}/anomaly_mask/{name}",
        "fb_mask": f"{base}/fb_mask/{name}",
    }
    if coverage:
        rels["coverage"] = f"{base}/coverage/{name}"
    return rels


def allo_mask_png_array(mask: np.ndarray) -> np.ndarray:
    """An (H, W) 0/1 mask as ALLO's mask image: (H, W, 3) uint8, 255 on the object, 3 equal channels.

    Example:
        >>> allo_mask_png_array(np.array([[0, 1]], np.uint8))[0].tolist()
        [[0, 0, 0], [255, 255, 255]]
    """
    m = np.where(np.asarray(mask) > 0, np.uint8(255), np.uint8(0))
    return np.repeat(m[..., None], 3, axis=2)


def managed_folders(cfg: RenderConfig, cameras: Iterable[tuple[str, int]]) -> tuple[list[str], tuple[str, ...]]:
    """``(splits, managed)`` for :func:`oodforge.export.output_root.open_output_root`: the folders a run writes.

    ``cameras`` are the planned (name, k) pairs. In the oodforge layout these are ``<camera>/<folder>``
    (``coverage`` added with ``render.coverage_mask``); in ALLO's layout ``exp_<n>/Camera<k>/<folder>``.
    """
    cams = list(cameras)
    if cfg.output.layout == "allo":
        splits = [f"exp_{cfg.output.normal_exp}", f"exp_{cfg.output.anomalous_exp}"]
        subdirs = {*NORMAL_DIRS, *ANOMALY_DIRS}
        return splits, tuple(sorted(f"Camera{k}/{d}" for _, k in cams for d in subdirs))
    extra = ("coverage",) if cfg.render.coverage_mask else ()
    return [name for name, _ in cams], (*_OODFORGE_DIRS, *extra)
