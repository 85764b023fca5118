"""verify_dataset: a valid dataset is clean; each corruption is reported as one precise line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from oodforge._io import encode_png
from oodforge.errors import DataLayoutError, InputFileError
from oodforge.inspect.verify import damaged_images, verify_dataset

SYN = "train/aachen_000001_000019"
CLEAN = "train/aachen_000000_000019"


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


def _problems_with(report_problems: list[str], prefix: str, text: str) -> list[str]:
    return [p for p in report_problems if p.startswith(prefix) and text in p]


def _read_unchanged(path: Path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    return np.asarray(arr)


def _write_gt(root: Path, rel_id: str, edit: Callable[[np.ndarray], None]) -> None:
    split, image_id = rel_id.split("/")
    path = root / split / "gt_pixel" / f"{image_id}.png"
    gt = _read_unchanged(path)
    edit(gt)
    path.write_bytes(encode_png(gt))


def test_valid_dataset_is_clean_and_untouched(dataset: Path) -> None:
    before = _snapshot(dataset)
    calls: list[tuple[int, int]] = []
    report = verify_dataset(dataset, progress=lambda d, t: calls.append((d, t)))
    assert report.problems == []
    assert report.ok
    assert report.n_records == 4
    assert report.n_files_checked == 16
    assert calls[0] == (0, 16)
    assert calls[-1] == (16, 16)
    assert _snapshot(dataset) == before
    (dataset / "preview.png").write_bytes(b"not part of the dataset layout")
    assert verify_dataset(dataset).ok


def test_valid_npy_dataset_is_clean(dataset_npy: Path) -> None:
    report = verify_dataset(dataset_npy)
    assert report.problems == []
    assert report.n_files_checked == 3 * 4 + 3  # image, gt, labels per record + one mask per placed instance


def test_flipped_image_byte(dataset: Path) -> None:
    path = dataset / "train/images/aachen_000001_000019.png"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    problems = verify_dataset(dataset).problems
    assert _problems_with(problems, SYN, "sha256 mismatch for train/images/aachen_000001_000019.png")
    assert all(p.startswith(SYN) for p in problems)


def test_gt_value_outside_convention(dataset: Path, helpers: SimpleNamespace) -> None:
    def edit(gt: np.ndarray) -> None:
        gt[0, 0] = 7

    _write_gt(dataset, CLEAN, edit)
    helpers.rehash(dataset, "train", "aachen_000000_000019", "gt_pixel")
    assert verify_dataset(dataset).problems == [f"{CLEAN}: gt_pixel has values outside {{0, 1, 255}}: [7]"]


def test_gt_one_where_idmap_is_zero(dataset: Path, helpers: SimpleNamespace) -> None:
    def edit(gt: np.ndarray) -> None:
        gt[0, 60] = 1

    _write_gt(dataset, SYN, edit)
    helpers.rehash(dataset, "train", "aachen_000001_000019", "gt_pixel")
    assert verify_dataset(dataset).problems == [f"{SYN}: gt_pixel is 1 at 1 pixel(s) where the instance map is 0"]


def test_clean_image_with_anomaly_pixels(dataset: Path, helpers: SimpleNamespace) -> None:
    def edit(gt: np.ndarray) -> None:
        gt[3, 3] = 1

    _write_gt(dataset, CLEAN, edit)
    helpers.rehash(dataset, "train", "aachen_000000_000019", "gt_pixel")
    problems = verify_dataset(dataset).problems
    assert f"{CLEAN}: gt_pixel is 1 at 1 pixel(s) where the instance map is 0" in problems
    assert f"{CLEAN}: has_anomaly is False but gt_pixel has anomaly pixels" in problems
    assert f"{CLEAN}: clean record has anomaly pixels (1) in gt_pixel" in problems


def test_gt_wrong_dtype_and_size(dataset: Path, helpers: SimpleNamespace) -> None:
    path = dataset / "val/gt_pixel/frankfurt_000000_000294.png"
    path.write_bytes(encode_png(np.zeros((16, 64), np.uint8)))
    helpers.rehash(dataset, "val", "frankfurt_000000_000294", "gt_pixel")
    problems = verify_dataset(dataset).problems
    assert problems == ["val/frankfurt_000000_000294: gt_pixel is 16x64 but the image is 32x64"]
    path.write_bytes(encode_png(np.zeros((32, 64), np.uint16)))
    helpers.rehash(dataset, "val", "frankfurt_000000_000294", "gt_pixel")
    (problem,) = verify_dataset(dataset).problems
    assert "expected a single-channel uint8 PNG" in problem


def test_missing_file(dataset: Path) -> None:
    (dataset / "train/labels/aachen_000001_000019.json").unlink()
    report = verify_dataset(dataset)
    assert report.problems == [f"{SYN}: missing file train/labels/aachen_000001_000019.json"]
    assert report.n_files_checked == 15


def test_orphan_files(dataset: Path) -> None:
    (dataset / "train/images/extra_000000_000000.png").write_bytes(b"x")
    (dataset / "val/instances/.frankfurt_000000_000294.png.abc.tmp").write_bytes(b"x")
    assert verify_dataset(dataset).problems == [
        "train/images/extra_000000_000000.png: orphan file (no manifest record references it)",
        "val/instances/.frankfurt_000000_000294.png.abc.tmp: orphan file (no manifest record references it)",
    ]


def test_unsorted_manifest(dataset: Path, helpers: SimpleNamespace) -> None:
    records = helpers.read_records(dataset)
    records[0], records[1] = records[1], records[0]
    helpers.write_records(dataset, records)
    assert verify_dataset(dataset).problems == [f"{CLEAN}: manifest out of order (after {SYN})"]


def test_duplicate_record(dataset: Path, helpers: SimpleNamespace) -> None:
    records = helpers.read_records(dataset)
    helpers.write_records(dataset, [*records[:2], records[1], *records[2:]])
    report = verify_dataset(dataset)
    assert report.problems == [f"{SYN}: duplicate manifest record"]
    assert report.n_records == 5


def test_config_hash_mismatch(dataset: Path) -> None:
    with (dataset / "config.yaml").open("ab") as fh:
        fh.write(b"# edited\n")
    problems = verify_dataset(dataset).problems
    assert len(problems) == 4
    assert all("config_sha256" in p and "!= sha256 of config.yaml" in p for p in problems)


def test_missing_config(dataset: Path) -> None:
    (dataset / "config.yaml").unlink()
    assert verify_dataset(dataset).problems == [
        "config.yaml: missing (the resolved config must lie next to the manifest)"
    ]


def test_failed_record_is_a_problem(dataset: Path, helpers: SimpleNamespace) -> None:
    records = helpers.read_records(dataset)
    failed = dict(records[2])
    failed.update(
        image_id="bochum_000001_000000",
        status="failed",
        error="unreadable source image",
        outputs={},
        sha256={},
    )
    helpers.write_records(dataset, [*records[:3], failed, records[3]])
    assert verify_dataset(dataset).problems == ["train/bochum_000001_000000: failed: unreadable source image"]


def test_flags_and_counts_disagree(dataset: Path, helpers: SimpleNamespace) -> None:
    records = helpers.read_records(dataset)
    records[3]["has_anomaly"] = False
    records[2]["placed_instances"] = 1
    helpers.write_records(dataset, records)
    problems = verify_dataset(dataset).problems
    val = "val/frankfurt_000000_000294"
    assert f"{val}: has_anomaly is False but placed_instances is 1" in problems
    assert f"{val}: has_anomaly is False but gt_pixel has anomaly pixels" in problems
    bochum = "train/bochum_000000_000000"
    assert f"{bochum}: instance map max id 0 != placed_instances 1" in problems
    assert f"{bochum}: 0 instance record(s) but placed_instances is 1" in problems


def test_area_and_hidden_instance(dataset: Path, helpers: SimpleNamespace) -> None:
    records = helpers.read_records(dataset)
    records[1]["instances"][0]["area_px"] = 39
    helpers.write_records(dataset, records)
    assert verify_dataset(dataset).problems == [
        f"{SYN}: instance 1: area_px 39 != 40 pixel(s) with id 1 in the instance map"
    ]
    path = dataset / "train/instances/aachen_000001_000019.png"
    idmap = _read_unchanged(path)
    idmap[idmap == 1] = 2
    path.write_bytes(encode_png(idmap))
    helpers.rehash(dataset, "train", "aachen_000001_000019", "instances")
    problems = verify_dataset(dataset).problems
    assert f"{SYN}: instance id 1 is absent from the instance map (area_px 39)" in problems
    assert f"{SYN}: instance 2: area_px 24 != 64 pixel(s) with id 2 in the instance map" in problems
    assert any("instance 2: pixels span [5, 10, 31, 10] outside bbox [30, 16, 6, 4]" in p for p in problems)


def test_labels_json_mismatch(dataset: Path, helpers: SimpleNamespace) -> None:
    path = dataset / "train/labels/aachen_000001_000019.json"
    labels = json.loads(path.read_text())
    labels[1]["id"] = 5
    path.write_text(json.dumps(labels[1:]))
    helpers.rehash(dataset, "train", "aachen_000001_000019", "labels")
    rel = "train/labels/aachen_000001_000019.json"
    problems = verify_dataset(dataset).problems
    assert f"{SYN}: {rel} has 1 entries but placed_instances is 2" in problems
    assert f"{SYN}: {rel}: entry 1 has id 5; expected 1" in problems
    assert f"{SYN}: {rel}: entry 1 ('cat') does not match instance 1 of the record" in problems


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        verify_dataset(tmp_path / "nope")
    with pytest.raises(DataLayoutError, match=r"no manifest\.jsonl"):
        verify_dataset(tmp_path)


def test_damaged_images_lists_missing_and_altered_outputs_in_manifest_order(
    dataset: Path, helpers: SimpleNamespace
) -> None:
    assert damaged_images(dataset) == []
    (dataset / "val/instances/frankfurt_000000_000294.png").unlink()
    with (dataset / "train/labels/aachen_000001_000019.json").open("a") as fh:
        fh.write(" ")
    records = helpers.read_records(dataset)
    records[0]["has_anomaly"] = True  # a wrong record but intact files: not for --repair
    records[2].update(status="failed", error="x", outputs={}, sha256={})  # no outputs: not listed
    helpers.write_records(dataset, records)
    assert damaged_images(dataset) == [("train", "aachen_000001_000019"), ("val", "frankfurt_000000_000294")]
    report = verify_dataset(dataset)
    assert report.damaged == damaged_images(dataset)
    assert f"{CLEAN}: has_anomaly is True but placed_instances is 0" in report.problems


def test_config_sha_is_the_identity_hash_or_the_bytes_hash(dataset: Path, helpers: SimpleNamespace) -> None:
    from oodforge.config.identity import config_sha256

    identity = config_sha256((dataset / "config.yaml").read_bytes())
    records = helpers.read_records(dataset)
    records[1]["config_sha256"] = identity  # what synth writes now; the others keep the bytes hash (older datasets)
    helpers.write_records(dataset, records)
    assert verify_dataset(dataset).ok
    (dataset / "config.yaml").write_text("dataset: [unclosed\n")
    problems = verify_dataset(dataset).problems
    assert problems[0].startswith("config.yaml: not a readable resolved config")
    assert len(problems) == 5 and all("config_sha256" in p for p in problems[1:])
