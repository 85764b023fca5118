"""``oodforge preprocess`` (ALLO's ``preprocess.py``): check rendered frames and write them in ALLO's format.

Reads an ``oodforge render`` output or ALLO's native layout (one ``exp_<n>`` folder or a folder of them; see
:mod:`oodforge.render.allo_native`). Every frame is checked; a frame that fails is named with its reason in
the log and the summary, never dropped silently:

- size: image and masks must be ``expect_size`` (the render config's resolution; 1920x1080 for ALLO's layout).
  ALLO resizes normal frames silently; here that is the option ``resize_normal``;
- ``min_pixel``: an anomalous frame with ``<= min_pixel`` anomaly pixels is skipped (ALLO's rule; earlier
  oodforge versions kept a frame with exactly ``min_pixel``);
- missing, unreadable, mismatched (sha256) or inconsistent files reject the frame (counted, exit 1 in the CLI).

Output, ALLO's format (what ALLO's ``preprocess.py`` writes; **not** an Anomalib input: Anomalib's Folder
datamodule reads any mask value > 0 as anomalous and every image of an abnormal folder as abnormal; use
``oodforge export anomalib`` for Anomalib)::

    ALLO layout, one experiment:      OUT/Camera<k>/{images,masks}/<day>_<prefix>.png
    ALLO layout, folder of them:      OUT/<experiment>/Camera<k>/{images,masks}/<day>_<prefix>.png
    oodforge render output:           OUT/train/<camera>/{images,masks}/<frame_id>.png   normal frames
                                      OUT/test/<camera>/{images,masks}/<frame_id>.png    anomalous frames
                                                                       (+ a stable share of normal frames)
    OUT/preprocess.json, OUT/preprocess.log

Masks are one-channel uint8 (ALLO writes three equal channels; ``cv2.imread`` reads both the same). An
anomalous frame's mask has 3 classes: 0 space, 1 foreground, 2 anomaly (anomaly wins). A normal frame's mask
is its foreground mask, 0/255, as ALLO writes it; a normal frame put in ``test/`` gets a 3-class mask (no 2) so
that one folder holds one mask convention.

OUT carries the list of the files oodforge wrote (:mod:`oodforge.export.owned_folder`): a non-empty folder
without it is refused; a previous output is replaced only with ``overwrite`` (its files only; others are kept).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oodforge._io import atomic_write_bytes, atomic_write_json, atomic_write_text, encode_png
from oodforge.errors import SampleError, UsageError
from oodforge.export.owned_folder import open_owned_folder
from oodforge.render._preprocess_inputs import Job, input_kind, is_normal_test, native_jobs, read_render, render_jobs
from oodforge.render.allo_native import ALLO_MIN_PIXEL, ALLO_SIZE, FrameSkipped, allo_render_defaults
from oodforge.render.masks import three_class_mask

__all__ = ["COUNT_KEYS", "PreprocessSummary", "is_normal_test", "preprocess_renders"]

MARKER = "preprocess.json"
STAGE = "preprocessing"
#: per-row counts: kept normal frames, normal frames put in test/, kept anomalous frames, skipped by min_pixel,
#: rejected (missing, unreadable, wrong size, ...)
COUNT_KEYS = ("normal", "normal_test", "anomalous", "skipped", "rejected")


@dataclass
class PreprocessSummary:
    """What a run did: counts per row (camera, or experiment/camera) and every problem found."""

    output_root: Path
    log_path: Path
    input_kind: str  # "render" or "allo"
    min_pixel: int
    expect_size: tuple[int, int]
    per_camera: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # one line per rejected or skipped frame
    rejected: list[str] = field(default_factory=list)  # the REJECTED lines
    kept_files: int = 0  # files in OUT that oodforge did not write (left alone)

    def total(self, key: str) -> int:
        """The sum of one of :data:`COUNT_KEYS` over every row."""
        return sum(c[key] for c in self.per_camera.values())


def _check_out(src: Path, out: Path) -> None:
    s, o = src.resolve(), out.resolve()
    if o == s or s in o.parents or o in s.parents:
        raise UsageError(f"{out}: the output must be outside the input folder {src} (and not contain it)")


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` → ``(1920, 1080)``.

    Raises:
        UsageError: not ``WxH`` with positive integers.
    """
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or int(w) < 1 or int(h) < 1:
        raise UsageError(f"--expect-size: expected WIDTHxHEIGHT such as 1920x1080, got {text!r}")
    return int(w), int(h)


def _rel_or_name(path: Path, out: Path) -> str:
    try:
        return path.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return path.name


