"""Contact sheet: shape, row choice (anomalies first, seeded), colours, determinism, atomic PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from oodforge.errors import DataLayoutError, UsageError
from oodforge.export.manifest import read_manifest
from oodforge.inspect.preview import GAP, HEADER_H, make_contact_sheet, select_records, write_preview


def test_shape_and_determinism(dataset: Path) -> None:
    sheet = make_contact_sheet(dataset, n=8, panel_width=128)
    row_h = HEADER_H + 64  # 64x32 images scaled to 128 wide
    assert sheet.dtype == np.uint8
    assert sheet.shape == (4 * row_h + 3 * GAP, 3 * 128 + 2 * GAP, 3)
    assert np.array_equal(sheet, make_contact_sheet(dataset, n=8, panel_width=128))


def test_row_choice(dataset: Path) -> None:
    records = read_manifest(dataset / "manifest.jsonl")
    two = select_records(records, n=2, split=None, seed=0)
    assert [r.image_id for r in two] == ["aachen_000001_000019", "frankfurt_000000_000294"]
    three = select_records(records, n=3, split=None, seed=5)
    assert [r.has_anomaly for r in three] == [True, True, False]
    assert three == select_records(records, n=3, split=None, seed=5)
    seen = {tuple(r.image_id for r in select_records(records, n=3, split=None, seed=s)) for s in range(20)}
    assert len(seen) == 2  # the third row is one of the two clean-GT train images
    val = select_records(records, n=8, split="val", seed=0)
    assert [r.image_id for r in val] == ["frankfurt_000000_000294"]


def test_bad_arguments(dataset: Path) -> None:
    with pytest.raises(DataLayoutError, match="available: train, val"):
        make_contact_sheet(dataset, split="test")
    with pytest.raises(UsageError, match="at least 1"):
        make_contact_sheet(dataset, n=0)


def test_gt_overlay_colours(dataset: Path) -> None:
    sheet = make_contact_sheet(dataset, n=1, split="val", panel_width=64)  # scale 1: pixel exact
    body = sheet[HEADER_H:]
    image, overlay = body[:, :64].astype(int), body[:, 64 + GAP : 128 + GAP].astype(int)
    assert np.array_equal(overlay[0:5], image[0:5])  # normal pixels untouched
    dog = overlay[5:10, 20:30]
    assert (dog[..., 0] > dog[..., 2] + 100).all()  # orange-ish anomaly
    assert (overlay[28:] <= np.maximum(image[28:], 140)).all()  # ignore darkened / hatched grey
    outlines = body[:, 128 + 2 * GAP :]
    assert not np.array_equal(outlines, body[:, :64])


def test_npy_format_and_write(dataset_npy: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "sheet.png"
    assert write_preview(dataset_npy, out, n=3, panel_width=96) == out
    png = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert png.shape == (3 * (HEADER_H + 48) + 2 * GAP, 3 * 96 + 2 * GAP, 3)
    assert np.array_equal(cv2.cvtColor(png, cv2.COLOR_BGR2RGB), make_contact_sheet(dataset_npy, n=3, panel_width=96))
    assert [p.name for p in out.parent.iterdir()] == ["sheet.png"]
