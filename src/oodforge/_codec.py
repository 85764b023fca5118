"""Image codecs: a fast path that writes and reads standard PNG, and OpenCV (the fallback, and ``opencv``).

``fast`` (the default of ``export.png_codec``) and ``opencv`` both write ordinary PNG files that any decoder
reads to exactly the pixels written; they differ in speed and size. Measured side by side on a real 2048x1024
Cityscapes frame (``benchmarks/results/synth.md`` re-measures every run, with the library versions):

============================  ===============================  ==========================================
what                          fast                             OpenCV
============================  ===============================  ==========================================
encode RGB                    fpng: ~15 ms, ~20 % larger file  ``IMWRITE_PNG_COMPRESSION=1``: ~110 ms
                                                               (OpenCV 5.1; the old oodforge setting)
encode 8/16-bit masks         OpenCV, filter NONE (+ RLE for   adaptive filters: 13-28 ms
                              8 bit): 3-7 ms
decode PNG (any)              imagecodecs (libpng, zlib-ng):   ``cv2.imdecode``: ~45 ms (RGB frame)
                              ~30 ms
============================  ===============================  ==========================================

Why these packages (chosen by that measurement; versions pinned in ``pyproject.toml``):

- ``fpng`` (PyPI; the nanobind binding py-fpng-nb, MIT, of Rich Geldreich's public-domain fpng encoder):
  wheels for Linux x86-64/aarch64, macOS arm64 and Windows; a single-purpose encoder (RGB/RGBA, 8 bit), which
  is all we ask of it. Its SIMD use is confined to the zlib checksums (CRC-32, Adler-32), so its bytes do not
  depend on CPU features: the same bytes on a Nehalem-level CPU (qemu) as natively with AVX2
  (``scripts/check_fpng_simd.sh``). The x86-64 wheel is built for SSE4.1: on a CPU without it (pre-2008) we
  do not load it and fall back to OpenCV.
- ``imagecodecs`` (Christoph Gohlke, BSD-3, releases several times a year, wheels for every major platform):
  its libpng decoder. ``pyspng`` was as fast but decoded a 16-bit PNG to wrong values in our test.

Missing either package (e.g. a platform without wheels) means OpenCV for that direction, silently: the files
are standard PNG either way, only the speed differs. JPEG always goes through OpenCV.
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

__all__ = ["PNG_CODECS", "PngCodec", "decode_png", "encode_mask_png", "encode_rgb_png", "fast_codec_versions"]

PngCodec = Literal["fast", "opencv"]
PNG_CODECS: tuple[str, ...] = ("fast", "opencv")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _cpu_has_sse41() -> bool:
    """False only where we can tell that an x86-64 CPU lacks SSE4.1 (Linux ``/proc/cpuinfo``)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return True  # not Linux: the wheel's own requirement stands
    return " sse4_1" in flags


@cache
def _fpng() -> Any:
    """The fpng extension module, or None (not installed, or a CPU it was not built for)."""
    if not _cpu_has_sse41():
        return None
    try:
        from fpng import fpng_ext
    except ImportError:
        return None
    return fpng_ext


@cache
def _png_decode() -> Any:
    """The imagecodecs PNG decoder, or None."""
    try:
        from imagecodecs import png_decode
    except ImportError:
        return None
    return png_decode


def fast_codec_versions() -> dict[str, str | None]:
    """Versions of the fast-path packages in use (None: not available, OpenCV is used)."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str, available: bool) -> str | None:
        try:
            return version(name) if available else None
        except PackageNotFoundError:
            return None

    return {"fpng": ver("fpng", _fpng() is not None), "imagecodecs": ver("imagecodecs", _png_decode() is not None)}


def encode_rgb_png(rgb: np.ndarray, codec: PngCodec = "fast", compression: int = 1) -> bytes:
    """PNG bytes of an RGB ``uint8`` (H, W, 3) image: fpng (``fast``) or OpenCV at ``compression`` (0-9).

    Raises:
        ValueError: not an (H, W, 3) uint8 array.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    ext = _fpng() if codec == "fast" else None
    if ext is not None and rgb.size:
        data: bytes = ext.encode_ndarray(np.ascontiguousarray(rgb))
        return data
    return _cv2_encode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])


def encode_mask_png(arr: np.ndarray, codec: PngCodec = "fast", compression: int = 1) -> bytes:
    """PNG bytes of an (H, W) uint8 / uint16 map (GT, id map), always through OpenCV.

    ``fast``: filter NONE (+ zlib RLE for 8 bit): a few ms, smaller 8-bit files; ``opencv``: OpenCV's adaptive
    filtering at ``compression`` (the output before ``png_codec`` existed).
    """
    if arr.ndim != 2 or arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an (H, W) uint8 or uint16 map, got {arr.shape} {arr.dtype}")
    params = [cv2.IMWRITE_PNG_COMPRESSION, int(compression)]
    if codec == "fast":  # adaptive row filters are most of OpenCV's time on such maps and gain little there
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
        if arr.dtype == np.uint8:  # byte runs; a 16-bit map repeats 2-byte patterns, which RLE cannot see
            params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    return _cv2_encode(arr, params)


def _cv2_encode(arr: np.ndarray, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(".png", arr, params)
    if not ok:
        raise ValueError(f"PNG encoding failed for an array of shape {arr.shape} and dtype {arr.dtype}")
    return bytes(buf.tobytes())


def decode_png(data: bytes) -> np.ndarray | None:
    """The PNG's pixels as stored by the fast decoder, or None (then the caller asks OpenCV).

    Gray (H, W), RGB or RGBA (H, W, C), 8 or 16 bit, a palette expanded to RGB. None when the bytes are not
    PNG, the fast decoder is missing, or it cannot read them (OpenCV then decides, and words the error).
    """
    decode = _png_decode()
    if decode is None or not data.startswith(_PNG_SIGNATURE):
        return None
    try:
        arr: np.ndarray = decode(data)
    except Exception:  # any failure: OpenCV decides (and reports) instead
        return None
    return arr
