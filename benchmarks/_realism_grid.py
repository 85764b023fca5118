"""Before/after preview of the realism bench: the same real frames and draw, old look vs default.

Per frame: the two synthesized images side by side (scaled to :data:`HALF_W` wide) with the outline of their
GT == 1 pixels, and under them zoomed crops of every placed object (no outline: the blend is what counts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oodforge._io import read_image_rgb, read_label_png
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord, read_manifest
from oodforge.inspect._draw import ANOMALY_RGB, BACKGROUND, header, stack_rows, text

HALF_W = 796  # two halves and the gap: 1600 px
MID = 8
TILE = 260  # zoomed crop side: three per half
TILE_GAP = 4
BAND_SCALE = 0.8
LABEL_SCALE = 0.5
OUTLINE_RGB = tuple(int(c) for c in ANOMALY_RGB)
WHITE = (245, 245, 245)


def _records(root: Path, split: str) -> dict[str, tuple[DatasetLayout, ManifestRecord]]:
    lay = DatasetLayout(root)
    return {r.image_id: (lay, r) for r in read_manifest(lay.manifest_path) if r.split == split and r.status == "ok"}


def _band(width: int, parts: list[tuple[int, str]], scale: float = BAND_SCALE) -> np.ndarray:
    """A dark band holding each ``(x, line)`` at the band's vertical centre."""
    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    h = th + base + 14
    out = np.full((h, width, 3), BACKGROUND, np.uint8)
    for x, line in parts:
        text(out, line, (x, 7 + th), WHITE, scale)
    return out


def _frame(lay: DatasetLayout, rec: ManifestRecord) -> tuple[np.ndarray, np.ndarray]:
    """The synthesized image scaled to :data:`HALF_W` with its anomaly outlines, and the full-size image."""
    rgb = read_image_rgb(lay.abs(str(rec.outputs["image"])))
    gt = read_label_png(lay.abs(str(rec.outputs["gt_pixel"])))
    h = round(rgb.shape[0] * HALF_W / rgb.shape[1])
    small = cv2.resize(rgb, (HALF_W, h), interpolation=cv2.INTER_AREA)
    mask = cv2.resize((gt == 1).astype(np.float32), (HALF_W, h), interpolation=cv2.INTER_AREA) > 0.25
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(small, contours, -1, OUTLINE_RGB, 2, cv2.LINE_AA)
    text(small, rec.image_id, (8, 22), WHITE, LABEL_SCALE)
    return small, rgb


def _crop(rgb: np.ndarray, bbox: list[int], category: str) -> np.ndarray:
    """A square around the object (its size twice over, plus context), zoomed to :data:`TILE`."""
    x, y, w, h = bbox
    side = min(max(2 * max(w, h) + 24, 64), *rgb.shape[:2])
    x0 = min(max(x + w // 2 - side // 2, 0), rgb.shape[1] - side)
    y0 = min(max(y + h // 2 - side // 2, 0), rgb.shape[0] - side)
    zoom = TILE / side
    interp = cv2.INTER_NEAREST if zoom >= 2 else cv2.INTER_LINEAR if zoom >= 1 else cv2.INTER_AREA
    tile = cv2.resize(rgb[y0 : y0 + side, x0 : x0 + side], (TILE, TILE), interpolation=interp)
    text(tile, f"{category}  {h} px  x{zoom:.1f}", (6, 18), WHITE, LABEL_SCALE)
    return tile


def _crops(rgb: np.ndarray, rec: ManifestRecord) -> np.ndarray:
    """The zoomed crops of a record's objects in one half-width strip."""
    out = np.full((TILE, HALF_W, 3), BACKGROUND, np.uint8)
    per_row = (HALF_W + TILE_GAP) // (TILE + TILE_GAP)
    for k, inst in enumerate(rec.instances[:per_row]):
        x = k * (TILE + TILE_GAP)
        out[:, x : x + TILE] = _crop(rgb, inst.bbox, inst.category)
    if not rec.instances:
        text(out, "no object placed", (12, TILE // 2), WHITE, BAND_SCALE)
    return out


def _pair(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    gap = np.full((left.shape[0], MID, 3), BACKGROUND, np.uint8)
    return np.hstack([left, gap, right])


def write_grid(before_root: Path, after_root: Path, split: str, dest: Path) -> dict[str, Any]:
    """Write the before/after PNG of the frames both datasets hold in ``split``; returns its size and counts."""
    before, after = _records(before_root, split), _records(after_root, split)
    ids = sorted(set(before) & set(after))
    width = 2 * HALF_W + MID
    rows = [
        header(
            f"oodforge synth on real Cityscapes frames, draw {split}: the same frames and seeds before and after. "
            "Orange: outline of the anomaly pixels (GT == 1). Under each frame: its objects zoomed "
            "(label: category, visible height, zoom).",
            width,
        ),
        _band(width, [(8, "before (old look)"), (HALF_W + MID + 8, "after (default)")]),
    ]
    n_before = n_after = 0
    for image_id in ids:
        (lay_b, rec_b), (lay_a, rec_a) = before[image_id], after[image_id]
        small_b, full_b = _frame(lay_b, rec_b)
        small_a, full_a = _frame(lay_a, rec_a)
        rows.append(_pair(small_b, small_a))
        rows.append(_pair(_crops(full_b, rec_b), _crops(full_a, rec_a)))
        n_before += len(rec_b.instances)
        n_after += len(rec_a.instances)
    sheet = stack_rows(rows)
    dest.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RuntimeError(f"{dest}: PNG encoding failed")
    dest.write_bytes(buf.tobytes())
    return {
        "frames": ids,
        "width": int(sheet.shape[1]),
        "height": int(sheet.shape[0]),
        "bytes": len(buf),
        "objects_before": n_before,
        "objects_after": n_after,
    }
