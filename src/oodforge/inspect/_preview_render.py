"""Contact-sheet rows of a rendered dataset (``oodforge render``), used by :mod:`oodforge.inspect.preview`.

Each row: a header (``camera/frame_id``, the anomaly state and the mode values, wrapped to the sheet's
width), then three panels of equal width: the image, the GT overlay (anomaly orange, foreground from
``fb_mask`` tinted blue, background untouched) and the image with the anomaly's outline labelled with the
object's name.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from oodforge._io import read_image_rgb, read_label_png
from oodforge.errors import SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.inspect._draw import ANOMALY_RGB, BACKGROUND, GAP, PART_SEP, header, label, select
from oodforge.inspect._render_record import RenderRecord

__all__ = ["FOREGROUND_RGB", "OUTLINE_RGB", "header_line", "header_parts", "render_rows"]

FOREGROUND_RGB = np.array([60, 120, 255], np.float32)
OUTLINE_RGB = (255, 64, 64)
HIDDEN_RGB = (200, 200, 200)


def render_rows(
    layout: DatasetLayout, records: list[RenderRecord], *, n: int, split: str | None, seed: int, panel_width: int
) -> list[np.ndarray]:
    """The rows of up to ``n`` ``ok`` frames: anomalous frames (``is_anomalous``) first, seeded choice.

    Raises:
        UsageError, DataLayoutError: bad ``n``, unknown camera (``split``), no ``ok`` frame.
        SampleError: an output file of a chosen frame is missing or unreadable.
    """
    chosen = select(records, n=n, split=split, seed=seed, first=lambda rec: rec.is_anomalous)
    return [_row(layout, rec, panel_width) for rec in chosen]


def _path(layout: DatasetLayout, rec: RenderRecord, key: str) -> Path:
    rel = rec.outputs.get(key)
    if rel is None:
        raise SampleError(f"{rec.split}/{rec.image_id}: the record has no {key!r} output")
    return layout.abs(rel)


def _row(layout: DatasetLayout, rec: RenderRecord, panel_width: int) -> np.ndarray:
    """Header line above [image | GT overlay | anomaly outline]."""
    image = read_image_rgb(_path(layout, rec, "image"))
    gt = read_label_png(_path(layout, rec, "gt_pixel"))
    fb = read_label_png(_path(layout, rec, "fb_mask"))
    height = max(1, round(image.shape[0] * panel_width / image.shape[1]))
    size = (panel_width, height)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    gt_small = cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST)
    fb_small = cv2.resize(fb, size, interpolation=cv2.INTER_NEAREST)
    gap = np.full((height, GAP, 3), BACKGROUND, np.uint8)
    body = np.hstack([small, gap, _overlay(small, gt_small, fb_small), gap, _outline(small, gt, rec, panel_width)])
    return np.vstack([header(header_parts(rec), body.shape[1]), body])


def _overlay(image: np.ndarray, gt: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """Anomaly pixels tinted orange, other foreground pixels tinted blue, background untouched."""
    out = image.astype(np.float32)
    anomaly = gt == 1
    foreground = (fb == 1) & ~anomaly
    out[foreground] = 0.5 * out[foreground] + 0.5 * FOREGROUND_RGB
    out[anomaly] = 0.3 * out[anomaly] + 0.7 * ANOMALY_RGB
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _outline(image: np.ndarray, gt: np.ndarray, rec: RenderRecord, panel_width: int) -> np.ndarray:
    """The anomaly's contour (found at full resolution, drawn scaled) labelled with the object's name."""
    out = np.ascontiguousarray(image.copy())
    name = rec.object_ or "?"
    mask = (gt == 1).astype(np.uint8)
    if mask.any():
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        scale = panel_width / gt.shape[1]
        scaled = [np.round(c.astype(np.float64) * scale).astype(np.int32) for c in contours]
        cv2.polylines(out, scaled, isClosed=True, color=OUTLINE_RGB, thickness=2, lineType=cv2.LINE_AA)
        x, y, w, h = cv2.boundingRect(np.vstack(scaled))
        label(out, name, (x, y, x + w, y + h), OUTLINE_RGB, [])
    elif rec.is_anomalous:
        label(out, f"{name} (hidden)", (2, 0, 2, 0), HIDDEN_RGB, [])
    return out


def header_parts(rec: RenderRecord) -> list[str]:
    """The parts of a row's header: ``camera/frame_id``, the anomaly state and each mode value.

    Example: ``["cam02/d001_anomaly_i3_...", "anomaly cube 148 px", "sun 3", "depth +0", "scale 0.61",
    "colour red"]``.
    """
    if rec.has_anomaly:
        state = f"anomaly {rec.object_} {rec.pixel_count} px"
    elif rec.is_anomalous:
        state = f"hidden anomaly {rec.object_}"
    else:
        state = "normal"
    m = rec.modes
    parts = [f"{rec.split}/{rec.image_id}", state, f"sun {m.sun_strength:g}"]
    if m.depth_offset is not None:
        parts.append(f"depth {m.depth_offset:+g}")
    if m.scale is not None:
        parts.append(f"scale {m.scale:g}")
    if m.colour is not None:
        parts.append(f"colour {m.colour}")
    return parts


def header_line(rec: RenderRecord) -> str:
    """:func:`header_parts` on one line, as the header shows it when the sheet is wide enough."""
    return PART_SEP.join(header_parts(rec))
