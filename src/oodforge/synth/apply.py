"""Steps 5-8 of the chain: render recorded placements onto a scene. Pure: no randomness, no I/O.

Per object, in paste order: prepare its RGB at the pasted size (:mod:`~oodforge.synth.prepare`, the
silhouette is reused from the search) → appearance: illumination (:mod:`~oodforge.synth.photometric`),
sharpness and noise (:mod:`~oodforge.synth.texture`), contact shadow (:mod:`~oodforge.synth.shadow`) →
composite under nearer scene objects (:mod:`~oodforge.synth.composite`) → targets from the final
visibility (:mod:`~oodforge.synth.targets`). Only the patch window, its ring and the shadow window
are read or written, never the whole frame. Everything applied is returned for the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oodforge.config.schema import BlendingConfig
from oodforge.synth.composite import composite_window, ring_mask
from oodforge.synth.photometric import PhotometricParams, apply_photometric, luminance_params, photometric_params
from oodforge.synth.prepare import PreparedMask, prepare_mask, prepare_rgb
from oodforge.synth.scene import SceneInfo
from oodforge.synth.search import Placement
from oodforge.synth.shadow import ShadowParams, apply_shadow, shadow_factor, shadow_params
from oodforge.synth.targets import apply_soft_edges, mark_object, visible_bbox
from oodforge.synth.texture import TextureParams, apply_texture, ring_texture, texture_params

__all__ = ["Applied", "Rendered", "render_placements", "render_visible"]


@dataclass(frozen=True)
class Applied:
    """What the appearance steps did to one object (recorded in the manifest)."""

    photometric: PhotometricParams
    texture: TextureParams
    shadow: ShadowParams | None


@dataclass(frozen=True)
class Rendered:
    """Outputs of :func:`render_placements`.

    Attributes:
        image: (H, W, 3) uint8 RGB composite.
        gt: (H, W) uint8, 0 normal / 1 anomaly (visible covered pixels) / 255 void or soft rim.
        id_map: (H, W) uint16, 0 none, k = k-th placement (visible covered pixels).
        areas: visible pixels each placement holds in the final id map.
        bboxes: ``(x, y, w, h)`` of each placement's pixels in the final id map.
        covered: covered pixels (alpha >= 0.5) of each placement, hidden or not: ``areas[i] / covered[i]``
            is its visible fraction in the final image.
        shadow: (H, W) bool pixels a contact shadow may have darkened.
        applied: per placement, the appearance parameters applied.
    """

    image: npt.NDArray[np.uint8]
    gt: npt.NDArray[np.uint8]
    id_map: npt.NDArray[np.uint16]
    areas: list[int]
    bboxes: list[tuple[int, int, int, int]]
    shadow: npt.NDArray[np.bool_]
    applied: list[Applied]
    covered: list[int]


def _colour(
    rgb: npt.NDArray[np.uint8], support: npt.NDArray[np.bool_], ring_px: npt.NDArray[np.uint8], cfg: BlendingConfig
) -> PhotometricParams:
    pm = cfg.photometric
    if pm.space == "luminance":
        return luminance_params(
            rgb, support, ring_px, strength=pm.strength, white_balance=pm.white_balance, max_gain=pm.max_gain,
            eps=pm.eps,
        )  # fmt: skip
    return photometric_params(
        rgb, support, ring_px, space=pm.space, match_mean=pm.match_mean, match_std=pm.match_std,
        strength=pm.strength, eps=pm.eps,
    )  # fmt: skip


def _cast_shadow(
    image: npt.NDArray[np.uint8],
    shadowed: npt.NDArray[np.bool_],
    shadow: ShadowParams,
    id_map: npt.NDArray[np.uint16],
    info: SceneInfo | None,
    foot_row: int,
) -> None:
    """Darken the ground under an object in place, never on earlier objects or nearer scene objects."""
    height, width = id_map.shape
    x0, y0, x1, y1 = window = shadow.window(height, width)
    exclude = id_map[y0:y1, x0:x1] > 0
    if info is not None and info.contact is not None:
        exclude |= info.contact[y0:y1, x0:x1] > foot_row
    image[y0:y1, x0:x1], region = apply_shadow(image[y0:y1, x0:x1], shadow_factor(shadow, window), exclude)
    shadowed[y0:y1, x0:x1] |= region


def render_placements(
    scene: npt.NDArray[np.uint8],
    gt_base: npt.NDArray[np.uint8],
    placements: list[Placement],
    sources: list[tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]],
    blending: BlendingConfig,
    info: SceneInfo | None = None,
    *,
    footprint_ratio: float = 0.1,
    soft_edge: str = "ignore",
) -> Rendered:
    """Paste objects in order (a later object over an earlier one wins).

    Args:
        scene: (H, W, 3) uint8 RGB source image (not modified).
        gt_base: (H, W) uint8 base GT, 0 or 255 (void train ids); not modified.
        placements: where and how to paste, in id-map order.
        sources: per placement, the COCO (rgb (h, w, 3) uint8, mask (h, w) bool) tight crops.
        blending: feathering and appearance settings.
        info: occluder contact rows and camera of the scene (``None``: no occlusion, no camera).
        footprint_ratio: ``synthesis.placement.footprint_ratio`` (to re-prepare a placement without
            its silhouette).
        soft_edge: ``export.soft_edge``.
    """
    height, width = gt_base.shape
    image = scene.copy()
    gt = gt_base.copy()
    id_map = np.zeros((height, width), dtype=np.uint16)
    soft = np.zeros((height, width), dtype=bool)
    shadowed = np.zeros((height, width), dtype=bool)
    ring_w = blending.photometric.ring_px
    applied: list[Applied] = []
    n_covered: list[int] = []
    for k, (pl, (rgb0, mask0)) in enumerate(zip(placements, sources, strict=True), start=1):
        size = (pl.patch_w, pl.patch_h)
        obj: PreparedMask = pl.prepared or prepare_mask(mask0, size, pl.flip, blending.feather_px, footprint_ratio)
        foot_row = pl.y0 + obj.foot_row
        nearer = info.nearer(pl.x0, pl.y0, pl.patch_w, pl.patch_h, foot_row) if info is not None else None
        alpha = obj.alpha if nearer is None else np.where(nearer, np.float32(0.0), obj.alpha)
        support = obj.support
        # ring of background around the paste, from the source scene, excluding earlier objects
        ry0, rx0 = max(pl.y0 - ring_w, 0), max(pl.x0 - ring_w, 0)
        ry1, rx1 = min(pl.y0 + pl.patch_h + ring_w, height), min(pl.x0 + pl.patch_w + ring_w, width)
        placed = np.zeros((ry1 - ry0, rx1 - rx0), dtype=bool)
        oy, ox = pl.y0 - ry0, pl.x0 - rx0
        placed[oy : oy + pl.patch_h, ox : ox + pl.patch_w] = support
        ring = ring_mask(placed, ring_w) & (id_map[ry0:ry1, rx0:rx1] == 0)
        scene_win = scene[ry0:ry1, rx0:rx1]
        rgb = prepare_rgb(rgb0, size, pl.flip)
        colour = _colour(rgb, support, scene_win[ring], blending)
        rgb = apply_photometric(rgb, colour)
        grad, noise = ring_texture(scene_win, ring)
        draw = pl.appearance
        tex = texture_params(
            rgb, support, grad, noise, sharpness=blending.sharpness.enabled,
            target_ratio=blending.sharpness.target_ratio, max_sigma_px=blending.sharpness.max_sigma_px,
            noise=blending.noise.enabled, motion_blur_px=draw.motion_blur_px, noise_seed=draw.noise_seed,
        )  # fmt: skip
        rgb = apply_texture(rgb, support, tex)
        shadow = shadow_params(
            obj.footprint, pl.x0, pl.y0, foot_row, info.camera if info is not None else None,
            strength=draw.shadow_strength, width_ratio=blending.shadow.width_ratio,
        )  # fmt: skip
        if shadow is not None:
            _cast_shadow(image, shadowed, shadow, id_map, info, foot_row)
        ys, xs = slice(pl.y0, pl.y0 + pl.patch_h), slice(pl.x0, pl.x0 + pl.patch_w)
        image[ys, xs] = composite_window(image[ys, xs], rgb, alpha)
        visible = obj.covered if nearer is None else obj.covered & ~nearer
        mark_object(gt, id_map, soft, k, pl.x0, pl.y0, visible, alpha)
        applied.append(Applied(colour, tex, shadow))
        n_covered.append(int(np.count_nonzero(obj.covered)))
    apply_soft_edges(gt, soft, soft_edge)
    areas, bboxes = [], []
    for k, pl in enumerate(placements, start=1):
        win = id_map[pl.y0 : pl.y0 + pl.patch_h, pl.x0 : pl.x0 + pl.patch_w]
        areas.append(int(np.count_nonzero(win == k)))
        bboxes.append(visible_bbox(id_map, k, (pl.x0, pl.y0, pl.patch_w, pl.patch_h)))
    return Rendered(image, gt, id_map, areas, bboxes, shadowed, applied, n_covered)


def render_visible(
    scene: npt.NDArray[np.uint8],
    gt_base: npt.NDArray[np.uint8],
    placements: list[Placement],
    sources: list[tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]],
    blending: BlendingConfig,
    info: SceneInfo | None = None,
    *,
    footprint_ratio: float = 0.1,
    soft_edge: str = "ignore",
) -> tuple[list[Placement], Rendered]:
    """:func:`render_placements`, rendered again without the objects that later objects hide completely.

    With ``allow_anomaly_overlap`` a later object may cover every visible pixel of an earlier one: that
    object is not in the final image, so it is dropped and the others are rendered again, leaving no trace
    of it (soft rim, shadow, or its pixels in a later object's background ring). The visible pixels of an
    object do not depend on the other objects, so dropping a completely hidden one leaves every other
    object's pixels in the id map as they were; the ids of the kept objects are 1..n in paste order. When
    nothing is hidden the result is exactly :func:`render_placements`'s.

    Returns:
        The kept placements (in id-map order) and their rendering.
    """
    while True:
        rendered = render_placements(
            scene, gt_base, placements, sources, blending, info, footprint_ratio=footprint_ratio, soft_edge=soft_edge
        )
        keep = [i for i, area in enumerate(rendered.areas) if area > 0]
        if len(keep) == len(placements):
            return placements, rendered
        placements, sources = [placements[i] for i in keep], [sources[i] for i in keep]
