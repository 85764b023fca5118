"""Shared helpers of the inspect tools: open a dataset root, decode instance maps."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

from oodforge.errors import DataLayoutError, InputFileError, SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord, read_manifest

__all__ = ["OUTPUT_KEYS", "decode_npy_mask", "decode_unchanged", "idmap_from_masks", "load_dataset", "output_paths"]

OUTPUT_KEYS = ("image", "gt_pixel", "instances", "labels")


def load_dataset(root: Path) -> tuple[DatasetLayout, list[ManifestRecord]]:
    """Open a dataset root written by ``oodforge synth`` and read its manifest (file order).

    Raises:
        InputFileError: ``root`` does not exist or a manifest line is malformed.
        DataLayoutError: ``root`` is not a folder or has no ``manifest.jsonl``.
    """
    if not root.exists():
        raise InputFileError(f"{root}: dataset folder not found")
    if not root.is_dir():
        raise DataLayoutError(f"{root}: not a folder; expected the output root of `oodforge synth`")
    layout = DatasetLayout(root)
    if not layout.manifest_path.is_file():
        raise DataLayoutError(
            f"{root}: not an oodforge dataset (no manifest.jsonl); expected the output root of `oodforge synth`"
        )
    return layout, read_manifest(layout.manifest_path)


def output_paths(rec: ManifestRecord, key: str) -> list[str]:
    """The relative path(s) under ``outputs[key]`` as a list (empty when absent)."""
    value = rec.outputs.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def decode_unchanged(data: bytes, name: str) -> np.ndarray:
    """Decode PNG/JPEG bytes with ``IMREAD_UNCHANGED`` (dtype and channels as stored).

    Raises:
        SampleError: the bytes are not a decodable image.
    """
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise SampleError(f"{name}: unreadable or truncated image ({len(data)} bytes)")
    return np.asarray(arr)


def decode_npy_mask(data: bytes, name: str) -> np.ndarray:
    """Load one ``.npy`` instance mask (no pickles) from bytes.

    Raises:
        SampleError: not a valid ``.npy`` file or not a 2-D boolean array.
    """
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SampleError(f"{name}: unreadable .npy file ({exc})") from None
    if arr.ndim != 2 or arr.dtype != np.bool_:
        raise SampleError(f"{name}: expected a 2-D bool mask, got shape {arr.shape} and dtype {arr.dtype}")
    return np.asarray(arr)


def idmap_from_masks(masks: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Combine per-instance bool masks into a uint16 id map (mask k -> id k + 1; a later mask wins)."""
    idmap = np.zeros(shape, np.uint16)
    for k, mask in enumerate(masks, 1):
        idmap[mask] = k
    return idmap
