"""The COCO instance pool: filtered object instances with tight masks, cached on disk.

The pool is built once from the instances JSON and stored in ``<cache>/coco_pools/<key>/`` as
``meta.npz`` (per-instance arrays), ``info.json`` (categories, filters, rejection counts) and
``masks.bin`` (every tight mask bit-packed with :func:`numpy.packbits`, concatenated). Opening a
pool memory-maps ``masks.bin``, so worker processes load it in milliseconds; a :class:`CocoPool`
pickles as its folder path and reopens itself on the other side.

Filters, in order (each rejected annotation is counted under the first reason that rejects it, in
``info.json`` "rejections" and :attr:`CocoPool.rejections`; :mod:`oodforge.sources._coco_filters`
defines each one): ``category`` (allow-list, by name) → ``crowd`` → ``truncated`` (bbox within
``truncation_margin_px`` of the image border) → ``min_area_px`` and ``area_ratio`` on the
annotation's own ``area`` → ``aspect_ratio`` (bbox w / h) → mask decoded (as
``pycocotools.coco.COCO.annToMask``) → ``empty_mask`` → ``main_component`` (largest 8-connected
component / mask pixels) → ``min_solidity`` (mask pixels / pixels of the filled convex hull) →
``occluded_outline`` (share of the outline within 2 px of another instance of the same image).
Annotations are grouped by image, so the other instances of an image are decoded at most once.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._io import atomic_write_json, read_image_rgb
from oodforge.config.schema import CocoFilters
from oodforge.errors import ConfigError, InputFileError, SampleError
from oodforge.sources._coco_filters import CATEGORIES_KEY, REJECTION_REASONS, ImageMasks, allowed_ids, judge_mask, sift

__all__ = [
    "POOL_FORMAT_VERSION",
    "REJECTION_REASONS",
    "CocoPool",
    "default_cache_dir",
    "load_or_build_pool",
    "pool_cache_key",
]

#: 2: truncation margin, main-component and occluded-outline filters; every reason counted (0 included)
POOL_FORMAT_VERSION = 2
_ANN_KEYS = ("id", "image_id", "category_id", "segmentation", "area", "bbox")
Progress = Callable[[int, int], None]
#: Per-instance arrays stored in ``meta.npz`` (besides ``offsets``) and their dtypes.
_COLUMNS: dict[str, Any] = {
    "ann_ids": np.int64, "image_ids": np.int64, "category_ids": np.int32, "bboxes": np.int32,
    "mask_areas": np.int64, "ann_areas": np.float64, "image_sizes": np.int32, "file_names": np.str_,
}  # fmt: skip


class CocoPool:
    """A read-only pool of COCO instances backed by a cache folder.

    Attributes:
        path: the cache folder.
        ann_ids: (N,) int64 COCO annotation ids, ascending.
        image_ids: (N,) int64 COCO image ids.
        category_ids: (N,) int32 COCO category ids.
        bboxes: (N, 4) int32 tight mask boxes ``x, y, w, h`` in COCO image pixels.
        mask_areas: (N,) int64 mask pixel counts.
        ann_areas: (N,) float64 the annotations' own ``area``.
        image_sizes: (N, 2) int32 COCO image ``width, height``.
        category_names: COCO category id → name, for the allowed categories.
        rejections: every reason of :data:`REJECTION_REASONS`, in filter order → number of annotations
            it rejected while building (0 included).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            info = json.loads((self.path / "info.json").read_text(encoding="utf-8"))
            with np.load(self.path / "meta.npz", allow_pickle=False) as meta:
                arrays = {k: meta[k] for k in meta.files}
        except (OSError, ValueError, KeyError) as exc:
            raise InputFileError(f"{self.path}: not a readable COCO pool cache ({exc}); rebuild it") from exc
        if info.get("format_version") != POOL_FORMAT_VERSION:
            raise InputFileError(
                f"{self.path}: COCO pool format {info.get('format_version')!r}; expected {POOL_FORMAT_VERSION}"
            )
        self.category_names: dict[int, str] = {int(k): v for k, v in info["categories"].items()}
        self.rejections: dict[str, int] = dict(info["rejections"])
        self.ann_ids: np.ndarray = arrays["ann_ids"]
        self.image_ids: np.ndarray = arrays["image_ids"]
        self.category_ids: np.ndarray = arrays["category_ids"]
        self.bboxes: np.ndarray = arrays["bboxes"]
        self.mask_areas: np.ndarray = arrays["mask_areas"]
        self.ann_areas: np.ndarray = arrays["ann_areas"]
        self.image_sizes: np.ndarray = arrays["image_sizes"]
        self._file_names: np.ndarray = arrays["file_names"]
        self._offsets: np.ndarray = arrays["offsets"]
        self._masks: np.ndarray | None = None

    @classmethod
    def open(cls, path: Path) -> CocoPool:
        """Open a pool cache folder written by :func:`load_or_build_pool`."""
        return cls(path)

    def __reduce__(self) -> tuple[type[CocoPool], tuple[Path]]:
        return (type(self), (self.path,))

    def __len__(self) -> int:
        return int(self.ann_ids.shape[0])

    def _index(self, i: int) -> int:
        idx = operator.index(i)
        if not 0 <= idx < len(self):
            raise IndexError(f"pool index {idx} out of range; expected 0 <= index < {len(self)}")
        return idx

    def file_name(self, i: int) -> str:
        """COCO image file name of instance ``i`` (relative to the images folder)."""
        return str(self._file_names[self._index(i)])

    def category(self, i: int) -> str:
        """COCO category name of instance ``i``."""
        return self.category_names[int(self.category_ids[self._index(i)])]

    def mask(self, i: int) -> np.ndarray:
        """Tight (h, w) ``bool`` mask of instance ``i``; (h, w) = ``bboxes[i, 3], bboxes[i, 2]``."""
        idx = self._index(i)
        if self._masks is None:
            self._masks = np.memmap(self.path / "masks.bin", dtype=np.uint8, mode="r")
        _, _, w, h = (int(v) for v in self.bboxes[idx])
        packed = self._masks[int(self._offsets[idx]) : int(self._offsets[idx + 1])]
        return np.unpackbits(packed, count=h * w).reshape(h, w).view(np.bool_)

    def rgb_crop(self, i: int, images_root: Path) -> np.ndarray:
        """RGB ``uint8`` (h, w, 3) crop of instance ``i``'s tight box from its COCO image.

        Raises:
            SampleError: the image is missing, unreadable, or smaller than the annotated size.
        """
        idx = self._index(i)
        path = Path(images_root) / self.file_name(idx)
        image = read_image_rgb(path)
        width, height = (int(v) for v in self.image_sizes[idx])
        if image.shape[:2] != (height, width):
            raise SampleError(
                f"{path}: image is {image.shape[1]}x{image.shape[0]}; expected {width}x{height} as in the annotations"
            )
        x, y, w, h = (int(v) for v in self.bboxes[idx])
        return np.ascontiguousarray(image[y : y + h, x : x + w])

    def indices_by_category(self) -> dict[str, np.ndarray]:
        """Sorted category names → (k,) int64 pool indices; only categories with at least one instance."""
        out: dict[str, np.ndarray] = {}
        for cid, name in sorted(self.category_names.items(), key=lambda kv: kv[1]):
            idx = np.flatnonzero(self.category_ids == cid).astype(np.int64)
            if idx.size:
                out[name] = idx
        return out

    def summary(self) -> str:
        """One line: instances, categories and rejections per reason, e.g. for the CLI."""
        cats = np.unique(self.category_ids).size
        why = ", ".join(f"{k} {v}" for k, v in self.rejections.items())
        return (
            f"COCO pool: {len(self)} instances of {cats} categories ({len(self.category_names)} allowed); "
            f"rejected: {why}"
        )

    def category_histogram(self) -> dict[str, int]:
        """Sorted allowed category names → instance count (0 for an allowed category with none)."""
        return {
            name: int(np.count_nonzero(self.category_ids == cid))
            for cid, name in sorted(self.category_names.items(), key=lambda kv: kv[1])
        }


