"""`export_anomalib`: Anomalib Folder layout from synth-like and render-like datasets (built by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from oodforge._io import encode_image, encode_png
from oodforge._seeding import stable_unit
from oodforge.errors import DataLayoutError, InputFileError, UsageError
from oodforge.export.anomalib import export_anomalib, folder_snippet, is_eval_split

H, W = 32, 64
FOLDER_DIRS = ("train/good", "test/good", "test/anomaly", "ground_truth/anomaly")


def _gt(kind: str, k: int) -> np.ndarray:
    gt = np.zeros((H, W), np.uint8)
    gt[:4] = 255  # ego vehicle / border: ignore
    if kind == "anomaly":
        gt[10 + k % 5 : 20, 5 : 15 + k] = 1
    elif kind == "one_pixel":  # a single anomaly pixel inside an ignore region
        gt[20:28, 40:50] = 255
        gt[24, 45] = 1
    elif kind == "ignore_only":  # lots of 255 and no 1: normal
        gt[4:30, 30:] = 255
    return gt


def write_dataset(root: Path, specs: list[dict], *, render: bool = False) -> dict[tuple[str, str], dict]:
    """Write images, GT and manifest.jsonl; spec keys: split, id, gt (normal|anomaly|one_pixel|ignore_only),
    ext (png|jpg), status, has_anomaly (override). Returns {(split, id): record} of the ok records."""
    rng = np.random.default_rng(0)
    records, lines = {}, []
    for k, s in enumerate(sorted(specs, key=lambda s: (s["split"], s["id"]))):
        split, image_id = s["split"], s["id"]
        rec: dict = {"schema": 1, "split": split, "image_id": image_id, "status": s.get("status", "ok")}
        if render:
            rec.update(kind="render", camera="cam0", is_anomalous=s["gt"] != "normal", mode_values={"scale": 1.5})
        else:
            rec.update(is_synth=s["gt"] != "normal", city="x", planned_instances=int(s["gt"] != "normal"))
        if rec["status"] == "failed":
            rec.update(has_anomaly=False, outputs={}, error="boom")
            lines.append(json.dumps(rec))
            continue
        ext = s.get("ext", "png")
        img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        gt = _gt(s["gt"], k)
        outputs = {"image": f"{split}/images/{image_id}.{ext}", "gt_pixel": f"{split}/gt_pixel/{image_id}.png"}
        if render:
            outputs["fb_mask"] = f"{split}/fb_mask/{image_id}.png"
        for key, data in (("image", encode_image(img, ext)), ("gt_pixel", encode_png(gt)), ("fb_mask", encode_png(gt))):
            if key in outputs:
                (root / outputs[key]).parent.mkdir(parents=True, exist_ok=True)
                (root / outputs[key]).write_bytes(data)
        rec.update(has_anomaly=s.get("has_anomaly", bool((gt == 1).any())), outputs=outputs)
        records[(split, image_id)] = rec
        lines.append(json.dumps(rec))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return records


SYNTH_SPECS = [
    *({"split": "train", "id": f"city_{i:06d}_000019", "gt": "normal"} for i in range(8)),
    {"split": "train", "id": "city_000100_000019", "gt": "anomaly"},
    {"split": "train", "id": "city_000101_000019", "gt": "ignore_only"},  # synthetic, nothing placed
    {"split": "train", "id": "city_000102_000019", "gt": "normal", "status": "failed"},
    {"split": "val", "id": "city_000200_000019", "gt": "normal"},
    {"split": "val", "id": "city_000201_000019", "gt": "one_pixel"},
    {"split": "test", "id": "city_000300_000019", "gt": "anomaly"},
    {"split": "test", "id": "city_000301_000019", "gt": "anomaly", "ext": "jpg"},
    {"split": "test", "id": "city_000302_000019", "gt": "normal", "ext": "jpg"},
]


@pytest.fixture
def synth(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "ds"
    return root, write_dataset(root, SYNTH_SPECS)


def anomalib_pairs(out: Path, extensions: list[str]) -> list[tuple[Path, Path]]:
    """Anomalib's Folder rule, re-implemented: recursive glob, sort by path, zip by position, stem-in-stem."""

    def files(d: str) -> list[Path]:
        return sorted(p for p in (out / d).glob("**/*") if p.suffix in extensions and p.is_file())

    images, masks = files("test/anomaly"), files("ground_truth/anomaly")
    assert len(images) == len(masks)
    for img, msk in zip(images, masks, strict=True):
        assert img.stem in msk.stem, (img.name, msk.name)
    return list(zip(images, masks, strict=True))


def _stems(out: Path, d: str) -> set[str]:
    return {p.stem for p in (out / d).iterdir()}


