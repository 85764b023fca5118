"""The input side of the Anomalib export: an oodforge dataset's records, or ALLO's native layout, as items.

Only the manifest fields shared by synth and render records are read; every path is checked to stay
inside the dataset root and to name an existing file. ALLO's layout is read with the reader and the rules of
``oodforge preprocess`` (:mod:`oodforge.render.allo_native`): every frame checked, anomalous frames with
``<= min_pixel`` anomaly pixels left out, a frame that fails counted as failed with its reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from oodforge._paths import relative_inside
from oodforge.errors import DataLayoutError, InputFileError, SampleError, UsageError

__all__ = ["IMG_EXTENSIONS", "Item", "read_native", "read_records"]

#: torchvision's IMG_EXTENSIONS (Anomalib's default), lower case
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass
class Item:
    """One exported image: where it comes from and, once planned, where it goes."""

    split: str
    image_id: str
    image_rel: str
    gt_rel: str | None  # None: no anomaly mask (an ALLO normal frame)
    has_anomaly: bool
    stem: str
    ext: str
    role: str = ""
    name: str = ""
    allo_mask: bool = False  # gt_rel is ALLO's anomaly mask (255 on the anomaly), not oodforge's 0/1/255 GT

    @property
    def file(self) -> str:
        """Image file name in its folder."""
        return self.name + self.ext

    @property
    def mask(self) -> str:
        """Mask file name in ``ground_truth/anomaly``."""
        return f"{self.name}_mask.png"


def _rel(value: object, key: str, where: str, root: Path) -> str:
    """A manifest path: relative, inside the root, naming an existing file."""
    if not isinstance(value, str) or not value:
        raise DataLayoutError(f"{where}: missing key {key!r}; expected a path relative to the dataset root")
    if relative_inside(value) is None:
        raise DataLayoutError(f"{where}: {key} {value!r} leaves the dataset root; expected a relative path")
    if not (root / value).is_file():
        raise InputFileError(f"{where}: {key} file {root / value} not found")
    return value


def _item(rec: dict[str, object], where: str, root: Path) -> Item:
    outputs = rec.get("outputs")
    if not isinstance(outputs, dict):
        raise DataLayoutError(f"{where}: missing key 'outputs'; expected an object with 'image' and 'gt_pixel'")
    if not isinstance(rec.get("has_anomaly"), bool):
        raise DataLayoutError(f"{where}: missing key 'has_anomaly'; expected true or false")
    image_rel = _rel(outputs.get("image"), "outputs.image", where, root)
    ext = PurePosixPath(image_rel).suffix.lower()
    if ext not in IMG_EXTENSIONS:
        raise DataLayoutError(f"{where}: image {image_rel!r} has an extension Anomalib does not read")
    split, image_id = str(rec["split"]), str(rec["image_id"])
    stem = re.sub(r"[/\\]", "_", f"{split}__{image_id}")
    if stem.startswith("."):
        raise DataLayoutError(f"{where}: split {split!r} starts with '.'; Anomalib skips hidden files")
    return Item(split, image_id, image_rel, _rel(outputs.get("gt_pixel"), "outputs.gt_pixel", where, root),
                 bool(rec["has_anomaly"]), stem, ext)  # fmt: skip


def read_records(root: Path, splits: list[str] | None) -> tuple[list[Item], dict[str, dict[str, int]]]:
    """Items of the ``ok`` records (of ``splits``) and zeroed per-split counts holding the failed ones."""
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        raise DataLayoutError(
            f"{root}: not an oodforge dataset (no manifest.jsonl) nor ALLO's layout (no Camera<k>/ folder); expected "
            "the output of `oodforge synth` or `render`, or ALLO's exp_<n> folder"
        )
    items: list[Item] = []
    per_split: dict[str, dict[str, int]] = {}
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(manifest.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{manifest}:{lineno}"
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DataLayoutError(f"{where}: not UTF-8 text (byte {exc.start}); expected a JSON record") from None
        except json.JSONDecodeError as exc:
            raise DataLayoutError(f"{where}: not a JSON record ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise DataLayoutError(f"{where}: expected a JSON object, found {type(rec).__name__}")
        for key in ("split", "image_id", "status"):
            if not isinstance(rec.get(key), str) or not rec[key]:
                raise DataLayoutError(f"{where}: missing key {key!r}; expected a non-empty string")
        if rec["status"] not in ("ok", "failed"):
            raise DataLayoutError(f"{where}: status {rec['status']!r}; expected 'ok' or 'failed'")
        counts = per_split.setdefault(rec["split"], {"train_good": 0, "test_good": 0, "test_anomaly": 0, "failed": 0})
        if splits is not None and rec["split"] not in splits:
            continue
        if rec["status"] == "failed":
            counts["failed"] += 1
            continue
        it = _item(rec, where, root)
        if it.stem in seen:
            raise DataLayoutError(f"{where}: export name {it.stem!r} already used by line {seen[it.stem]}")
        seen[it.stem] = lineno
        items.append(it)
    unknown = sorted(set(splits or ()) - set(per_split))
    if unknown:
        raise UsageError(f"unknown split {unknown[0]!r}; the dataset has: {', '.join(sorted(per_split)) or 'none'}")
    if splits is not None:
        per_split = {k: v for k, v in per_split.items() if k in splits}
    return items, per_split


def read_native(
    root: Path, splits: list[str] | None, *, size: tuple[int, int], min_pixel: int
) -> tuple[list[Item], dict[str, dict[str, int]], list[str]]:
    """Items of ALLO's native layout (split = experiment folder name), per-split counts, lines on frames left out.

    Each frame is checked as ``oodforge preprocess`` checks it; a frame that fails counts as ``failed`` and
    gets a line with its reason; frames skipped by ``min_pixel`` are summed in one line per experiment.
    """
    from oodforge.render.allo_native import FrameSkipped, check_native_frame, list_native_frames

    experiments, frames = list_native_frames(root)
    names = [e.name for e in experiments]
    unknown = sorted(set(splits or ()) - set(names))
    if unknown:
        raise UsageError(f"unknown split {unknown[0]!r}; the experiments are: {', '.join(names)}")
    items: list[Item] = []
    lines: list[str] = []
    per_split = {
        n: {"train_good": 0, "test_good": 0, "test_anomaly": 0, "failed": 0} for n in names if not splits or n in splits
    }
    skipped = dict.fromkeys(per_split, 0)
    for f in frames:
        if f.experiment not in per_split:
            continue
        try:
            check_native_frame(root, f, size=size, min_pixel=min_pixel)
        except FrameSkipped:
            skipped[f.experiment] += 1
            continue
        except SampleError as exc:
            per_split[f.experiment]["failed"] += 1
            lines.append(f"{f.where}: {exc}; left out")
            continue
        image_id = f"{f.camera}/{PurePosixPath(f.name).stem}"
        stem = re.sub(r"[/\\]", "_", f"{f.experiment}__{image_id}")
        items.append(Item(f.experiment, image_id, f.image_rel, f.anomaly_rel, f.anomalous, stem, ".png",
                          allo_mask=True))  # fmt: skip
    lines += [f"{exp}: {n} anomalous frame(s) with <= min_pixel {min_pixel} anomaly pixels left out (ALLO's rule)"
              for exp, n in skipped.items() if n]  # fmt: skip
    return items, per_split, lines
