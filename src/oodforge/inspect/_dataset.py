"""Shared helpers of the inspect tools: open a dataset root (synth or render), decode instance maps."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from pydantic import ValidationError

from oodforge.errors import DataLayoutError, InputFileError, SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord
from oodforge.inspect._render_record import RENDER_KIND, RenderRecord

__all__ = [
    "OUTPUT_KEYS",
    "Dataset",
    "decode_npy_mask",
    "decode_unchanged",
    "idmap_from_masks",
    "load_any",
    "load_dataset",
    "output_paths",
]

OUTPUT_KEYS = ("image", "gt_pixel", "instances", "labels")
_PRODUCERS = "`oodforge synth` or `oodforge render`"


@dataclass
class Dataset:
    """An opened dataset: its layout and the records of its one kind (the other list is empty)."""

    layout: DatasetLayout
    kind: str  # "synth" or "render"
    synth: list[ManifestRecord] = field(default_factory=list)
    render: list[RenderRecord] = field(default_factory=list)

    @property
    def n_records(self) -> int:
        """Number of manifest records."""
        return len(self.synth) + len(self.render)


def load_any(root: Path) -> Dataset:
    """Open a dataset root written by ``oodforge synth`` or ``oodforge render`` and read its manifest.

    Each line is read as JSON and dispatched on its ``kind``: ``"render"`` is a rendered frame
    (:class:`RenderRecord`), no ``kind`` is a synthesized image (:class:`ManifestRecord`, validated as
    strictly as before). The records keep the file order.

    Raises:
        InputFileError: ``root`` does not exist, a manifest line is malformed, has an unknown ``kind``
            or a kind other than the manifest's first record (one manifest holds one kind).
        DataLayoutError: ``root`` is not a folder or has no ``manifest.jsonl``.
    """
    if not root.exists():
        raise InputFileError(f"{root}: dataset folder not found")
    if not root.is_dir():
        raise DataLayoutError(f"{root}: not a folder; expected the output root of {_PRODUCERS}")
    layout = DatasetLayout(root)
    path = layout.manifest_path
    if path.is_dir():
        raise DataLayoutError(f"{path}: is a folder; expected the manifest file of {_PRODUCERS}")
    if not path.is_file():
        raise DataLayoutError(
            f"{root}: not an oodforge dataset (no manifest.jsonl); expected the output root of {_PRODUCERS}"
        )
    data = Dataset(layout, "synth")
    first: tuple[int, str] | None = None
    with path.open("rb") as fh:  # decoded line by line: a non-UTF-8 line is a malformed record, not a crash
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            kind = _read_line(path, lineno, line, data)
            if first is None:
                first = (lineno, kind)
                data.kind = kind
            elif kind != first[1]:
                raise InputFileError(
                    f"{path}:{lineno}: {kind} record in a manifest whose line {first[0]} is a {first[1]} record; "
                    "a manifest holds records of one kind"
                )
    return data


def _read_line(path: Path, lineno: int, line: bytes, data: Dataset) -> str:
    """Parse one line into ``data``; return its kind (``synth`` or ``render``)."""
    try:
        obj = json.loads(line.decode("utf-8"))
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
        kind = obj.get("kind")
        if kind == RENDER_KIND:
            data.render.append(RenderRecord.from_json_dict(obj))
            return RENDER_KIND
        if "kind" in obj:
            raise ValueError(f"unknown record kind {kind!r}; expected {RENDER_KIND!r} or none (synth)")
        data.synth.append(ManifestRecord.from_json_dict(obj))
        return "synth"
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"]) or "record"
        first = f"{str(exc).splitlines()[0]}; first: {where}: {err['msg']}"
        raise InputFileError(f"{path}:{lineno}: malformed manifest record ({first})") from None
    except ValueError as exc:  # UnicodeDecodeError, json.JSONDecodeError, or a line that is not a record
        first = str(exc).splitlines()[0]
        raise InputFileError(f"{path}:{lineno}: malformed manifest record ({first})") from None


def load_dataset(root: Path) -> tuple[DatasetLayout, list[ManifestRecord]]:
    """Open a dataset root written by ``oodforge synth`` and read its manifest (file order).

    Raises:
        InputFileError: as :func:`load_any`, or the manifest holds rendered frames.
        DataLayoutError: ``root`` is not a folder or has no ``manifest.jsonl``.
    """
    data = load_any(root)
    if data.render:
        raise InputFileError(f"{data.layout.manifest_path}: holds rendered frames; expected `oodforge synth` records")
    return data.layout, data.synth


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
