"""The files of a COCO pool cache folder: permissions when written, seals checked when opened.

A pool folder holds exactly the files of :data:`POOL_FILES`, all written by oodforge. ``info.json``
records the size and SHA-256 of ``masks.bin`` and ``meta.npz`` (:func:`seal`) and the SHA-256 of
its own other content, so a truncated, altered or mixed-up folder is recognised on open
(:func:`check_seal`): sizes and ``info.json`` itself every time (cheap, for each worker that
reopens a pickled pool), file digests when asked (once, in the process that loads the pool).

Folders and files are created with the permissions the process umask allows (like ``mkdir`` and
``open`` do), not ``tempfile``'s private 0700 / 0600, so a cache on a shared file system stays
readable by colleagues and by workers running as another user.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._io import apply_umask, atomic_write_json
from oodforge.errors import InputFileError

__all__ = [
    "COLUMNS",
    "POOL_FILES",
    "POOL_FORMAT_VERSION",
    "DamagedPoolError",
    "check_layout",
    "check_seal",
    "file_record",
    "publish",
    "read_pool_folder",
    "seal",
    "write_pool",
]

#: 2: truncation margin, main-component and occluded-outline filters; every reason counted (0 included).
#: 3: ``malformed`` reason and example; sizes and SHA-256 of the files recorded in ``info.json``.
POOL_FORMAT_VERSION = 3
#: Per-instance arrays stored in ``meta.npz`` (besides ``offsets``) and their dtypes.
COLUMNS: dict[str, Any] = {
    "ann_ids": np.int64, "image_ids": np.int64, "category_ids": np.int32, "bboxes": np.int32,
    "mask_areas": np.int64, "ann_areas": np.float64, "image_sizes": np.int32, "file_names": np.str_,
}  # fmt: skip
#: Every file oodforge writes into a pool folder; ``info.json`` last (its presence marks a finished pool).
POOL_FILES = ("masks.bin", "meta.npz", "info.json")
_SEALED = ("masks.bin", "meta.npz")
_CHUNK = 1 << 22


class DamagedPoolError(InputFileError):
    """A pool folder whose files are missing, truncated or differ from what was written."""


def read_pool_folder(
    path: Path, version: int, columns: tuple[str, ...], *, digests: bool
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``info.json`` and the arrays of ``meta.npz`` of a pool folder, checked as the module doc says.

    Args:
        path: the pool folder.
        version: the format version ``info.json`` must record.
        columns: the per-instance arrays ``meta.npz`` must hold besides ``offsets``.
        digests: also check the SHA-256 of ``masks.bin`` and ``meta.npz``.

    Raises:
        DamagedPoolError: one line naming the file, what was found and what was expected.
    """
    info_path = path / "info.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DamagedPoolError(f"{info_path}: missing; expected a COCO pool cache folder") from exc
    except (OSError, ValueError) as exc:
        raise DamagedPoolError(f"{info_path}: unreadable ({exc}); expected the JSON of a COCO pool") from exc
    found_version = info.get("format_version") if isinstance(info, dict) else None
    if found_version != version:
        raise DamagedPoolError(f"{info_path}: COCO pool format {found_version!r}; expected {version}")
    check_seal(path, info, digests=digests)
    try:
        with np.load(path / "meta.npz", allow_pickle=False) as meta:
            arrays = {k: meta[k] for k in meta.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DamagedPoolError(f"{path / 'meta.npz'}: unreadable ({exc}); expected the arrays of the pool") from exc
    check_layout(path, arrays, int(info["instances"]), columns)
    return info, arrays


def write_pool(folder: Path, masks: list[bytes], arrays: dict[str, Any], info: dict[str, Any]) -> None:
    """Write the files of a pool into ``folder`` and give it and them their umask permissions.

    ``masks.bin``: the packed masks, concatenated; ``meta.npz``: their ``offsets`` and ``arrays``;
    ``info.json``: ``info``, sealed (:func:`seal`).
    """
    with (folder / "masks.bin").open("wb") as fh:
        offsets = np.cumsum([0, *(fh.write(m) for m in masks)], dtype=np.int64)
    np.savez(folder / "meta.npz", offsets=offsets, **arrays)
    atomic_write_json(folder / "info.json", seal(folder, info), indent=1)
    for path in (folder, *(folder / name for name in POOL_FILES)):
        apply_umask(path)


def publish(tmp: Path, final: Path) -> None:
    """Move a freshly written pool folder ``tmp`` to ``final``.

    ``final`` absent (or an empty folder): one atomic rename. ``final`` present (another process
    won the race, or a damaged pool is being replaced): each file of :data:`POOL_FILES` replaces
    its namesake atomically, ``info.json`` last; nothing else in ``final`` is touched.
    """
    try:
        tmp.rename(final)
        return
    except OSError:
        if not final.is_dir() or final.is_symlink():
            raise
    for name in POOL_FILES:
        os.replace(tmp / name, final / name)


def file_record(path: Path) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex digest}`` of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
            size += len(block)
    return {"bytes": size, "sha256": digest.hexdigest()}


