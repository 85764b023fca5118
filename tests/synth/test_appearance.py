"""Appearance steps: illumination gain, sharpness and noise, contact shadow."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodforge.synth.photometric import (
    LUMA,
    apply_photometric,
    linear_to_srgb,
    luminance_params,
    srgb_to_linear,
)
from oodforge.synth.scene import SceneCamera
from oodforge.synth.shadow import apply_shadow, shadow_factor, shadow_params
from oodforge.synth.texture import apply_texture, gradient_mean, noise_sigma, ring_texture, texture_params

LIN = srgb_to_linear(np.arange(256) / 255.0)


def _ab(rgb: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return lab.reshape(-1, 3)[:, 1:].mean(axis=0)


def test_srgb_round_trip():
    v = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(v)), v, atol=1e-12)


def test_luminance_gain_by_hand_and_keeps_the_colour():
    red = np.zeros((8, 8, 3), np.uint8)
    red[...] = (200, 40, 30)
    mask = np.ones((8, 8), bool)
    grey = np.full((50, 3), 60, np.uint8)
    p = luminance_params(red, mask, grey, strength=0.5, white_balance=0.0, max_gain=4.0)
    y_obj, y_bg = LUMA @ LIN[[200, 40, 30]], LUMA @ LIN[[60, 60, 60]]
    assert p.space == "luminance"
    assert p.scale[0] == p.scale[1] == p.scale[2] == pytest.approx((y_bg / y_obj) ** 0.5, rel=1e-5)
    out = apply_photometric(red, p)
    assert out[0, 0, 0] < 200  # darker toward the grey street
    lin_out = LIN[out[0, 0]]
    np.testing.assert_allclose(lin_out / lin_out.sum(), LIN[[200, 40, 30]] / LIN[[200, 40, 30]].sum(), atol=0.01)
    # a Lab mean transfer paints the street's grey onto it; the gain keeps it red
    assert np.linalg.norm(_ab(out) - _ab(red)) < 0.25 * np.linalg.norm(_ab(red))


def test_luminance_gain_is_bounded_and_identity_without_pixels():
    white = np.full((4, 4, 3), 255, np.uint8)
    p = luminance_params(white, np.ones((4, 4), bool), np.zeros((9, 3), np.uint8), strength=1.0,
                         white_balance=0.0, max_gain=2.0)  # fmt: skip
    assert p.scale == pytest.approx((0.5, 0.5, 0.5))
    none = luminance_params(white, np.zeros((4, 4), bool), np.zeros((9, 3), np.uint8), strength=1.0,
                            white_balance=0.0, max_gain=2.0)  # fmt: skip
    assert none.is_identity


def test_white_balance_keeps_the_luminance_gain():
    obj = np.full((4, 4, 3), (120, 120, 120), np.uint8)
    bg = np.tile(np.array([[90, 110, 160]], np.uint8), (20, 1))
    plain = luminance_params(obj, np.ones((4, 4), bool), bg, strength=0.5, white_balance=0.0, max_gain=2.0)
    wb = luminance_params(obj, np.ones((4, 4), bool), bg, strength=0.5, white_balance=0.5, max_gain=2.0)
    assert wb.scale[2] > wb.scale[0]  # toward the ring's blue
    y = LUMA @ LIN[[120, 120, 120]]
    assert LUMA @ (LIN[[120, 120, 120]] * np.array(wb.scale)) == pytest.approx(y * plain.scale[0], rel=1e-9)


def _textured(seed: int, h: int = 40, w: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_texture_changes_only_the_support_and_is_deterministic():
    rgb = _textured(1)
    support = np.zeros((40, 40), bool)
    support[5:35, 8:30] = True
    from oodforge.synth.texture import TextureParams

    p = TextureParams(blur_sigma=1.2, motion_blur_px=5, noise_sigma=3.0, noise_seed=7)
    a, b = apply_texture(rgb, support, p), apply_texture(rgb, support, p)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[~support], rgb[~support])
    assert (a[support] != rgb[support]).any()
    np.testing.assert_array_equal(apply_texture(rgb, support, TextureParams()), rgb)


def test_sharpness_search_meets_the_target_or_hits_the_cap():
    obj = _textured(2, 60, 60)
    support = np.ones((60, 60), bool)
    grey = cv2.cvtColor(obj, cv2.COLOR_RGB2GRAY).astype(np.float32)
    g_obj = gradient_mean(grey, support)
    ring_g = g_obj / 6.0
    p = texture_params(obj, support, ring_g, 0.0, sharpness=True, target_ratio=2.0, max_sigma_px=5.0,
                       noise=False, motion_blur_px=0, noise_seed=0)  # fmt: skip
    assert 0 < p.blur_sigma <= 5.0
    out = cv2.cvtColor(apply_texture(obj, support, p), cv2.COLOR_RGB2GRAY).astype(np.float32)
    inner = cv2.erode(support.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=3).astype(bool)
    assert gradient_mean(out, inner) <= 2.0 * ring_g + 1e-3
    capped = texture_params(obj, support, ring_g / 100, 0.0, sharpness=True, target_ratio=2.0, max_sigma_px=0.5,
                            noise=False, motion_blur_px=0, noise_seed=0)  # fmt: skip
    assert capped.blur_sigma == 0.5
    flat = texture_params(obj, support, g_obj * 10, 0.0, sharpness=True, target_ratio=2.0, max_sigma_px=5.0,
                          noise=False, motion_blur_px=0, noise_seed=0)  # fmt: skip
    assert flat.blur_sigma == 0.0  # never sharpened, never blurred when already smooth enough


@settings(max_examples=10, deadline=None)
@given(st.floats(1.0, 12.0))
def test_noise_estimate_recovers_gaussian_noise(sigma):
    rng = np.random.default_rng(3)
    ramp = np.add.outer(np.arange(120.0), np.arange(120.0)).astype(np.float32) * 0.5 + 40
    noisy = ramp + rng.standard_normal(ramp.shape).astype(np.float32) * sigma
    assert noise_sigma(noisy, np.ones(ramp.shape, bool)) == pytest.approx(sigma, rel=0.08)


def test_noise_is_added_up_to_the_ring_level():
    obj = np.full((80, 80, 3), 128, np.uint8)
    support = np.ones((80, 80), bool)
    p = texture_params(obj, support, 5.0, 4.0, sharpness=False, target_ratio=2.0, max_sigma_px=1.0,
                       noise=True, motion_blur_px=0, noise_seed=11)  # fmt: skip
    assert p.noise_sigma == pytest.approx(4.0, abs=0.05)
    out = apply_texture(obj, support, p)
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32)
    assert noise_sigma(grey, support) == pytest.approx(4.0, rel=0.15)
    ring = np.zeros((30, 30), bool)
    ring[:5] = True
    g, n = ring_texture(np.full((30, 30, 3), 90, np.uint8), ring)
    assert g == 0.0 and n == 0.0


def test_shadow_geometry_by_hand():
    fp = np.zeros((10, 30), bool)
    fp[8:10, 5:25] = True  # 20 px wide footprint
    cam = SceneCamera(horizon_row=400.0, height_m=1.22, fy_px=2000.0, source="standard")
    p = shadow_params(fp, 100, 591, 600, cam, strength=0.4, width_ratio=1.2)
    assert p is not None
    assert p.rx == pytest.approx(12.0)
    assert p.ry == pytest.approx(12.0 * (600 - 400) / 2000)  # a ground circle, foreshortened
    assert p.cy == pytest.approx(600 - 0.25 * p.ry)
    assert p.cx == pytest.approx(100 + 14.5)
    assert shadow_params(fp, 0, 0, 9, cam, strength=0.0, width_ratio=1.0) is None
    win = p.window(1024, 2048)
    f = shadow_factor(p, win)
    assert 0.6 <= f.min() < 0.7 and f.max() == 1.0  # strength 0.4 at the centre (pixel grid off-centre)
    window = np.full((win[3] - win[1], win[2] - win[0], 3), 120, np.uint8)
    exclude = np.zeros(f.shape, bool)
    exclude[:, :3] = True
    out, region = apply_shadow(window, f, exclude)
    assert (out[region] <= 120).all() and (out[~region] == 120).all()
    assert not region[:, :3].any() and (out[region] < 120).any()
