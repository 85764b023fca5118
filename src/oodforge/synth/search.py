"""Step 2-4 of the chain, bound together: find where each planned object stands.

Per planned object the target label is drawn once (:class:`~oodforge.synth.plan.TargetChooser`); then
instances and anchor pixels on that label are tried. Location first, then size: the anchor is the
bottom centre of the object, and its row sets the scale (``metric``: physical size on the ground plane
of the frame's camera; ``perspective``; ``fixed``). A size that needs more than ``max_upscale`` or
falls outside ``final_area_ratio`` is rejected, never clamped. The silhouette is prepared once
(:mod:`oodforge.synth.prepare`) and judged by :func:`~oodforge.synth.placement.check_placement` on its
footprint and visible pixels; the renderer reuses it. The result is a list of :class:`Placement`
records; :mod:`oodforge.synth.apply` renders them without any randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from oodforge.config.schema import SynthesisConfig
from oodforge.sources.coco_pool import CocoPool
from oodforge.synth.geometry import metric_scale, perspective_scale, real_height_m, scaled_size
from oodforge.synth.placement import anchor_to_topleft, check_placement, label_lut
from oodforge.synth.plan import AppearanceDraw, InstanceChooser, TargetChooser, draw_appearance
from oodforge.synth.prepare import PreparedMask, prepare_mask
from oodforge.synth.scene import SceneInfo

__all__ = ["Placement", "SearchResult", "search_placements"]


@dataclass(frozen=True)
class Placement:
    """One placed object: everything needed to re-render it exactly (plus what it was judged on).

    ``bbox``, ``n_visible`` and ``visible_fraction`` describe the visible part; ``prepared`` carries the
    silhouette computed during the search (``None`` after a round trip through plain values; the
    renderer then prepares it again, with the same result).
    """

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
    visible_fraction: float = 1.0
    n_visible: int = 0
    real_height_m: float | None = None
    appearance: AppearanceDraw = field(default_factory=lambda: AppearanceDraw(0.0, 0, 0))
    prepared: PreparedMask | None = field(default=None, compare=False, repr=False)

    @property
    def foot_row(self) -> int:
        """Scene row where the object touches the ground (its lowest covered row)."""
        return self.y0 + (self.prepared.foot_row if self.prepared is not None else self.patch_h - 1)


@dataclass(frozen=True)
class SearchResult:
    """Placements found for one image, the number planned, and why slots stayed empty (if any)."""

    placements: list[Placement]
    planned: int
    note: str | None


def _scale_fn(syn: SynthesisConfig, image_height: int, scene: SceneInfo) -> Callable[[int, int, float], float | None]:
    """A function (bottom_row, mask_height, real height or 0) -> scale or None (cannot stand there)."""
    geo = syn.geometry
    if geo.scale_mode == "perspective":
        return lambda row, _h, _m: perspective_scale(row, image_height, geo.scale_range)
    if geo.scale_mode == "fixed":
        return lambda _r, _h, _m: geo.fixed_scale
    camera = scene.camera

    def metric(row: int, mask_h: int, height_m: float) -> float | None:
        if camera is None:
            return None
        return metric_scale(row, camera.horizon_row, camera.height_m, height_m, mask_h)

    return metric


def search_placements(
    syn: SynthesisConfig,
    pool: CocoPool,
    scene: SceneInfo,
    planned: int,
    streams: dict[str, np.random.Generator],
    target_ids: dict[str, int],
    forbidden_lut: np.ndarray,
) -> SearchResult:
    """Find up to ``planned`` placements on a scene.

    Args:
        syn: the ``synthesis`` section of the resolved config.
        pool: COCO instance pool.
        scene: labels, occluder contact rows and camera of the frame (:mod:`oodforge.synth.scene`).
        planned: number of object slots to fill.
        streams: the per-image generators (``instances``, ``geometry``, ``placement``, ``appearance``).
        target_ids: target label name -> label value (labels with positive weight).
        forbidden_lut: (256,) bool, label values no visible pixel may lie on.

    Returns:
        The placements in paste order (id-map order), with a note when fewer than planned were placed.
    """
    label_ids = scene.label_ids
    height, width = label_ids.shape
    if planned == 0:
        return SearchResult([], 0, None)
    targets = TargetChooser(label_ids, target_ids, syn.placement.target_labels)
    if not targets.names:
        wanted = ", ".join(target_ids)
        return SearchResult([], planned, f"no pixels of the target labels ({wanted})")
    luts = {n: label_lut([target_ids[n]]) for n in targets.names}
    choose = InstanceChooser(pool, syn.coco.sampling)
    scale_of = _scale_fn(syn, height, scene)
    geo, plc = syn.geometry, syn.placement
    metric = geo.scale_mode == "metric"
    lo_area, hi_area = (r * height * width for r in geo.final_area_ratio)
    occupied = np.zeros((height, width), dtype=bool)
    rng_i, rng_g, rng_p = streams["instances"], streams["geometry"], streams["placement"]
    placements: list[Placement] = []
    reasons: dict[str, int] = {}

    def reject(key: str) -> None:
        reasons[key] = reasons.get(key, 0) + 1

    for _slot in range(planned):
        name = targets.label(rng_p)
        found: Placement | None = None
        for _attempt in range(syn.max_instance_attempts):
            idx = choose(rng_i)
            mask0 = pool.mask(idx)
            h0, w0 = mask0.shape
            flip = bool(rng_g.random() < geo.hflip_p)
            jitter = float(rng_g.uniform(1.0 - geo.height_jitter, 1.0 + geo.height_jitter))
            height_m = real_height_m(pool.category(idx), geo.category_heights_m) * jitter if metric else 0.0
            for _loc in range(syn.max_location_attempts):
                row, col = targets.anchor(name, rng_p)
                scale = scale_of(row, h0, height_m)
                if scale is None or scale <= 0:
                    reject("horizon")
                    continue
                if scale > geo.max_upscale:
                    reject("upscale")
                    continue
                area = scale * scale * float(pool.mask_areas[idx])
                if not lo_area <= area <= hi_area:
                    reject("area")
                    continue
                pw, ph = scaled_size(w0, h0, scale)
                x0, y0 = anchor_to_topleft(col, row, pw, ph)
                if x0 < 0 or y0 < 0 or x0 + pw > width or y0 + ph > height:
                    reject("outside")
                    continue
                obj = prepare_mask(mask0, (pw, ph), flip, syn.blending.feather_px, plc.footprint_ratio)
                check = check_placement(
                    label_ids, occupied, obj.covered, x0, y0,
                    target_lut=luts[name], forbidden_lut=forbidden_lut, min_coverage=plc.min_target_coverage,
                    reject_border=plc.reject_border, allow_overlap=plc.allow_anomaly_overlap,
                    footprint=obj.footprint if plc.coverage_on == "footprint" else None,
                    nearer=scene.nearer(x0, y0, pw, ph, y0 + obj.foot_row), min_visible=plc.min_visible,
                )  # fmt: skip
                if not check.ok:
                    reject(check.reason or "rejected")
                    continue
                assert check.visible is not None
                occupied[y0 : y0 + ph, x0 : x0 + pw] |= check.visible
                found = Placement(
                    idx, name, x0, y0, pw, ph, float(scale), flip, float(check.coverage), check.bbox,
                    visible_fraction=round(check.visible_fraction, 6), n_visible=check.n_visible,
                    real_height_m=round(height_m, 4) if metric else None,
                    appearance=draw_appearance(syn.blending, streams["appearance"]), prepared=obj,
                )  # fmt: skip
                break
            if found is not None:
                placements.append(found)
                break
    note = None
    if len(placements) < planned:
        top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        why = ", ".join(f"{k} x{v}" for k, v in top) or "no valid location"
        note = f"placed {len(placements)} of {planned}; rejections: {why}"
    return SearchResult(placements, planned, note)
