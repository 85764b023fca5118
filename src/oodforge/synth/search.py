"""Sampling step: choose instances, locations and sizes for one image from injected generators.

Location first, then size: an anchor pixel of the chosen target label is drawn, the row of that
pixel is the object's bottom row and sets its scale (``perspective``, ``metric`` or ``fixed``),
clamped to ``final_area_ratio``. Placement is judged on the object's covered pixels
(alpha >= 0.5), never its bounding box. The result is a list of plain :class:`Placement`
records; :mod:`oodforge.synth.apply` renders them without any randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oodforge.config.schema import SynthConfig
from oodforge.sources.coco_pool import CocoPool
from oodforge.synth.composite import covered_mask, feather_alpha
from oodforge.synth.geometry import (
    clamp_scale_to_area,
    metric_scale,
    perspective_scale,
    real_height_m,
    scaled_size,
    transform_mask,
)
from oodforge.synth.placement import anchor_to_topleft, check_placement, label_lut

__all__ = ["Placement", "SearchResult", "search_placements"]


@dataclass(frozen=True)
class Placement:
    """One placed object: everything needed to re-render it exactly (plus what it was judged on)."""

    pool_index: int
    target_label: str
    x0: int
    y0: int
    patch_w: int
    patch_h: int
    scale: float
    flip: bool
    coverage: float
    bbox: tuple[int, int, int, int]


@dataclass(frozen=True)
class SearchResult:
    """Placements found for one image, the number planned, and why slots stayed empty (if any)."""

    placements: list[Placement]
    planned: int
    note: str | None


class _InstanceChooser:
    """Draws pool indices: uniformly per instance, or a category uniformly then an instance of it."""

    def __init__(self, pool: CocoPool, mode: str) -> None:
        self.mode = mode
        self.n = len(pool)
        groups = pool.indices_by_category()
        self.groups = [groups[name] for name in sorted(groups)]

    def __call__(self, rng: np.random.Generator) -> int:
        if self.mode == "instance":
            return int(rng.integers(self.n))
        group = self.groups[int(rng.integers(len(self.groups)))]
        return int(group[int(rng.integers(len(group)))])


def _scale_fn(
    cfg: SynthConfig, image_height: int, horizon_row: float | None, camera_height_m: float
) -> Callable[[int, int, str, float], float | None]:
    """A function (bottom_row, mask_height, category, jitter) -> scale or None (cannot stand there)."""
    geo = cfg.synthesis.geometry
    if geo.scale_mode == "perspective":
        return lambda row, _h, _c, _j: perspective_scale(row, image_height, geo.scale_range)
    if geo.scale_mode == "fixed":
        return lambda _r, _h, _c, _j: geo.fixed_scale

    def metric(row: int, mask_h: int, category: str, jitter: float) -> float | None:
        if horizon_row is None:
            return None
        height = real_height_m(category, geo.category_heights_m) * jitter
        return metric_scale(row, horizon_row, camera_height_m, height, mask_h)

    return metric


def search_placements(
    cfg: SynthConfig,
    pool: CocoPool,
    label_ids: np.ndarray,
    planned: int,
    streams: dict[str, np.random.Generator],
    target_ids: dict[str, int],
    forbidden_lut: np.ndarray,
    *,
    horizon_row: float | None,
    camera_height_m: float,
) -> SearchResult:
    """Find up to ``planned`` placements on a scene.

    Args:
        cfg: resolved config.
        pool: COCO instance pool.
        label_ids: (H, W) uint8 Cityscapes label ids of the scene.
        planned: number of object slots to fill.
        streams: the per-image generators (``instances``, ``geometry``, ``placement`` are used).
        target_ids: target label name -> label id (labels with positive weight).
        forbidden_lut: (256,) bool, label ids no covered pixel may lie on.
        horizon_row: horizon row for ``metric`` mode (None: metric placement impossible).
        camera_height_m: camera height for ``metric`` mode.

    Returns:
        The placements in paste order (id-map order), with a note when fewer than planned were placed.
    """
    syn = cfg.synthesis
    height, width = label_ids.shape
    if planned == 0:
        return SearchResult([], 0, None)
    weights = syn.placement.target_labels
    flat = label_ids.ravel()
    candidates = {name: np.flatnonzero(flat == lid) for name, lid in target_ids.items()}
    names = [n for n in target_ids if candidates[n].size > 0]
    if not names:
        wanted = ", ".join(target_ids)
        return SearchResult([], planned, f"no pixels of the target labels ({wanted})")
    probs = np.array([weights[n] for n in names], dtype=np.float64)
    probs /= probs.sum()
    luts = {n: label_lut([target_ids[n]]) for n in names}
    choose = _InstanceChooser(pool, syn.coco.sampling)
    scale_of = _scale_fn(cfg, height, horizon_row, camera_height_m)
    scene_area = float(height * width)
    occupied = np.zeros((height, width), dtype=bool)
    rng_i, rng_g, rng_p = streams["instances"], streams["geometry"], streams["placement"]
    placements: list[Placement] = []
    reasons: dict[str, int] = {}
    for _slot in range(planned):
        placed = False
        for _attempt in range(syn.max_instance_attempts):
            idx = choose(rng_i)
            mask0 = pool.mask(idx)
            h0, w0 = mask0.shape
            category = pool.category_names[int(pool.category_ids[idx])]
            flip = bool(rng_g.random() < syn.geometry.hflip_p)
            jitter = float(rng_g.uniform(1.0 - syn.geometry.height_jitter, 1.0 + syn.geometry.height_jitter))
            for _loc in range(syn.max_location_attempts):
                name = names[int(rng_p.choice(len(names), p=probs))] if len(names) > 1 else names[0]
                pix = int(candidates[name][int(rng_p.integers(candidates[name].size))])
                row, col = divmod(pix, width)
                scale = scale_of(row, h0, category, jitter)
                if scale is None or scale <= 0:
                    reasons["horizon"] = reasons.get("horizon", 0) + 1
                    continue
                scale = clamp_scale_to_area(
                    scale, float(pool.mask_areas[idx]), scene_area, syn.geometry.final_area_ratio
                )
                pw, ph = scaled_size(w0, h0, scale)
                x0, y0 = anchor_to_topleft(col, row, pw, ph)
                if x0 < 0 or y0 < 0 or x0 + pw > width or y0 + ph > height:
                    reasons["outside"] = reasons.get("outside", 0) + 1
                    continue
                covered = covered_mask(feather_alpha(transform_mask(mask0, (pw, ph), flip), syn.blending.feather_px))
                check = check_placement(
                    label_ids,
                    occupied,
                    covered,
                    x0,
                    y0,
                    target_lut=luts[name],
                    forbidden_lut=forbidden_lut,
                    min_coverage=syn.placement.min_target_coverage,
                    reject_border=syn.placement.reject_border,
                    allow_overlap=syn.placement.allow_anomaly_overlap,
                )
                if not check.ok:
                    key = check.reason or "rejected"
                    reasons[key] = reasons.get(key, 0) + 1
                    continue
                occupied[y0 : y0 + ph, x0 : x0 + pw] |= covered
                placements.append(
                    Placement(idx, name, x0, y0, pw, ph, float(scale), flip, float(check.coverage), check.bbox)
                )
                placed = True
                break
            if placed:
                break
    note = None
    if len(placements) < planned:
        top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        why = ", ".join(f"{k} x{v}" for k, v in top) or "no valid location"
        note = f"placed {len(placements)} of {planned}; rejections: {why}"
    return SearchResult(placements, planned, note)
