"""Field checks of COCO annotations, made before any mask is decoded.

:func:`annotation_problem` says what is wrong with one annotation (the field, what was found and
what was expected), or ``None``. The COCO pool skips such an annotation and counts it under the
``malformed`` rejection reason instead of failing the whole build: pycocotools itself raises bare
exceptions on some malformed segmentations and, worse, allocates without bound on a polygon holding
NaN or a huge coordinate, so every field it reads is checked here first.

A usable annotation has integer ``id``, ``image_id`` (listed in ``images``) and ``category_id``; a
``bbox`` of four finite numbers; a finite number ``area``; and a ``segmentation`` that is either a
list of polygons (each a flat list of an even number, at least 6, of finite coordinates within
one image size of the image) or an RLE object whose ``size`` is the image's ``[height, width]``
and whose ``counts`` (a list of non-negative integers, or the compressed COCO string) sum to
``height * width``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TypeGuard

from oodforge.errors import InputFileError

__all__ = [
    "ANN_KEYS",
    "annotation_problem",
    "describe",
    "read_categories",
    "read_coco_json",
    "read_images",
    "rle_string_counts",
    "segmentation_problem",
    "split_malformed",
]

#: Keys every annotation needs.
ANN_KEYS = ("id", "image_id", "category_id", "segmentation", "area", "bbox")
Images = dict[int, tuple[str, int, int]]  # image id -> (file name, width, height)
_SHOWN = 60  # characters of a found value quoted in a message


def describe(value: Any) -> str:
    """Short ``repr`` of a found value for a one-line message."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _is_int(v: Any) -> TypeGuard[int | float]:
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and _finite_numbers([v])


def _finite_numbers(values: list[Any]) -> bool:
    """All numbers and finite (fast: one C-level ``sum``, a TypeError for anything but numbers)."""
    try:
        return math.isfinite(sum(values))
    except (TypeError, OverflowError):  # OverflowError: an integer beyond any float
        return False


