"""Source image check without decoding: container integrity, channels, bit depth, size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from oodforge.errors import SampleError
from oodforge.sources.image_header import check_source_image, read_image_header

H, W = 24, 40
PATH = Path("city/x_leftImg8bit.png")
LABELS = Path("city/x_gtFine_labelIds.png")


def _encode(ext: str, arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, arr)
    assert ok
    return buf.tobytes()


def _rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _refused(data: bytes, pattern: str, shape: tuple[int, int] = (H, W)) -> str:
    with pytest.raises(SampleError, match=pattern) as info:
        check_source_image(data, PATH, shape, LABELS)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(PATH)) and "expected" in msg
    return msg


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_intact_rgb_passes_with_its_header(ext: str) -> None:
    data = _encode(ext, _rgb())
    head = read_image_header(data, PATH)
    assert (head.width, head.height, head.channels, head.bit_depth) == (W, H, 3, 8)
    assert head.format == ("png" if ext == ".png" else "jpeg")
    check_source_image(data, PATH, (H, W), LABELS)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_png(keep: float) -> None:
    data = _encode(".png", _rgb())
    _refused(data[: int(len(data) * keep)], "truncated PNG")


def test_png_without_iend_chunk() -> None:
    data = _encode(".png", _rgb())
    _refused(data[:-12], "truncated PNG")


def test_png_with_a_flipped_byte_fails_its_crc() -> None:
    data = bytearray(_encode(".png", _rgb()))
    data[len(data) // 2] ^= 0x40
    _refused(bytes(data), "fails its CRC")


def test_truncated_jpeg() -> None:
    data = _encode(".jpg", _rgb())
    _refused(data[: len(data) // 2], "truncated JPEG")


@pytest.mark.parametrize(
    ("ext", "arr", "found"),
    [
        (".png", np.zeros((H, W), np.uint8), "8-bit grey PNG"),
        (".png", np.zeros((H, W, 3), np.uint16), "16-bit RGB PNG"),
        (".png", np.zeros((H, W, 4), np.uint8), "8-bit RGBA PNG"),
        (".jpg", np.zeros((H, W), np.uint8), "8-bit grey JPEG"),
    ],
)
def test_not_8bit_rgb(ext: str, arr: np.ndarray, found: str) -> None:
    msg = _refused(_encode(ext, arr), found)
    assert "expected 8-bit RGB" in msg


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_size_must_match_the_labels(ext: str) -> None:
    msg = _refused(_encode(ext, _rgb()), "but its labels", shape=(H * 2, W * 2))
    assert f"{W}x{H}" in msg and f"{W * 2}x{H * 2}" in msg and str(LABELS) in msg


@pytest.mark.parametrize("data", [b"", b"hello world", _encode(".bmp", np.zeros((4, 4, 3), np.uint8))])
def test_not_png_or_jpeg(data: bytes) -> None:
    _refused(data, "not a PNG or JPEG file")


def test_png_signature_only() -> None:
    _refused(b"\x89PNG\r\n\x1a\n", "without a complete IHDR")
