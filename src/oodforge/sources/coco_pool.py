"""The COCO instance pool: filtered object instances with tight masks, cached on disk.

The pool is built once from the instances JSON and stored in ``<cache>/coco_pools/<key>/`` as
``meta.npz`` (per-instance arrays), ``info.json`` (categories, filters, rejection counts) and
``masks.bin`` (every tight mask bit-packed with :func:`numpy.packbits`, concatenated). Opening a
pool memory-maps ``masks.bin``, so worker processes load it in milliseconds; a :class:`CocoPool`
pickles as its folder path and reopens itself on the other side.

Filter order: category allow-list (by name) → crowd → truncated (bbox touches the image border)
→ ``min_area_px`` and ``area_ratio`` on the annotation's own ``area`` → bbox aspect ratio w / h →
mask decoded (as ``pycocotools.coco.COCO.annToMask``) → empty mask → solidity (mask pixels / pixels
of the rasterized convex hull of all mask pixels).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import operator
import os
import shutil
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from oodforge._io import atomic_write_json, read_image_rgb
from oodforge.config.schema import CocoFilters
from oodforge.errors import ConfigError, InputFileError, SampleError

__all__ = ["POOL_FORMAT_VERSION", "CocoPool", "default_cache_dir", "load_or_build_pool", "pool_cache_key"]

POOL_FORMAT_VERSION = 1
_CATEGORIES_KEY = "synthesis.coco.allowed_categories"
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
        rejections: filter name → number of annotations it rejected while building.
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


def _allowed_ids(categories: list[dict[str, Any]], allowed: Sequence[str], path: Path) -> dict[int, str]:
    by_name = {str(c["name"]): int(c["id"]) for c in categories}
    for name in allowed:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=3, cutoff=0.5)
            hint = f"closest COCO names: {', '.join(repr(c) for c in close)}" if close else "no close COCO name"
            raise ConfigError(f"{_CATEGORIES_KEY}: '{name}' is not a category of {path} ({hint})")
    return {by_name[name]: name for name in sorted(set(allowed))}


def _cheap_reject(ann: dict[str, Any], width: int, height: int, f: CocoFilters) -> str | None:
    x, y, w, h = (float(v) for v in ann["bbox"])
    area = float(ann["area"])
    if f.exclude_crowd and ann.get("iscrowd", 0):
        return "crowd"
    if f.exclude_truncated and (x <= 1 or y <= 1 or x + w >= width - 1 or y + h >= height - 1):
        return "truncated"
    if area < f.min_area_px:
        return "min_area_px"
    if not f.area_ratio[0] <= area / max(width * height, 1) <= f.area_ratio[1]:
        return "area_ratio"
    if w <= 0 or h <= 0 or not f.aspect_ratio[0] <= w / h <= f.aspect_ratio[1]:
        return "aspect_ratio"
    return None


def _decode(ann: dict[str, Any], width: int, height: int, path: Path) -> np.ndarray:
    """Full (H, W) bool mask, decoded exactly like ``COCO.annToMask``."""
    seg = ann["segmentation"]
    where = f"{path}: annotation {ann['id']}"
    if isinstance(seg, list) and not seg:
        return np.zeros((height, width), dtype=bool)
    if isinstance(seg, dict):
        if list(seg.get("size", [])) != [height, width]:
            raise InputFileError(f"{where}: RLE size {seg.get('size')!r}; expected [{height}, {width}] of its image")
        counts = seg.get("counts")
        if isinstance(counts, list) and sum(counts) != height * width:
            raise InputFileError(f"{where}: RLE counts sum to {sum(counts)}; expected {height * width} (H * W)")
    try:
        if isinstance(seg, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
        elif isinstance(seg["counts"], list):
            rle = mask_utils.frPyObjects(seg, height, width)
        else:
            rle = seg
        return np.asarray(mask_utils.decode(rle)).astype(bool)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise InputFileError(f"{where}: undecodable segmentation ({exc}); expected polygons or RLE") from exc


def _solidity(crop: np.ndarray) -> float:
    """Mask pixels / pixels of the filled convex hull of all mask pixels, in (0, 1]."""
    u8 = np.ascontiguousarray(crop, dtype=np.uint8)
    contours, _ = cv2.findContours(u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.concatenate(contours))
    canvas = np.zeros_like(u8)
    cv2.fillConvexPoly(canvas, hull, 1)
    return min(1.0, float(np.count_nonzero(crop)) / max(float(np.count_nonzero(canvas | u8)), 1.0))


def _build(path: Path, allowed: Sequence[str], f: CocoFilters, out: Path, progress: Progress | None) -> None:
    data = _read_coco_json(path)
    _check(data["images"], ("id", "file_name", "width", "height"), "image", path)
    _check(data["annotations"], _ANN_KEYS, "annotation", path)
    _check(data["categories"], ("id", "name"), "category", path)
    cats = _allowed_ids(data["categories"], allowed, path)
    images = {int(im["id"]): (str(im["file_name"]), int(im["width"]), int(im["height"])) for im in data["images"]}
    rejected: Counter[str] = Counter()
    candidates = []
    for ann in sorted(data["annotations"], key=lambda a: int(a["id"])):
        if int(ann["category_id"]) not in cats:
            rejected["category"] += 1
            continue
        if int(ann["image_id"]) not in images:
            raise InputFileError(f"{path}: annotation {ann['id']} refers to image {ann['image_id']}, not in 'images'")
        reason = _cheap_reject(ann, *images[int(ann["image_id"])][1:], f)
        if reason:
            rejected[reason] += 1
        else:
            candidates.append(ann)
    cols: dict[str, list[Any]] = {k: [] for k in _COLUMNS}
    offsets = [0]
    step = max(1, len(candidates) // 200)
    if progress:
        progress(0, len(candidates))
    with (out / "masks.bin").open("wb") as fh, warnings.catch_warnings():
        # pycocotools' decode trips NumPy 2's __array__(copy=...) deprecation; harmless
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pycocotools")
        for done, ann in enumerate(candidates, 1):
            file_name, width, height = images[int(ann["image_id"])]
            full = _decode(ann, width, height, path)
            ys, xs = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
            crop = full[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1] if ys.size else None
            if crop is None:
                rejected["empty_mask"] += 1
            elif _solidity(crop) < f.min_solidity:
                rejected["min_solidity"] += 1
            else:
                offsets.append(offsets[-1] + fh.write(np.packbits(crop.ravel()).tobytes()))
                box = (int(xs[0]), int(ys[0]), crop.shape[1], crop.shape[0])
                values = (ann["id"], ann["image_id"], ann["category_id"], box, np.count_nonzero(crop), ann["area"])
                for key, value in zip(_COLUMNS, (*values, (width, height), file_name), strict=True):
                    cols[key].append(value)
            if progress and (done % step == 0 or done == len(candidates)):
                progress(done, len(candidates))
    if not offsets[1:]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())) or "none"
        raise ConfigError(
            f"no COCO instance passes the filters: {path} has {len(data['annotations'])} annotations; rejected by "
            f"{counts}; expected at least one (check {_CATEGORIES_KEY} and synthesis.coco.filters "
            f"{f.model_dump_json()})"
        )
    arrays: dict[str, Any] = {k: np.asarray(cols[k], dtype=dtype) for k, dtype in _COLUMNS.items()}
    np.savez(out / "meta.npz", offsets=np.asarray(offsets, np.int64), **arrays)
    info = {
        "format_version": POOL_FORMAT_VERSION,
        "annotation_path": str(path.resolve()),
        "categories": {str(k): v for k, v in cats.items()},
        "filters": f.model_dump(mode="json"),
        "rejections": dict(sorted(rejected.items())),
        "instances": len(offsets) - 1,
    }
    atomic_write_json(out / "info.json", info, indent=1)