def read_coco_json(path: Path) -> dict[str, Any]:
    """The parsed JSON, checked to be an object with ``images``, ``annotations`` and ``categories`` lists."""
    try:
        with path.open("rb") as fh:
            data = json.load(fh)
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: COCO annotation file not found; expected a COCO instances JSON") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: not valid JSON ({exc}); expected a COCO instances JSON") from exc
    if not isinstance(data, dict):
        raise InputFileError(f"{path}: not a COCO instances file: top level is {type(data).__name__}, expected object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputFileError(f"{path}: not a COCO instances file: missing key '{key}' (expected a list)")
    return data


def read_images(rows: list[Any], path: Path) -> Images:
    """Image id -> (file name, width, height) of the JSON's ``images``; a bad entry is an :class:`InputFileError`."""
    images: Images = {}
    for n, im in enumerate(rows):
        iid, name, width, height = (_field(im, k, f"image #{n}", path) for k in ("id", "file_name", "width", "height"))
        for key, value in (("id", iid), ("width", width), ("height", height)):
            if not _is_int(value) or (key != "id" and value < 1):
                raise InputFileError(
                    f"{path}: not a COCO instances file: image #{n} '{key}' is {describe(value)}; "
                    f"expected an integer{' > 0' if key != 'id' else ''}"
                )
        if not isinstance(name, str):
            raise InputFileError(f"{path}: not a COCO instances file: image #{n} 'file_name' is {describe(name)}; "
                                 "expected a string")  # fmt: skip
        images[int(iid)] = (name, int(width), int(height))
    return images


def read_categories(rows: list[Any], path: Path) -> dict[str, int]:
    """Category name -> id of the JSON's ``categories``; a bad entry is an :class:`InputFileError`."""
    by_name: dict[str, int] = {}
    for n, c in enumerate(rows):
        cid, name = (_field(c, k, f"category #{n}", path) for k in ("id", "name"))
        if not _is_int(cid) or not isinstance(name, str):
            bad = ("id", cid, "an integer") if not _is_int(cid) else ("name", name, "a string")
            raise InputFileError(
                f"{path}: not a COCO instances file: category #{n} '{bad[0]}' is {describe(bad[1])}; expected {bad[2]}"
            )
        by_name[name] = int(cid)
    return by_name


def _field(row: Any, key: str, what: str, path: Path) -> Any:
    if not isinstance(row, dict) or key not in row:
        raise InputFileError(f"{path}: not a COCO instances file: {what} lacks key '{key}' (is {describe(row)})")
    return row[key]


def split_malformed(anns: list[Any], images: Images) -> tuple[list[dict[str, Any]], int, str | None]:
    """``(usable annotations, number of malformed ones, the first malformed one and its problem or None)``."""
    usable: list[dict[str, Any]] = []
    example: str | None = None
    for n, ann in enumerate(anns):
        problem = annotation_problem(ann, images)
        if problem is None:
            usable.append(ann)
        elif example is None:
            ann_id = ann.get("id") if isinstance(ann, dict) else None
            label = f"annotation {int(ann_id)}" if _is_int(ann_id) else f"annotation #{n}"
            example = f"{label}: {problem}"
    return usable, len(anns) - len(usable), example


def annotation_problem(ann: Any, images: Images) -> str | None:
    """What makes ``ann`` unusable, as ``"'field' is <found>; expected <what>"``, or ``None``.

    Args:
        ann: one entry of the JSON's ``annotations`` list.
        images: image id -> (file name, width, height) of the JSON's ``images``.
    """
    if not isinstance(ann, dict):
        return f"is {describe(ann)}; expected an object"
    for key in ANN_KEYS:
        if key not in ann:
            return f"lacks key '{key}'"
    for key in ("id", "image_id", "category_id"):
        if not _is_int(ann[key]):
            return f"'{key}' is {describe(ann[key])}; expected an integer"
    image = images.get(int(ann["image_id"]))
    if image is None:
        return f"'image_id' is {describe(ann['image_id'])}; expected the id of an entry of 'images'"
    bbox = ann["bbox"]
    if not isinstance(bbox, list) or len(bbox) != 4 or not _finite_numbers(bbox):
        return f"'bbox' is {describe(bbox)}; expected [x, y, w, h] (4 finite numbers)"
    if not _is_number(ann["area"]):
        return f"'area' is {describe(ann['area'])}; expected a finite number"
    return segmentation_problem(ann["segmentation"], image[1], image[2])


def segmentation_problem(seg: Any, width: int, height: int) -> str | None:
    """What makes ``seg`` undecodable on a ``width`` x ``height`` image, or ``None`` (see the module doc)."""
    if isinstance(seg, list):
        return _polygons_problem(seg, width, height)
    if not isinstance(seg, dict):
        return f"'segmentation' is {describe(seg)}; expected polygons (a list of lists) or RLE ({{counts, size}})"
    size, counts = seg.get("size"), seg.get("counts")
    if not isinstance(size, list) or [int(v) if _is_int(v) else v for v in size] != [height, width]:
        return f"'segmentation' RLE size is {describe(size)}; expected [{height}, {width}] (its image's [h, w])"
    if isinstance(counts, str):
        found = rle_string_counts(counts)
        if found is None:
            return f"'segmentation' RLE counts {describe(counts)} is not a valid compressed COCO RLE string"
    elif isinstance(counts, list) and all(_is_int(v) and v >= 0 for v in counts):
        found = [int(v) for v in counts]
    else:
        return f"'segmentation' RLE counts is {describe(counts)}; expected non-negative integers or a COCO RLE string"
    if sum(found) != height * width:
        return f"'segmentation' RLE counts sum to {sum(found)}; expected {height * width} (h * w)"
    return None


def _polygons_problem(polygons: list[Any], width: int, height: int) -> str | None:
    reach = max(width, height)  # coordinates beyond one image size around the image are not COCO's
    for k, poly in enumerate(polygons):
        if not isinstance(poly, list):
            return f"'segmentation' polygon {k} is {describe(poly)}; expected a list of x, y coordinates"
        if len(poly) < 6 or len(poly) % 2:
            return f"'segmentation' polygon {k} has {len(poly)} values; expected an even number, at least 6"
        if not _finite_numbers(poly):
            bad = next((v for v in poly if not _is_number(v)), "an overflowing sum")
            return f"'segmentation' polygon {k} holds {describe(bad)}; expected finite numbers"
        lo, hi = min(poly), max(poly)
        if lo < -reach or hi > 2 * reach:
            far = lo if lo < -reach else hi
            return (
                f"'segmentation' polygon {k} holds the coordinate {describe(far)}; expected values within "
                f"[{-reach}, {2 * reach}] around the {width} x {height} image"
            )
    return None


def rle_string_counts(text: str) -> list[int] | None:
    """The run lengths of a compressed COCO RLE string, or ``None`` if it is not one.

    The format (pycocotools' ``rleToString``): each count is written in 5-bit groups, least
    significant first, as characters ``chr(48 + group)``, bit 0x20 set on every group but the last,
    bit 0x10 of the last group the sign; from the fourth count on, the difference to the count two
    before is written instead of the count. A count below zero makes the string invalid.
    """
    counts: list[int] = []
    value = shift = 0
    for ch in text:
        group = ord(ch) - 48
        if not 0 <= group < 64:
            return None
        value |= (group & 0x1F) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:
            value -= 1 << shift
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            return None
        counts.append(value)
        value = shift = 0
    return counts if shift == 0 else None
