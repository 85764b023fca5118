from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodforge.synth.composite import composite_window, covered_mask, feather_alpha, ring_mask
from oodforge.synth.photometric import PhotometricParams, apply_photometric, photometric_params


def _random_mask(seed: int, h: int, w: int) -> np.ndarray:
    """A blobby random mask: thresholded blurred noise."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
    return noise > np.float32(np.median(noise))


def test_feather_ramp_on_a_square() -> None:
    mask = np.ones((9, 9), dtype=bool)  # the patch border counts as outside
    alpha = feather_alpha(mask, 4)
    assert alpha.dtype == np.float32
    assert alpha[0, 4] == pytest.approx(0.5 / 4)  # d = 1
    assert alpha[1, 4] == pytest.approx(1.5 / 4)  # d = 2
    assert alpha[2, 4] == pytest.approx(2.5 / 4)  # d = 3
    assert alpha[3, 4] == pytest.approx(3.5 / 4)  # d = 4
    assert alpha[4, 4] == pytest.approx(1.0)  # d = 5: opaque centre
    padded = np.zeros((13, 13), dtype=bool)
    padded[2:11, 2:11] = True
    a2 = feather_alpha(padded, 4)
    np.testing.assert_allclose(a2[2:11, 2:11], alpha)
    assert (a2[~padded] == 0).all()
    # covered: d >= 3 (alpha 0.625) -> the inner 5x5
    np.testing.assert_array_equal(covered_mask(alpha), np.pad(np.ones((5, 5), bool), 2))


def test_feather_one_pixel_and_zero() -> None:
    mask = np.zeros((5, 6), dtype=bool)
    mask[1:4, 1:5] = True
    a1 = feather_alpha(mask, 1)
    assert a1[1, 1] == pytest.approx(0.5)  # edge pixel is covered at feather 1
    assert a1[2, 2] == pytest.approx(1.0)
    a0 = feather_alpha(mask, 0)
    assert a0.dtype == np.float32
    np.testing.assert_array_equal(a0, mask.astype(np.float32))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), h=st.integers(1, 40), w=st.integers(1, 40), f=st.integers(0, 8))
def test_alpha_covered_invariants(seed: int, h: int, w: int, f: int) -> None:
    mask = _random_mask(seed, h, w)
    alpha = feather_alpha(mask, f)
    assert alpha.shape == mask.shape
    assert ((alpha >= 0) & (alpha <= 1)).all()
    np.testing.assert_array_equal(alpha > 0, mask)
    cov = covered_mask(alpha)
    np.testing.assert_array_equal(cov, alpha >= 0.5)
    assert not (cov & ~mask).any()


def test_ring_mask_disk_and_disjoint() -> None:
    sil = np.zeros((11, 11), dtype=bool)
    sil[5, 5] = True
    ring = ring_mask(sil, 3)
    yy, xx = np.mgrid[:11, :11]
    expected = ((yy - 5) ** 2 + (xx - 5) ** 2 <= 9) & ~sil
    np.testing.assert_array_equal(ring, expected)
    assert not ring_mask(sil, 0).any()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), r=st.integers(1, 6))
def test_ring_mask_matches_distance(seed: int, r: int) -> None:
    sil = np.pad(_random_mask(seed, 20, 20), r)
    ring = ring_mask(sil, r)
    assert not (ring & sil).any()
    # reference: Euclidean distance to the silhouette <= r
    dist = cv2.distanceTransform((~sil).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    np.testing.assert_array_equal(ring, (dist <= r + 1e-4) & ~sil)


def test_photometric_identity_cases_are_exact() -> None:
    rng = np.random.default_rng(1)
    patch = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    mask = rng.random((12, 10)) < 0.6
    bg = rng.integers(0, 256, (50, 3), dtype=np.uint8)
    kw = {"match_mean": True, "match_std": True, "strength": 1.0, "eps": 1e-6}
    cases = [
        photometric_params(patch, mask, bg, space="none", **kw),
        photometric_params(patch, mask, bg[:0], space="lab", **kw),
        photometric_params(patch, np.zeros_like(mask), bg, space="rgb", **kw),
        photometric_params(patch, mask, bg, space="lab", match_mean=False, match_std=False, strength=1, eps=1e-6),
        photometric_params(patch, mask, bg, space="lab", match_mean=True, match_std=True, strength=0.0, eps=1e-6),
    ]
    for params in cases:
        assert params.scale == (1.0, 1.0, 1.0)
        assert params.shift == (0.0, 0.0, 0.0)
        out = apply_photometric(patch, params)
        assert out is not patch
        np.testing.assert_array_equal(out, patch)
    np.testing.assert_array_equal(apply_photometric(patch, PhotometricParams(space="lab")), patch)


def test_photometric_rgb_hand_case() -> None:
    patch = np.zeros((2, 2, 3), dtype=np.uint8)
    patch[0, 0] = (10, 20, 30)
    patch[0, 1] = (30, 40, 50)
    mask = np.array([[True, True], [False, False]])
    bg = np.array([[100, 100, 100], [140, 100, 60]], dtype=np.uint8)
    p = photometric_params(patch, mask, bg, space="rgb", match_mean=True, match_std=False, strength=1.0, eps=1e-6)
    assert p.scale == (1.0, 1.0, 1.0)
    assert p.shift == pytest.approx((100.0, 70.0, 40.0))  # mu_bg (120, 100, 80) - mu_obj (20, 30, 40)
    half = photometric_params(patch, mask, bg, space="rgb", match_mean=True, match_std=False, strength=0.5, eps=1e-6)
    assert half.shift == pytest.approx((50.0, 35.0, 20.0))
    s = photometric_params(patch, mask, bg, space="rgb", match_mean=True, match_std=True, strength=1.0, eps=0.0)
    # std_obj = 10 per channel; std_bg = (20, 0, 20)
    assert s.scale == pytest.approx((2.0, 0.0, 2.0))
    assert s.shift == pytest.approx((120 - 40, 100, 80 - 80))
    out = apply_photometric(patch, s)
    np.testing.assert_array_equal(out[0, 0], (100, 100, 60))
    np.testing.assert_array_equal(out[0, 1], (140, 100, 100))
    assert all(isinstance(v, float) for v in (*s.scale, *s.shift))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), space=st.sampled_from(["rgb", "lab"]), match_std=st.booleans())
def test_photometric_match_mean_reaches_ring_mean(seed: int, space: str, match_std: bool) -> None:
    rng = np.random.default_rng(seed)
    # low-saturation colours (well inside the gamut) so that clipping does not interfere
    base_o, base_b = rng.integers(90, 166, 2)
    patch = (base_o + rng.integers(-12, 13, (16, 16, 1)) + rng.integers(-6, 7, (16, 16, 3))).astype(np.uint8)
    bg = (base_b + rng.integers(-12, 13, (80, 1)) + rng.integers(-6, 7, (80, 3))).astype(np.uint8)
    mask = _random_mask(seed, 16, 16)
    params = photometric_params(
        patch, mask, bg, space=space, match_mean=True, match_std=match_std, strength=1.0, eps=1e-6
    )
    out = apply_photometric(patch, params)

    def to_space(x: np.ndarray) -> np.ndarray:
        x = x.reshape(-1, 1, 3)
        return (cv2.cvtColor(x, cv2.COLOR_RGB2LAB) if space == "lab" else x).reshape(-1, 3).astype(np.float64)

    got = to_space(out[mask]).mean(axis=0)
    want = to_space(bg).mean(axis=0)
    tol = 0.51 if space == "rgb" else 1.5  # rounding; Lab also pays the 8-bit Lab<->RGB round trip
    np.testing.assert_array_less(np.abs(got - want), tol)
    if match_std and space == "rgb":
        np.testing.assert_allclose(to_space(out[mask]).std(axis=0), to_space(bg).std(axis=0), atol=0.6)


def test_composite_hand_case() -> None:
    window = np.array([[[0, 100, 255], [10, 10, 10]]], dtype=np.uint8)
    patch = np.array([[[255, 101, 0], [20, 20, 20]]], dtype=np.uint8)
    alpha = np.array([[0.5, 0.25]], dtype=np.float32)
    out = composite_window(window, patch, alpha)
    np.testing.assert_array_equal(out, [[[128, 101, 128], [13, 13, 13]]])  # 127.5 -> 128, 100.5 -> 101, 12.5 -> 13


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**16), h=st.integers(1, 20), w=st.integers(1, 20))
def test_composite_exact_at_0_and_1_and_between(seed: int, h: int, w: int) -> None:
    rng = np.random.default_rng(seed)
    window = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = rng.random((h, w)).astype(np.float32)
    pick = rng.integers(0, 3, (h, w))
    alpha[pick == 0] = 0.0
    alpha[pick == 1] = 1.0
    out = composite_window(window, patch, alpha)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[alpha == 0], window[alpha == 0])
    np.testing.assert_array_equal(out[alpha == 1], patch[alpha == 1])
    assert (out >= np.minimum(window, patch)).all()
    assert (out <= np.maximum(window, patch)).all()
