"""``oodforge preprocess`` (ALLO's ``preprocess.py``): verify rendered frames and lay them out for Anomalib.

For every frame of a render output: the image must be (H, W, 3) and both masks (H, W) at the config's
resolution, masks must hold only {0, 1}; an anomalous frame needs at least ``min_pixel`` anomaly pixels
(a hidden anomaly or a smaller one is skipped); a normal frame must have no anomaly pixel. Every problem
goes to the log file. Output, per camera::

    OUT/<camera>/train/images/<frame_id>.png        normal frames
    OUT/<camera>/test/images/<frame_id>.png         anomalous frames + a deterministic share of normal ones
    OUT/<camera>/test/masks/<frame_id>_mask.png     uint8 3-class: 0 background, 1 foreground, 2 anomaly
    OUT/preprocess.json                             parameters and counts
    OUT/preprocess.log                              every problem found (unless ``--log`` says elsewhere)

OUT carries the list of the files oodforge wrote there (:mod:`oodforge.export.owned_folder`): a non-empty
folder without it is refused; a second run deletes only the files the first one listed (the user's are kept).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from oodforge._io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    decode_image_rgb,
    decode_label_png,
    encode_png,
    sha256_bytes,
)
from oodforge._seeding import stable_unit
from oodforge.errors import DataLayoutError, SampleError, UsageError
from oodforge.export.owned_folder import open_owned_folder
from oodforge.render.config_io import render_config_from_dict
from oodforge.render.masks import three_class_mask

__all__ = ["PreprocessSummary", "is_normal_test", "preprocess_renders"]

MARKER = "preprocess.json"
STAGE = "preprocessing"


@dataclass
class PreprocessSummary:
    """Counts per camera (train, test_anomalous, test_normal, skipped) and every problem found."""

    output_root: Path
    log_path: Path
    min_pixel: int
    per_camera: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    kept_files: int = 0  # files in OUT that oodforge did not write (left alone)


def is_normal_test(camera: str, image_id: str, share: float) -> bool:
    """Whether a normal frame goes to ``test`` (a stable hash of its name below ``share``)."""
    return stable_unit("normal_test", camera, image_id) < share


def _read_inputs(src: Path) -> tuple[tuple[int, int], int, list[dict[str, Any]]]:
    cfg_path, manifest = src / "config.yaml", src / "manifest.jsonl"
    if not cfg_path.is_file() or not manifest.is_file():
        raise DataLayoutError(f"{src}: not an `oodforge render` output (expected config.yaml and manifest.jsonl)")
    try:
        cfg = render_config_from_dict(yaml.safe_load(cfg_path.read_text(encoding="utf-8")), str(cfg_path))
    except yaml.YAMLError as exc:
        raise DataLayoutError(f"{cfg_path}: unreadable YAML ({str(exc).splitlines()[0]})") from None
    records = []
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError:
            raise DataLayoutError(f"{manifest}:{n}: not a JSON record") from None
        if rec.get("kind") != "render":
            raise DataLayoutError(f"{manifest}:{n}: record kind {rec.get('kind')!r}, expected 'render'")
        records.append(rec)
    return cfg.render.resolution, cfg.min_pixel, records


def _check_out(src: Path, out: Path) -> None:
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise UsageError(f"{out}: the output must not be the render folder or inside it")


def _destination(rec: dict[str, Any], share: float) -> str:
    """``train`` or ``test``: where the record's frame goes if it passes the checks."""
    if rec.get("is_anomalous") or is_normal_test(str(rec["camera"]), str(rec["image_id"]), share):
        return "test"
    return "train"


def _planned(records: list[dict[str, Any]], share: float, out: Path, log_path: Path) -> list[str]:
    """Every path (relative to ``out``) this run may write, to list before writing."""
    rels = [MARKER]
    with contextlib.suppress(ValueError):  # a --log outside OUT is the user's own choice of file
        rels.append(log_path.resolve().relative_to(out.resolve()).as_posix())
    for rec in records:
        cam, fid, split = str(rec["camera"]), str(rec["image_id"]), _destination(rec, share)
        rels.append(f"{cam}/{split}/images/{fid}.png")
        if split == "test":
            rels.append(f"{cam}/test/masks/{fid}_mask.png")
    return rels


def _load(src: Path, rec: dict[str, Any], key: str) -> bytes:
    rel = rec.get("outputs", {}).get(key)
    if not rel:
        raise SampleError(f"no {key} in the record")
    try:
        data = (src / rel).read_bytes()
    except OSError:
        raise SampleError(f"{key} file {rel} missing") from None
    if rec.get("sha256", {}).get(key) not in (None, sha256_bytes(data)):
        raise SampleError(f"{key} file {rel} does not match its sha256 in the manifest")
    return data


