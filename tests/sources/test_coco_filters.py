"""The "whole objects" filters of the COCO pool: truncation margin, main component, occluded outline."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from oodforge.config.schema import CocoFilters
from oodforge.errors import ConfigError
from oodforge.sources import _coco_filters
from oodforge.sources._coco_filters import (
    REJECTION_REASONS,
    TOUCH_PX,
    main_component_fraction,
    occluded_outline_fraction,
    outline,
)
from oodforge.sources.coco_pool import CocoPool, load_or_build_pool

W, H = 120, 100
CATS = {1: "person", 18: "dog", 62: "chair"}
ALLOWED = ["chair", "dog"]
# the old filters out of the way; the three new ones at their defaults
LOOSE = CocoFilters(min_area_px=50, area_ratio=(0.0, 1.0), aspect_ratio=(0.05, 20.0), min_solidity=0.0)
SQUARE_OUTLINE = 4 * 40 - 4  # outline pixels of the 40 x 40 dog square below


def blank() -> np.ndarray:
    return np.zeros((H, W), np.uint8)


def square() -> np.ndarray:
    """The candidate: a 40 x 40 dog, rows and columns 30..69."""
    m = blank()
    m[30:70, 30:70] = 1
    return m


def right_of_square(rows: int, cols: tuple[int, int] = (71, 76)) -> np.ndarray:
    """Another instance right of the square, one empty column (70) between: distance 2 from column 69."""
    m = blank()
    m[30 : 30 + rows, cols[0] : cols[1]] = 1
    return m


def ell() -> np.ndarray:
    """An L around the square's right and bottom sides (empty gap of 1 px): touches 51 of its 156 outline pixels."""
    m = right_of_square(40)
    m[71:76, 60:76] = 1  # bottom row of the square, columns 58..68 are within 2 px
    return m


def ann(ann_id: int, image_id: int, cat: int, mask: np.ndarray, iscrowd: int = 0) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask))
    seg = {"counts": rle["counts"].decode("ascii"), "size": [H, W]}
    area, bbox = float(mask_utils.area(rle)), [float(v) for v in mask_utils.toBbox(rle)]
    if not mask.any():
        area, bbox = 400.0, [40.0, 40.0, 20.0, 20.0]
    return {"id": ann_id, "image_id": image_id, "category_id": cat, "segmentation": seg, "area": area,
            "bbox": bbox, "iscrowd": iscrowd}  # fmt: skip