def preprocess_renders(
    src: str | Path,
    out: str | Path,
    *,
    min_pixel: int | None = None,
    expect_size: tuple[int, int] | None = None,
    resize_normal: bool = False,
    normal_test_share: float = 0.0,
    overwrite: bool = False,
    log_file: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> PreprocessSummary:
    """Check a render output or ALLO's native layout and write ALLO's format (see the module docstring).

    Args:
        src: an ``oodforge render`` output, an ALLO ``exp_<n>`` folder, or a folder of them.
        out: destination: new, empty, or (with ``overwrite``) a previous preprocess output.
        min_pixel: an anomalous frame needs more than this many anomaly pixels; default: the render config's
            ``min_pixel``, or 2000 (ALLO's) for ALLO's layout.
        expect_size: (width, height) every image and mask must have; default: the render config's
            resolution, or 1920x1080 for ALLO's layout.
        resize_normal: resize normal frames of another size (ALLO's behaviour) instead of rejecting them.
        normal_test_share: share of a render output's normal frames put in ``test/`` (stable per frame name).
        overwrite: replace a previous preprocess output in ``out`` (only the files it lists are deleted).
        log_file: where to write the log; default ``OUT/preprocess.log``.
        progress: ``progress(stage, done, total)`` callback.

    Raises:
        UsageError: bad arguments, ``src`` not a render output nor ALLO's layout (a synthesized dataset is
            named as such), ``out`` overlapping ``src``, not empty and not a preprocess output, or a previous
            output without ``overwrite``.
    """
    src, out = Path(src), Path(out)
    if min_pixel is not None and min_pixel < 0:
        raise UsageError(f"--min-pixel: expected a number >= 0, got {min_pixel}")
    if not 0.0 <= normal_test_share <= 1.0:
        raise UsageError(f"--normal-test-share: expected a share in [0, 1], got {normal_test_share}")
    kind = input_kind(src)
    experiments: list[str] = []
    if kind == "render":
        cfg_size, cfg_min, records = read_render(src)
        least, size = (cfg_min if min_pixel is None else min_pixel), expect_size or cfg_size
        jobs = render_jobs(src, records, size=size, min_pixel=least, share=normal_test_share,
                           resize_normal=resize_normal)  # fmt: skip
    else:
        if normal_test_share:
            raise UsageError("--normal-test-share: only for an `oodforge render` output (ALLO's runs are separate)")
        own = allo_render_defaults(src)  # `render --layout allo`: its config's size and min_pixel
        def_size, def_min = own if own is not None else (ALLO_SIZE, ALLO_MIN_PIXEL)
        least, size = (def_min if min_pixel is None else min_pixel), expect_size or def_size
        experiments, jobs = native_jobs(src, size=size, min_pixel=least, resize_normal=resize_normal)
    _check_out(src, out)
    log_path = Path(log_file) if log_file is not None else out / "preprocess.log"
    planned = [MARKER, *(f"{j.dest}/{sub}/{j.name}" for j in jobs for sub in ("images", "masks"))]
    with contextlib.suppress(ValueError):  # a --log outside OUT is the user's own choice of file
        planned.append(log_path.resolve().relative_to(out.resolve()).as_posix())
    with open_owned_folder(out, command="oodforge preprocess", overwrite=overwrite, key="output folder",
                           what="preprocess output") as owned:  # fmt: skip
        owned.claim(planned, replace=True)  # checked first; then the previous run's files go
        summary = PreprocessSummary(out, log_path, kind, least, size, kept_files=owned.kept)
        _run(out, jobs, summary, progress)
        lines = [*summary.problems]
        lines += [
            f"INFO {row}: " + ", ".join(f"{k} {v}" for k, v in c.items()) for row, c in summary.per_camera.items()
        ]
        atomic_write_text(log_path, "".join(f"{ln}\n" for ln in lines))
        doc = {
            "format": "oodforge-preprocess/2",
            "input": {"kind": kind, "name": src.resolve().name, "experiments": experiments},
            "output_format": "allo",
            "min_pixel": least,
            "min_pixel_rule": "anomalous frames with <= min_pixel anomaly pixels are skipped",
            "expect_size": list(size),
            "resize_normal": resize_normal,
            "normal_test_share": normal_test_share,
            "per_camera": summary.per_camera,
            "totals": {k: summary.total(k) for k in COUNT_KEYS},
            "log": _rel_or_name(log_path, out),
        }
        atomic_write_json(out / MARKER, doc, indent=2)
    return summary


def _mask(job: Job, fb: np.ndarray, anomaly: np.ndarray | None) -> np.ndarray:
    if job.three_class:
        return three_class_mask(fb.astype(np.uint8), np.zeros_like(fb, np.uint8) if anomaly is None else anomaly)
    return np.where(fb, 255, 0).astype(np.uint8)


def _run(
    out: Path, jobs: list[Job], summary: PreprocessSummary, progress: Callable[[str, int, int], None] | None
) -> None:
    """Check every frame and write the kept ones (their paths are already listed in OUT's ledger)."""
    for done, job in enumerate(jobs, 1):
        counts = summary.per_camera.setdefault(job.group, dict.fromkeys(COUNT_KEYS, 0))
        try:
            frame = job.check()
            atomic_write_bytes(out / job.dest / "images" / job.name, frame.image)
            atomic_write_bytes(out / job.dest / "masks" / job.name, encode_png(_mask(job, frame.fb, frame.anomaly)))
            counts[job.kind] += 1
            if frame.note:
                summary.problems.append(f"INFO {job.where}: {frame.note}")
        except FrameSkipped as exc:
            counts["skipped"] += 1
            summary.problems.append(f"SKIPPED {job.where}: {exc}")
        except SampleError as exc:
            counts["rejected"] += 1
            line = f"REJECTED {job.where}: {exc}"
            summary.problems.append(line)
            summary.rejected.append(line)
        if progress:
            progress(STAGE, done, len(jobs))