def test_layout_only_true_anomalies(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, recs = synth
    out = tmp_path / "out"
    res = export_anomalib(root, out)
    anomalous = {f"{s}__{i}" for (s, i), r in recs.items() if r["has_anomaly"]}
    assert anomalous == {"train__city_000100_000019", "val__city_000201_000019", "test__city_000300_000019",
                         "test__city_000301_000019"}  # fmt: skip
    assert _stems(out, "test/anomaly") == anomalous
    assert _stems(out, "ground_truth/anomaly") == {f"{s}_mask" for s in anomalous}
    normals = _stems(out, "train/good") | _stems(out, "test/good")
    assert "train__city_000101_000019" in normals  # synthetic without anomaly, ignore only
    assert len(normals) == len(recs) - len(anomalous)
    assert not normals & anomalous
    assert res.counts == {"train_good": len(_stems(out, "train/good")), "test_good": len(_stems(out, "test/good")),
                          "test_anomaly": 4, "failed": 1}  # fmt: skip
    assert res.per_split["train"]["failed"] == 1 and res.per_split["test"]["test_anomaly"] == 2
    assert not res.ordinal_prefix and not res.warnings


def test_masks_are_0_255_with_ignore_as_0(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, recs = synth
    out = tmp_path / "out"
    export_anomalib(root, out)
    for (split, image_id), rec in recs.items():
        mask_path = out / "ground_truth/anomaly" / f"{split}__{image_id}_mask.png"
        if not rec["has_anomaly"]:
            assert not mask_path.exists()
            continue
        gt = cv2.imread(str(root / rec["outputs"]["gt_pixel"]), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint8 and mask.shape == gt.shape
        assert set(np.unique(mask).tolist()) <= {0, 255}
        np.testing.assert_array_equal(mask == 255, gt == 1)
        assert (mask[gt == 255] == 0).all()


def test_pairing_follows_anomalib_rule(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = synth
    res = export_anomalib(root, tmp_path / "out")
    assert res.folder_args["extensions"] == [".jpg", ".png"]
    pairs = anomalib_pairs(tmp_path / "out", res.folder_args["extensions"])
    assert len(pairs) == res.counts["test_anomaly"] == 4
    assert [p.name for p, _ in pairs][1] == "test__city_000301_000019.jpg"


def test_images_are_byte_copies(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, recs = synth
    out = tmp_path / "out"
    export_anomalib(root, out)
    exported = {p.stem: p for d in FOLDER_DIRS[:3] for p in (out / d).iterdir()}
    for (split, image_id), rec in recs.items():
        src = root / rec["outputs"]["image"]
        dst = exported[f"{split}__{image_id}"]
        assert dst.suffix == src.suffix
        assert dst.read_bytes() == src.read_bytes()


def test_normal_assignment_and_ratio_share(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, recs = synth
    train_normals = {f"train__{i}" for (s, i), r in recs.items() if s == "train" and not r["has_anomaly"]}
    eval_normals = {f"{s}__{i}" for (s, i), r in recs.items() if s != "train" and not r["has_anomaly"]}
    for ratio, seed in ((0.0, 0), (1.0, 0), (0.5, 3), (0.5, 4)):
        out = tmp_path / f"out_{ratio}_{seed}"
        export_anomalib(root, out, normal_test_ratio=ratio, seed=seed)
        moved = {s for s in train_normals if stable_unit(seed, "anomalib_normal_test", s) < ratio}
        assert _stems(out, "test/good") == eval_normals | moved
        assert _stems(out, "train/good") == train_normals - moved
    assert _stems(tmp_path / "out_0.5_3", "test/good") != _stems(tmp_path / "out_0.5_4", "test/good")
    export_anomalib(root, tmp_path / "again", normal_test_ratio=0.5, seed=3)
    for d in FOLDER_DIRS:
        a, b = tmp_path / "out_0.5_3" / d, tmp_path / "again" / d
        assert {p.name: p.read_bytes() for p in a.iterdir()} == {p.name: p.read_bytes() for p in b.iterdir()}


def test_split_filter_and_eval_names(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = synth
    res = export_anomalib(root, tmp_path / "out", splits=["val"])
    assert set(res.per_split) == {"val"} and res.counts["failed"] == 0
    assert _stems(tmp_path / "out", "test/good") == {"val__city_000200_000019"}
    assert res.folder_args["abnormal_dir"] == "test/anomaly"
    assert any("train/good: no image" in w for w in res.warnings)
    assert [is_eval_split(s) for s in ("test", "val2", "validation", "fs_static_test", "train", "train_val")] == [
        True, True, True, True, False, False]  # fmt: skip


def test_refuses_a_folder_oodforge_did_not_make_even_with_overwrite(synth: tuple[Path, dict], tmp_path: Path) -> None:
    """Was: --overwrite rmtree'd train/good etc. of any folder, deleting a user's files there."""
    root, _ = synth
    out = tmp_path / "out"
    (out / "train/good").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "train/good/mine.png").write_bytes(b"my image")
    for overwrite in (False, True):
        with pytest.raises(UsageError, match=r"not empty \(found 'notes.txt'\) and has no list of oodforge's files"):
            export_anomalib(root, out, overwrite=overwrite)
    assert (out / "notes.txt").read_text() == "mine" and (out / "train/good/mine.png").read_bytes() == b"my image"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "train"]  # nothing written either
    with pytest.raises(UsageError, match="outside the dataset"):
        export_anomalib(root, root / "export")


def _ledger(out: Path) -> set[str]:
    return set(json.loads((out / ".oodforge/files.json").read_text())["files"])


def test_overwrite_deletes_only_listed_files_and_keeps_the_user_s(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = synth
    out = tmp_path / "out"
    export_anomalib(root, out, normal_test_ratio=0.0)
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".oodforge" not in p.parts}
    assert _ledger(out) == written
    (out / "notes.txt").write_text("mine")
    (out / "train/good/mine.png").write_bytes(b"my image")
    with pytest.raises(UsageError, match=r"not empty, holds a previous export .*pass --overwrite"):
        export_anomalib(root, out)
    res = export_anomalib(root, out, normal_test_ratio=1.0, overwrite=True)  # every train normal moves to test/good
    assert (out / "notes.txt").read_text() == "mine" and (out / "train/good/mine.png").read_bytes() == b"my image"
    assert {p.name for p in (out / "train/good").iterdir()} == {"mine.png"}  # the old export's normals are gone
    assert res.kept_files == 2 and res.counts["train_good"] == 0
    assert any("kept 2 file(s) oodforge did not write" in w and "as normal images" in w for w in res.warnings)
    assert "notes.txt" not in _ledger(out) and "train/good/mine.png" not in _ledger(out)
    assert _ledger(out) == {p.relative_to(out).as_posix() for p in out.rglob("*")
                            if p.is_file() and ".oodforge" not in p.parts} - {"notes.txt", "train/good/mine.png"}  # fmt: skip


def test_user_image_where_anomalib_pairs_is_refused_before_deleting(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = synth
    out = tmp_path / "out"
    export_anomalib(root, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and ".oodforge" not in p.parts}
    (out / "test/anomaly/zz_mine.png").write_bytes(b"my image")
    with pytest.raises(UsageError, match=r"1 image\(s\) oodforge did not write in test/anomaly.*zz_mine.png"):
        export_anomalib(root, out, overwrite=True)
    assert all(p.read_bytes() == data for p, data in before.items())
    assert (out / "test/anomaly/zz_mine.png").read_bytes() == b"my image"


def test_a_killed_export_still_lists_what_it_wrote(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = synth
    out = tmp_path / "out"

    def progress(stage: str, done: int, total: int) -> None:
        if stage.endswith("writing") and done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_anomalib(root, out, progress=progress)
    partial = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".oodforge" not in p.parts}
    assert partial and partial <= _ledger(out)
    (out / "test/good/mine.txt").write_text("mine")
    export_anomalib(root, out, overwrite=True)
    assert (out / "test/good/mine.txt").read_text() == "mine"
    anomalib_pairs(out, [".jpg", ".png"])


def test_folder_args_yaml_readme_snippet(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = synth
    out = tmp_path / "out"
    res = export_anomalib(root, out)
    assert res.folder_args == {"name": "ds", "root": str(out), "normal_dir": "train/good",
                               "abnormal_dir": "test/anomaly", "normal_test_dir": "test/good",
                               "mask_dir": "ground_truth/anomaly", "extensions": [".jpg", ".png"]}  # fmt: skip
    doc = yaml.safe_load((out / "anomalib_folder.yaml").read_text())
    assert doc == {"class_path": "anomalib.data.Folder", "init_args": res.folder_args}
    snippet = folder_snippet(res.folder_args)
    assert "Folder(" in snippet and "mask_dir='ground_truth/anomaly'" in snippet
    compile(snippet, "<snippet>", "exec")
    assert "ground_truth/anomaly" in (out / "README.txt").read_text()


def test_render_like_dataset(tmp_path: Path) -> None:
    specs = [
        {"split": "train", "id": "cam0_1", "gt": "normal"},
        {"split": "train", "id": "cam0_2", "gt": "normal"},
        {"split": "test", "id": "cam0_1", "gt": "anomaly"},
        {"split": "test", "id": "cam0_10", "gt": "anomaly"},  # 'cam0_1' is a prefix: sorts differently with _mask
        {"split": "test", "id": "cam0_1_x", "gt": "anomaly"},
        {"split": "test", "id": "cam0_3", "gt": "occluded"},  # is_anomalous but fully hidden: empty GT
    ]
    root = tmp_path / "render"
    recs = write_dataset(root, specs, render=True)
    assert recs[("test", "cam0_3")]["is_anomalous"] and not recs[("test", "cam0_3")]["has_anomaly"]
    out = tmp_path / "out"
    res = export_anomalib(root, out, normal_test_ratio=0.0)
    assert res.ordinal_prefix and res.counts["test_anomaly"] == 3
    naive_images = sorted(["test__cam0_1.png", "test__cam0_10.png", "test__cam0_1_x.png"])
    naive_masks = sorted(["test__cam0_1_mask.png", "test__cam0_10_mask.png", "test__cam0_1_x_mask.png"])
    assert [Path(m).stem for m in naive_masks] != [Path(i).stem + "_mask" for i in naive_images]  # why: see module
    pairs = anomalib_pairs(out, res.folder_args["extensions"])
    assert [m.name for _, m in pairs] == ["000000__test__cam0_1_mask.png", "000001__test__cam0_10_mask.png",
                                          "000002__test__cam0_1_x_mask.png"]  # fmt: skip
    assert _stems(out, "test/good") == {"test__cam0_3"}
    assert _stems(out, "train/good") == {"train__cam0_1", "train__cam0_2"}


def test_has_anomaly_disagreeing_with_gt_warns_gt_decides(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_dataset(root, [{"split": "test", "id": "a", "gt": "anomaly", "has_anomaly": False},
                         {"split": "train", "id": "b", "gt": "normal"}])  # fmt: skip
    res = export_anomalib(root, tmp_path / "out")
    assert _stems(tmp_path / "out", "test/anomaly") == {"test__a"}
    assert len(res.warnings) == 2 and "has_anomaly=False" in res.warnings[0]
    assert res.folder_args["normal_test_dir"] is None  # empty test/good is left out


def _corrupt(root: Path, lineno: int, edit) -> None:
    lines = (root / "manifest.jsonl").read_text().splitlines()
    rec = json.loads(lines[lineno - 1])
    edit(rec)
    lines[lineno - 1] = json.dumps(rec)
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")


def test_errors_are_one_line(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = synth
    with pytest.raises(DataLayoutError, match="not an oodforge dataset"):
        export_anomalib(tmp_path / "nothing", tmp_path / "o1")
    with pytest.raises(UsageError, match="unknown split 'nope'; the dataset has: test, train, val"):
        export_anomalib(root, tmp_path / "o2", splits=["nope"])
    with pytest.raises(UsageError, match="normal_test_ratio"):
        export_anomalib(root, tmp_path / "o3", normal_test_ratio=1.5)
    _corrupt(root, 3, lambda r: r["outputs"].pop("gt_pixel"))
    with pytest.raises(DataLayoutError, match=r"manifest.jsonl:3: missing key 'outputs.gt_pixel'") as exc:
        export_anomalib(root, tmp_path / "o4")
    assert "\n" not in str(exc.value)
    _corrupt(root, 3, lambda r: r.pop("split"))
    with pytest.raises(DataLayoutError, match=r":3: missing key 'split'"):
        export_anomalib(root, tmp_path / "o5")
    _corrupt(root, 3, lambda r: r.update(split="train", outputs={"image": "../x.png", "gt_pixel": "y.png"}))
    with pytest.raises(DataLayoutError, match="leaves the dataset root"):
        export_anomalib(root, tmp_path / "o6")
    _corrupt(root, 3, lambda r: r.update(outputs={"image": "train/images/gone.png", "gt_pixel": "y.png"}))
    with pytest.raises(InputFileError, match="not found"):
        export_anomalib(root, tmp_path / "o7")
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 8))


def test_gt_values_outside_convention_refused(synth: tuple[Path, dict], tmp_path: Path) -> None:
    root, recs = synth
    gt_path = root / recs[("val", "city_000200_000019")]["outputs"]["gt_pixel"]
    gt = np.full((H, W), 2, np.uint8)
    gt_path.write_bytes(encode_png(gt))
    with pytest.raises(DataLayoutError, match=r"GT values \[2\]"):
        export_anomalib(root, tmp_path / "out")
    gt_path.write_bytes(b"not a png")
    with pytest.raises(InputFileError, match="unreadable"):
        export_anomalib(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()