def write_coco(tmp_path: Path, anns: list[dict[str, Any]]) -> Path:
    """COCO JSON (one W x H image per image id used) and the images themselves, written with cv2."""
    ids = sorted({a["image_id"] for a in anns})
    root = tmp_path / "train2017"
    root.mkdir(exist_ok=True)
    for i in ids:
        cv2.imwrite(str(root / f"{i:012d}.png"), np.full((H, W, 3), i % 256, np.uint8))
    data = {
        "images": [{"id": i, "file_name": f"{i:012d}.png", "width": W, "height": H} for i in ids],
        "annotations": anns,
        "categories": [{"id": k, "name": n, "supercategory": "x"} for k, n in CATS.items()],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path


def build(path: Path, tmp_path: Path, **changes: Any) -> CocoPool:
    return load_or_build_pool(path, ALLOWED, LOOSE.model_copy(update=changes), tmp_path / "cache")


def reference_fraction(mask: np.ndarray, others: np.ndarray) -> float:
    """Brute force: outline = mask pixels with a 4-neighbour outside; touched = an other pixel within TOUCH_PX."""
    m = np.pad(mask.astype(bool), 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    edge = mask.astype(bool) & ~inner
    o = np.pad(others.astype(bool), TOUCH_PX)
    touched = 0
    for y, x in zip(*np.nonzero(edge), strict=True):
        touched += bool(o[y : y + 2 * TOUCH_PX + 1, x : x + 2 * TOUCH_PX + 1].any())
    return touched / max(int(edge.sum()), 1)


def test_outline_definition() -> None:
    m = np.zeros((7, 7), bool)
    m[2:5, 2:5] = True
    expected = m.copy()
    expected[3, 3] = False  # the only pixel whose 4 neighbours are all inside
    np.testing.assert_array_equal(outline(m), expected)
    full = np.ones((3, 4), bool)  # outside the array counts as outside
    np.testing.assert_array_equal(outline(full), [[1, 1, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1]])
    assert outline(square()).sum() == SQUARE_OUTLINE


@pytest.mark.parametrize(("rows", "touched"), [(6, 8), (13, 15), (14, 16), (40, 40)])
def test_fraction_counts_outline_pixels_within_two_px(rows: int, touched: int) -> None:
    # rows r of the other face rows 30..30+r-1 of column 69; rows up to 2 further are within 2 px too
    frac = occluded_outline_fraction(square(), right_of_square(rows))
    assert frac == touched / SQUARE_OUTLINE
    assert frac == reference_fraction(square(), right_of_square(rows))
    assert occluded_outline_fraction(square(), right_of_square(rows, (72, 76))) == 0.0  # 3 px away: not touching
    assert occluded_outline_fraction(square(), ell()) == 51 / SQUARE_OUTLINE


def test_fraction_matches_brute_force_on_random_blobs() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        mask = cv2.GaussianBlur(rng.random((40, 50)), (0, 0), 3) > 0.5
        others = (cv2.GaussianBlur(rng.random((40, 50)), (0, 0), 2) > 0.55) & ~mask
        assert occluded_outline_fraction(mask, others) == pytest.approx(reference_fraction(mask, others))
    assert occluded_outline_fraction(np.zeros((5, 5), bool), np.ones((5, 5), bool)) == 0.0


@pytest.mark.parametrize(
    "other",
    [
        lambda: ann(2, 1, 1, ell()),  # a person: not an allowed category
        lambda: ann(2, 1, 18, ell(), iscrowd=1),  # a crowd of dogs
        lambda: ann(2, 1, 62, ell() | right_of_square(40, (71, W))),  # a chair rejected as truncated
    ],
)
def test_instance_touching_another_over_30_percent_is_rejected(tmp_path: Path, other: Any) -> None:
    path = write_coco(tmp_path, [ann(1, 1, 18, square()), other()])
    with pytest.raises(ConfigError, match="occluded_outline 1"):
        build(path, tmp_path)
    assert build(path, tmp_path, max_occluded_outline=51 / SQUARE_OUTLINE).ann_ids.tolist() == [1]  # not more than
    with pytest.raises(ConfigError, match="occluded_outline 1"):
        build(path, tmp_path, max_occluded_outline=50 / SQUARE_OUTLINE)
    assert build(path, tmp_path, max_occluded_outline=1.0).ann_ids.tolist() == [1]  # the filter off


@pytest.mark.parametrize(("rows", "kept"), [(6, True), (13, True), (14, False)])  # 5.1 %, 9.6 %, 10.3 %
def test_default_threshold_ten_percent(tmp_path: Path, rows: int, kept: bool) -> None:
    path = write_coco(tmp_path, [ann(1, 1, 18, square()), ann(2, 1, 1, right_of_square(rows))])
    if kept:
        pool = build(path, tmp_path)
        assert pool.ann_ids.tolist() == [1]
        assert pool.rejections["occluded_outline"] == 0
        assert pool.rejections["category"] == 1
        assert pool.rgb_crop(0, tmp_path / "train2017").shape == (40, 40, 3)
    else:
        with pytest.raises(ConfigError, match="occluded_outline 1"):
            build(path, tmp_path)


def test_two_touching_dogs_judge_each_other(tmp_path: Path) -> None:
    other = right_of_square(6, (71, 91))  # 20 x 6: its left column (6 of 48 outline pixels) touches the square
    path = write_coco(tmp_path, [ann(1, 1, 18, square()), ann(2, 1, 18, other)])
    pool = build(path, tmp_path)
    assert pool.ann_ids.tolist() == [1]  # 8 / 156 = 5 % of the square, 6 / 48 = 12.5 % of the small dog
    assert pool.rejections["occluded_outline"] == 1


@pytest.mark.parametrize("side", ["left", "top", "right", "bottom"])
def test_truncation_margin(tmp_path: Path, side: str) -> None:
    m = blank()
    box = {"left": (3, 30), "top": (30, 3), "right": (W - 43, 30), "bottom": (30, H - 43)}[side]
    m[box[1] : box[1] + 40, box[0] : box[0] + 40] = 1  # 3 px between the mask and the image border
    path = write_coco(tmp_path, [ann(1, 1, 18, m), ann(2, 2, 18, square())])
    pool = build(path, tmp_path)  # default margin 4
    assert pool.ann_ids.tolist() == [2]
    assert pool.rejections["truncated"] == 1
    assert build(path, tmp_path, truncation_margin_px=2).ann_ids.tolist() == [1, 2]
    assert build(path, tmp_path, truncation_margin_px=3).ann_ids.tolist() == [2]  # within 3 px counts
    assert build(path, tmp_path, exclude_truncated=False).ann_ids.tolist() == [1, 2]


def two_pieces(big: int, small: int) -> np.ndarray:
    m = blank()
    m[20:30, 10 : 10 + big // 10] = 1
    m[40:50, 10 : 10 + small // 10] = 1  # 10 empty rows between: two 8-connected components
    return m


@pytest.mark.parametrize(("big", "small", "kept"), [(900, 100, False), (970, 30, True), (940, 60, False)])
def test_main_component(tmp_path: Path, big: int, small: int, kept: bool) -> None:
    mask = two_pieces(big, small)
    assert main_component_fraction(mask) == big / (big + small)
    path = write_coco(tmp_path, [ann(1, 1, 18, mask), ann(2, 2, 62, square())])
    pool = build(path, tmp_path)
    assert pool.ann_ids.tolist() == ([1, 2] if kept else [2])
    assert pool.rejections["main_component"] == int(not kept)
    assert build(path, tmp_path, min_main_component=big / (big + small)).ann_ids.tolist() == [1, 2]  # not less


def test_main_component_is_8_connected(tmp_path: Path) -> None:
    m = blank()
    m[20:40, 20:40] = 1
    m[40:60, 40:60] = 1  # touches the first square at one corner only
    assert main_component_fraction(m) == 1.0
    assert main_component_fraction(np.zeros((4, 4), bool)) == 0.0
    path = write_coco(tmp_path, [ann(1, 1, 18, m)])
    assert build(path, tmp_path, min_main_component=1.0).ann_ids.tolist() == [1]


def test_rejection_counts_in_info_json(tmp_path: Path) -> None:
    ring = cv2.circle(blank(), (60, 50), 30, 1, 1)
    small = blank()
    small[5:10, 100:105] = 1
    flat = blank()
    flat[40:43, 10:110] = 1
    trunc = blank()
    trunc[10:50, 0:40] = 1
    anns = [
        ann(1, 1, 18, square()), ann(2, 1, 1, ell()),  # occluded dog; person (category)
        ann(3, 2, 62, square()), ann(4, 2, 18, small),  # kept chair; small dog far away (min_area_px)
        ann(5, 3, 18, square(), iscrowd=1), ann(6, 3, 1, trunc),  # crowd; person (category)
        ann(7, 4, 18, trunc), ann(8, 4, 18, flat, iscrowd=0),  # truncated (x = 0); aspect 100 / 3
        ann(9, 5, 18, two_pieces(900, 100)), ann(10, 6, 62, ring), ann(11, 7, 18, blank()),  # pieces; ring; empty
        ann(12, 8, 18, square()),  # kept dog
    ]  # fmt: skip
    path = write_coco(tmp_path, anns)
    pool = build(path, tmp_path, aspect_ratio=(0.2, 5.0), min_solidity=0.2)
    assert pool.ann_ids.tolist() == [3, 12]
    expected = dict.fromkeys(REJECTION_REASONS, 0) | {
        "category": 2, "crowd": 1, "truncated": 1, "min_area_px": 1, "aspect_ratio": 1, "empty_mask": 1,
        "main_component": 1, "min_solidity": 1, "occluded_outline": 1,
    }  # fmt: skip
    info = json.loads((pool.path / "info.json").read_text())
    assert list(info["rejections"].items()) == list(expected.items())  # every reason, in filter order
    assert info["instances"] == 2
    assert info["filters"]["max_occluded_outline"] == 0.10
    assert pool.rejections == expected
    assert sum(expected.values()) + len(pool) == len(anns)
    assert pool.summary().endswith(
        "rejected: malformed 0, category 2, crowd 1, truncated 1, min_area_px 1, area_ratio 0, aspect_ratio 1, empty_mask 1, "
        "main_component 1, min_solidity 1, occluded_outline 1"
    )
    assert pool.summary().startswith("COCO pool: 2 instances of 2 categories (2 allowed); ")


def test_each_mask_decoded_once_and_far_ones_never(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    left, right, far = blank(), blank(), blank()
    left[30:70, 10:40] = 1
    right[30:70, 42:72] = 1  # 3 px from `left`: not touching; both touch one person below (1 empty row)
    person = blank()
    person[71:80, 10:72] = 1
    far[5:15, 100:115] = 1
    anns = [ann(1, 1, 18, left), ann(2, 1, 18, right), ann(3, 1, 1, person), ann(4, 1, 1, far)]
    path = write_coco(tmp_path, anns)
    calls: Counter[int] = Counter()
    real = _coco_filters.decode

    def counting(a: dict[str, Any], *args: Any) -> np.ndarray:
        calls[int(a["id"])] += 1
        return real(a, *args)

    monkeypatch.setattr(_coco_filters, "decode", counting)
    with pytest.raises(ConfigError, match="occluded_outline 2"):  # 30 of 136 outline pixels each
        build(path, tmp_path)
    assert calls == Counter({1: 1, 2: 1, 3: 1})  # the far person's mask is never decoded


def test_malformed_neighbour_is_skipped_and_counted(tmp_path: Path) -> None:
    bad = ann(2, 1, 1, ell())  # would occlude the dog, but its bbox cannot be read
    bad["bbox"] = [1.0, 2.0, 3.0]
    path = write_coco(tmp_path, [ann(1, 1, 18, square()), bad])
    pool = build(path, tmp_path)
    assert pool.ann_ids.tolist() == [1]
    assert pool.rejections["malformed"] == 1
    assert pool.rejections["category"] == 0  # counted once, under the first reason
    assert pool.malformed_example == "annotation 2: 'bbox' is [1.0, 2.0, 3.0]; expected [x, y, w, h] (4 finite numbers)"
