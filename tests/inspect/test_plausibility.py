"""Plausibility figures: each measure on hand-built arrays, then on fixture datasets and `oodforge stats`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from oodforge._io import encode_png
from oodforge.cli.main import app
from oodforge.inspect._stats_plausibility import ObjectFigures, summarise
from oodforge.inspect.plausibility import (
    chroma_shift,
    gradient_magnitude,
    largest_component_share,
    mean_ab,
    on_forbidden,
    real_texture_ratios,
    size_ratio,
    standard_horizon_row,
    texture_ratio,
)
from oodforge.inspect.stats import dataset_stats, render_stats

HORIZON_1024 = 513 - 2265 * math.tan(0.038)  # 426.8885
RED_AB = (80.09375, 67.203125)  # CIELab of sRGB red: L 53.24, a 80.09, b 67.20
BLUE_AB = (79.1875, -107.859375)  # sRGB blue: L 32.29, a 79.19, b -107.86
KEYS = {
    "n_objects", "size_in_range", "size_ratio_median", "whole", "chroma_shift_median", "chroma_shift_p90",
    "texture_ratio_median", "forbidden_objects", "forbidden_checked", "visible_fraction_median",
    "target_label_shares", "notes",
}  # fmt: skip


def _square(shape: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return mask


def test_size_ratio_of_a_known_box() -> None:
    assert standard_horizon_row(1024) == pytest.approx(426.8885, abs=1e-4)
    assert standard_horizon_row(512) == pytest.approx(HORIZON_1024 / 2)
    # a person (1.70 m) 170 px tall whose bottom row is 769: expected 1.70 * (769 - 426.89) / 1.22 = 476.7 px
    assert size_ratio([10, 600, 20, 170], 1.70, 1024) == pytest.approx(0.35661, rel=1e-4)
    # 1.22 m tall with its bottom 200 rows below the horizon at 2048 rows: expected 200 px, 300 px seen
    bottom = 2 * HORIZON_1024 + 200
    assert size_ratio([0, bottom - 299, 5, 300], 1.22, 2048) == pytest.approx(1.5)
    assert size_ratio([0, 400, 10, 20], 1.0, 1024) == math.inf  # bottom row 419 < 426.9


def test_one_piece_is_whole_two_pieces_are_not() -> None:
    mask = _square((40, 40), (0, 10), (0, 9))  # 90 px
    assert largest_component_share(mask) == 1.0
    mask |= _square((40, 40), (30, 32), (30, 35))  # + 10 px apart
    assert largest_component_share(mask) == pytest.approx(0.9)
    diagonal = np.zeros((4, 4), bool)
    diagonal[0, 0] = diagonal[1, 1] = True  # 8-connected: one piece
    assert largest_component_share(diagonal) == 1.0


def test_mean_ab_of_flat_colours() -> None:
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[:, :5] = (255, 0, 0)
    rgb[:, 5:] = (0, 0, 255)
    assert mean_ab(rgb, _square((10, 10), (0, 10), (0, 5))) == pytest.approx(RED_AB, abs=1e-3)
    assert mean_ab(rgb, _square((10, 10), (2, 4), (6, 8))) == pytest.approx(BLUE_AB, abs=1e-3)
    assert mean_ab(rgb, np.zeros((10, 10), bool)) is None


def test_chroma_shift_ignores_a_two_pixel_rim() -> None:
    src = np.full((20, 20, 3), 255, np.uint8)
    src[5:15, 5:15] = (255, 0, 0)
    src_mask = _square((20, 20), (5, 15), (5, 15))
    pasted = np.zeros((30, 30, 3), np.uint8)
    pasted[10:20, 10:20] = (0, 0, 255)  # a blue rim two pixels wide ...
    pasted[12:18, 12:18] = (255, 0, 0)  # ... around a red core
    mask = _square((30, 30), (10, 20), (10, 20))
    assert chroma_shift(src, src_mask, pasted, mask) == pytest.approx(0.0, abs=1e-6)
    pasted[12:18, 12:18] = (0, 0, 255)
    expected = math.hypot(RED_AB[0] - BLUE_AB[0], RED_AB[1] - BLUE_AB[1])  # 175.06
    assert chroma_shift(src, src_mask, pasted, mask) == pytest.approx(expected, abs=1e-3)


def test_chroma_shift_of_a_thin_object_uses_all_its_pixels() -> None:
    src = np.zeros((8, 8, 3), np.uint8)
    src[:] = (255, 0, 0)
    pasted = np.zeros((8, 8, 3), np.uint8)
    pasted[2:5, 2:5] = (0, 0, 255)  # 3x3: eroding by 2 px empties it
    full = np.ones((8, 8), bool)
    shift = chroma_shift(src, full, pasted, _square((8, 8), (2, 5), (2, 5)))
    assert shift == pytest.approx(math.hypot(RED_AB[0] - BLUE_AB[0], RED_AB[1] - BLUE_AB[1]), abs=1e-3)
    assert chroma_shift(src, full, pasted, np.zeros((8, 8), bool)) is None


def _ramps(shape: tuple[int, int] = (100, 120)) -> tuple[np.ndarray, np.ndarray]:
    """Grey ramp 1/px everywhere (Sobel magnitude 8), 3/px on the object rows/cols 30..69 (magnitude 24)."""
    cols = np.broadcast_to(np.arange(shape[1]), shape)
    grey = cols.astype(np.uint8).copy()
    mask = _square(shape, (30, 70), (30, 70))
    grey[mask] = (3 * cols[mask]).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2), mask


def test_texture_ratio_of_a_steep_ramp_on_a_gentle_one() -> None:
    rgb, mask = _ramps()
    grad = gradient_magnitude(rgb)
    assert grad[50, 50] == pytest.approx(24.0)  # Sobel of a 3/px ramp: 3 * 2 * (1 + 2 + 1)
    assert grad[10, 100] == pytest.approx(8.0)
    assert texture_ratio(grad, mask) == pytest.approx(3.0)


def test_texture_ratio_leaves_other_objects_out_of_the_ring() -> None:
    mask = _square((100, 120), (30, 70), (30, 70))
    grad = np.full(mask.shape, 8.0, np.float32)
    grad[mask] = 24.0
    other = _square(mask.shape, (20, 25), (40, 60))  # 100 px 6..10 rows above the object: inside its ring
    grad[other] = 100.0
    assert texture_ratio(grad, mask) < 2.9  # the other object raises the ring's mean
    assert texture_ratio(grad, mask, mask | other) == pytest.approx(3.0)
    assert texture_ratio(grad, mask, other) == pytest.approx(3.0)


def test_texture_ratio_undefined_on_a_flat_ring_or_a_thin_object() -> None:
    rgb = np.zeros((60, 60, 3), np.uint8)
    rgb[20:40, 20:40] = 255 * (np.indices((20, 20))[1] // 2 % 2)[..., None]  # stripes 2 px wide
    grad = gradient_magnitude(rgb)
    assert texture_ratio(grad, _square((60, 60), (20, 40), (20, 40))) is None  # ring gradient 0
    assert texture_ratio(grad, _square((60, 60), (20, 26), (20, 40))) is None  # 6 rows: erosion by 3 empties it


def test_real_texture_ratios_measure_large_thing_instances_only() -> None:
    rgb, mask = _ramps()
    ids = np.full(mask.shape, 7, np.int32)  # road
    ids[mask] = 26001  # a car: measured
    ids[80:84, 100:104] = 26002  # a car of 16 px < 0.001 * 12000: skipped
    ids[0:10, 0:10] = 11000  # building id >= 1000 but no thing class: skipped
    assert real_texture_ratios(rgb, ids) == pytest.approx([3.0])
    assert real_texture_ratios(rgb, ids, min_area_frac=0.5) == []


def test_an_object_touching_ego_vehicle_is_forbidden() -> None:
    labels = np.full((20, 20), 7, np.uint8)
    labels[17:] = 1  # ego vehicle
    labels[:, :2] = 3  # out of roi
    assert on_forbidden(_square((20, 20), (10, 18), (5, 10)), labels)  # one row on the ego vehicle
    assert not on_forbidden(_square((20, 20), (10, 17), (5, 10)), labels)
    assert on_forbidden(_square((20, 20), (0, 2), (1, 4)), labels)
    labels[:] = 2
    assert on_forbidden(_square((20, 20), (5, 6), (5, 6)), labels)


def test_summarise_counts_shares_and_notes() -> None:
    objs = [
        ObjectFigures("road", 0.5, size_ratio=1.0, whole=True, chroma_shift=10.0, texture_ratio=2.0, forbidden=False),
        ObjectFigures("road", 0.9, size_ratio=3.0, whole=False, chroma_shift=20.0, texture_ratio=4.0, forbidden=True),
        ObjectFigures("sidewalk", size_ratio=math.inf, whole=True, texture_ratio=9.0, forbidden=False),
        ObjectFigures("road", whole=True, missing={"size": "no real height", "chroma shift": "gone"}),
    ]
    objs[2].missing["chroma shift"] = "gone too"
    fig = summarise(objs)
    assert set(fig) == KEYS
    assert fig["n_objects"] == 4
    assert fig["size_in_range"] == pytest.approx(1 / 3)  # 1.0 in, 3.0 and inf out, one unsized
    assert fig["size_ratio_median"] == pytest.approx(2.0)  # finite ratios only
    assert fig["whole"] == pytest.approx(0.75)
    assert (fig["chroma_shift_median"], fig["chroma_shift_p90"]) == pytest.approx((15.0, 19.0))
    assert fig["texture_ratio_median"] == pytest.approx(4.0)
    assert (fig["forbidden_objects"], fig["forbidden_checked"]) == (1, 3)
    assert fig["visible_fraction_median"] == pytest.approx(0.7)
    assert list(fig["target_label_shares"].items()) == [("road", 0.75), ("sidewalk", 0.25)]
    assert fig["notes"] == [
        "chroma shift: 2 object(s) not measured (gone too)",
        "size: 1 object(s) not measured (no real height)",
    ]
    empty = summarise([])
    assert empty["n_objects"] == 0
    assert empty["size_in_range"] is None
    assert empty["forbidden_objects"] is None
    assert empty["target_label_shares"] == {}


def _with_sources(ds: Path, tmp_path: Path) -> Path:
    """Give the fixture dataset reachable sources: a Cityscapes gtFine tree and a two-object COCO subset."""
    cs, coco = tmp_path / "cs", tmp_path / "coco"
    for split, image_id in (("train", "aachen_000001_000019"), ("val", "frankfurt_000000_000294")):
        labels = np.full((32, 64), 7, np.uint8)
        if split == "train":
            labels[:, :6] = 3  # out of roi under the dog's first column (cols 5..12)
        city = image_id.split("_")[0]
        path = cs / "gtFine" / split / city / f"{image_id}_gtFine_labelIds.png"
        path.parent.mkdir(parents=True)
        path.write_bytes(encode_png(labels))
    (coco / "train2017").mkdir(parents=True)
    red = np.zeros((20, 20, 3), np.uint8)
    red[:] = (0, 0, 255)  # BGR on disk: red
    cv2.imwrite(str(coco / "train2017" / "a.png"), red)
    anns = [  # the dogs (101, 303) from the same image: a polygon and an uncompressed RLE
        {"id": 101, "image_id": 1, "category_id": 18, "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]},
        {"id": 303, "image_id": 1, "category_id": 18, "segmentation": {"size": [20, 20], "counts": [0, 400]}},
    ]
    data = {"images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 20}], "annotations": anns}
    (coco / "annotations").mkdir()
    (coco / "annotations" / "inst.json").write_text(json.dumps(data))
    config = f"dataset: {{name: f, seed: 7}}\nsources:\n  cityscapes: {{root: {cs}}}\n"
    config += "  coco: {root: ../coco, annotations: annotations/inst.json}\n"  # relative to the dataset root
    config += "synthesis: {geometry: {category_heights_m: {cat: 0.05}}}\n"
    (ds / "config.yaml").write_text(config)
    return ds


def test_dataset_figures_with_sources(dataset: Path, tmp_path: Path) -> None:
    stats = dataset_stats(_with_sources(dataset, tmp_path))
    train, val = stats["splits"]["train"]["plausibility"], stats["splits"]["val"]["plausibility"]
    assert set(train) == KEYS
    assert train["n_objects"] == 2
    # dog (0.60 m) bottom row 14 at 32 rows: horizon 13.34, expected 0.60 * 0.66 / 1.22 = 0.32 px for 5 seen;
    # cat (0.05 m from the config) bottom row 19: expected 0.05 * 5.66 / 1.22 = 0.232 px for 4 seen
    assert train["size_in_range"] == 0.0
    assert train["size_ratio_median"] == pytest.approx(
        (5 / (0.6 * (14 - HORIZON_1024 / 32) / 1.22) + 4 / 0.232) / 2, rel=1e-2
    )
    assert train["whole"] == 1.0
    # the dog is pasted (200, 40, 10) from a pure red COCO object; the cat's annotation (202) is not in the subset
    pasted = cv2.cvtColor(np.array([[[200 / 255, 40 / 255, 10 / 255]]], np.float32), cv2.COLOR_RGB2Lab)[0, 0]
    assert train["chroma_shift_median"] == pytest.approx(
        math.hypot(pasted[1] - RED_AB[0], pasted[2] - RED_AB[1]), abs=1e-3
    )
    assert (train["forbidden_objects"], train["forbidden_checked"]) == (1, 2)  # the cat (cols 30..35) is clear
    assert train["target_label_shares"] == {"road": 0.5, "sidewalk": 0.5}
    assert train["texture_ratio_median"] is None  # 5- and 4-row squares: nothing left after eroding 3 px
    assert any(n.startswith("chroma shift: 1 object(s) not measured (COCO annotation 202") for n in train["notes"])
    assert not any(n.startswith("forbidden") for n in train["notes"])
    assert (val["forbidden_objects"], val["chroma_shift_median"] is not None) == (0, True)
    assert stats["totals"]["plausibility"]["n_objects"] == 3
    assert stats["totals"]["plausibility"]["forbidden_objects"] == 1


def test_unreachable_sources_give_none_and_notes(dataset: Path) -> None:
    fig = dataset_stats(dataset)["totals"]["plausibility"]  # the fixture config names no sources
    assert (fig["n_objects"], fig["whole"], fig["size_in_range"]) == (3, 1.0, 0.0)
    assert fig["chroma_shift_median"] is None
    assert fig["forbidden_objects"] is None
    assert any(n.startswith("chroma shift: 3 object(s) not measured") for n in fig["notes"])
    (dataset / "config.yaml").write_text("sources: {cityscapes: {root: /nonexistent/cs}, coco: {root: /nonexistent}}\n")
    notes = dataset_stats(dataset)["totals"]["plausibility"]["notes"]
    assert "forbidden: 3 object(s) not measured (Cityscapes root /nonexistent/cs not found)" in notes
    assert any("COCO annotations /nonexistent/annotations/instances_train2017.json not found" in n for n in notes)


def test_unreadable_image_is_noted_not_fatal(dataset: Path) -> None:
    (dataset / "train" / "images" / "aachen_000001_000019.png").write_bytes(b"broken")
    fig = dataset_stats(dataset)["splits"]["train"]["plausibility"]
    assert fig["n_objects"] == 2
    assert fig["whole"] is None
    assert any(n.startswith("whole: 2 object(s) not measured") for n in fig["notes"])


def test_visible_fraction_is_read_when_the_manifest_has_it(dataset: Path, helpers) -> None:
    records = helpers.read_records(dataset)
    for rec in records:
        for inst in rec["instances"]:
            inst.pop("visible_fraction", None)  # a dataset written before the field existed
    helpers.write_records(dataset, records)
    assert dataset_stats(dataset)["totals"]["plausibility"]["visible_fraction_median"] is None
    records[1]["instances"][0]["visible_fraction"] = 0.5
    records[1]["instances"][1]["visible_fraction"] = 0.9
    helpers.write_records(dataset, records)
    stats = dataset_stats(dataset)
    assert stats["splits"]["train"]["plausibility"]["visible_fraction_median"] == pytest.approx(0.7)
    assert stats["splits"]["val"]["plausibility"]["visible_fraction_median"] is None


def test_npy_instances_give_the_same_figures(dataset: Path, dataset_npy: Path) -> None:
    a, b = dataset_stats(dataset)["totals"]["plausibility"], dataset_stats(dataset_npy)["totals"]["plausibility"]
    assert a["n_objects"] == b["n_objects"] == 3
    assert {k: v for k, v in a.items() if k != "notes"} == {k: v for k, v in b.items() if k != "notes"}
    assert len(a["notes"]) == len(b["notes"]) == 3  # texture, chroma shift, forbidden


def test_stats_json_and_table_show_plausibility(dataset: Path, tmp_path: Path) -> None:
    _with_sources(dataset, tmp_path)
    result = CliRunner().invoke(app, ["stats", str(dataset), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert set(stats["splits"]["train"]["plausibility"]) == KEYS
    assert set(stats["totals"]["plausibility"]) == KEYS
    console = Console(record=True, width=160)
    render_stats(stats, console)
    text = console.export_text()
    for needle in ("plausibility of placed objects", "size within 0.5-2x", "1 of 2", "target sidewalk", "50.0%"):
        assert needle in text
    assert "train: chroma shift: 1 object(s) not measured" in text


def test_stats_without_plausibility(dataset: Path) -> None:
    stats = dataset_stats(dataset, plausibility=False)
    assert "plausibility" not in stats["totals"]
    assert all("plausibility" not in split for split in stats["splits"].values())
    console = Console(record=True, width=160)
    render_stats(stats, console)
    assert "plausibility" not in console.export_text()
