"""Applying step: render recorded placements onto a scene. Pure: no randomness, no I/O.

Given the scene, its label ids and the :class:`~oodforge.synth.search.Placement` records, the
output image, pixel GT and instance id map are fully determined. Only the patch window (plus a
photometric ring around it) is touched, never the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oodforge.config.schema import BlendingConfig
from oodforge.synth.composite import (
    apply_photometric,
    composite_window,
    covered_mask,
    feather_alpha,
    photometric_params,
    ring_mask,
)
from oodforge.synth.geometry import transform_mask, transform_rgb
from oodforge.synth.search import Placement

__all__ = ["Rendered", "render_placements"]


@dataclass(frozen=True)
class Rendered:
    """Outputs of :func:`render_placements`.

    Attributes:
        image: (H, W, 3) uint8 RGB composite.
        gt: (H, W) uint8, 0 normal / 1 anomaly / 255 void.
        id_map: (H, W) uint16, 0 none, k = k-th placement.
        areas: covered pixels each placement holds in the final id map.
    """

    image: np.ndarray
    gt: np.ndarray
    id_map: np.ndarray
    areas: list[int]


def render_placements(
    scene: np.ndarray,
    gt_base: np.ndarray,
    placements: list[Placement],
    sources: list[tuple[np.ndarray, np.ndarray]],
    blending: BlendingConfig,
) -> Rendered:
    """Paste objects in order (a later object over an earlier one wins).

    Args:
        scene: (H, W, 3) uint8 RGB source image (not modified).
        gt_base: (H, W) uint8 base GT, 0 or 255 (void train ids); not modified.
        placements: where and how to paste, in id-map order.
        sources: per placement, the COCO (rgb (h, w, 3) uint8, mask (h, w) bool) tight crops.
        blending: feathering and photometric settings.

    Returns:
        The composite, GT (1 exactly on covered pixels), id map and per-object areas.
    """
    height, width = gt_base.shape
    image = scene.copy()
    gt = gt_base.copy()
    id_map = np.zeros((height, width), dtype=np.uint16)
    ring_px = blending.photometric.ring_px
    pm = blending.photometric
    for k, (pl, (rgb0, mask0)) in enumerate(zip(placements, sources, strict=True), start=1):
        size = (pl.patch_w, pl.patch_h)
        mask = transform_mask(mask0, size, pl.flip)
        alpha = feather_alpha(mask, blending.feather_px)
        covered = covered_mask(alpha)
        rgb = transform_rgb(rgb0, size, pl.flip)
        # ring of background around the paste, from the source scene, excluding earlier objects
        ry0, rx0 = max(pl.y0 - ring_px, 0), max(pl.x0 - ring_px, 0)
        ry1, rx1 = min(pl.y0 + pl.patch_h + ring_px, height), min(pl.x0 + pl.patch_w + ring_px, width)
        support = np.zeros((ry1 - ry0, rx1 - rx0), dtype=bool)
        oy, ox = pl.y0 - ry0, pl.x0 - rx0
        support[oy : oy + pl.patch_h, ox : ox + pl.patch_w] = alpha > 0
        ring = ring_mask(support, ring_px) & (id_map[ry0:ry1, rx0:rx1] == 0)
        params = photometric_params(
            rgb,
            alpha > 0,
            scene[ry0:ry1, rx0:rx1][ring],
            space=pm.space,
            match_mean=pm.match_mean,
            match_std=pm.match_std,
            strength=pm.strength,
            eps=pm.eps,
        )
        patch = apply_photometric(rgb, params)
        ys, xs = slice(pl.y0, pl.y0 + pl.patch_h), slice(pl.x0, pl.x0 + pl.patch_w)
        image[ys, xs] = composite_window(image[ys, xs], patch, alpha)
        gt[ys, xs][covered] = 1
        id_map[ys, xs][covered] = k
    areas = []
    for k, pl in enumerate(placements, start=1):
        win = id_map[pl.y0 : pl.y0 + pl.patch_h, pl.x0 : pl.x0 + pl.patch_w]
        areas.append(int(np.count_nonzero(win == k)))
    return Rendered(image, gt, id_map, areas)
