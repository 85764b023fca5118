"""The two inputs of ``oodforge preprocess``: an ``oodforge render`` output and ALLO's native layout.

Each is turned into a list of :class:`Job`: one frame, where it goes in the output, and a ``check()`` that
reads it and returns a :class:`~oodforge.render.allo_native.CheckedFrame` or raises (``FrameSkipped`` for a
rule, ``SampleError`` for a damaged frame).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from oodforge._io import decode_image_rgb, decode_label_png, encode_png, sha256_bytes
from oodforge._seeding import stable_unit
from oodforge.errors import DataLayoutError, SampleError
from oodforge.render.allo_native import (
    CheckedFrame,
    FrameSkipped,
    NativeFrame,
    check_native_frame,
    list_native_frames,
)
from oodforge.render.config_io import render_config_from_dict

__all__ = ["Job", "input_kind", "is_normal_test", "native_jobs", "render_jobs"]


@dataclass(frozen=True)
class Job:
    """One frame to check and, if it passes, to write as ``OUT/<dest>/{images,masks}/<name>``."""

    group: str  # the summary row: "<camera>" (render) or "<experiment>/<camera>" (native)
    dest: str  # folder relative to OUT
    name: str  # file name, .png
    kind: str  # count on success: "normal", "normal_test" or "anomalous"
    three_class: bool  # the mask: 3 classes (0 space, 1 foreground, 2 anomaly), else ALLO's 0/255 foreground
    where: str  # how the log names the frame
    check: Callable[[], CheckedFrame]


def is_normal_test(camera: str, image_id: str, share: float) -> bool:
    """Whether a normal rendered frame goes to ``test`` (a stable hash of its name below ``share``)."""
    return stable_unit("normal_test", camera, image_id) < share


def _first_record(manifest: Path) -> dict[str, Any] | None:
    with manifest.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            if raw.strip():
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except ValueError:
                    raise DataLayoutError(f"{manifest}:{n}: not a JSON record") from None
                return rec if isinstance(rec, dict) else None
    return None


def input_kind(src: Path) -> str:
    """``render`` or ``allo``: what ``src`` is.

    Raises:
        DataLayoutError: ``src`` is missing, a file, a synthesized dataset, or neither input.
    """
    from oodforge.render.allo_native import allo_render_defaults, is_native_layout

    if not src.exists():
        raise DataLayoutError(f"{src}: not found; expected an `oodforge render` output or ALLO's exp_<n> folder")
    if not src.is_dir():
        raise DataLayoutError(f"{src}: not a folder; expected an `oodforge render` output or ALLO's exp_<n> folder")
    manifest = src / "manifest.jsonl"
    if manifest.is_file():
        rec = _first_record(manifest)
        if rec is not None and "kind" not in rec:
            raise DataLayoutError(f"{src}: not a render output (a dataset of `oodforge synth`)")
        if rec is not None and rec.get("kind") != "render":
            raise DataLayoutError(f"{manifest}:1: record kind {rec.get('kind')!r}; expected 'render'")
        if allo_render_defaults(src) is not None:
            return "allo"  # `oodforge render` with output.layout: allo
        if not (src / "config.yaml").is_file():
            raise DataLayoutError(f"{src}: not a complete `oodforge render` output (config.yaml missing)")
        return "render"
    if is_native_layout(src):
        return "allo"
    raise DataLayoutError(
        f"{src}: neither an `oodforge render` output (config.yaml, manifest.jsonl) nor ALLO's layout "
        "(Camera<k>/ folders here or in exp_<n>/ sub-folders)"
    )


def read_render(src: Path) -> tuple[tuple[int, int], int, list[dict[str, Any]]]:
    """The render output's resolution (w, h), ``min_pixel`` and records."""
    cfg_path, manifest = src / "config.yaml", src / "manifest.jsonl"
    try:
        cfg = render_config_from_dict(yaml.safe_load(cfg_path.read_text(encoding="utf-8")), str(cfg_path))
    except yaml.YAMLError as exc:
        raise DataLayoutError(f"{cfg_path}: unreadable YAML ({str(exc).splitlines()[0]})") from None
    records = []
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise DataLayoutError(f"{manifest}:{n}: not a JSON record") from None
        if not isinstance(rec, dict) or rec.get("kind") != "render":
            raise DataLayoutError(f'{manifest}:{n}: not a render record (expected "kind": "render")')
        records.append(rec)
    w, h = cfg.render.resolution
    return (int(w), int(h)), cfg.min_pixel, records


