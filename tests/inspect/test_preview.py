"""Contact sheet: shape, row choice (anomalies first, seeded), colours, determinism, atomic PNG, text layout."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pytest

from oodforge.errors import DataLayoutError, UsageError
from oodforge.export.manifest import read_manifest
from oodforge.inspect._draw import (
    ELLIPSIS,
    MAX_HEADER_LINES,
    header,
    header_height,
    label,
    layout_lines,
)
from oodforge.inspect.preview import (
    BACKGROUND,
    GAP,
    HEADER_H,
    header_parts,
    make_contact_sheet,
    select_records,
    write_preview,
)

RENDER_HEADER = [
    "cam02/d001_anomaly_i3_s0_sun8_depth-5.45_scale0.61_colourred",
    "anomaly traffic_cone 148 px",
    "sun 8",
    "depth -5.45",
    "scale 0.61",
    "colour red",
]
TEXTS = [
    RENDER_HEADER,
    ["test/frankfurt_000000_000019", "synthetic 1/1 placed"],
    ["x" * 90],  # one word wider than most sheets
    ["a b c d e f g h i j k l m n o p q r s t u v w x y z " * 6],  # more than MAX_HEADER_LINES at any width
    [],
]
WIDTHS = [20, 56, 128, 200, 296, 400, 776, 1544, 3000]  # n=1 at panel 16 .. panel 512 and wider


def _row_heights(root: Path, *, n: int, panel_width: int, body_h: int, split: str | None = None) -> list[int]:
    chosen = select_records(read_manifest(root / "manifest.jsonl"), n=n, split=split, seed=0)
    width = 3 * panel_width + 2 * GAP
    return [header_height(len(layout_lines(header_parts(rec), width))) + body_h for rec in chosen]


def test_shape_and_determinism(dataset: Path) -> None:
    sheet = make_contact_sheet(dataset, n=8, panel_width=256)  # wide: every header is one line
    assert sheet.dtype == np.uint8
    assert sheet.shape == (4 * (HEADER_H + 128) + 3 * GAP, 3 * 256 + 2 * GAP, 3)
    assert np.array_equal(sheet, make_contact_sheet(dataset, n=8, panel_width=256))


@pytest.mark.parametrize(("n", "panel_width"), [(1, 16), (2, 40), (4, 64), (16, 96), (16, 512)])
def test_narrow_sheets_grow_their_headers(dataset: Path, n: int, panel_width: int) -> None:
    sheet = make_contact_sheet(dataset, n=n, panel_width=panel_width)
    heights = _row_heights(dataset, n=n, panel_width=panel_width, body_h=panel_width // 2)
    assert sheet.shape == (sum(heights) + (len(heights) - 1) * GAP, 3 * panel_width + 2 * GAP, 3)
    if panel_width <= 64:  # "train/aachen_000001_000019" alone is wider than 3 * 64 + 2 * GAP
        assert all(h > HEADER_H + panel_width // 2 for h in heights)
    top = 0
    for h in heights:  # every header band starts with a background row: no text runs into the row above
        assert (sheet[top] == BACKGROUND).all()
        top += h + GAP


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("parts", TEXTS)
def test_layout_lines_fit_the_width_and_never_intersect(parts: list[str], width: int) -> None:
    lines = layout_lines(parts, width)
    height = header_height(len(lines))
    assert 1 <= len(lines) <= MAX_HEADER_LINES
    for line in lines:
        x0, y0, x1, y1 = line.box
        assert 0 <= x0 <= x1 <= width and 0 <= y0 < y1 <= height
        assert x0 <= line.org[0] and y0 < line.org[1] < y1
    for a, b in combinations([line.box for line in lines], 2):
        assert a[3] <= b[1] or b[3] <= a[1]  # one below the other, no shared row
    shown = "".join("".join(line.text.split()) for line in lines)
    full = "".join("".join(p.split()) for p in parts)
    if shown.endswith(ELLIPSIS) and not full.endswith(ELLIPSIS):  # cut: what is shown is a prefix of the text
        assert full.startswith(shown.removesuffix(ELLIPSIS))
    elif width >= 56:  # not cut: nothing lost
        assert shown == full


def test_long_text_wraps_then_ends_in_an_ellipsis() -> None:
    wide = layout_lines(RENDER_HEADER, 3000)
    assert [line.text for line in wide] == ["   ".join(RENDER_HEADER)]
    narrow = layout_lines(RENDER_HEADER, 296)
    assert 2 <= len(narrow) <= MAX_HEADER_LINES and ELLIPSIS not in "".join(line.text for line in narrow)
    assert any("sun 8" in line.text for line in narrow)  # whole parts stay on one line
    crowded = layout_lines(TEXTS[3], 296)
    assert len(crowded) == MAX_HEADER_LINES and crowded[-1].text.endswith(ELLIPSIS)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("parts", TEXTS)
def test_header_draws_inside_its_line_boxes(parts: list[str], width: int) -> None:
    band = header(parts, width)
    lines = layout_lines(parts, width)
    assert band.shape == (header_height(len(lines)), width, 3)
    inside = np.zeros(band.shape[:2], bool)
    for line in lines:
        x0, y0, x1, y1 = line.box
        inside[y0:y1, x0:x1] = True
    assert (band[~inside] == BACKGROUND).all()


def test_header_outline_hugs_the_glyphs() -> None:
    """The reported bug: the black outline was drawn bolder, so wider, than the text and ran past it."""
    band = header("test/frankfurt_000000_000019   synthetic 1/1 placed", 1544)
    grey = band.max(axis=-1)
    glyph_cols = np.nonzero((grey > 128).any(axis=0))[0]
    outline_cols = np.nonzero((grey < 16).any(axis=0))[0]  # darker than the background: outline ink
    assert glyph_cols.size and outline_cols.size
    assert outline_cols.min() >= glyph_cols.min() - 2 and outline_cols.max() <= glyph_cols.max() + 2


def test_labels_never_overlap_and_stay_inside() -> None:
    img = np.zeros((32, 64, 3), np.uint8)
    taken: list[tuple[int, int, int, int]] = []
    anchors = [(10, 10, 20, 20), (12, 12, 22, 22), (50, 5, 63, 30), (0, 0, 5, 5), (30, 15, 40, 25)]
    boxes = [label(img, f"{k}:refrigerator", a, (255, 0, 0), taken) for k, a in enumerate(anchors)]
    placed = [b for b in boxes if b is not None]
    assert placed and placed == taken and boxes[0] is not None
    for x0, y0, x1, y1 in placed:
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 32
    for a, b in combinations(placed, 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    drawn = img.any(axis=-1)
    for x0, y0, x1, y1 in placed:
        drawn[y0:y1, x0:x1] = False
    assert not drawn.any()  # nothing drawn outside the returned boxes


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
    (row_h,) = _row_heights(dataset, n=1, panel_width=64, body_h=32, split="val")
    body = sheet[row_h - 32 :]
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
    heights = _row_heights(dataset_npy, n=3, panel_width=96, body_h=48)
    assert png.shape == (sum(heights) + 2 * GAP, 3 * 96 + 2 * GAP, 3)
    assert np.array_equal(cv2.cvtColor(png, cv2.COLOR_BGR2RGB), make_contact_sheet(dataset_npy, n=3, panel_width=96))
    assert [p.name for p in out.parent.iterdir()] == ["sheet.png"]
