from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodforge.errors import ConfigError
from oodforge.synth.geometry import (
    CATEGORY_HEIGHTS_M,
    clamp_scale_to_area,
    metric_scale,
    perspective_scale,
    real_height_m,
    scaled_size,
    transform_mask,
    transform_rgb,
)

# The 80 COCO 2017 category names (official order).
COCO_80 = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)


def test_height_table_covers_the_80_coco_categories() -> None:
    names = set(COCO_80)
    assert len(names) == 80
    assert set(CATEGORY_HEIGHTS_M) == names
    assert all(0 < v < 20 for v in CATEGORY_HEIGHTS_M.values())
    assert CATEGORY_HEIGHTS_M["dog"] == pytest.approx(0.6)
    assert CATEGORY_HEIGHTS_M["giraffe"] == pytest.approx(4.5)


def test_real_height_override_first_and_unknown_is_config_error() -> None:
    assert real_height_m("dog", {}) == pytest.approx(0.6)
    assert real_height_m("dog", {"dog": 0.8}) == pytest.approx(0.8)
    assert real_height_m("unicorn", {"unicorn": 1.5}) == pytest.approx(1.5)
    with pytest.raises(ConfigError, match=r"synthesis\.geometry\.category_heights_m") as info:
        real_height_m("unicorn", {})
    assert "\n" not in str(info.value)


def test_perspective_scale_endpoints_and_middle() -> None:
    assert perspective_scale(0, 1024, (0.35, 1.25)) == pytest.approx(0.35)
    assert perspective_scale(1023, 1024, (0.35, 1.25)) == pytest.approx(1.25)
    assert perspective_scale(5000, 1024, (0.35, 1.25)) == pytest.approx(1.25)
    assert perspective_scale(-3, 1024, (0.35, 1.25)) == pytest.approx(0.35)
    assert perspective_scale(50, 101, (1.0, 2.0)) == pytest.approx(1.5)


def test_metric_scale_formula() -> None:
    # horizon at row 400, foot at row 700: 300 px below; camera 1.2 m; dog 0.6 m -> 150 px tall.
    assert metric_scale(700, 400, 1.2, 0.6, 100) == pytest.approx(1.5)
    assert metric_scale(500.5, 400.5, 1.0, 2.0, 50) == pytest.approx(4.0)
    assert metric_scale(400, 400, 1.2, 0.6, 100) is None
    assert metric_scale(300, 400, 1.2, 0.6, 100) is None
    with pytest.raises(ValueError, match="expected all > 0"):
        metric_scale(700, 400, 0.0, 0.6, 100)


def test_clamp_scale_hand_cases() -> None:
    # object 100 px, scene 10_000 px, ratio [0.01, 0.04] -> scales [1, 2].
    assert clamp_scale_to_area(0.5, 100, 10_000, (0.01, 0.04)) == pytest.approx(1.0)
    assert clamp_scale_to_area(3.0, 100, 10_000, (0.01, 0.04)) == pytest.approx(2.0)
    assert clamp_scale_to_area(1.5, 100, 10_000, (0.01, 0.04)) == 1.5
    with pytest.raises(ValueError, match="expected positive areas"):
        clamp_scale_to_area(1.0, 0, 10_000, (0.01, 0.04))


@settings(max_examples=100, deadline=None)
@given(
    scale=st.floats(1e-3, 1e3),
    obj=st.floats(1.0, 1e6),
    scene=st.floats(1e3, 1e7),
    lo=st.floats(0.0, 0.5),
    width=st.floats(0.0, 0.5),
)
def test_clamp_keeps_area_in_range(scale: float, obj: float, scene: float, lo: float, width: float) -> None:
    hi = lo + width
    s = clamp_scale_to_area(scale, obj, scene, (lo, hi))
    ratio = s * s * obj / scene
    assert lo * (1 - 1e-9) - 1e-15 <= ratio <= hi * (1 + 1e-9) + 1e-15
    if lo <= scale * scale * obj / scene <= hi:
        assert s == scale  # already feasible: unchanged
    elif scale * scale * obj / scene < lo:
        assert s == pytest.approx(math.sqrt(lo * scene / obj))
    else:
        assert s == pytest.approx(math.sqrt(hi * scene / obj))


def test_scaled_size() -> None:
    assert scaled_size(100, 50, 0.5) == (50, 25)
    assert scaled_size(3, 3, 0.01) == (1, 1)
    assert scaled_size(10, 7, 1.25) == (12, 9)  # 12.5 -> 12 (banker's), 8.75 -> 9


def test_transform_mask_flip_and_resize() -> None:
    mask = np.zeros((4, 6), dtype=bool)
    mask[:, :2] = True
    flipped = transform_mask(mask, (6, 4), flip=True)
    assert flipped.dtype == bool
    assert flipped.shape == (4, 6)
    np.testing.assert_array_equal(flipped, mask[:, ::-1])
    up = transform_mask(mask, (12, 8), flip=False)
    assert up.shape == (8, 12)
    np.testing.assert_array_equal(up, np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1))
    same = transform_mask(mask, (6, 4), flip=False)
    assert same is not mask
    np.testing.assert_array_equal(same, mask)


def test_transform_rgb_flip_resize_deterministic() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(transform_rgb(rgb, (30, 20), flip=True), rgb[:, ::-1])
    out = transform_rgb(rgb, (45, 30), flip=True)
    assert out.shape == (30, 45, 3)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, transform_rgb(rgb, (45, 30), flip=True))
    small = transform_rgb(rgb, (10, 5), flip=False)  # > 2x shrink: box filter
    assert small.shape == (5, 10, 3)
    assert abs(float(small.mean()) - float(rgb.mean())) < 3.0
    flat = np.full((8, 8, 3), 77, dtype=np.uint8)
    np.testing.assert_array_equal(transform_rgb(flat, (3, 13), flip=True), np.full((13, 3, 3), 77, np.uint8))


@settings(max_examples=50, deadline=None)
@given(
    h=st.integers(1, 30),
    w=st.integers(1, 30),
    ow=st.integers(1, 60),
    oh=st.integers(1, 60),
    flip=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_transform_mask_and_rgb_shapes(h: int, w: int, ow: int, oh: int, flip: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((h, w)) < 0.5
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    m = transform_mask(mask, (ow, oh), flip)
    r = transform_rgb(rgb, (ow, oh), flip)
    assert m.shape == (oh, ow)
    assert m.dtype == bool
    assert r.shape == (oh, ow, 3)
    assert r.dtype == np.uint8
    if not mask.any():
        assert not m.any()
    if mask.all():
        assert m.all()