def _load(src: Path, rec: dict[str, Any], key: str) -> bytes:
    rel = rec.get("outputs", {}).get(key)
    if not rel:
        raise SampleError(f"no {key} in the record")
    try:
        data = (src / rel).read_bytes()
    except OSError:
        raise SampleError(f"{key} file {rel} missing or unreadable") from None
    if rec.get("sha256", {}).get(key) not in (None, sha256_bytes(data)):
        raise SampleError(f"{key} file {rel} does not match its sha256 in the manifest")
    return data


def _check_render(
    src: Path, rec: dict[str, Any], size: tuple[int, int], min_pixel: int, resize_normal: bool
) -> CheckedFrame:
    if rec.get("status") != "ok":
        raise SampleError(f"failed in render: {rec.get('error')}")
    w, h = size
    img_b: bytes | None = _load(src, rec, "image")
    img = decode_image_rgb(img_b or b"", rec["outputs"]["image"])
    masks = []
    for key in ("gt_pixel", "fb_mask"):
        m = decode_label_png(_load(src, rec, key), rec["outputs"][key])
        if m.size and int(m.max()) > 1:
            raise SampleError(f"{key} holds values {sorted(int(v) for v in np.unique(m))}, expected {{0, 1}}")
        masks.append(m)
    gt, fb = masks
    note = ""
    if img.shape[:2] != (h, w) or gt.shape != (h, w) or fb.shape != (h, w):
        bad = next(
            (k, s) for k, s in (("image", img.shape), ("gt_pixel", gt.shape), ("fb_mask", fb.shape)) if s[:2] != (h, w)
        )
        if rec.get("is_anomalous") or not resize_normal:
            raise SampleError(f"{bad[0]} is {bad[1][1]}x{bad[1][0]}, expected {w}x{h}")
        note = f"resized from {img.shape[1]}x{img.shape[0]}"
        img_b = None
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        fb = cv2.resize(fb, (w, h), interpolation=cv2.INTER_NEAREST)
        gt = cv2.resize(gt, (w, h), interpolation=cv2.INTER_NEAREST)
    pixels = int(np.count_nonzero(gt))
    if rec.get("is_anomalous"):
        if pixels <= min_pixel:
            raise FrameSkipped(f"{pixels} anomaly pixels <= min_pixel {min_pixel}: skipped (ALLO's rule)")
    elif pixels:
        raise SampleError(f"normal frame has {pixels} anomaly pixels")
    if img_b is None:
        img_b = encode_png(img)
    return CheckedFrame(img_b, fb > 0, gt > 0 if rec.get("is_anomalous") else None, pixels, note)


def render_jobs(
    src: Path, records: list[dict[str, Any]], *, size: tuple[int, int], min_pixel: int, share: float,
    resize_normal: bool,
) -> list[Job]:  # fmt: skip
    """Jobs of a render output: ``train/<camera>`` for normal frames, ``test/<camera>`` for anomalous ones."""
    jobs = []
    for rec in records:
        cam, fid = str(rec.get("camera")), str(rec.get("image_id"))
        if rec.get("is_anomalous"):
            split, kind = "test", "anomalous"
        elif is_normal_test(cam, fid, share):
            split, kind = "test", "normal_test"
        else:
            split, kind = "train", "normal"
        check = partial(_check_render, src, rec, size, min_pixel, resize_normal)
        jobs.append(Job(cam, f"{split}/{cam}", f"{fid}.png", kind, split == "test", f"{cam}/{fid}", check))
    return jobs


def native_jobs(
    src: Path, *, size: tuple[int, int], min_pixel: int, resize_normal: bool
) -> tuple[list[str], list[Job]]:
    """Experiment names and jobs of ALLO's layout: ``<camera>`` (one experiment) or ``<experiment>/<camera>``."""
    experiments, frames = list_native_frames(src)
    many = len(experiments) > 1 or experiments[0].path != src

    def job(f: NativeFrame) -> Job:
        dest = f"{f.experiment}/{f.camera}" if many else f.camera
        check = partial(check_native_frame, src, f, size=size, min_pixel=min_pixel, resize_normal=resize_normal)
        return Job(dest, dest, f.name, "anomalous" if f.anomalous else "normal", f.anomalous, f.where, check)

    return [e.name for e in experiments], [job(f) for f in frames]
