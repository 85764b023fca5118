"""``oodforge verify`` for rendered datasets (the output of ``oodforge render``, records ``"kind": "render"``).

Checks: ``config.yaml`` hashes to every record's ``config_sha256``; the manifest is sorted by
(camera, image_id) without duplicates; ``camera`` equals ``split``; every output (``image``, ``gt_pixel``,
``fb_mask``) exists under ``<camera>/{images,gt_pixel,fb_mask}/`` and re-hashes to its ``sha256``;
``gt_pixel`` and ``fb_mask`` are single-channel uint8 PNGs with values in {0, 1} and the image's H×W;
``has_anomaly`` == (GT holds a 1) == (``pixel_count`` > 0); ``pixel_count`` (``foreground_pixel_count``)
equals the 1s of the GT (foreground mask); anomaly pixels are foreground; ``anomaly_hidden`` implies
``is_anomalous`` and not ``has_anomaly`` (and an anomalous frame without anomaly pixels is flagged
hidden); a normal frame has no anomaly pixels; no file under ``<camera>/{images,gt_pixel,fb_mask}`` is
left unreferenced; failed records are listed. The orphan and order checks are shared with synthesized
datasets (:mod:`oodforge.inspect.verify`); this module checks one record.
"""

from __future__ import annotations

import numpy as np

from oodforge._io import decode_image_rgb
from oodforge.errors import SampleError
from oodforge.inspect._render_record import RENDER_OUTPUT_KEYS, RenderRecord
from oodforge.inspect._verify_common import Checked, VerifyJob, check_config_sha, decode_map, read_one
from oodforge.render.frame import RECORD_SCHEMA

__all__ = ["RENDER_SUBDIRS", "check_render"]

#: output key -> the sub-folder of ``<camera>/`` that holds its files
RENDER_SUBDIRS = {"image": "images", "gt_pixel": "gt_pixel", "fb_mask": "fb_mask"}
MASK_VALUES = np.array([0, 1], np.uint8)


def check_render(rec: RenderRecord, job: VerifyJob, out: Checked) -> None:
    """All checks of one frame; problems (without the ``<camera>/<id>:`` prefix) go to ``out``."""
    problems = out.problems
    if rec.schema_ != RECORD_SCHEMA:
        problems.append(f"schema {rec.schema_}; expected {RECORD_SCHEMA}")
    check_config_sha(job, rec.config_sha256, problems)
    if rec.camera != rec.split:
        problems.append(f"camera {rec.camera!r} != split {rec.split!r}")
    if rec.status == "failed":
        problems.append(f"failed: {rec.error or 'no reason recorded'}")
    data = _read_outputs(rec, job, out)
    if rec.status != "ok" or job.hashes_only:
        return
    problems.extend(_check_flags(rec))
    if len(data) == len(RENDER_OUTPUT_KEYS):
        problems.extend(_check_pixels(rec, data))


def _read_outputs(rec: RenderRecord, job: VerifyJob, out: Checked) -> dict[str, tuple[str, bytes]]:
    """Read and re-hash the outputs of ``rec``; key -> (rel, bytes) of the files that hash right."""
    data: dict[str, tuple[str, bytes]] = {}
    extra = sorted(set(rec.outputs) - set(RENDER_OUTPUT_KEYS))
    if extra:
        out.problems.append(f"outputs has unexpected key(s) {extra}; expected {list(RENDER_OUTPUT_KEYS)}")
    for key in RENDER_OUTPUT_KEYS:
        rel = rec.outputs.get(key)
        if rel is None:
            if rec.status == "ok":
                out.problems.append(f"outputs has no {key!r}")
            continue
        expected = rec.sha256.get(key)
        if expected is None:
            out.problems.append(f"outputs[{key!r}] names {rel} but sha256 has no {key!r}")
        blob = read_one(job, out, f"{rec.split}/{RENDER_SUBDIRS[key]}/", key, rel, expected)
        if blob is not None and expected is not None:
            data[key] = (rel, blob)
    return data