def _check(src: Path, rec: dict[str, Any], size: tuple[int, int]) -> tuple[bytes, np.ndarray, np.ndarray]:
    w, h = size
    img_b = _load(src, rec, "image")
    img = decode_image_rgb(img_b, rec["outputs"]["image"])
    if img.shape != (h, w, 3):
        raise SampleError(f"image shape {img.shape}, expected {(h, w, 3)}")
    masks = []
    for key in ("gt_pixel", "fb_mask"):
        m = decode_label_png(_load(src, rec, key), rec["outputs"][key])
        if m.shape != (h, w):
            raise SampleError(f"{key} shape {m.shape}, expected {(h, w)}")
        if m.size and int(m.max()) > 1:
            raise SampleError(f"{key} holds values {sorted(int(v) for v in np.unique(m))}, expected {{0, 1}}")
        masks.append(m)
    return img_b, masks[0], masks[1]


def preprocess_renders(
    src: str | Path,
    out: str | Path,
    *,
    min_pixel: int | None = None,
    normal_test_share: float = 0.0,
    log_file: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> PreprocessSummary:
    """Verify a render output and write the Anomalib layout (see the module docstring).

    Args:
        src: output root of ``oodforge render``.
        out: destination folder: new, empty, or a previous preprocess output, whose listed files are deleted
            (files oodforge did not write are kept and counted in :attr:`PreprocessSummary.kept_files`).
        min_pixel: least anomaly pixels of a kept anomalous frame; default: the render config's ``min_pixel``.
        normal_test_share: share of normal frames moved to ``test`` (stable per frame name), in [0, 1].
        log_file: where to write the log; default ``OUT/preprocess.log``.
        progress: ``progress(stage, done, total)`` callback.

    Raises:
        UsageError: bad arguments, a folder that is not a render output, or an ``out`` that is not empty and
            holds no preprocess output (or a file oodforge did not write where it would write one).
    """
    src, out = Path(src), Path(out)
    if min_pixel is not None and min_pixel < 0:
        raise UsageError(f"--min-pixel: expected a number >= 0, got {min_pixel}")
    if not 0.0 <= normal_test_share <= 1.0:
        raise UsageError(f"--normal-test-share: expected a share in [0, 1], got {normal_test_share}")
    size, cfg_min, records = _read_inputs(src)
    least = cfg_min if min_pixel is None else min_pixel
    _check_out(src, out)
    log_path = Path(log_file) if log_file is not None else out / "preprocess.log"
    with open_owned_folder(out, command="oodforge preprocess", overwrite=True, what="preprocess output") as owned:
        owned.claim(_planned(records, normal_test_share, out, log_path), replace=True)  # the previous run's go
        summary = PreprocessSummary(out, log_path, least, kept_files=owned.kept)
        _run(src, out, records, size, normal_test_share, summary, progress)
        lines = list(summary.problems)
        lines += [
            f"INFO {cam}: " + ", ".join(f"{k} {v}" for k, v in c.items())
            for cam, c in sorted(summary.per_camera.items())
        ]
        atomic_write_text(log_path, "".join(f"{ln}\n" for ln in lines))
        atomic_write_json(out / MARKER, {"source": str(src.resolve()), "min_pixel": least,
                                         "normal_test_share": normal_test_share, "per_camera": summary.per_camera,
                                         "problems": len(summary.problems)}, indent=2)  # fmt: skip
    return summary


def _run(
    src: Path,
    out: Path,
    records: list[dict[str, Any]],
    size: tuple[int, int],
    share: float,
    summary: PreprocessSummary,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    """Check every frame and write the kept ones (their paths are already listed in OUT's ledger)."""
    least = summary.min_pixel
    for done, rec in enumerate(records, 1):
        cam, fid = str(rec["camera"]), str(rec["image_id"])
        counts = summary.per_camera.setdefault(cam, {"train": 0, "test_anomalous": 0, "test_normal": 0, "skipped": 0})
        try:
            if rec.get("status") != "ok":
                raise SampleError(f"failed in render: {rec.get('error')}")
            img_b, gt, fb = _check(src, rec, size)
            pixels = int(gt.sum())
            if rec["is_anomalous"]:
                if pixels == 0:
                    raise SampleError("anomaly fully hidden (0 pixels): skipped")
                if pixels < least:
                    raise SampleError(f"anomaly has {pixels} pixels < min_pixel {least}: skipped")
                split, kind = "test", "test_anomalous"
            else:
                if pixels:
                    raise SampleError(f"normal frame has {pixels} anomaly pixels: skipped")
                split = _destination(rec, share)
                kind = "test_normal" if split == "test" else "train"
            atomic_write_bytes(out / cam / split / "images" / f"{fid}.png", img_b)
            if split == "test":
                atomic_write_bytes(
                    out / cam / "test" / "masks" / f"{fid}_mask.png", encode_png(three_class_mask(fb, gt))
                )
            counts[kind] += 1
        except SampleError as exc:
            counts["skipped"] += 1
            summary.problems.append(f"WARNING {cam}/{fid}: {exc}")
        if progress:
            progress(STAGE, done, len(records))