def default_cache_dir() -> Path:
    """``$OODFORGE_CACHE_DIR`` if set, else ``~/.cache/oodforge``."""
    env = os.environ.get("OODFORGE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "oodforge"


def pool_cache_key(annotation_path: Path, allowed_categories: Sequence[str], filters: CocoFilters) -> str:
    """Hex key of a pool: hash of the JSON's resolved path, size and mtime, the categories, filters and format."""
    resolved = Path(annotation_path).resolve()
    try:
        st = resolved.stat()
    except OSError as exc:
        raise InputFileError(f"{annotation_path}: COCO annotation file not found ({exc.strerror})") from exc
    blob = json.dumps(
        [str(resolved), st.st_size, st.st_mtime_ns, sorted(set(allowed_categories)), filters.model_dump_json(),
         POOL_FORMAT_VERSION]
    )  # fmt: skip
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def load_or_build_pool(
    annotation_path: Path,
    allowed_categories: Sequence[str],
    filters: CocoFilters,
    cache_dir: Path | None,
    progress: Progress | None = None,
) -> CocoPool:
    """Open the cached pool for these inputs, building it first when absent.

    Args:
        annotation_path: the COCO instances JSON.
        allowed_categories: COCO category names to keep.
        filters: the ``synthesis.coco.filters`` config.
        cache_dir: cache root; ``None`` uses :func:`default_cache_dir`. The pool lives in
            ``<cache_dir>/coco_pools/<key>/``.
        progress: called as ``progress(done, total)`` while masks are decoded.

    Raises:
        InputFileError: the JSON is missing or malformed, or the cache folder is not writable.
        ConfigError: an unknown category name, or no instance passes the filters.
    """
    key = pool_cache_key(annotation_path, allowed_categories, filters)
    parent = (cache_dir if cache_dir is not None else default_cache_dir()) / "coco_pools"
    final = parent / key
    if (final / "info.json").is_file():
        return CocoPool.open(final)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".tmp-{key}-"))
    except OSError as exc:
        raise InputFileError(
            f"{parent}: cannot create the COCO pool cache ({exc.strerror}); expected a writable folder "
            "(set sources.coco.cache_dir or $OODFORGE_CACHE_DIR)"
        ) from exc
    try:
        _build(Path(annotation_path), allowed_categories, filters, tmp, progress)
        try:
            tmp.rename(final)
        except OSError:
            if not (final / "info.json").is_file():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return CocoPool.open(final)


