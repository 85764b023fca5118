"""Export any oodforge dataset (pasted or rendered) to Anomalib's ``Folder`` layout (MVTec-like).

```
OUT/train/good/<stem>.<ext>                 normal images of train-like splits (minus the test share)
OUT/test/good/<stem>.<ext>                  normal images of test/val-like splits + the test share
OUT/test/anomaly/<stem>.<ext>               images whose GT has >= 1 anomaly pixel (any split)
OUT/ground_truth/anomaly/<stem>_mask.png    uint8 0/255: GT 1 -> 255; GT 0 and 255 (ignore) -> 0
OUT/anomalib_folder.yaml, OUT/README.txt    the Folder arguments (Anomalib CLI ``--data`` file); what is where
```

``<stem>`` is ``<split>__<image_id>``. Anomalib pairs masks with abnormal images by sorted position
and checks each image stem is a substring of its mask stem; names where one stem is a prefix of
another can sort differently with ``_mask`` appended, so the pairing is simulated on the planned
names and, only if it would break, abnormal files get a fixed-width ordinal prefix
(``000003__<stem>``). The pairing is checked again on the written files before the yaml is written.
Images are byte copies; only the manifest fields shared by synth and render records are read.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import yaml

from oodforge._io import atomic_write_bytes, atomic_write_text, encode_png, read_bytes, read_label_png
from oodforge._seeding import stable_unit
from oodforge.errors import DataLayoutError, InputFileError, OodforgeError, SampleError, UsageError

__all__ = ["MANAGED_DIRS", "AnomalibExport", "anomalib_pairs", "export_anomalib", "folder_snippet", "is_eval_split"]

Progress = Callable[[str, int, int], None]

STAGE_SCAN = "anomalib: reading GT"
STAGE_EXPORT = "anomalib: writing"
NORMAL_DIR, NORMAL_TEST_DIR, ABNORMAL_DIR, MASK_DIR = "train/good", "test/good", "test/anomaly", "ground_truth/anomaly"
#: the folders that ``overwrite`` clears (with the two files written next to them)
MANAGED_DIRS = (NORMAL_DIR, NORMAL_TEST_DIR, ABNORMAL_DIR, MASK_DIR)
MANAGED_FILES = ("anomalib_folder.yaml", "README.txt")
ROLE_DIRS = {"train_good": NORMAL_DIR, "test_good": NORMAL_TEST_DIR, "test_anomaly": ABNORMAL_DIR}
#: torchvision's IMG_EXTENSIONS (Anomalib's default), lower case
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass
class _Item:
    """One exported image: where it comes from and, once planned, where it goes."""

    split: str
    image_id: str
    image_rel: str
    gt_rel: str
    has_anomaly: bool
    stem: str
    ext: str
    role: str = ""
    name: str = ""

    @property
    def file(self) -> str:
        """Image file name in its folder."""
        return self.name + self.ext

    @property
    def mask(self) -> str:
        """Mask file name in ``ground_truth/anomaly``."""
        return f"{self.name}_mask.png"


@dataclass
class AnomalibExport:
    """Outcome of :func:`export_anomalib`.

    Attributes:
        root: the export folder (``Folder``'s ``root``).
        folder_args: keyword arguments of ``anomalib.data.Folder``; a folder left empty is ``None``
            (Anomalib refuses a folder with no image), except ``normal_dir`` which it requires.
        counts: ``train_good``, ``test_good``, ``test_anomaly`` (= masks) and ``failed`` (skipped records).
        per_split: the same counts per source split.
        ordinal_prefix: True when abnormal files got an ordinal prefix to keep Anomalib's pairing exact.
        warnings: one line each (has_anomaly disagreeing with the GT, empty folders, hidden root).
    """

    root: Path
    folder_args: dict[str, object]
    counts: dict[str, int]
    per_split: dict[str, dict[str, int]]
    ordinal_prefix: bool = False
    warnings: list[str] = field(default_factory=list)


def is_eval_split(name: str) -> bool:
    """True for a split named like test/val: a word starts with ``test``, ``val`` or ``eval``, none with ``train``.

    Example:
        >>> [is_eval_split(s) for s in ("test", "val", "validation", "fs_test", "train", "train_val", "interval")]
        [True, True, True, True, False, False, False]
    """
    words = re.split(r"[^a-z0-9]+", name.lower())
    return any(w.startswith(("test", "val", "eval")) for w in words) and not any(w.startswith("train") for w in words)


def _rel(value: object, key: str, where: str, root: Path) -> str:
    """A manifest path: relative, inside the root, naming an existing file."""
    if not isinstance(value, str) or not value:
        raise DataLayoutError(f"{where}: missing key {key!r}; expected a path relative to the dataset root")
    p = PurePosixPath(value)
    if p.is_absolute() or ".." in p.parts:
        raise DataLayoutError(f"{where}: {key} {value!r} leaves the dataset root; expected a relative path")
    if not (root / value).is_file():
        raise InputFileError(f"{where}: {key} file {root / value} not found")
    return value


def _item(rec: dict[str, object], where: str, root: Path) -> _Item:
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
    return _Item(split, image_id, image_rel, _rel(outputs.get("gt_pixel"), "outputs.gt_pixel", where, root),
                 bool(rec["has_anomaly"]), stem, ext)  # fmt: skip


def _read_records(root: Path, splits: list[str] | None) -> tuple[list[_Item], dict[str, dict[str, int]]]:
    """Items of the ``ok`` records (of ``splits``) and zeroed per-split counts holding the failed ones."""
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        raise DataLayoutError(
            f"{root}: not an oodforge dataset (no manifest.jsonl); expected the output of `oodforge synth` or `render`"
        )
    items: list[_Item] = []
    per_split: dict[str, dict[str, int]] = {}
    seen: dict[str, int] = {}
    for lineno, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{manifest}:{lineno}"
        try:
            rec = json.loads(line)
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


def _prepare_out(out: Path, dataset: Path, overwrite: bool) -> None:
    """Refuse an OUT that overlaps the dataset or is non-empty (unless ``overwrite``)."""
    o, d = out.resolve(), dataset.resolve()
    if o == d or d in o.parents or o in d.parents:
        raise UsageError(f"{out}: the export folder must be outside the dataset {dataset} (and not contain it)")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder; expected an empty or new folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"{out}: not empty; pass --overwrite (overwrite=True) to replace a previous export")


def _clear_managed(out: Path) -> None:
    for rel in MANAGED_DIRS:
        p = out / rel
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
    for name in MANAGED_FILES:
        (out / name).unlink(missing_ok=True)


def _read_gt(root: Path, item: _Item) -> np.ndarray:
    """The item's GT, checked to hold only 0, 1 and 255."""
    try:
        gt = read_label_png(root / item.gt_rel)
    except SampleError as exc:
        raise InputFileError(str(exc)) from None
    bad = np.setdiff1d(np.unique(gt), (0, 1, 255))
    if bad.size:
        raise DataLayoutError(f"{item.gt_rel}: GT values {bad.tolist()[:5]} found; expected 0, 1 and 255 only")
    return gt


def anomalib_pairs(images: Sequence[Path], masks: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Pair abnormal images with masks as Anomalib's ``Folder`` does: both sorted, zipped by position.

    Raises:
        OodforgeError: different counts, or an image stem that is not a substring of its mask stem.
    """
    si, sm = sorted(images), sorted(masks)
    if len(si) != len(sm):
        raise OodforgeError(f"anomalib pairing: {len(si)} abnormal image(s) but {len(sm)} mask(s)")
    for img, msk in zip(si, sm, strict=True):
        if img.stem not in msk.stem:
            raise OodforgeError(f"anomalib pairing: image {img.name} would be paired with mask {msk.name}")
    return list(zip(si, sm, strict=True))


def _glob_like_anomalib(folder: Path, extensions: Sequence[str]) -> list[Path]:
    """Files found recursively with a suffix in ``extensions`` (case-sensitive), hidden parts excluded."""
    return [
        p
        for p in folder.glob("**/*")
        if p.suffix in extensions and p.is_file() and not any(s.startswith(".") for s in p.relative_to(folder).parts)
    ]


def _assign_names(items: list[_Item], out: Path) -> bool:
    """Set each item's file name; give abnormal files an ordinal prefix only if pairing would break."""
    abnormal = sorted((it for it in items if it.role == "test_anomaly"), key=lambda it: it.stem)
    for it in items:
        it.name = it.stem
    try:
        anomalib_pairs([out / ABNORMAL_DIR / it.file for it in abnormal], [out / MASK_DIR / it.mask for it in abnormal])
        return False
    except OodforgeError:
        width = max(6, len(str(len(abnormal))))
        for k, it in enumerate(abnormal):
            it.name = f"{k:0{width}d}__{it.stem}"
        anomalib_pairs([out / ABNORMAL_DIR / it.file for it in abnormal], [out / MASK_DIR / it.mask for it in abnormal])
        return True


def _plan(root: Path, items: list[_Item], ratio: float, seed: int, progress: Progress | None) -> list[str]:
    """Decide each item's role from its GT; return warnings for has_anomaly disagreeing with the GT."""
    warnings = []
    for i, it in enumerate(items, 1):
        n_anomaly = int(np.count_nonzero(_read_gt(root, it) == 1))
        if (n_anomaly > 0) != it.has_anomaly:
            warnings.append(
                f"{it.split}/{it.image_id}: manifest has_anomaly={it.has_anomaly} but the GT has "
                f"{n_anomaly} anomaly pixel(s); the GT decides"
            )
        if n_anomaly:
            it.role = "test_anomaly"
        elif is_eval_split(it.split) or stable_unit(seed, "anomalib_normal_test", it.stem) < ratio:
            it.role = "test_good"
        else:
            it.role = "train_good"
        if progress:
            progress(STAGE_SCAN, i, len(items))
    return warnings


def _write(root: Path, out: Path, items: list[_Item], progress: Progress | None) -> None:
    for i, it in enumerate(items, 1):
        atomic_write_bytes(out / ROLE_DIRS[it.role] / it.file, read_bytes(root / it.image_rel))
        if it.role == "test_anomaly":
            mask = np.where(_read_gt(root, it) == 1, 255, 0).astype(np.uint8)
            atomic_write_bytes(out / MASK_DIR / it.mask, encode_png(mask))
        if progress:
            progress(STAGE_EXPORT, i, len(items))


def folder_snippet(folder_args: dict[str, object]) -> str:
    """Python code that builds the ``Folder`` datamodule from :attr:`AnomalibExport.folder_args`."""
    lines = ["from anomalib.data import Folder", "", "datamodule = Folder("]
    for key, value in folder_args.items():
        if value is None:
            continue
        lit = repr(tuple(value)) if isinstance(value, list) else repr(value)
        lines.append(f"    {key}={lit},")
    return "\n".join([*lines, ")"])


def _readme(dataset: Path, res: AnomalibExport, ratio: float, seed: int) -> str:
    c = res.counts
    prefix = " (abnormal files and masks with an ordinal prefix, so Anomalib pairs them)" * res.ordinal_prefix
    return (
        f"Anomalib Folder export of the oodforge dataset {dataset}\n\n"
        f"{NORMAL_DIR}/             {c['train_good']} normal images of train-like splits (training set)\n"
        f"{NORMAL_TEST_DIR}/              {c['test_good']} normal images: all of test/val-like splits, plus a\n"
        f"                        deterministic share {ratio} of train-split normals (stable hash of the\n"
        f"                        name, seed {seed}) so image-level metrics have negatives\n"
        f"{ABNORMAL_DIR}/           {c['test_anomaly']} images whose ground truth has >= 1 anomaly pixel\n"
        f"{MASK_DIR}/   one <name>_mask.png per abnormal image: 255 anomaly, 0 normal\n"
        "                        (oodforge's ignore label 255 is written as 0: Anomalib counts > 0 as anomalous)\n\n"
        f"Names are <split>__<image_id>{prefix}. Images are byte copies.\n"
        f"{c['failed']} failed record(s) of the dataset were skipped.\n\n"
        "Load with (or: anomalib train --data anomalib_folder.yaml):\n\n"
        f"{folder_snippet(res.folder_args)}\n"
    )


def export_anomalib(
    dataset: Path,
    out: Path,
    *,
    splits: list[str] | None = None,
    normal_test_ratio: float = 0.2,
    seed: int = 0,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> AnomalibExport:
    """Write an oodforge dataset in Anomalib's ``Folder`` layout (see the module docstring).

    The GT decides (``has_anomaly`` disagreeing with it is a warning): images with >= 1 anomaly pixel go
    to ``test/anomaly`` from every split. Normal images of test/val-like splits (:func:`is_eval_split`) go
    to ``test/good``, the others to ``train/good`` except a share ``normal_test_ratio`` chosen by a stable
    hash of (seed, name), moved to ``test/good`` so Anomalib can compute image-level metrics.

    Args:
        dataset: root of an oodforge dataset (holds ``manifest.jsonl``).
        out: export folder; new or empty unless ``overwrite`` (which clears only :data:`MANAGED_DIRS`).
        splits: only these splits (default: all).
        normal_test_ratio: share in [0, 1] of train-split normal images moved to ``test/good``.
        seed: seed of that share.
        overwrite: replace a previous export in ``out`` instead of refusing.
        progress: optional ``progress(stage, done, total)`` callback.

    Raises:
        DataLayoutError: not a dataset, a malformed manifest line, GT values outside {0, 1, 255}.
        UsageError: unknown split, ratio outside [0, 1], ``out`` not empty or overlapping the dataset.
    """
    if not 0.0 <= normal_test_ratio <= 1.0:
        raise UsageError(f"normal_test_ratio: {normal_test_ratio} given; expected a number in [0, 1]")
    items, per_split = _read_records(dataset, splits)
    _prepare_out(out, dataset, overwrite)
    warnings = _plan(dataset, items, normal_test_ratio, seed, progress)
    ordinal = _assign_names(items, out)

    if out.is_dir():
        _clear_managed(out)
    for rel in MANAGED_DIRS:
        (out / rel).mkdir(parents=True, exist_ok=True)
    _write(dataset, out, items, progress)

    counts = {role: sum(it.role == role for it in items) for role in ROLE_DIRS}
    counts["failed"] = sum(s["failed"] for s in per_split.values())
    for it in items:
        per_split[it.split][it.role] += 1
    extensions = sorted({".png", *(it.ext for it in items)})
    abnormal = _glob_like_anomalib(out / ABNORMAL_DIR, extensions)
    anomalib_pairs(abnormal, _glob_like_anomalib(out / MASK_DIR, extensions))
    if len(abnormal) != counts["test_anomaly"]:
        raise OodforgeError(f"{out / ABNORMAL_DIR}: {len(abnormal)} files found, {counts['test_anomaly']} written")

    folder_args: dict[str, object] = {
        "name": dataset.resolve().name,
        "root": str(out.absolute()),
        "normal_dir": NORMAL_DIR,
        "abnormal_dir": ABNORMAL_DIR if counts["test_anomaly"] else None,
        "normal_test_dir": NORMAL_TEST_DIR if counts["test_good"] else None,
        "mask_dir": MASK_DIR if counts["test_anomaly"] else None,
        "extensions": extensions,
    }
    if not counts["train_good"]:
        warnings.append(f"{NORMAL_DIR}: no image; Anomalib needs normal training images (Found 0 normal images)")
    for key, n in (("test_good", NORMAL_TEST_DIR), ("test_anomaly", ABNORMAL_DIR)):
        if not counts[key]:
            warnings.append(f"{n}: no image; left out of the Folder arguments (Anomalib refuses an empty folder)")
    if any(part.startswith(".") for part in out.absolute().parts):
        warnings.append(f"{out}: a hidden folder in the path; Anomalib skips files under hidden folders")

    res = AnomalibExport(out, folder_args, counts, per_split, ordinal, warnings)
    atomic_write_text(out / "README.txt", _readme(dataset, res, normal_test_ratio, seed))
    header = f"# Anomalib Folder datamodule for {dataset.resolve()} (oodforge export anomalib)\n"
    body = yaml.safe_dump({"class_path": "anomalib.data.Folder", "init_args": folder_args}, sort_keys=False)
    atomic_write_text(out / "anomalib_folder.yaml", header + body)
    return res
