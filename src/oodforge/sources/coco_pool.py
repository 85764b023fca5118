"""The COCO instance pool: filtered object instances with tight masks, cached on disk.

The pool is built once from the instances JSON and stored in ``<cache>/coco_pools/<key>/`` as
``meta.npz`` (per-instance arrays), ``info.json`` (categories, filters, rejection counts) and
``masks.bin`` (every tight mask bit-packed with :func:`numpy.packbits`, concatenated). Opening a
pool memory-maps ``masks.bin``, so worker processes load it in milliseconds; a :class:`CocoPool`
pickles as its folder path and reopens itself on the other side.

``info.json`` also records the size and SHA-256 of ``masks.bin`` and ``meta.npz`` and a digest of
its own content (:mod:`oodforge.sources._pool_cache`). Every open checks the sizes and that
``masks.bin`` ends where the last mask does; :func:`load_or_build_pool` also checks the digests,
and rebuilds a damaged pool in place (replacing only the files it wrote), noting why in
:attr:`CocoPool.notes` and :meth:`CocoPool.summary`. Folders and files get the permissions the
process umask allows, so a cache on a shared file system is readable by other users.

Filters, in order (each rejected annotation is counted under the first reason that rejects it, in
``info.json`` "rejections" and :attr:`CocoPool.rejections`; :mod:`oodforge.sources._coco_filters`
defines each one): ``malformed`` (a field unreadable: skipped, the first one described in
``info.json`` "malformed_example" and the summary) → ``category`` (allow-list, by name) →
``crowd`` → ``truncated`` (bbox within ``truncation_margin_px`` of the image border) →
``min_area_px`` and ``area_ratio`` on the annotation's own ``area`` → ``aspect_ratio`` (bbox
w / h) → mask decoded (as ``pycocotools.coco.COCO.annToMask``) → ``empty_mask`` →
``main_component`` (largest 8-connected component / mask pixels) → ``min_solidity`` (mask pixels /
pixels of the filled convex hull) → ``occluded_outline`` (share of the outline within 2 px of
another instance of the same image).
Annotations are grouped by image, so the other instances of an image are decoded at most once.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oodforge._io import apply_umask, read_image_rgb
from oodforge.config.schema import CocoFilters
from oodforge.errors import InputFileError, SampleError
from oodforge.sources._coco_filters import REJECTION_REASONS
from oodforge.sources._pool_build import Progress
from oodforge.sources._pool_build import build_pool as _build
from oodforge.sources._pool_cache import (
    COLUMNS,
    POOL_FORMAT_VERSION,
    DamagedPoolError,
    publish,
    read_pool_folder,
)

__all__ = [
    "POOL_FORMAT_VERSION",
    "REJECTION_REASONS",
    "CocoPool",
    "default_cache_dir",
    "load_or_build_pool",
    "pool_cache_key",
]


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
        malformed_example: the first malformed annotation skipped and what is wrong with it, or None.
        notes: what happened to the cache while loading (e.g. a damaged pool rebuilt); in :meth:`summary`.

    Args:
        path: the pool folder.
        verify_digests: also check the SHA-256 of ``masks.bin`` and ``meta.npz`` (sizes and the
            layout are always checked).

    Raises:
        InputFileError: the folder is not a pool of this format, or (:class:`DamagedPoolError`) its
            files are missing, truncated or differ from what was written.
    """

    def __init__(self, path: Path, *, verify_digests: bool = False) -> None:
        self.path = Path(path)
        info, arrays = read_pool_folder(self.path, POOL_FORMAT_VERSION, tuple(COLUMNS), digests=verify_digests)
        self.notes: list[str] = []
        self.category_names: dict[int, str] = {int(k): v for k, v in info["categories"].items()}
        self.rejections: dict[str, int] = dict(info["rejections"])
        self.malformed_example: str | None = info.get("malformed_example")
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
    def open(cls, path: Path, *, verify_digests: bool = False) -> CocoPool:
        """Open a pool cache folder written by :func:`load_or_build_pool` (see the class)."""
        return cls(path, verify_digests=verify_digests)

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
        """One line: instances, categories, rejections per reason, the first malformed annotation, notes."""
        cats = np.unique(self.category_ids).size
        why = ", ".join(f"{k} {v}" for k, v in self.rejections.items())
        line = (
            f"COCO pool: {len(self)} instances of {cats} categories ({len(self.category_names)} allowed); "
            f"rejected: {why}"
        )
        skipped = self.rejections.get("malformed", 0)
        if skipped and self.malformed_example:
            line += f"; skipped {skipped} malformed annotation(s), the first: {self.malformed_example}"
        return "; ".join([line, *self.notes])

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
    damage: DamagedPoolError | None = None
    if final.exists() or final.is_symlink():
        try:
            return CocoPool.open(final, verify_digests=True)
        except DamagedPoolError as exc:  # oodforge's own cache folder: rebuild it below
            damage = exc
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_builds(parent, key)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".tmp-{key}-"))
        apply_umask(tmp)
    except OSError as exc:
        raise _cache_error(parent, exc, final, damage) from exc
    try:
        _build(Path(annotation_path), allowed_categories, filters, tmp, progress)
        try:
            publish(tmp, final)
        except OSError as exc:
            raise _cache_error(final, exc, final, damage) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pool = CocoPool.open(final)
    if damage is not None:
        pool.notes.append(f"COCO pool cache rebuilt, it was damaged: {damage}")
    return pool


#: a build folder untouched this long belongs to a build that was killed (a live build writes every few s)
STALE_BUILD_S = 6 * 3600


def _remove_stale_builds(parent: Path, key: str) -> None:
    """Delete ``.tmp-<key>-*`` build folders of killed builds of this pool (only oodforge's own names)."""
    now = time.time()
    for tmp in parent.glob(f".tmp-{key}-*"):
        try:
            if tmp.is_dir() and not tmp.is_symlink() and now - tmp.stat().st_mtime > STALE_BUILD_S:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            continue


def _cache_error(where: Path, exc: OSError, final: Path, damage: DamagedPoolError | None) -> InputFileError:
    if damage is None:
        return InputFileError(
            f"{where}: cannot create the COCO pool cache ({exc.strerror}); expected a writable folder "
            "(set sources.coco.cache_dir or $OODFORGE_CACHE_DIR)"
        )
    return InputFileError(
        f"{damage}; cannot rebuild it ({where}: {exc.strerror}); delete {final} or make {final.parent} writable"
    )
