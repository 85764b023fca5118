"""The gallery of a dataset card: which images are shown, and their pictures.

**Choice** (:func:`choose_records`): only ``ok`` records (of ``split`` when given), in three tiers: synthetic
images with anomalies, then synthetic images without (nothing could be placed), then clean images. Each tier is
filled split by split in turn (round robin over the splits in name order), each split's records in an order
shuffled by ``numpy.random.default_rng(seed)``, until ``n`` are chosen; the result is sorted by (split,
image_id). The same manifest and seed give the same gallery; every split gets a place before any gets two.

**Pictures** (:func:`render_pictures`): the GT overlay and the instance outlines of ``oodforge preview`` (same
colours, same labels), as JPEG thumbnails :data:`THUMB_WIDTH` wide, and one full-size JPEG (overlay above
outlines) at most :data:`FULL_WIDTH` wide, shown when a thumbnail is clicked.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from oodforge._io import encode_image, read_image_rgb, read_label_png
from oodforge.errors import SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord
from oodforge.inspect._dataset import output_paths
from oodforge.inspect._draw import BACKGROUND, GAP, ok_records
from oodforge.inspect.preview import _gt_overlay, _load_idmap, _outlines

__all__ = ["FULL_WIDTH", "JPEG_QUALITY", "THUMB_WIDTH", "Pictures", "choose_records", "render_pictures"]

THUMB_WIDTH = 360
FULL_WIDTH = 1024
JPEG_QUALITY = 82


def _tier(rec: ManifestRecord) -> int:
    if rec.is_synth and rec.has_anomaly:
        return 0
    return 1 if rec.is_synth else 2


def choose_records(records: list[ManifestRecord], *, n: int, split: str | None, seed: int) -> list[ManifestRecord]:
    """Choose up to ``n`` records to show (see the module docstring).

    Raises:
        UsageError: ``n`` < 1.
        DataLayoutError: ``split`` is not in the manifest, or it (or the dataset) has no ``ok`` record.
    """
    ok = ok_records(records, n=n, split=split, what="to show in the gallery")
    rng = np.random.default_rng(seed)
    splits = sorted({r.split for r in ok})
    chosen: list[ManifestRecord] = []
    for tier in (0, 1, 2):
        queues = []
        for name in splits:
            group = [r for r in ok if r.split == name and _tier(r) == tier]
            queues.append([group[int(i)] for i in rng.permutation(len(group))])
        while len(chosen) < n and any(queues):
            for queue in queues:
                if queue and len(chosen) < n:
                    chosen.append(queue.pop(0))
    return sorted(chosen, key=lambda r: (r.split, r.image_id))


@dataclass(frozen=True)
class Pictures:
    """JPEG bytes of one shown image: thumbnails of the image, GT overlay and outlines, and the full view."""

    image: bytes
    overlay: bytes
    outlines: bytes
    full: bytes
    size: tuple[int, int]  # (H, W) of the dataset image


def _resize(arr: np.ndarray, width: int, nearest: bool = False) -> np.ndarray:
    height = max(1, round(arr.shape[0] * width / arr.shape[1]))
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return np.asarray(cv2.resize(arr, (width, height), interpolation=interp))


def _views(
    image: np.ndarray, gt: np.ndarray, idmap: np.ndarray, rec: ManifestRecord, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    small = _resize(image, width)
    overlay = _gt_overlay(small, _resize(gt, width, nearest=True))
    return small, overlay, _outlines(small, idmap, rec, width)


def _jpeg(rgb: np.ndarray) -> bytes:
    return encode_image(rgb, "jpg", jpeg_quality=JPEG_QUALITY)


def _first(rec: ManifestRecord, key: str) -> str:
    paths = output_paths(rec, key)
    if not paths:
        raise SampleError(f"{rec.split}/{rec.image_id}: the record lists no {key!r} output")
    return paths[0]


def render_pictures(layout: DatasetLayout, rec: ManifestRecord) -> Pictures:
    """Read one record's image, GT and instances and draw its pictures.

    Raises:
        SampleError: an output file is missing or unreadable.
    """
    image = read_image_rgb(layout.abs(_first(rec, "image")))
    gt = read_label_png(layout.abs(_first(rec, "gt_pixel")))
    idmap = _load_idmap(layout, rec, (image.shape[0], image.shape[1]))
    thumb_w = min(THUMB_WIDTH, image.shape[1])
    small, overlay, outlines = _views(image, gt, idmap, rec, thumb_w)
    full_w = min(FULL_WIDTH, image.shape[1])
    _, big_overlay, big_outlines = _views(image, gt, idmap, rec, full_w)
    gap = np.full((GAP * 2, full_w, 3), BACKGROUND, np.uint8)
    full = np.vstack([big_overlay, gap, big_outlines])
    return Pictures(_jpeg(small), _jpeg(overlay), _jpeg(outlines), _jpeg(full), (image.shape[0], image.shape[1]))
