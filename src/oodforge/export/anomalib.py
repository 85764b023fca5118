"""Export any oodforge dataset (pasted or rendered), or ALLO's native render layout, to Anomalib's ``Folder`` layout.

This is the path to Anomalib: ``oodforge preprocess`` writes ALLO's format (3-class masks, a test folder mixing
normal and anomalous frames), which Anomalib's ``Folder`` reads wrongly (any mask value > 0 is anomalous, every
image of an abnormal folder is abnormal).

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
OUT carries the list of files oodforge wrote (:mod:`oodforge.export.owned_folder`): a folder without it
is refused, and ``--overwrite`` deletes only listed files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import yaml

from oodforge._io import atomic_write_bytes, atomic_write_text, encode_png, read_bytes, read_label_png
from oodforge._seeding import stable_unit
from oodforge.errors import DataLayoutError, InputFileError, OodforgeError, SampleError, UsageError
from oodforge.export.anomalib_manifest import IMG_EXTENSIONS, Item, read_native, read_records
from oodforge.export.owned_folder import OwnedFolder, check_owned_folder, open_owned_folder
from oodforge.render.allo_native import (
    ALLO_MIN_PIXEL,
    ALLO_SIZE,
    allo_render_defaults,
    is_native_layout,
    read_native_mask,
)

__all__ = ["MANAGED_DIRS", "AnomalibExport", "anomalib_pairs", "export_anomalib", "folder_snippet", "is_eval_split"]

Progress = Callable[[str, int, int], None]

STAGE_SCAN = "anomalib: reading GT"
STAGE_EXPORT = "anomalib: writing"
NORMAL_DIR, NORMAL_TEST_DIR, ABNORMAL_DIR, MASK_DIR = "train/good", "test/good", "test/anomaly", "ground_truth/anomaly"
#: the folders the export writes (with the two files written next to them)
MANAGED_DIRS = (NORMAL_DIR, NORMAL_TEST_DIR, ABNORMAL_DIR, MASK_DIR)
MANAGED_FILES = ("anomalib_folder.yaml", "README.txt")
ROLE_DIRS = {"train_good": NORMAL_DIR, "test_good": NORMAL_TEST_DIR, "test_anomaly": ABNORMAL_DIR}


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
        warnings: one line each (has_anomaly disagreeing with the GT, empty folders, hidden root, kept files).
        kept_files: files in ``root`` that oodforge did not write (left alone).
    """

    root: Path
    folder_args: dict[str, object]
    counts: dict[str, int]
    per_split: dict[str, dict[str, int]]
    ordinal_prefix: bool = False
    warnings: list[str] = field(default_factory=list)
    kept_files: int = 0


def is_eval_split(name: str) -> bool:
    """True for a split named like test/val: a word starts with ``test``, ``val`` or ``eval``, none with ``train``.

    Example:
        >>> [is_eval_split(s) for s in ("test", "val", "validation", "fs_test", "train", "train_val", "interval")]
        [True, True, True, True, False, False, False]
    """
    words = re.split(r"[^a-z0-9]+", name.lower())
    return any(w.startswith(("test", "val", "eval")) for w in words) and not any(w.startswith("train") for w in words)


def _check_out(out: Path, dataset: Path, overwrite: bool) -> None:
    """Refuse an OUT that overlaps the dataset, is not ours, or holds an export (unless ``overwrite``)."""
    o, d = out.resolve(), dataset.resolve()
    if o == d or d in o.parents or o in d.parents:
        raise UsageError(f"{out}: the export folder must be outside the dataset {dataset} (and not contain it)")
    check_owned_folder(out, overwrite=overwrite, key="export folder", what="export")


def _foreign_warnings(owned: OwnedFolder) -> list[str]:
    """Refuse images oodforge did not write where Anomalib pairs them; warn about the other kept files."""
    other = owned.foreign()
    images = [f for f in other if PurePosixPath(f).suffix.lower() in IMG_EXTENSIONS]
    for rel in (ABNORMAL_DIR, MASK_DIR):
        found = [f for f in images if f.startswith(f"{rel}/")]
        if found:
            raise UsageError(
                f"export folder {owned.root}: {len(found)} image(s) oodforge did not write in {rel} (e.g. "
                f"'{found[0]}'); Anomalib would pair them with the masks: move them away and run again"
            )
    if not other:
        return []
    line = f"{owned.root}: kept {len(other)} file(s) oodforge did not write (e.g. '{other[0]}')"
    normal = [f for f in images if f.startswith((f"{NORMAL_DIR}/", f"{NORMAL_TEST_DIR}/"))]
    if normal:
        line += f"; Anomalib reads the {len(normal)} in {NORMAL_DIR} and {NORMAL_TEST_DIR} as normal images"
    return [line]


def _read_gt(root: Path, item: Item) -> np.ndarray:
    """The item's GT (1 = anomaly), checked to hold only 0, 1 and 255; from ALLO's mask: 1 where it is 255."""
    if item.gt_rel is None:
        return np.zeros((1, 1), np.uint8)
    try:
        if item.allo_mask:
            return (read_native_mask(root / item.gt_rel) == 255).astype(np.uint8)
        gt = read_label_png(root / item.gt_rel)
    except SampleError as exc:
        raise InputFileError(f"{root / item.gt_rel}: {exc}" if item.allo_mask else str(exc)) from None
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


