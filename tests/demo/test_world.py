"""The demo world: real Cityscapes/COCO layouts, determinism, valid labels, COCO encodings and filter traps."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from oodforge.demo.camera import Camera
from oodforge.demo.prop_shapes import shape_of
from oodforge.demo.scene_props import Prop, draw_props
from oodforge.demo.scene_texture import shade_ground
from oodforge.demo.world import DemoWorld, write_demo_world
from oodforge.errors import UsageError
from oodforge.sources.cityscapes_labels import LABELS, name2label

ALLOWED = {
    "dog", "cat", "horse", "cow", "sheep", "bear", "zebra", "giraffe", "chair", "couch", "bed", "dining table",
    "microwave", "refrigerator", "toaster", "banana", "apple", "sandwich",
}  # fmt: skip
THING = {name: name2label[name].id for name in ("person", "rider", "car", "bicycle")}
EGO = name2label["ego vehicle"].id
POLE_LIKE = [name2label[n].id for n in ("pole", "polegroup", "traffic light", "traffic sign")]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")
SMALL: dict[str, Any] = {"n_train": 2, "n_val": 3, "n_test": 1, "size": (256, 128), "n_coco_images": 5}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    return write_demo_world(tmp_path_factory.mktemp("demo") / "world")


@pytest.fixture(scope="module")
def coco(world: DemoWorld) -> dict:
    return json.loads((world.coco_root / "annotations" / "instances_train2017.json").read_text())


def _hashes(root: Path) -> dict[str, str]:
    """Hashes of the world's files (the ``.oodforge/`` bookkeeping, lock and file list, left out)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".oodforge" not in p.relative_to(root).parts
    }


