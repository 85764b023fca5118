"""``oodforge preview``: a contact sheet of a dataset, drawn with OpenCV only.

Each row shows one image: a header (``split/image_id`` and ``clean`` or ``synthetic k/n placed``, wrapped
onto more lines when the sheet is too narrow), then three panels of equal width: the image, the GT overlay
(anomaly in orange, ignore darkened and hatched grey, normal untouched) and the instance outlines (one colour
per instance, labelled ``<id>:<category>``, labels never overlapping).

A rendered dataset (``oodforge render``) gets rows of [image | GT overlay (anomaly orange, foreground from
``fb_mask`` tinted blue) | anomaly outline labelled with the object's name], anomalous frames first, and a
header with ``camera/frame_id``, the anomaly state and the mode values (:mod:`oodforge.inspect._preview_render`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from oodforge._io import atomic_write_bytes, encode_png, read_bytes, read_image_rgb, read_label_png
from oodforge.errors import every_sample_needed
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord
from oodforge.inspect._dataset import decode_npy_mask, idmap_from_masks, load_any, output_paths
from oodforge.inspect._draw import ANOMALY_RGB, BACKGROUND, GAP, HEADER_H, header, label, select, stack_rows
from oodforge.inspect._preview_render import render_rows

__all__ = ["BACKGROUND", "GAP", "HEADER_H", "header_parts", "make_contact_sheet", "select_records", "write_preview"]

PANEL_WIDTH = 512
IGNORE_RGB = np.array([140, 140, 140], np.float32)
#: distinct, saturated outline colours (RGB), cycled by instance id
PALETTE = (
    (255, 64, 64),
    (64, 200, 255),
    (255, 220, 0),
    (0, 230, 120),
    (230, 80, 255),
    (255, 150, 40),
    (120, 255, 255),
    (255, 120, 190),
)


def select_records(records: list[ManifestRecord], *, n: int, split: str | None, seed: int) -> list[ManifestRecord]:
    """Choose up to ``n`` ``ok`` records: images with anomalies first, then the others.

    Within each group the choice is a seeded random subset (``numpy.random.default_rng(seed)``) of the
    records sorted by (split, image_id), kept in that order: the same dataset and seed give the same rows.

    Raises:
        UsageError: ``n`` < 1.
        DataLayoutError: ``split`` is not in the manifest, or no record has status ``ok``.
    """
    return select(records, n=n, split=split, seed=seed, first=lambda rec: rec.has_anomaly)


def make_contact_sheet(
    root: Path, *, n: int = 8, split: str | None = None, seed: int = 0, panel_width: int = PANEL_WIDTH
) -> np.ndarray:
    """Render the contact sheet of a dataset (see the module docstring).

    Args:
        root: the output root of ``oodforge synth`` or ``oodforge render``.
        n: number of rows (images); fewer when the dataset (or split) has fewer ``ok`` images.
        split: only this split; all splits when None.
        seed: seed of the row choice.
        panel_width: width of each of the three panels in pixels.

    Returns:
        RGB ``uint8`` array of shape (sum of row heights + gaps, 3 * panel_width + 2 * GAP, 3); a row is
        its header (``header_height`` of its number of lines, :data:`HEADER_H` for one) above the panels.

    Raises:
        InputFileError, DataLayoutError, UsageError: not a dataset, unknown split, bad ``n``, or an output
            file of a chosen record missing or unreadable.
    """
    data = load_any(root)
    with every_sample_needed():
        if data.kind == "render":
            rows = render_rows(data.layout, data.render, n=n, split=split, seed=seed, panel_width=panel_width)
            return stack_rows(rows)
        chosen = select_records(data.synth, n=n, split=split, seed=seed)
        return stack_rows([_render_row(data.layout, rec, panel_width) for rec in chosen])


def write_preview(
    root: Path,
    out: Path,
    *,
    n: int = 8,
    split: str | None = None,
    seed: int = 0,
    panel_width: int = PANEL_WIDTH,
) -> Path:
    """Render the contact sheet (:func:`make_contact_sheet`) and write it atomically as a PNG to ``out``."""
    sheet = make_contact_sheet(root, n=n, split=split, seed=seed, panel_width=panel_width)
    atomic_write_bytes(out, encode_png(sheet, compression=3))
    return out


def _load_idmap(layout: DatasetLayout, rec: ManifestRecord, shape: tuple[int, int]) -> np.ndarray:
    """The uint16 id map of a record (idmap PNG, or the per-instance ``.npy`` masks combined)."""
    value = rec.outputs.get("instances")
    if isinstance(value, str):
        return read_label_png(layout.abs(value), np.uint16)
    masks = [decode_npy_mask(read_bytes(layout.abs(rel)), rel) for rel in output_paths(rec, "instances")]
    return idmap_from_masks(masks, shape)


def _render_row(layout: DatasetLayout, rec: ManifestRecord, panel_width: int) -> np.ndarray:
    """Header line above [image | GT overlay | instance outlines]."""
    image = read_image_rgb(layout.abs(output_paths(rec, "image")[0]))
    gt = read_label_png(layout.abs(output_paths(rec, "gt_pixel")[0]))
    idmap = _load_idmap(layout, rec, (image.shape[0], image.shape[1]))
    height = max(1, round(image.shape[0] * panel_width / image.shape[1]))
    size = (panel_width, height)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    gt_small = cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST)
    gap = np.full((height, GAP, 3), BACKGROUND, np.uint8)
    body = np.hstack([small, gap, _gt_overlay(small, gt_small), gap, _outlines(small, idmap, rec, panel_width)])
    return np.vstack([header(header_parts(rec), body.shape[1]), body])


def _gt_overlay(image: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Anomaly pixels tinted orange, ignore pixels darkened with grey diagonal hatching, normal untouched."""
    out = image.astype(np.float32)
    anomaly = gt == 1
    ignore = gt == 255
    out[anomaly] = 0.3 * out[anomaly] + 0.7 * ANOMALY_RGB
    out[ignore] *= 0.35
    yy, xx = np.indices(gt.shape)
    hatch = ignore & (((xx + yy) % 8) < 2)
    out[hatch] = IGNORE_RGB
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _outlines(image: np.ndarray, idmap: np.ndarray, rec: ManifestRecord, panel_width: int) -> np.ndarray:
    """Each instance's contour (found at full resolution, drawn scaled) with ``<id>:<category>``.

    The labels, drawn after all contours, are cut to the panel's width and placed so that no two overlap
    (:func:`label`).
    """
    out = np.ascontiguousarray(image.copy())
    scale = panel_width / idmap.shape[1]
    labels: list[tuple[str, tuple[int, int, int, int], tuple[int, int, int]]] = []
    for k in range(1, int(idmap.max()) + 1 if idmap.size else 1):
        mask = (idmap == k).astype(np.uint8)
        if not mask.any():
            continue
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        scaled = [np.round(c.astype(np.float64) * scale).astype(np.int32) for c in contours]
        color = PALETTE[(k - 1) % len(PALETTE)]
        cv2.polylines(out, scaled, isClosed=True, color=color, thickness=2, lineType=cv2.LINE_AA)
        x, y, w, h = cv2.boundingRect(np.vstack(scaled))
        category = rec.instances[k - 1].category if k <= len(rec.instances) else "?"
        labels.append((f"{k}:{category}", (x, y, x + w, y + h), color))
    taken: list[tuple[int, int, int, int]] = []
    for line, anchor, color in labels:
        label(out, line, anchor, color, taken)
    return out


def header_parts(rec: ManifestRecord) -> list[str]:
    """The parts of a row's header: ``split/image_id`` and ``clean`` or ``synthetic k/n placed``."""
    kind = f"synthetic {rec.placed_instances}/{rec.planned_instances} placed" if rec.is_synth else "clean"
    return [f"{rec.split}/{rec.image_id}", kind]