def _content_digest(info: dict[str, Any]) -> str:
    body = {k: v for k, v in info.items() if k != "info_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def seal(folder: Path, info: dict[str, Any]) -> dict[str, Any]:
    """``info`` plus ``files`` (size and SHA-256 of ``masks.bin`` and ``meta.npz``) and ``info_sha256``."""
    sealed = {**info, "files": {name: file_record(folder / name) for name in _SEALED}}
    sealed["info_sha256"] = _content_digest(sealed)
    return sealed


def check_seal(folder: Path, info: dict[str, Any], *, digests: bool) -> None:
    """Check ``info.json``'s own digest and the recorded size (and, with ``digests``, SHA-256) of each file.

    Raises:
        DamagedPoolError: one line naming the file, what was found and what was expected.
    """
    if info.get("info_sha256") != _content_digest(info) or not isinstance(info.get("files"), dict):
        raise DamagedPoolError(
            f"{folder / 'info.json'}: content does not match its recorded info_sha256; "
            "expected the info.json written with this pool"
        )
    for name in _SEALED:
        path = folder / name
        want = info["files"].get(name) or {}
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DamagedPoolError(f"{path}: cannot read ({exc.strerror}); expected a file of the pool") from exc
        if size != want.get("bytes"):
            raise DamagedPoolError(f"{path}: {size} bytes; expected {want.get('bytes')} as recorded in info.json")
        if digests:
            try:
                found = file_record(path)["sha256"]
            except OSError as exc:
                raise DamagedPoolError(f"{path}: cannot read ({exc.strerror}); expected a file of the pool") from exc
            if found != want.get("sha256"):
                raise DamagedPoolError(
                    f"{path}: SHA-256 {found[:16]}...; expected {str(want.get('sha256'))[:16]}... as recorded in "
                    "info.json (the file was altered)"
                )


def check_layout(folder: Path, arrays: dict[str, np.ndarray], count: int, columns: tuple[str, ...]) -> None:
    """Check that ``meta.npz``'s arrays describe ``count`` instances and ``masks.bin`` holds exactly their masks.

    Every column has ``count`` rows; ``offsets`` has ``count + 1`` entries from 0 to the size of
    ``masks.bin``, and each mask spans ``ceil(w * h / 8)`` bytes of its tight box ``w x h``.

    Raises:
        DamagedPoolError: one line naming the file, what was found and what was expected.
    """
    meta = folder / "meta.npz"
    shapes = {"offsets": (count + 1,), "bboxes": (count, 4), "image_sizes": (count, 2)}
    for name in (*columns, "offsets"):
        want = shapes.get(name, (count,))
        found = arrays[name].shape if name in arrays else "missing"
        if found != want:
            raise DamagedPoolError(f"{meta}: array '{name}' has shape {found}; expected {want} as info.json records")
    offsets = arrays["offsets"].astype(np.int64)
    boxes = arrays["bboxes"].astype(np.int64)
    spans = (boxes[:, 2] * boxes[:, 3] + 7) // 8
    if offsets[0] != 0 or not np.array_equal(np.diff(offsets), spans):
        raise DamagedPoolError(f"{meta}: mask offsets do not match the mask boxes; expected ceil(w * h / 8) bytes each")
    masks = folder / "masks.bin"
    size = masks.stat().st_size if masks.is_file() else None
    if size != int(offsets[-1]):
        raise DamagedPoolError(f"{masks}: {size} bytes; expected {int(offsets[-1])} (the end of the last mask)")
