"""The manifest record (SPEC "Manifest record"): one JSON object per image, one schema for all.

``outputs`` and ``sha256`` are keyed ``image``, ``gt_pixel``, ``instances``, ``labels``; the value
under ``instances`` is a string for the ``idmap`` format and a list (one per instance) for ``npy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from oodforge.errors import InputFileError

__all__ = ["MANIFEST_SCHEMA", "InstanceRecord", "ManifestRecord", "read_manifest", "record_sort_key"]

MANIFEST_SCHEMA = 1


class InstanceRecord(BaseModel):
    """One placed object, in id-map order (id = position + 1). Geometry in scene pixels."""

    model_config = ConfigDict(extra="forbid")

    coco_ann_id: int
    coco_image_id: int
    category: str
    category_id: int
    target_label: str
    bbox: list[int]  # [x, y, w, h] of the visible covered pixels in the final id map
    scale: float  # scene size / COCO size
    flip: bool
    area_px: int  # visible covered pixels that this object holds in the final id map
    coverage: float  # fraction of the footprint (or, with coverage_on: object, of all covered pixels) on target_label
    x: int  # top-left of the pasted patch (scene pixels) - with scale and flip: exact reconstruction
    y: int
    patch_w: int
    patch_h: int
    #: visible share of the covered pixels (nearer scene objects hide the rest)
    visible_fraction: float = 1.0
    #: metric mode: the real height (m, after jitter) the object was sized to
    real_height_m: float | None = None
    #: applied appearance: photometric space and per-channel gains (scale) / shifts
    photometric: dict[str, Any] | None = None
    #: applied sharpness and noise: blur_sigma, motion_blur_px, noise_sigma, noise_seed
    texture: dict[str, Any] | None = None
    #: applied contact shadow: strength, cx, cy, rx, ry (None when off)
    shadow: dict[str, Any] | None = None


class ManifestRecord(BaseModel):
    """One image of a synthesized dataset."""

    model_config = ConfigDict(extra="forbid")

    schema_: int = MANIFEST_SCHEMA
    config_sha256: str
    split: str
    image_id: str
    city: str
    source_split: str
    is_synth: bool
    has_anomaly: bool
    planned_instances: int
    placed_instances: int
    seed: int
    target_labels: list[str]
    coco_ann_ids: list[int]
    instances: list[InstanceRecord]
    outputs: dict[str, str | list[str]]
    sha256: dict[str, str | list[str]]
    status: Literal["ok", "failed"]
    error: str | None = None
    #: why fewer objects were placed than planned (e.g. "no road pixels"); None when all were placed
    placement_note: str | None = None
    #: the camera that sized the objects: {source: json | standard, horizon_row, height_m, fy_px}
    camera: dict[str, Any] | None = None

    def to_json_dict(self) -> dict[str, object]:
        """The record as written to ``manifest.jsonl`` (``schema`` key, ``error`` only when failed)."""
        d = self.model_dump(mode="json")
        d["schema"] = d.pop("schema_")
        ordered: dict[str, object] = {"schema": d.pop("schema")}
        ordered.update(d)
        if ordered.get("error") is None:
            ordered.pop("error", None)
        return ordered

    @classmethod
    def from_json_dict(cls, d: dict[str, object]) -> ManifestRecord:
        """Parse a record read from ``manifest.jsonl`` or a per-image record file."""
        d = dict(d)
        d["schema_"] = d.pop("schema", MANIFEST_SCHEMA)
        return cls.model_validate(d)


def record_sort_key(rec: ManifestRecord | dict[str, object]) -> tuple[str, str]:
    """(split, image_id) in plain string order."""
    if isinstance(rec, ManifestRecord):
        return (rec.split, rec.image_id)
    return (str(rec["split"]), str(rec["image_id"]))


def read_manifest(path: Path) -> list[ManifestRecord]:
    """Read and validate every record of a ``manifest.jsonl``.

    Raises:
        InputFileError: missing file or a malformed line (names the line number).
    """
    if not path.is_file():
        raise InputFileError(f"{path}: manifest not found; expected the output root of `oodforge synth`")
    records = []
    with path.open("rb") as fh:  # decoded line by line: a line that is not UTF-8 is one malformed record
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(ManifestRecord.from_json_dict(json.loads(line.decode("utf-8"))))
            except ValueError as exc:  # UnicodeDecodeError, json.JSONDecodeError, pydantic's ValidationError
                first = str(exc).splitlines()[0]
                raise InputFileError(f"{path}:{lineno}: malformed manifest record ({first})") from None
    return records
