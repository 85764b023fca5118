"""Malformed COCO annotations are skipped and counted (``malformed``), never a traceback or a lost build."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from oodforge.config.schema import CocoFilters
from oodforge.errors import InputFileError
from oodforge.sources import _coco_filters
from oodforge.sources._coco_check import annotation_problem, rle_string_counts
from oodforge.sources.coco_pool import REJECTION_REASONS, CocoPool, load_or_build_pool

W, H = 120, 100
LOOSE = CocoFilters(min_area_px=50, area_ratio=(0.0, 1.0), aspect_ratio=(0.05, 20.0), min_solidity=0.0)
IMAGES = {1: ("000000000001.png", W, H)}


def polygon_ann(ann_id: int, x: int, cat: int = 18) -> dict[str, Any]:
    """A 20 x 20 square polygon at column ``x``, row 40 (far enough from the others not to touch)."""
    poly = [x, 40, x + 20, 40, x + 20, 60, x, 60]
    return {"id": ann_id, "image_id": 1, "category_id": cat, "segmentation": [poly], "area": 400.0,
            "bbox": [float(x), 40.0, 20.0, 20.0], "iscrowd": 0}  # fmt: skip


def write(tmp_path: Path, anns: list[Any], **extra: Any) -> Path:
    data = {
        "images": [{"id": 1, "file_name": IMAGES[1][0], "width": W, "height": H}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
        **extra,
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))  # NaN is written as the bare token NaN, which json.load reads back
    return path


def build(path: Path, tmp_path: Path) -> CocoPool:
    return load_or_build_pool(path, ["dog"], LOOSE, tmp_path / "cache")


@pytest.fixture(autouse=True)
def _no_unchecked_polygon(monkeypatch: pytest.MonkeyPatch) -> None:
    """pycocotools allocates without bound on NaN or huge coordinates: fail fast should one ever reach it."""
    real = _coco_filters.mask_utils.frPyObjects

    def guarded(obj: Any, h: int, w: int) -> Any:
        if isinstance(obj, list):
            values = [float(v) for poly in obj for v in poly]
            assert all(math.isfinite(v) and abs(v) < 10 * max(h, w) for v in values), "unchecked polygon decoded"
        return real(obj, h, w)

    monkeypatch.setattr(_coco_filters.mask_utils, "frPyObjects", guarded)


def rle(counts: Any, size: Any = (H, W)) -> dict[str, Any]:
    return {"counts": counts, "size": list(size)}


MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("bbox text", {"bbox": "10 40 20 20"}, "'bbox' is '10 40 20 20'; expected [x, y, w, h] (4 finite numbers)"),
    ("bbox short", {"bbox": [10.0, 40.0, 20.0]}, "'bbox' is [10.0, 40.0, 20.0]; expected [x, y, w, h]"),
    ("bbox null value", {"bbox": [10.0, 40.0, None, 20.0]}, "'bbox' is [10.0, 40.0, None, 20.0]"),
    ("bbox nan", {"bbox": [10.0, float("nan"), 20.0, 20.0]}, "'bbox' is [10.0, nan, 20.0, 20.0]"),
    ("area null", {"area": None}, "'area' is None; expected a finite number"),
    ("area text", {"area": "400"}, "'area' is '400'; expected a finite number"),
    ("area beyond float", {"area": 10**400}, "'area' is 1000000000"),
    ("bbox beyond float", {"bbox": [10, 40, 10**400, 20]}, "'bbox' is [10, 40, 1000000000"),
    ("odd polygon", {"segmentation": [[60, 40, 80, 40, 80, 60, 60]]}, "polygon 0 has 7 values; expected an even"),
    ("4-value polygon", {"segmentation": [[60, 40, 80, 60]]}, "polygon 0 has 4 values; expected an even number"),
    ("empty polygon", {"segmentation": [[]]}, "polygon 0 has 0 values"),
    ("flat polygon", {"segmentation": [60, 40, 80, 40, 80, 60]}, "polygon 0 is 60; expected a list of x, y"),
    ("null in polygon", {"segmentation": [[60, 40, 80, None, 80, 60]]}, "polygon 0 holds None; expected finite"),
    ("nan in polygon", {"segmentation": [[60, 40, 80, float("nan"), 80, 60]]}, "polygon 0 holds nan"),
    ("text in polygon", {"segmentation": [[60, 40, 80, "40", 80, 60]]}, "polygon 0 holds '40'"),
    ("huge coordinate", {"segmentation": [[60, 40, 8e9, 40, 80, 60]]}, "holds the coordinate 8000000000.0"),
    ("segmentation number", {"segmentation": 5}, "'segmentation' is 5; expected polygons (a list of lists) or RLE"),
    ("segmentation text", {"segmentation": "abc"}, "'segmentation' is 'abc'"),
    ("rle without size", {"segmentation": {"counts": [W * H]}}, "RLE size is None; expected [100, 120]"),
    ("rle wrong size", {"segmentation": rle([25], (5, 5))}, "RLE size is [5, 5]; expected [100, 120]"),
    ("rle negative count", {"segmentation": rle([-5, W * H + 5])}, "RLE counts is [-5, 12005]; expected non-neg"),
    ("rle short counts", {"segmentation": rle([100, 50])}, "RLE counts sum to 150; expected 12000 (h * w)"),
    ("rle text counts", {"segmentation": rle(["a"])}, "RLE counts is ['a']"),
    ("rle null counts", {"segmentation": rle(None)}, "RLE counts is None"),
    ("rle bad string", {"segmentation": rle("zz~~")}, "RLE counts 'zz~~' is not a valid compressed COCO RLE"),
    ("rle unfinished string", {"segmentation": rle("0k")}, "is not a valid compressed COCO RLE string"),
    ("category text", {"category_id": "dog"}, "'category_id' is 'dog'; expected an integer"),
    ("unknown image", {"image_id": 99}, "'image_id' is 99; expected the id of an entry of 'images'"),
    ("no area", {"area": "drop"}, "lacks key 'area'"),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_annotation_is_skipped_and_counted(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    bad = polygon_ann(7, 60) | change
    if bad.get("area") == "drop":
        del bad["area"]
    path = write(tmp_path, [polygon_ann(5, 20), bad, polygon_ann(9, 60, cat=1)])
    pool = build(path, tmp_path)
    assert pool.ann_ids.tolist() == [5]
    assert pool.rejections["malformed"] == 1
    assert pool.rejections["category"] == 1
    assert pool.malformed_example is not None
    assert pool.malformed_example.startswith("annotation 7: ")
    assert message in pool.malformed_example
    info = json.loads((pool.path / "info.json").read_text())
    assert info["rejections"]["malformed"] == 1
    assert info["malformed_example"] == pool.malformed_example
    summary = pool.summary()
    assert "\n" not in summary
    assert summary.endswith(f"; skipped 1 malformed annotation(s), the first: {pool.malformed_example}")


def test_malformed_counts_every_one_and_names_the_first(tmp_path: Path) -> None:
    anns: list[Any] = [polygon_ann(5, 20), 42, polygon_ann(8, 60) | {"id": "x8"}, polygon_ann(3, 60) | {"area": None}]
    pool = build(write(tmp_path, anns), tmp_path)
    assert pool.rejections["malformed"] == 3
    assert list(pool.rejections) == list(REJECTION_REASONS)
    assert REJECTION_REASONS[0] == "malformed"
    assert pool.malformed_example == "annotation #1: is 42; expected an object"  # file order; no id: its position
    assert "skipped 3 malformed annotation(s), the first: annotation #1: is 42" in pool.summary()


def test_no_malformed_no_example(tmp_path: Path) -> None:
    pool = build(write(tmp_path, [polygon_ann(5, 20)]), tmp_path)
    assert pool.malformed_example is None
    assert pool.rejections["malformed"] == 0
    assert "skipped" not in pool.summary()


def test_every_annotation_malformed_is_one_input_file_error(tmp_path: Path) -> None:
    path = write(tmp_path, [polygon_ann(5, 20) | {"bbox": None}, polygon_ann(6, 60) | {"area": None}])
    with pytest.raises(InputFileError) as info:
        build(path, tmp_path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: none of its 2 annotations is readable, the first: annotation 5: 'bbox' is None")


def test_pycocotools_refusal_after_the_checks_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _coco_filters.mask_utils.decode

    def picky(r: Any) -> Any:
        if mask_utils.area(r) == 0:
            raise Exception("input type is not supported.")  # what pycocotools raises
        return real(r)

    monkeypatch.setattr(_coco_filters.mask_utils, "decode", picky)
    off_image = polygon_ann(7, 60) | {"segmentation": [[-50, -50, -40, -50, -40, -40]]}
    pool = build(write(tmp_path, [polygon_ann(5, 20), off_image]), tmp_path)
    assert pool.ann_ids.tolist() == [5]
    assert pool.rejections["malformed"] == 1
    assert pool.rejections["empty_mask"] == 0
    assert pool.malformed_example is not None
    assert pool.malformed_example.startswith("annotation 7: 'segmentation' undecodable (Exception: input type")


def test_compressed_rle_counts_match_pycocotools() -> None:
    rng = np.random.default_rng(7)
    masks = [rng.random((37, 23)) < p for p in (0.0, 0.02, 0.5, 0.98, 1.0)]
    big = np.zeros((480, 640), bool)
    big[100:380, 200:611] = True
    for m in [*masks, big]:
        encoded = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        counts = rle_string_counts(encoded["counts"].decode("ascii"))
        assert counts is not None
        assert sum(counts) == m.size
        flat = m.flatten(order="F")
        starts = np.cumsum([0, *counts])
        for k, (a, b) in enumerate(itertools.pairwise(starts)):
            assert (flat[a:b] == bool(k % 2)).all()
    assert rle_string_counts("") == []
    assert rle_string_counts("0k") is None  # ends inside a count
    assert rle_string_counts("\x7f") is None


def test_valid_segmentations_pass_the_checks() -> None:
    ok = polygon_ann(1, 20)
    assert annotation_problem(ok, IMAGES) is None
    assert annotation_problem(ok | {"segmentation": []}, IMAGES) is None  # empty: rejected later as empty_mask
    full = np.zeros((H, W), np.uint8, order="F")
    full[10:20, 10:30] = 1
    encoded = mask_utils.encode(full)
    assert annotation_problem(ok | {"segmentation": rle(encoded["counts"].decode("ascii"))}, IMAGES) is None
    assert annotation_problem(ok | {"segmentation": rle([1000, 200, W * H - 1200])}, IMAGES) is None
    assert annotation_problem(ok | {"id": 1.0, "area": 3}, IMAGES) is None  # integral float ids, int areas


def test_top_level_malformations_stay_one_input_file_error(tmp_path: Path) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"images": [{"id": 1, "file_name": "a.png", "width": 0, "height": H}]}, "image #0 'width' is 0; expected"),
        ({"images": [{"id": 1, "width": W, "height": H}]}, "image #0 lacks key 'file_name'"),
        ({"images": ["x"]}, "image #0 lacks key 'id' (is 'x')"),
        ({"categories": [{"id": 18}]}, "category #0 lacks key 'name'"),
        ({"categories": [{"id": 18, "name": 5}]}, "category #0 'name' is 5; expected a string"),
        ({"categories": None}, "missing key 'categories' (expected a list)"),
    ]
    for n, (extra, message) in enumerate(cases):
        (tmp_path / str(n)).mkdir()
        path = write(tmp_path / str(n), [polygon_ann(5, 20)], **extra)
        with pytest.raises(InputFileError) as info:
            build(path, tmp_path)
        assert "\n" not in str(info.value)
        assert str(info.value).startswith(f"{path}: not a COCO instances file: ")
        assert message in str(info.value)
