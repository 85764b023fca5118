"""File I/O at the edge: atomic writes, hashing, image decoding and encoding.

Images are RGB ``uint8`` (H, W, 3) in memory; OpenCV's BGR order exists only inside this module and
:mod:`oodforge._codec` (which chooses the PNG encoder and decoder).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np

from oodforge._codec import PngCodec, decode_png, encode_rgb_png
from oodforge.errors import InputFileError, SampleError, UsageError

__all__ = [
    "apply_umask",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_writer",
    "current_umask",
    "decode_image_rgb",
    "decode_label_png",
    "encode_image",
    "encode_png",
    "read_bytes",
    "read_image_rgb",
    "read_label_png",
    "sha256_bytes",
    "sha256_file",
]


_UMASK_LOCK = threading.Lock()
_PROC_STATUS = Path("/proc/self/status")


def current_umask() -> int:
    """The process umask: from ``/proc/self/status`` on Linux (no side effect), else set-and-restore.

    The fallback briefly sets the umask to 0o077 (more restrictive, never more permissive) under a lock.
    """
    try:
        with _PROC_STATUS.open(encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def apply_umask(path: Path) -> None:
    """Give ``path`` the mode a fresh ``mkdir`` (0o777) or ``open`` (0o666) would: ``default & ~umask``.

    For what ``mkdtemp``/``mkstemp`` create (always private, 0o700/0o600) and is then kept.
    """
    default = 0o777 if path.is_dir() else 0o666
    os.chmod(path, default & ~current_umask())


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` atomically when the block ends without error.

    A reader never sees a partial file; a crash leaves at most a ``.<name>.<random>.tmp`` file behind
    (removed by the next run of the same output root). The file gets the permissions a plain
    ``open(path, "w")`` would (``0o666`` minus the umask), not ``mkstemp``'s private ``0o600``, so
    datasets on a shared file system stay readable by colleagues and by workers running as another user.

    Raises:
        UsageError: ``path`` is an existing folder.
    """
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; expected a file path to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:  # a failed write/close (e.g. disk full) names no file: name the target
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as fh:
        fh.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Atomically write UTF-8 text (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any, *, indent: int | None = None) -> bytes:
    """Atomically write ``obj`` as JSON (keys in insertion order) and return the bytes written."""
    data = (json.dumps(obj, indent=indent, ensure_ascii=False) + "\n").encode("utf-8")
    atomic_write_bytes(path, data)
    return data


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_bytes(path: Path) -> bytes:
    """Read a whole file, turning a missing file into a :class:`SampleError` naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise SampleError(f"{path}: file not found") from exc
    except OSError as exc:
        raise SampleError(f"{path}: cannot read ({exc.strerror})") from exc


def decode_image_rgb(data: bytes, name: str | Path = "<bytes>") -> np.ndarray:
    """Decode PNG/JPEG bytes to an RGB ``uint8`` (H, W, 3) array (8-bit PNG: the fast decoder, :mod:`oodforge._codec`).

    Gray is expanded to RGB and alpha dropped, as OpenCV's ``IMREAD_COLOR`` does; everything else (JPEG, 16-bit
    PNG, a file the fast decoder refuses) goes through OpenCV.

    Raises:
        SampleError: the bytes are not a decodable 8-bit image.
    """
    fast = decode_png(data)
    if fast is not None and fast.dtype == np.uint8 and fast.size:
        if fast.ndim == 2:
            return cv2.cvtColor(fast, cv2.COLOR_GRAY2RGB)
        if fast.ndim == 3 and fast.shape[2] in (3, 4):
            return np.ascontiguousarray(fast[..., :3])
        if fast.ndim == 3 and fast.shape[2] == 2:  # gray + alpha
            return cv2.cvtColor(np.ascontiguousarray(fast[..., 0]), cv2.COLOR_GRAY2RGB)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None or arr.ndim != 3 or arr.dtype != np.uint8:
        raise SampleError(f"{name}: unreadable or truncated image ({len(data)} bytes)")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def read_image_rgb(path: Path) -> np.ndarray:
    """Read an image file as RGB ``uint8`` (H, W, 3)."""
    return decode_image_rgb(read_bytes(path), path)


def decode_label_png(data: bytes, name: str | Path = "<bytes>", dtype: type = np.uint8) -> np.ndarray:
    """Decode a single-channel label PNG (8 or 16 bit) unchanged to an (H, W) array of ``dtype``."""
    fast = decode_png(data)
    arr = (
        fast
        if fast is not None and fast.ndim == 2
        else cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    )
    if arr is None:
        raise SampleError(f"{name}: unreadable or truncated label image ({len(data)} bytes)")
    if arr.ndim != 2:
        raise SampleError(f"{name}: expected a single-channel label image, got shape {arr.shape}")
    if arr.dtype != dtype:
        if np.dtype(dtype).itemsize < arr.dtype.itemsize and arr.size and int(arr.max()) > np.iinfo(dtype).max:
            raise SampleError(f"{name}: label values up to {int(arr.max())} do not fit {np.dtype(dtype).name}")
        arr = arr.astype(dtype)
    return arr


def read_label_png(path: Path, dtype: type = np.uint8) -> np.ndarray:
    """Read a single-channel label PNG as an (H, W) array."""
    return decode_label_png(read_bytes(path), path, dtype)


def encode_png(arr: np.ndarray, compression: int = 1) -> bytes:
    """Encode an (H, W) uint8/uint16 or (H, W, 3) RGB uint8 array as PNG bytes."""
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise InputFileError(f"PNG encoding failed for an array of shape {arr.shape} and dtype {arr.dtype}")
    return buf.tobytes()


def encode_image(
    rgb: np.ndarray, fmt: str, *, png_compression: int = 1, jpeg_quality: int = 95, png_codec: PngCodec = "opencv"
) -> bytes:
    """Encode an RGB ``uint8`` (H, W, 3) image as ``png`` (``png_codec``: :mod:`oodforge._codec`) or ``jpg`` bytes."""
    if fmt == "png":
        return encode_png(rgb, png_compression) if png_codec == "opencv" else encode_rgb_png(rgb, png_codec)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise InputFileError(f"JPEG encoding failed for an array of shape {rgb.shape}")
    return buf.tobytes()