def _check_flags(rec: RenderRecord) -> list[str]:
    """Flags and counters that must agree without looking at pixels."""
    problems = []
    if rec.pixel_count < 0:
        problems.append(f"pixel_count {rec.pixel_count} < 0")
    if rec.has_anomaly != (rec.pixel_count > 0):
        problems.append(f"has_anomaly is {rec.has_anomaly} but pixel_count is {rec.pixel_count}")
    if rec.anomaly_hidden and not rec.is_anomalous:
        problems.append("anomaly_hidden is true on a normal frame (is_anomalous is false)")
    if rec.anomaly_hidden and rec.has_anomaly:
        problems.append("anomaly_hidden and has_anomaly are both true")
    if rec.has_anomaly and not rec.is_anomalous:
        problems.append("has_anomaly is true on a normal frame (is_anomalous is false)")
    if rec.is_anomalous and not rec.has_anomaly and not rec.anomaly_hidden:
        problems.append("anomalous frame without anomaly pixels is not flagged anomaly_hidden")
    if rec.is_anomalous and rec.object_ is None:
        problems.append("anomalous frame names no object")
    if not rec.is_anomalous and rec.object_ is not None:
        problems.append(f"normal frame names an anomaly object ({rec.object_!r})")
    return problems


def _decode_mask(key: str, file: tuple[str, bytes], problems: list[str]) -> np.ndarray | None:
    """A single-channel uint8 mask with values in {0, 1} (other values are reported, the mask is kept)."""
    mask = decode_map(file, np.uint8, problems)
    if mask is None:
        return None
    bad = np.setdiff1d(np.unique(mask), MASK_VALUES)
    if bad.size:
        problems.append(f"{key} has values outside {{0, 1}}: {bad[:10].tolist()}")
    return mask


def _check_pixels(rec: RenderRecord, data: dict[str, tuple[str, bytes]]) -> list[str]:
    """Image / GT / foreground mask decoding, sizes, values and their agreement with the record."""
    problems: list[str] = []
    rel, blob = data["image"]
    try:
        image = decode_image_rgb(blob, rel)
    except SampleError as exc:
        problems.append(str(exc))
        image = None
    gt = _decode_mask("gt_pixel", data["gt_pixel"], problems)
    fb = _decode_mask("fb_mask", data["fb_mask"], problems)
    if image is not None:
        h, w = int(image.shape[0]), int(image.shape[1])
        for key, mask in (("gt_pixel", gt), ("fb_mask", fb)):
            if mask is not None and mask.shape != (h, w):
                problems.append(f"{key} is {mask.shape[0]}x{mask.shape[1]} but the image is {h}x{w}")
    if gt is not None:
        ones = int(np.count_nonzero(gt == 1))
        if rec.has_anomaly != (ones > 0):
            problems.append(f"has_anomaly is {rec.has_anomaly} but gt_pixel has {ones or 'no'} anomaly pixel(s)")
        if rec.pixel_count != ones:
            problems.append(f"pixel_count {rec.pixel_count} != {ones} anomaly pixel(s) (1) in gt_pixel")
        if not rec.is_anomalous and ones:
            problems.append(f"normal frame has {ones} anomaly pixel(s) (1) in gt_pixel")
    if fb is not None:
        fg = int(np.count_nonzero(fb == 1))
        if rec.foreground_pixel_count is not None and rec.foreground_pixel_count != fg:
            problems.append(
                f"foreground_pixel_count {rec.foreground_pixel_count} != {fg} foreground pixel(s) in fb_mask"
            )
    if gt is not None and fb is not None and gt.shape == fb.shape:
        n = int(np.count_nonzero((gt == 1) & (fb != 1)))
        if n:
            problems.append(f"gt_pixel is 1 at {n} pixel(s) where fb_mask is not 1 (anomaly pixels are foreground)")
    return problems