def _read_coco_json(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = json.load(fh)
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: COCO annotation file not found; expected a COCO instances JSON") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: not valid JSON ({exc}); expected a COCO instances JSON") from exc
    if not isinstance(data, dict):
        raise InputFileError(f"{path}: not a COCO instances file: top level is {type(data).__name__}, expected object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputFileError(f"{path}: not a COCO instances file: missing key '{key}' (expected a list)")
    return data


def _check(rows: list[Any], keys: Sequence[str], what: str, path: Path) -> None:
    for n, row in enumerate(rows):
        missing = [k for k in keys if not isinstance(row, dict) or k not in row]
        if missing:
            raise InputFileError(f"{path}: not a COCO instances file: {what} #{n} lacks key '{missing[0]}'")


def _build(path: Path, allowed: Sequence[str], f: CocoFilters, out: Path, progress: Progress | None) -> None:
    data = _read_coco_json(path)
    _check(data["images"], ("id", "file_name", "width", "height"), "image", path)
    _check(data["annotations"], _ANN_KEYS, "annotation", path)
    _check(data["categories"], ("id", "name"), "category", path)
    cats = allowed_ids(data["categories"], allowed, path)
    images = {int(im["id"]): (str(im["file_name"]), int(im["width"]), int(im["height"])) for im in data["images"]}
    rejected, by_image, todo = sift(data["annotations"], cats, images, f, path)
    total = sum(len(v) for v in todo.values())
    step, done = max(1, total // 200), 0
    kept: list[tuple[int, bytes, tuple[Any, ...]]] = []  # (ann id, packed mask, column values)
    if progress:
        progress(0, total)
    with warnings.catch_warnings():
        # pycocotools' decode trips NumPy 2's __array__(copy=...) deprecation; harmless
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pycocotools")
        for image_id, positions in todo.items():
            file_name, width, height = images[image_id]
            masks = ImageMasks(by_image[image_id], width, height, path)
            for i in positions:
                ann = by_image[image_id][i]
                verdict = judge_mask(masks, i, f)
                if isinstance(verdict, str):
                    rejected[verdict] += 1
                else:
                    crop, box = verdict
                    row = (ann["id"], image_id, ann["category_id"], box, np.count_nonzero(crop), ann["area"])
                    packed = np.packbits(crop.ravel()).tobytes()
                    kept.append((int(ann["id"]), packed, (*row, (width, height), file_name)))
                done += 1
                if progress and (done % step == 0 or done == total):
                    progress(done, total)
    if not kept:
        counts = ", ".join(f"{k} {v}" for k, v in rejected.items() if v) or "none"
        raise ConfigError(
            f"no COCO instance passes the filters: {path} has {len(data['annotations'])} annotations; rejected by "
            f"{counts}; expected at least one (check {CATEGORIES_KEY} and synthesis.coco.filters "
            f"{f.model_dump_json()})"
        )
    kept.sort(key=operator.itemgetter(0))
    with (out / "masks.bin").open("wb") as fh:
        offsets = np.cumsum([0, *(fh.write(packed) for _, packed, _ in kept)], dtype=np.int64)
    columns = zip(*(values for _, _, values in kept), strict=True)
    arrays: dict[str, Any] = {
        k: np.asarray(col, dtype=dtype) for (k, dtype), col in zip(_COLUMNS.items(), columns, strict=True)
    }
    np.savez(out / "meta.npz", offsets=offsets, **arrays)
    info = {
        "format_version": POOL_FORMAT_VERSION,
        "annotation_path": str(path.resolve()),
        "categories": {str(k): v for k, v in cats.items()},
        "filters": f.model_dump(mode="json"),
        "rejections": rejected,
        "instances": len(kept),
    }
    atomic_write_json(out / "info.json", info, indent=1)
