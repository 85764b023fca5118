"""Pure helpers: masks from the index pass, 3-class merge, PNG metadata stripping, camera geometry."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from oodforge._io import decode_image_rgb, encode_png
from oodforge.errors import ShapeError
from oodforge.render.geometry import Camera, euler_from_matrix, look_at_matrix, matrix_from_euler, orbit_location
from oodforge.render.masks import index_to_masks, strip_png_metadata, three_class_mask


def test_index_to_masks_and_three_classes():
    idx = np.array([[0, 1, 2], [2, 1, 0]], np.float32)
    gt, fb = index_to_masks(idx)
    assert gt.dtype == np.uint8 and gt.tolist() == [[0, 0, 1], [1, 0, 0]]
    assert fb.tolist() == [[0, 1, 1], [1, 1, 0]]
    three = three_class_mask(fb, gt)
    assert three.dtype == np.uint8 and three.tolist() == [[0, 1, 2], [2, 1, 0]]
    # the anomaly overrides the foreground; an anomaly pixel counts as 2 even where fb says background
    assert three_class_mask(np.zeros((1, 2)), np.array([[1, 0]])).tolist() == [[2, 0]]
    with pytest.raises(ShapeError):
        index_to_masks(np.zeros((2, 2, 1)))
    with pytest.raises(ShapeError):
        three_class_mask(np.zeros((2, 2)), np.zeros((2, 3)))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_strip_png_metadata_keeps_pixels():
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    png = encode_png(rgb)
    tagged = png[:33] + _chunk(b"tEXt", b"RenderTime\x0000:01.23") + png[33:]
    assert tagged != png
    stripped = strip_png_metadata(tagged)
    assert stripped == strip_png_metadata(png)
    assert np.array_equal(decode_image_rgb(stripped), rgb)
    with pytest.raises(ValueError, match="not a PNG"):
        strip_png_metadata(b"GIF89a")


def test_euler_round_trip_and_look_at():
    rng = np.random.default_rng(0)
    for _ in range(20):
        e = rng.uniform(-1.2, 1.2, 3)
        assert np.allclose(euler_from_matrix(matrix_from_euler(e)), e, atol=1e-9)
    m = look_at_matrix(np.array([0.0, -1.0, 0.0]))
    assert np.allclose(-m[:, 2], [0, -1, 0]) and np.allclose(m[:, 1], [0, 0, 1])
    assert np.allclose(m.T @ m, np.eye(3))
    straight_down = look_at_matrix(np.array([0.0, 0.0, -1.0]))
    assert np.allclose(straight_down.T @ straight_down, np.eye(3))


def test_projection_and_pixel_rays_agree():
    loc = orbit_location(2, 4, 8.0, 2.0, (0.0, 0.0, 0.0))
    assert np.allclose(loc, [0.0, 8.0, 2.0])
    cam = Camera.looking_at(loc, (0.0, 0.0, 0.0), 35.0, 64, 48)
    uv, depth = cam.project(np.zeros((1, 3)))
    assert np.allclose(uv, [[32.0, 24.0]]) and depth[0] == pytest.approx(np.hypot(8, 2))
    cols, rows = np.array([0, 10, 63]), np.array([0, 40, 47])
    rays = cam.pixel_rays(cols, rows)
    uv2, _ = cam.project(cam.location + 5.0 * rays)
    assert np.allclose(uv2, np.stack([cols + 0.5, rows + 0.5], axis=1))
    assert cam.focal_px == pytest.approx(35.0 / 36.0 * 64)
