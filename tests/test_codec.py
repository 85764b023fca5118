"""The PNG codecs: standard files read back to exactly the pixels written, by OpenCV, Pillow and libpng."""

from __future__ import annotations

import hashlib
import io
from importlib.metadata import version

import cv2
import imagecodecs
import numpy as np
import pytest
from PIL import Image

from oodforge import _codec
from oodforge._codec import decode_png, encode_mask_png, encode_rgb_png, fast_codec_versions
from oodforge._io import decode_image_rgb, decode_label_png, encode_image, encode_png
from oodforge.errors import SampleError

#: sha256 of fpng's bytes for :func:`_textured` per fpng version: the same bytes on every machine that runs
#: that version (its SIMD is only in the checksums; scripts/check_fpng_simd.sh). A new version must be added
#: here after checking that its bytes are deterministic too.
FPNG_GOLDEN = {"0.1.0": "60cd45e722c5a2342dde14ae93036ffc0184f1ee92d52d40a165e65996b79c05"}


def _textured(h: int = 96, w: int = 160, seed: int = 0) -> np.ndarray:
    """An RGB image with smooth regions, edges and noise (what a composite looks like to a PNG filter)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], axis=-1)
    img = (base + rng.integers(-12, 13, (h, w, 3))).clip(0, 255).astype(np.uint8)
    img[h // 3 : h // 2, w // 4 : w // 2] = (200, 30, 40)
    return img


def _via_opencv(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB) if arr.ndim == 3 else arr


def _via_pillow(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (96, 160), (333, 517)])
def test_fast_rgb_png_is_standard_and_lossless(shape: tuple[int, int]) -> None:
    img = _textured(*shape, seed=shape[1])
    data = encode_rgb_png(img, "fast")
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    for decoded in (_via_opencv(data), _via_pillow(data), imagecodecs.png_decode(data), decode_image_rgb(data)):
        np.testing.assert_array_equal(decoded, img)


def test_fast_rgb_png_is_fpng_and_smaller_work_than_opencv() -> None:
    img = _textured()
    fast, slow = encode_rgb_png(img, "fast"), encode_rgb_png(img, "opencv")
    assert fast != slow  # two encoders (fpng writes its own deflate stream)
    assert slow == encode_png(img, 1)  # ``opencv`` is the old output, byte for byte
    assert encode_image(img, "png", png_codec="opencv") == slow
    assert encode_image(img, "png", png_codec="fast") == fast
    assert fast_codec_versions()["fpng"] == version("fpng")


def test_fpng_bytes_are_pinned_for_the_installed_version() -> None:
    digest = hashlib.sha256(encode_rgb_png(_textured(), "fast")).hexdigest()
    ver = version("fpng")
    assert ver in FPNG_GOLDEN, f"fpng {ver}: check its determinism (scripts/check_fpng_simd.sh), then pin {digest}"
    assert digest == FPNG_GOLDEN[ver]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_fast_mask_png_round_trips_everywhere(dtype: type) -> None:
    rng = np.random.default_rng(1)
    arr = np.zeros((120, 200), dtype)
    arr[30:60, 40:90] = 1
    arr[70:100, 100:180] = 255 if dtype == np.uint8 else 40000
    arr[rng.random(arr.shape) < 0.01] = 2
    fast, slow = encode_mask_png(arr, "fast"), encode_mask_png(arr, "opencv")
    assert slow == encode_png(arr, 1)  # ``opencv`` keeps the old bytes
    if dtype == np.uint8:
        clean = np.where(arr == 2, 0, arr).astype(dtype)  # a GT: flat regions, no salt
        assert len(encode_mask_png(clean, "fast")) < len(encode_mask_png(clean, "opencv"))  # RLE suits it
    for data in (fast, slow):
        for decoded in (_via_opencv(data), _via_pillow(data), imagecodecs.png_decode(data)):
            np.testing.assert_array_equal(decoded.astype(dtype), arr)
        np.testing.assert_array_equal(decode_label_png(data, dtype=dtype), arr)


def test_decoders_agree_with_opencv_on_every_png_kind() -> None:
    img = _textured(40, 60)
    gray = img[..., 0].copy()
    cases: dict[str, bytes] = {
        "rgb": cv2.imencode(".png", img[..., ::-1])[1].tobytes(),
        "gray": cv2.imencode(".png", gray)[1].tobytes(),
        "rgba": cv2.imencode(".png", np.dstack([img[..., ::-1], gray]))[1].tobytes(),
        "rgb16": cv2.imencode(".png", img.astype(np.uint16) * 257)[1].tobytes(),
        "jpeg": cv2.imencode(".jpg", img[..., ::-1])[1].tobytes(),
    }
    for mode, arr in (("P", gray // 16), ("LA", np.dstack([gray, gray[::-1]]))):
        buf = io.BytesIO()
        pil = Image.fromarray(arr, mode=mode)
        if mode == "P":
            pil.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
        pil.save(buf, format="PNG")
        cases[mode] = buf.getvalue()
    for name, data in cases.items():
        want = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(decode_image_rgb(data, name), want, err_msg=name)
    np.testing.assert_array_equal(decode_label_png(cases["gray"]), gray)


def test_damaged_files_are_one_line_as_before() -> None:
    data = encode_rgb_png(_textured(), "fast")
    with pytest.raises(SampleError, match="unreadable or truncated image"):
        decode_image_rgb(data[: len(data) // 3], "x.png")
    with pytest.raises(SampleError, match="unreadable or truncated label image"):
        decode_label_png(b"\x89PNG\r\n\x1a\n garbage", "y.png")
    assert decode_png(b"not a png") is None


def test_without_the_fast_packages_everything_is_opencv(monkeypatch: pytest.MonkeyPatch) -> None:
    img = _textured()
    monkeypatch.setattr(_codec, "_fpng", lambda: None)
    monkeypatch.setattr(_codec, "_png_decode", lambda: None)
    assert encode_rgb_png(img, "fast") == encode_png(img, 1)
    assert decode_png(encode_png(img, 1)) is None
    np.testing.assert_array_equal(decode_image_rgb(encode_png(img, 1)), img)
    assert fast_codec_versions() == {"fpng": None, "imagecodecs": None}


def test_a_cpu_without_sse41_does_not_load_fpng(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse sse2 ssse3 cx16\n")
    monkeypatch.setattr(_codec.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(_codec, "Path", lambda _p: cpuinfo)
    assert not _codec._cpu_has_sse41()
    cpuinfo.write_text("flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2\n")
    assert _codec._cpu_has_sse41()


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="RGB image"):
        encode_rgb_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8 or uint16 map"):
        encode_mask_png(np.zeros((4, 4, 3), np.uint8))
