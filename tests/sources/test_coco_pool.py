"""COCO instance pool: masks equal COCO.annToMask, filters, on-disk cache, pickling, errors."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from oodforge.config.schema import CocoFilters
from oodforge.errors import ConfigError, InputFileError, SampleError
from oodforge.sources import _pool_build, coco_pool
from oodforge.sources._coco_filters import cheap_reject
from oodforge.sources.coco_pool import REJECTION_REASONS, CocoPool, load_or_build_pool, pool_cache_key

# image id -> (file name, width, height)
IMAGES = {
    1: ("000000000001.jpg", 120, 100), 2: ("000000000002.jpg", 90, 110), 3: ("000000000003.jpg", 100, 100),
    4: ("000000000004.jpg", 100, 100),
}  # fmt: skip
CATS = {1: "person", 17: "cat", 18: "dog", 62: "chair", 63: "couch"}
ALLOWED = ["dog", "cat", "chair", "couch"]
FILTERS = CocoFilters(
    exclude_crowd=True, exclude_truncated=True, min_area_px=50, area_ratio=(0.001, 0.5),
    aspect_ratio=(0.3, 3.0), min_solidity=0.2,
)  # fmt: skip
KEPT = {10, 11, 12}  # polygon dog, compressed-RLE cat, uncompressed-RLE chair


def canvas(image_id: int) -> np.ndarray:
    _, w, h = IMAGES[image_id]
    return np.zeros((h, w), np.uint8)


def uncompressed(m: np.ndarray) -> dict[str, Any]:
    flat = m.flatten(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0, *counts]
    return {"counts": counts, "size": list(m.shape)}


def compressed(m: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(m))
    return {"counts": rle["counts"].decode("ascii"), "size": list(rle["size"])}


def make_ann(ann_id: int, image_id: int, cat: int, seg: Any, iscrowd: int = 0) -> dict[str, Any]:
    _, w, h = IMAGES[image_id]
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) if seg else None
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = seg
    area = float(mask_utils.area(rle)) if rle else 400.0
    bbox = [float(v) for v in mask_utils.toBbox(rle)] if rle else [40.0, 40.0, 20.0, 20.0]
    return {"id": ann_id, "image_id": image_id, "category_id": cat, "segmentation": seg, "area": area,
            "bbox": bbox, "iscrowd": iscrowd}  # fmt: skip


def sample_annotations() -> list[dict[str, Any]]:
    ellipse = cv2.ellipse(canvas(2), (45, 55), (20, 25), 0, 0, 360, 1, -1)
    tee = canvas(3)
    tee[20:31, 20:81] = 1
    tee[30:71, 45:56] = 1
    crowd = canvas(1)
    crowd[70:86, 80:101] = 1
    trunc = canvas(3)
    trunc[75:91, 0:21] = 1
    ring = cv2.circle(canvas(4), (50, 50), 35, 1, 1)
    wide = canvas(2)
    wide[90:96, 10:71] = 1
    return [
        make_ann(18, 2, 18, compressed(wide)),  # aspect 61/6 > 3
        make_ann(10, 1, 18, [[30, 30, 70, 30, 70, 60, 30, 60]]),
        make_ann(11, 2, 17, compressed(ellipse)),
        make_ann(12, 3, 62, uncompressed(tee)),
        make_ann(13, 1, 18, uncompressed(crowd), iscrowd=1),
        make_ann(14, 3, 18, uncompressed(trunc)),  # touches x = 0
        make_ann(15, 2, 1, [[5, 5, 20, 5, 20, 20, 5, 20]]),  # person: not allowed (15 px from the cat)
        make_ann(16, 1, 18, [[90, 20, 95, 20, 95, 25, 90, 25]]),  # area < 50
        make_ann(17, 4, 17, compressed(ring)),  # thin ring: low solidity
        make_ann(19, 1, 18, []),  # empty segmentation
    ]


@pytest.fixture
def coco(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    images_root = tmp_path / "train2017"
    images_root.mkdir()
    for file_name, w, h in IMAGES.values():
        cv2.imwrite(str(images_root / file_name.replace(".jpg", ".png")), rng.integers(0, 255, (h, w, 3), np.uint8))
        (images_root / file_name.replace(".jpg", ".png")).rename(images_root / file_name)
    data = {
        "images": [{"id": k, "file_name": f, "width": w, "height": h} for k, (f, w, h) in IMAGES.items()],
        "annotations": sample_annotations(),
        "categories": [{"id": k, "name": n, "supercategory": "x"} for k, n in CATS.items()],
    }
    path = tmp_path / "annotations" / "instances.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    return path, images_root


def build(path: Path, tmp: Path, filters: CocoFilters = FILTERS, allowed: list[str] = ALLOWED, **kw: Any) -> CocoPool:
    return load_or_build_pool(path, allowed, filters, tmp / "cache", **kw)


def one_line(exc: BaseException) -> str:
    assert "\n" not in str(exc)
    return str(exc)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs NumPy 2, in annToMask
def test_pool_matches_ann_to_mask(coco: tuple[Path, Path], tmp_path: Path) -> None:
    path, _ = coco
    pool = build(path, tmp_path)
    ref = COCO(str(path))
    assert len(pool) == 3
    assert pool.ann_ids.tolist() == sorted(KEPT)
    assert pool.ann_ids.dtype == np.int64
    assert pool.image_ids.dtype == np.int64
    assert pool.category_ids.dtype == np.int32
    assert pool.bboxes.dtype == np.int32
    assert pool.bboxes.shape == (3, 4)
    assert pool.mask_areas.dtype == np.int64
    for i, ann_id in enumerate(pool.ann_ids.tolist()):
        ann = ref.anns[ann_id]
        full = ref.annToMask(ann).astype(bool)
        ys, xs = np.flatnonzero(full.any(1)), np.flatnonzero(full.any(0))
        x, y, w, h = pool.bboxes[i].tolist()
        assert (x, y, w, h) == (xs[0], ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1)
        m = pool.mask(i)
        assert m.dtype == np.bool_
        np.testing.assert_array_equal(m, full[y : y + h, x : x + w])
        assert pool.mask_areas[i] == full.sum()
        assert pool.ann_areas[i] == ann["area"]
        assert pool.image_ids[i] == ann["image_id"]
        assert pool.file_name(i) == ref.imgs[ann["image_id"]]["file_name"]
        assert pool.category(i) == CATS[ann["category_id"]]


def test_rgb_crop(coco: tuple[Path, Path], tmp_path: Path) -> None:
    path, images_root = coco
    pool = build(path, tmp_path)
    for i in range(len(pool)):
        x, y, w, h = pool.bboxes[i].tolist()
        bgr = cv2.imread(str(images_root / pool.file_name(i)))
        assert bgr is not None
        crop = pool.rgb_crop(i, images_root)
        assert crop.shape == (h, w, 3)
        assert crop.dtype == np.uint8
        np.testing.assert_array_equal(crop, bgr[y : y + h, x : x + w, ::-1])
    (images_root / pool.file_name(0)).write_bytes(b"garbage")
    with pytest.raises(SampleError, match=pool.file_name(0)):
        pool.rgb_crop(0, images_root)
    with pytest.raises(IndexError):
        pool.mask(len(pool))


def test_categories(coco: tuple[Path, Path], tmp_path: Path) -> None:
    pool = build(coco[0], tmp_path)
    by_cat = pool.indices_by_category()
    assert list(by_cat) == ["cat", "chair", "dog"]  # sorted; couch has no instance
    assert {k: v.tolist() for k, v in by_cat.items()} == {"cat": [1], "chair": [2], "dog": [0]}
    assert all(v.dtype == np.int64 for v in by_cat.values())
    assert pool.category_histogram() == {"cat": 1, "chair": 1, "couch": 0, "dog": 1}
    assert pool.category_names == {17: "cat", 18: "dog", 62: "chair", 63: "couch"}
    assert pool.rejections == {
        "malformed": 0, "category": 1, "crowd": 1, "truncated": 1, "min_area_px": 1, "area_ratio": 0, "aspect_ratio": 1,
        "empty_mask": 1, "main_component": 0, "min_solidity": 1, "occluded_outline": 0,
    }  # fmt: skip
    assert list(pool.rejections) == list(REJECTION_REASONS)  # every reason, in filter order
    assert pool.summary() == (
        "COCO pool: 3 instances of 3 categories (4 allowed); rejected: malformed 0, category 1, crowd 1, truncated 1, "
        "min_area_px 1, area_ratio 0, aspect_ratio 1, empty_mask 1, main_component 0, min_solidity 1, "
        "occluded_outline 0"
    )


@pytest.mark.parametrize(
    ("change", "added"),
    [
        ({"exclude_crowd": False}, {13}),
        ({"exclude_truncated": False}, {14}),
        ({"min_area_px": 0}, {16}),
        ({"min_solidity": 0.0}, {17}),
        ({"aspect_ratio": (0.1, 20.0)}, {18}),
    ],
)
def test_each_filter_excludes_exactly_its_instances(
    coco: tuple[Path, Path], tmp_path: Path, change: dict[str, Any], added: set[int]
) -> None:
    pool = build(coco[0], tmp_path, FILTERS.model_copy(update=change))
    assert set(pool.ann_ids.tolist()) == KEPT | added


def test_area_ratio_and_allow_list(coco: tuple[Path, Path], tmp_path: Path) -> None:
    path = coco[0]
    anns = {a["id"]: a for a in json.loads(path.read_text())["annotations"]}
    ratio = {k: anns[k]["area"] / (IMAGES[anns[k]["image_id"]][1] * IMAGES[anns[k]["image_id"]][2]) for k in KEPT}
    hi = (ratio[11] + max(ratio[10], ratio[12])) / 2
    assert ratio[11] > hi > max(ratio[10], ratio[12])
    pool = build(path, tmp_path, FILTERS.model_copy(update={"area_ratio": (0.001, hi)}))
    assert set(pool.ann_ids.tolist()) == {10, 12}
    pool = build(path, tmp_path, allowed=[*ALLOWED, "person"])
    assert set(pool.ann_ids.tolist()) == KEPT | {15}
    assert build(path, tmp_path, allowed=["cat"]).ann_ids.tolist() == [11]


@pytest.mark.parametrize(
    ("bbox", "margin", "truncated"),
    [((1, 5, 10, 10), 1, True), ((2, 5, 10, 10), 1, False), ((2, 1, 10, 10), 1, True), ((88, 5, 10, 10), 1, False),
     ((89, 5, 10, 10), 1, True), ((5, 5, 10, 93), 1, False), ((5, 5, 10, 94), 1, True),
     ((1.68, 5, 10, 10), 1, False), ((1.68, 5, 10, 10), 4, True), ((4, 5, 10, 10), 4, True),
     ((4.01, 5, 10, 10), 4, False), ((50, 50, 46, 10), 4, True), ((50, 50, 45.99, 10), 4, False),
     ((0, 5, 10, 10), 0, True), ((0.5, 5, 10, 10), 0, False)],
)  # fmt: skip
def test_truncation_border(bbox: tuple[float, float, float, float], margin: float, truncated: bool) -> None:
    ann = {"bbox": list(bbox), "area": 100.0, "iscrowd": 0}
    f = CocoFilters(min_area_px=0, area_ratio=(0, 1), aspect_ratio=(0.01, 100), truncation_margin_px=margin)
    assert (cheap_reject(ann, 100, 100, f) == "truncated") is truncated
    assert cheap_reject(ann, 100, 100, f.model_copy(update={"exclude_truncated": False})) is None


def test_cache_reused_and_keyed(coco: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = coco[0]
    calls: list[tuple[int, int]] = []
    first = build(path, tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 5)  # 3 kept + ring + empty reach the decoding stage
    assert calls[-1] == (5, 5)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    pools = tmp_path / "cache" / "coco_pools"
    before = {p.name: p.stat().st_mtime_ns for p in first.path.iterdir()}

    def boom(p: Path) -> None:
        raise AssertionError("the JSON was parsed again")

    monkeypatch.setattr(_pool_build, "read_coco_json", boom)
    again = build(path, tmp_path, allowed=list(reversed(ALLOWED)))  # order of categories is irrelevant
    assert again.path == first.path
    assert {p.name: p.stat().st_mtime_ns for p in again.path.iterdir()} == before
    np.testing.assert_array_equal(again.ann_ids, first.ann_ids)
    with pytest.raises(AssertionError, match="parsed again"):
        build(path, tmp_path, FILTERS.model_copy(update={"min_solidity": 0.3}))
    monkeypatch.undo()
    other = build(path, tmp_path, FILTERS.model_copy(update={"min_solidity": 0.3}))
    assert other.path != first.path
    assert sorted(p.name for p in pools.iterdir()) == sorted([first.path.name, other.path.name])
    os.utime(path, ns=(1, 1))
    assert pool_cache_key(path, ALLOWED, FILTERS) != first.path.name


def test_default_cache_dir_from_env(coco: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OODFORGE_CACHE_DIR", str(tmp_path / "envcache"))
    pool = load_or_build_pool(coco[0], ALLOWED, FILTERS, None)
    assert pool.path.parent == tmp_path / "envcache" / "coco_pools"


def test_lost_race_uses_winner(coco: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_build = coco_pool._build

    def racing_build(path: Path, allowed: Any, f: CocoFilters, out: Path, progress: Any) -> None:
        real_build(path, allowed, f, out, progress)
        shutil.copytree(out, out.parent / pool_cache_key(path, allowed, f))  # another process finished first

    monkeypatch.setattr(coco_pool, "_build", racing_build)
    pool = build(coco[0], tmp_path)
    assert len(pool) == 3
    assert [p.name for p in pool.path.parent.iterdir()] == [pool.path.name]  # temp dir cleaned


def test_pickle_round_trip(coco: tuple[Path, Path], tmp_path: Path) -> None:
    pool = build(coco[0], tmp_path)
    blob = pickle.dumps(pool)
    assert len(blob) < 1000  # the path, not the arrays
    back = pickle.loads(blob)
    assert back.path == pool.path
    np.testing.assert_array_equal(back.bboxes, pool.bboxes)
    for i in range(len(pool)):
        np.testing.assert_array_equal(back.mask(i), pool.mask(i))
    assert len(pickle.dumps(back)) == len(blob)  # opened masks are not pickled either


def test_unknown_category_suggests(coco: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build(coco[0], tmp_path, allowed=["dgo", "cat"])
    msg = one_line(info.value)
    assert "synthesis.coco.allowed_categories" in msg
    assert "'dgo'" in msg
    assert "'dog'" in msg


def test_empty_pool(coco: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no COCO instance passes the filters") as info:
        build(coco[0], tmp_path, FILTERS.model_copy(update={"min_area_px": 1e6}))
    assert "min_area_px 7" in one_line(info.value)
    assert not list((tmp_path / "cache" / "coco_pools").iterdir())  # no half-built cache left


def test_input_file_errors(coco: tuple[Path, Path], tmp_path: Path) -> None:
    path = coco[0]
    good = json.loads(path.read_text())
    with pytest.raises(InputFileError, match="not found"):
        build(tmp_path / "nope.json", tmp_path)
    cases: list[tuple[str, str]] = [
        (path.read_text()[:50], "not valid JSON"),
        (json.dumps([1]), "top level is list"),
        (json.dumps({k: v for k, v in good.items() if k != "annotations"}), "missing key 'annotations'"),
        (json.dumps({**good, "annotations": [{"id": 1}]}), "none of its 1 annotations is readable.*'image_id'"),
    ]  # a malformed annotation among good ones is only skipped: see test_coco_malformed.py
    bad_size = dict(good["annotations"][1], segmentation={"counts": [12000], "size": [5, 5]})
    cases.append((json.dumps({**good, "annotations": [bad_size]}), "RLE size"))
    for i, (text, pattern) in enumerate(cases):
        bad = tmp_path / f"bad{i}.json"
        bad.write_text(text)
        with pytest.raises(InputFileError, match=pattern) as info:
            build(bad, tmp_path)
        assert str(bad) in one_line(info.value)