def _assign_names(items: list[Item], out: Path) -> bool:
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


def _plan(root: Path, items: list[Item], ratio: float, seed: int, progress: Progress | None) -> list[str]:
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


def _write(root: Path, out: Path, items: list[Item], progress: Progress | None) -> None:
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
        f"Anomalib Folder export of {dataset}\n\n"
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
    min_pixel: int | None = None,
    expect_size: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> AnomalibExport:
    """Write an oodforge dataset or ALLO's native layout in Anomalib's ``Folder`` layout (see the module docstring).

    The GT decides (``has_anomaly`` disagreeing with it is a warning): images with >= 1 anomaly pixel go
    to ``test/anomaly`` from every split. Normal images of test/val-like splits (:func:`is_eval_split`) go
    to ``test/good``, the others to ``train/good`` except a share ``normal_test_ratio`` chosen by a stable
    hash of (seed, name), moved to ``test/good`` so Anomalib can compute image-level metrics.

    ALLO's native layout (an ``exp_<n>`` folder or a folder of them) is read with ``oodforge preprocess``'s
    reader and rules: the split is the experiment's folder name, the image id ``<camera>/<day>_<prefix>``;
    every frame is checked (``expect_size``, every mask present and readable), anomalous frames need more
    than ``min_pixel`` anomaly pixels (ALLO's rule); frames left out are counted as failed or summed in a warning.

    Args:
        dataset: root of an oodforge dataset (holds ``manifest.jsonl``) or ALLO's native layout.
        out: export folder: new, empty, or a previous export (see ``overwrite``); it carries the list of
            the files oodforge wrote (:mod:`oodforge.export.owned_folder`).
        splits: only these splits (default: all).
        normal_test_ratio: share in [0, 1] of train-split normal images moved to ``test/good``.
        seed: seed of that share.
        min_pixel: ALLO's layout only: anomalous frames need more anomaly pixels than this (default 2000, ALLO's).
        expect_size: ALLO's layout only: (width, height) of every image and mask (default 1920x1080).
        overwrite: replace a previous export in ``out`` instead of refusing: only the files it lists are
            deleted; other files are kept (counted in :attr:`AnomalibExport.kept_files`).
        progress: optional ``progress(stage, done, total)`` callback.

    Raises:
        DataLayoutError: not a dataset, a malformed manifest line, GT values outside {0, 1, 255}.
        UsageError: unknown split, ratio outside [0, 1], ``out`` overlapping the dataset, not empty and not
            an export, a previous export without ``overwrite``, or images oodforge did not write in
            ``test/anomaly`` or ``ground_truth/anomaly``.
    """
    if not 0.0 <= normal_test_ratio <= 1.0:
        raise UsageError(f"normal_test_ratio: {normal_test_ratio} given; expected a number in [0, 1]")
    if min_pixel is not None and min_pixel < 0:
        raise UsageError(f"--min-pixel: expected a number >= 0, got {min_pixel}")
    notes: list[str] = []
    own = allo_render_defaults(dataset)  # `render --layout allo`: read as ALLO's layout, its config's defaults
    if ((dataset / "manifest.jsonl").is_file() and own is None) or not is_native_layout(dataset):
        if min_pixel is not None or expect_size is not None:
            raise UsageError("--min-pixel and --expect-size: only for ALLO's native layout (exp_<n>/Camera<k>/...)")
        items, per_split = read_records(dataset, splits)
    else:
        def_size, def_min = own if own is not None else (ALLO_SIZE, ALLO_MIN_PIXEL)
        least = def_min if min_pixel is None else min_pixel
        items, per_split, notes = read_native(dataset, splits, size=expect_size or def_size, min_pixel=least)
    _check_out(out, dataset, overwrite)
    warnings = notes + _plan(dataset, items, normal_test_ratio, seed, progress)
    ordinal = _assign_names(items, out)
    with open_owned_folder(out, command="oodforge export anomalib", overwrite=overwrite, key="export folder",
                           what="export") as owned:  # fmt: skip
        kept = _foreign_warnings(owned)
        planned = [f"{ROLE_DIRS[it.role]}/{it.file}" for it in items]
        masks = [f"{MASK_DIR}/{it.mask}" for it in items if it.role == "test_anomaly"]
        owned.claim([*planned, *masks, *MANAGED_FILES], replace=True)  # deletes the previous export's files
        for rel in MANAGED_DIRS:
            (out / rel).mkdir(parents=True, exist_ok=True)
        _write(dataset, out, items, progress)
        res = _finish(dataset, out, items, per_split, ordinal, warnings + kept)
        res.kept_files = owned.kept
        atomic_write_text(out / "README.txt", _readme(dataset, res, normal_test_ratio, seed))
        header = f"# Anomalib Folder datamodule for {dataset.resolve()} (oodforge export anomalib)\n"
        body = yaml.safe_dump({"class_path": "anomalib.data.Folder", "init_args": res.folder_args}, sort_keys=False)
        atomic_write_text(out / "anomalib_folder.yaml", header + body)
    return res


def _finish(
    dataset: Path, out: Path, items: list[Item], per_split: dict[str, dict[str, int]], ordinal: bool,
    warnings: list[str],
) -> AnomalibExport:  # fmt: skip
    """Count, check the written pairing like Anomalib, and build the result."""
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

    return AnomalibExport(out, folder_args, counts, per_split, ordinal, warnings)