def _read(path: Path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    return arr


def _frames(world: DemoWorld, split: str) -> list[tuple[str, str]]:
    return [(stem.split("_")[0], stem) for stem in world.image_ids[split]]


def test_layout(world: DemoWorld) -> None:
    assert world.cityscapes_root == world.root / "cityscapes"
    assert world.coco_root == world.root / "coco"
    assert (world.n_train, world.n_val, world.n_test, world.n_coco_images) == (12, 12, 3, 40)
    cs = world.cityscapes_root
    for split in ("train", "val", "test"):
        frames = _frames(world, split)
        assert len(frames) == getattr(world, f"n_{split}")
        assert 2 <= len({city for city, _ in frames}) <= 3
        for city, stem in frames:
            assert stem.startswith(f"{city}_") and len(stem.split("_")) == 3
            img = _read(cs / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            assert img.shape == (256, 512, 3) and img.dtype == np.uint8
            gt = cs / "gtFine" / split / city
            assert _read(gt / f"{stem}_gtFine_labelIds.png").dtype == np.uint8
            assert _read(gt / f"{stem}_gtFine_instanceIds.png").dtype == np.uint16
            assert _read(gt / f"{stem}_gtFine_color.png").shape == (256, 512, 4)
            cam = cs / "camera" / split / city / f"{stem}_camera.json"
            assert cam.is_file() == (stem not in world.no_camera)
    assert 1 <= len(world.no_camera) <= 2
    assert all(stem in world.image_ids["val"] for stem in world.no_camera)
    assert (world.root / "demo_world.json").is_file()


def test_determinism_idempotence_and_stale_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_demo_world(a, seed=3, **SMALL)
    write_demo_world(b, seed=3, **SMALL)
    first = _hashes(a)
    assert first == _hashes(b)
    write_demo_world(a, seed=3, **SMALL)
    assert _hashes(a) == first
    write_demo_world(a, seed=4, **{**SMALL, "n_train": 1})  # other args: other bytes, no stale frame left
    assert _hashes(a) != first
    assert len(list((a / "cityscapes" / "leftImg8bit" / "train").rglob("*.png"))) == 1
    write_demo_world(a, seed=3, **SMALL)
    assert _hashes(a) == first


def test_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    """Was: the demo's real Cityscapes names (aachen_000000_000019, ...) were written over a user's files."""
    mine = tmp_path / "cityscapes/leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"a real Cityscapes frame")
    with pytest.raises(UsageError, match=r"not empty \(found 'cityscapes'\) and has no list of oodforge's files"):
        write_demo_world(tmp_path, **SMALL)
    assert mine.read_bytes() == b"a real Cityscapes frame"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cityscapes"]


def test_rewrite_removes_only_its_own_stale_files(tmp_path: Path) -> None:
    """Was: a rewrite deleted every file under cityscapes/ and coco/ that the new world did not write."""
    world = write_demo_world(tmp_path / "w", seed=3, **SMALL)
    mine = [world.cityscapes_root / "leftImg8bit/train/mycity/mine_leftImg8bit.png", world.coco_root / "notes.txt"]
    for p in mine:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"mine")
    write_demo_world(tmp_path / "w", seed=3, **{**SMALL, "n_train": 1})
    assert all(p.read_bytes() == b"mine" for p in mine)
    assert len(list((world.cityscapes_root / "leftImg8bit/train").rglob("*_000019_leftImg8bit.png"))) == 1
    listed = json.loads((world.root / ".oodforge/files.json").read_text())["files"]
    assert set(listed) == set(_hashes(world.root)) - {str(p.relative_to(world.root)) for p in mine}
    gone = world.cityscapes_root / "leftImg8bit/train/bochum/bochum_000000_000019_leftImg8bit.png"
    assert not gone.exists()  # the second train frame, removed as stale
    gone.parent.mkdir(parents=True, exist_ok=True)
    gone.write_bytes(b"mine too")  # a user's file where the next world writes: never written over
    with pytest.raises(UsageError, match="exists and oodforge did not write it"):
        write_demo_world(tmp_path / "w", seed=3, **SMALL)
    assert gone.read_bytes() == b"mine too"


def test_labels_valid_and_consistent(world: DemoWorld) -> None:
    valid = {lab.id for lab in LABELS if lab.id >= 0}
    road, sky = name2label["road"].id, name2label["sky"].id
    for split in ("train", "val"):
        for city, stem in _frames(world, split):
            gt = world.cityscapes_root / "gtFine" / split / city
            labels = _read(gt / f"{stem}_gtFine_labelIds.png")
            inst = _read(gt / f"{stem}_gtFine_instanceIds.png").astype(np.int64)
            assert set(np.unique(labels).tolist()) <= valid
            assert {1, 3, sky}.issubset(set(np.unique(labels).tolist()))
            stuff = inst < 1000
            assert np.array_equal(inst[stuff], labels[stuff])
            assert set(np.unique(inst[~stuff] // 1000).tolist()) <= {
                THING[n] for n in ("person", "rider", "car", "bicycle")
            }
            assert np.array_equal(inst[~stuff] // 1000, labels[~stuff])
            assert (stem in world.no_road) == (not (labels == road).any())
            if stem in world.no_road:  # a plaza: nothing to place on with the default targets
                assert not (labels == name2label["sidewalk"].id).any()
                assert (labels == name2label["ground"].id).any()
            cam_path = world.cityscapes_root / "camera" / split / city / f"{stem}_camera.json"
            if cam_path.is_file():
                cam = json.loads(cam_path.read_text())
                intr, ext = cam["intrinsic"], cam["extrinsic"]
                assert set(ext) == {"baseline", "pitch", "roll", "x", "y", "yaw", "z"}
                horizon = intr["v0"] - intr["fy"] * math.tan(ext["pitch"])
                rows = np.nonzero((labels == road).any(axis=1))[0]
                assert rows.size == 0 or rows.min() >= math.floor(horizon)
                assert not (labels[math.ceil(horizon) + 1 :] == sky).any()  # no sky below the horizon
    no_road = [s for s in world.no_road if s in world.image_ids["train"] + world.image_ids["val"]]
    assert 2 <= len(no_road) <= 4


def _horizon(world: DemoWorld, split: str, city: str, stem: str) -> float | None:
    path = world.cityscapes_root / "camera" / split / city / f"{stem}_camera.json"
    if not path.is_file():
        return None
    cam = json.loads(path.read_text())
    return cam["intrinsic"]["v0"] - cam["intrinsic"]["fy"] * math.tan(cam["extrinsic"]["pitch"])


def test_every_street_frame_has_near_occluders(world: DemoWorld) -> None:
    """A post (8-connected pole/light/sign pixels) standing on road, sidewalk or plaza ground below the
    horizon, and a person/vehicle instance with its feet in view (not behind the ego vehicle)."""
    surface = [name2label[n].id for n in ("road", "sidewalk", "ground")]
    kinds: Counter[int] = Counter()
    for split in ("train", "val"):
        for city, stem in _frames(world, split):
            gt = world.cityscapes_root / "gtFine" / split / city
            labels = _read(gt / f"{stem}_gtFine_labelIds.png")
            inst = _read(gt / f"{stem}_gtFine_instanceIds.png").astype(np.int64)
            horizon = _horizon(world, split, city, stem)
            if horizon is None:
                continue
            n, comp, stats, _ = cv2.connectedComponentsWithStats(np.isin(labels, POLE_LIKE).astype(np.uint8), None, 8)
            standing = 0
            for k in range(1, n):
                bottom = stats[k, cv2.CC_STAT_TOP] + stats[k, cv2.CC_STAT_HEIGHT] - 1
                cols = np.nonzero(comp[bottom] == k)[0]
                if bottom > horizon and np.isin(labels[bottom + 1, cols], surface).any():
                    standing += 1
            assert standing >= 1, stem
            near = []
            for iid in np.unique(inst[inst >= 1000]).tolist():
                rows, cols = np.nonzero(inst == iid)
                assert iid // 1000 in THING.values() and np.all(labels[rows, cols] == iid // 1000)
                kinds[iid // 1000] += 1
                if rows.size >= 150 and rows.max() > horizon + 5 and labels[rows.max() + 1, cols[-1]] != EGO:
                    near.append(iid)
            assert near, stem
    assert set(kinds) == set(THING.values())  # persons, cars and at least one cyclist (rider on a bicycle)


def test_props_cast_contact_shadows_on_the_ground_only() -> None:
    cam = Camera(fx=560.0, fy=560.0, u0=256.0, v0=128.0, pitch=0.04, height=1.2)
    labels = np.full((256, 512), name2label["road"].id, np.uint8)
    labels[:, :40] = name2label["building"].id
    inst = labels.astype(np.uint16)
    colour, cmask = np.zeros((256, 512, 3), np.float32), np.zeros((256, 512), bool)
    car = Prop("car", 0.0, 12.0, shape_of("car", np.random.default_rng(0)))
    shadow = draw_props([car], cam, labels, inst, colour, cmask)
    u, v = cam.project(0.0, cam.height, 12.0)
    assert shadow[round(v) + 1, round(u)] > 0.25  # dark right under the wheels
    assert shadow[round(v) + 20, round(u)] == 0 and shadow[10, round(u)] == 0  # soft, local
    assert set(np.unique(inst[labels == name2label["car"].id]).tolist()) == {26000}
    background = np.full((256, 512, 3), 100.0, np.float32)
    shade_ground(background, labels, np.full((256, 512), 0.5, np.float32))
    assert (background[labels == name2label["road"].id] == 50.0).all()
    assert (background[labels != name2label["road"].id] == 100.0).all()  # car, building untouched


def test_image_colours_follow_regions(world: DemoWorld) -> None:
    city, stem = _frames(world, "train")[0]
    rgb = cv2.cvtColor(_read(world.cityscapes_root / "leftImg8bit" / "train" / city / f"{stem}_leftImg8bit.png"), 4)
    labels = _read(world.cityscapes_root / "gtFine" / "train" / city / f"{stem}_gtFine_labelIds.png")
    sky = rgb[labels == name2label["sky"].id].astype(float)
    road = rgb[labels == name2label["road"].id].astype(float)
    assert sky[:, 2].mean() > sky[:, 0].mean() + 20  # blue sky
    assert abs(road[:, 0].mean() - road[:, 2].mean()) < 25  # grey road
    assert road.std(axis=0).min() > 3  # textured, not flat


def test_test_split_has_empty_labels(world: DemoWorld) -> None:
    for city, stem in _frames(world, "test"):
        gt = world.cityscapes_root / "gtFine" / "test" / city
        labels = _read(gt / f"{stem}_gtFine_labelIds.png")
        assert set(np.unique(labels).tolist()) <= {0, 1, 3}
        assert (labels == 0).mean() > 0.5
        assert set(np.unique(_read(gt / f"{stem}_gtFine_instanceIds.png")).tolist()) <= {0, 1, 3}


def test_coco_categories_official(coco: dict) -> None:
    cats = {c["name"]: c for c in coco["categories"]}
    assert len(coco["categories"]) == 80 and len(cats) == 80
    for name, cid in {"person": 1, "bicycle": 2, "car": 3, "dog": 18, "dining table": 67, "toaster": 80}.items():
        assert cats[name]["id"] == cid
    assert cats["toothbrush"]["id"] == 90 and cats["toothbrush"]["supercategory"] == "indoor"
    assert cats["dog"]["supercategory"] == "animal"
    assert set(coco) >= {"info", "licenses", "images", "annotations", "categories"}


def test_coco_images_match_json(world: DemoWorld, coco: dict) -> None:
    assert len(coco["images"]) == 40
    assert len({im["id"] for im in coco["images"]}) == 40
    for im in coco["images"]:
        assert im["file_name"] == f"{im['id']:012d}.jpg"
        arr = _read(world.coco_root / "train2017" / im["file_name"])
        assert arr.shape == (im["height"], im["width"], 3)
        assert 160 <= im["width"] <= 320 and 160 <= im["height"] <= 320


def _decode(seg: object, h: int, w: int) -> np.ndarray:
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"].encode()}
    return mask_utils.decode(rle)


def test_segmentation_encodings_decode_to_recorded_area(coco: dict) -> None:
    images = {im["id"]: im for im in coco["images"]}
    kinds: Counter[str] = Counter()
    for ann in coco["annotations"]:
        seg = ann["segmentation"]
        kind = "polygon" if isinstance(seg, list) else ("uncompressed" if isinstance(seg["counts"], list) else "rle")
        kinds[kind] += 1
        im = images[ann["image_id"]]
        mask = _decode(seg, im["height"], im["width"])
        assert mask.shape == (im["height"], im["width"])
        assert int(mask.sum()) == ann["area"]
        ys, xs = np.nonzero(mask)
        assert ann["bbox"] == [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)]
        assert all(isinstance(v, float) for v in ann["bbox"])
    assert set(kinds) == {"polygon", "rle", "uncompressed"}
    assert min(kinds.values()) >= len(coco["annotations"]) // 5
    assert len({a["id"] for a in coco["annotations"]}) == len(coco["annotations"])


def _solidity(mask: np.ndarray) -> float:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    hull = cv2.convexHull(np.concatenate(contours))
    return float(mask.sum()) / max(cv2.contourArea(hull), 1.0)


def test_default_filters_keep_enough_and_every_trap_exists(coco: dict) -> None:
    images = {im["id"]: im for im in coco["images"]}
    names = {c["id"]: c["name"] for c in coco["categories"]}
    kept: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for ann in coco["annotations"]:
        im = images[ann["image_id"]]
        w, h = im["width"], im["height"]
        x, y, bw, bh = ann["bbox"]
        why = []
        if ann["iscrowd"]:
            why.append("crowd")
        if x <= 0 or y <= 0 or x + bw >= w or y + bh >= h:
            why.append("truncated")
        if names[ann["category_id"]] not in ALLOWED:
            why.append("category")
        if ann["area"] < 1000:
            why.append("min_area")
        if not 0.002 <= ann["area"] / (w * h) <= 0.2:
            why.append("area_ratio")
        if not 0.3 <= bw / bh <= 3.0:
            why.append("aspect")
        if _solidity(_decode(ann["segmentation"], h, w)) < 0.2:
            why.append("solidity")
        if why:
            reasons.update(why)
            if len(why) == 1:
                reasons[f"only_{why[0]}"] += 1
        else:
            kept[names[ann["category_id"]]] += 1
    assert sum(kept.values()) >= 40
    assert len(kept) >= 15
    for reason in ("crowd", "truncated", "category", "min_area", "area_ratio", "aspect", "solidity"):
        assert reasons[f"only_{reason}"] >= 1, (reason, reasons)
    crowd = [a for a in coco["annotations"] if a["iscrowd"]]
    assert crowd and all(isinstance(a["segmentation"], dict) for a in crowd)
    assert {names[a["category_id"]] for a in coco["annotations"]} >= {"person", "car"}


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too small"):
        write_demo_world(tmp_path, size=(16, 8))
    with pytest.raises(ValueError, match=">= 0"):
        write_demo_world(tmp_path, n_train=-1)
