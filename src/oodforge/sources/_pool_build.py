"""Building a COCO pool: the instances JSON through the filters into a pool folder."""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oodforge.config.schema import CocoFilters
from oodforge.errors import ConfigError, InputFileError
from oodforge.sources._coco_check import read_coco_json, read_images
from oodforge.sources._coco_filters import CATEGORIES_KEY, ImageMasks, allowed_ids, judge_mask, sift
from oodforge.sources._pool_cache import COLUMNS, POOL_FORMAT_VERSION, write_pool

__all__ = ["Progress", "build_pool"]

Progress = Callable[[int, int], None]


def build_pool(path: Path, allowed: Sequence[str], f: CocoFilters, out: Path, progress: Progress | None) -> None:
    """Build the pool of the COCO JSON ``path`` into the empty folder ``out`` (see :mod:`.coco_pool`).

    Raises:
        InputFileError: the JSON is missing or malformed as a whole (each malformed annotation is
            only skipped, unless every one is).
        ConfigError: an unknown category name, or no instance passes the filters.
    """
    data = read_coco_json(path)
    images = read_images(data["images"], path)
    cats = allowed_ids(data["categories"], allowed, path)
    rejected, by_image, todo, example = sift(data["annotations"], cats, images, f)
    if data["annotations"] and rejected["malformed"] == len(data["annotations"]):
        raise InputFileError(
            f"{path}: none of its {len(data['annotations'])} annotations is readable, the first: {example}; "
            "expected COCO instance annotations"
        )
    total = sum(len(v) for v in todo.values())
    step, done = max(1, total // 200), 0
    kept: list[tuple[int, bytes, tuple[Any, ...]]] = []  # (ann id, packed mask, column values)
    if progress:
        progress(0, total)
    with warnings.catch_warnings():
        # pycocotools' decode trips NumPy 2's __array__(copy=...) deprecation; harmless
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pycocotools")
        for image_id, positions in todo.items():
            file_name, width, height = images[image_id]
            masks = ImageMasks(by_image[image_id], width, height, path)
            for i in positions:
                ann = by_image[image_id][i]
                verdict = judge_mask(masks, i, f)
                if isinstance(verdict, str):
                    rejected[verdict] += 1
                    if verdict == "malformed" and example is None:
                        example = masks.problems[i]
                else:
                    crop, box = verdict
                    row = (ann["id"], image_id, ann["category_id"], box, np.count_nonzero(crop), ann["area"])
                    packed = np.packbits(crop.ravel()).tobytes()
                    kept.append((int(ann["id"]), packed, (*row, (width, height), file_name)))
                done += 1
                if progress and (done % step == 0 or done == total):
                    progress(done, total)
    if not kept:
        counts = ", ".join(f"{k} {v}" for k, v in rejected.items() if v) or "none"
        raise ConfigError(
            f"no COCO instance passes the filters: {path} has {len(data['annotations'])} annotations; rejected by "
            f"{counts}; expected at least one (check {CATEGORIES_KEY} and synthesis.coco.filters "
            f"{f.model_dump_json()})"
        )
    kept.sort(key=operator.itemgetter(0))
    columns = zip(*(values for _, _, values in kept), strict=True)
    arrays: dict[str, Any] = {
        k: np.asarray(col, dtype=dtype) for (k, dtype), col in zip(COLUMNS.items(), columns, strict=True)
    }
    info = {
        "format_version": POOL_FORMAT_VERSION,
        "annotation_path": str(path.resolve()),
        "categories": {str(k): v for k, v in cats.items()},
        "filters": f.model_dump(mode="json"),
        "rejections": rejected,
        "malformed_example": example,
        "instances": len(kept),
    }
    write_pool(out, [packed for _, packed, _ in kept], arrays, info)
