"""Score maps on disk: one file per image, named by image id, read and checked before any metric work.

Layout read by :func:`oodforge.eval.evaluate` and written by ``oodforge score``::

    <scores_dir>/<image_id>.npy     a float16 / float32 (H, W) array, higher = more anomalous
    <scores_dir>/<image_id>.npz     the same array as the archive's only entry or under key ``scores``

float64 maps are accepted too (the ``fishyscapes`` protocol casts to float32, ``smiyc`` to
float16). Every problem raises :class:`~oodforge.errors.InputFileError` (exit code 2 in the CLI)
with a one-line message naming the file: missing files (with the count of other ids that have none),
both ``.npy`` and ``.npz`` for one id, unreadable files, integer or bool dtypes, shapes that differ
from the label, NaN or infinite scores.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oodforge._array_files import load_array_file
from oodforge._io import atomic_write_bytes
from oodforge.errors import InputFileError, ValueCheckError

__all__ = ["SCORE_SUFFIXES", "find_score_files", "read_score_map", "write_score_map"]

#: Accepted score file suffixes, in lookup order.
SCORE_SUFFIXES = (".npy", ".npz")
_NPZ_KEY = "scores"


def find_score_files(scores_dir: Path, image_ids: Sequence[str], what: str) -> dict[str, Path]:
    """Locate the score file of every image id, checking all of them before returning.

    Args:
        scores_dir: Folder holding ``<image_id>.npy`` or ``<image_id>.npz`` files.
        image_ids: The ids that need a score map (extra files in the folder are ignored).
        what: Description of the image set used in messages, e.g. ``"road_anomaly_21 (split 'all')"``.

    Returns:
        image id -> score file, in ``image_ids`` order.

    Raises:
        InputFileError: ``scores_dir`` is not a folder; an id has no file (the message names the first
            missing file and counts the others); an id has both a ``.npy`` and a ``.npz`` file.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> write_score_map(d / "a.npy", np.zeros((2, 3), np.float32))
        >>> find_score_files(d, ["a"], "demo") == {"a": d / "a.npy"}
        True
    """
    if not scores_dir.is_dir():
        raise InputFileError(f"{scores_dir}: not a folder; expected score maps <image_id>.npy or .npz in it")
    present = {p.name for p in scores_dir.iterdir()}
    found: dict[str, Path] = {}
    missing: list[str] = []
    for image_id in image_ids:
        names = [image_id + s for s in SCORE_SUFFIXES if image_id + s in present]
        if len(names) > 1:
            raise InputFileError(
                f"{scores_dir / names[0]}: both .npy and .npz score files exist for image id '{image_id}'; keep one"
            )
        if names:
            found[image_id] = scores_dir / names[0]
        else:
            missing.append(image_id)
    if missing:
        first = scores_dir / f"{missing[0]}{SCORE_SUFFIXES[0]}"
        others = len(missing) - 1
        tail = (
            f"and {others} other image id{'s' if others > 1 else ''} of {what} {'have' if others > 1 else 'has'} "
            "no score file"
            if others
            else f"every other image id of {what} has a score file"
        )
        raise InputFileError(f"{first}: missing ({tail}); expected <image_id>.npy or <image_id>.npz")
    return found


def _load_array(path: Path) -> np.ndarray:
    """The array stored in a ``.npy`` file or a single-array (or ``scores``) ``.npz`` archive."""
    data = load_array_file(path, "score file")
    if not isinstance(data, dict):
        return data
    if _NPZ_KEY in data:
        return data[_NPZ_KEY]
    if len(data) != 1:
        raise InputFileError(
            f"{path}: expected one array or a '{_NPZ_KEY}' entry in the .npz, but got entries {list(data)}"
        )
    return next(iter(data.values()))


def read_score_map(path: Path, expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Read one score map and check its dtype, shape and values.

    Args:
        path: A ``.npy`` or ``.npz`` file (see the module docstring).
        expected_shape: The (H, W) shape of the image's label; None skips the shape check.

    Returns:
        The (H, W) float16 / float32 / float64 array, as stored.

    Raises:
        InputFileError: unreadable file, integer / bool / complex dtype, not 2-D, a shape other than
            ``expected_shape`` (both shapes named), or NaN / infinite values (counted).

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "x.npy"
        >>> write_score_map(p, np.array([[0.5, 1.0]]), dtype=np.float32)
        >>> read_score_map(p, (1, 2)).dtype
        dtype('float32')
    """
    arr = _load_array(path)
    if arr.dtype.kind != "f":
        raise InputFileError(
            f"{path}: scores have dtype {arr.dtype}; expected float16 or float32 (higher = more anomalous)"
        )
    if arr.ndim != 2 or (expected_shape is not None and arr.shape != tuple(expected_shape)):
        want = "(H, W)" if expected_shape is None else f"{tuple(expected_shape)} (H, W) like the label"
        raise InputFileError(f"{path}: score map has shape {arr.shape}; expected {want}")
    bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
    if bad:
        n_nan = int(np.count_nonzero(np.isnan(arr)))
        raise InputFileError(
            f"{path}: {bad} non-finite score(s) ({n_nan} NaN, {bad - n_nan} inf) of {arr.size}; "
            "every score must be finite"
        )
    return arr


def write_score_map(path: Path, scores: np.ndarray, *, dtype: type = np.float16) -> None:
    """Atomically write an (H, W) score map as ``.npy`` in ``dtype`` (float16 by default).

    Args:
        path: Target ``<image_id>.npy`` (parent folders are created).
        scores: (H, W) real scores, higher = more anomalous.
        dtype: ``np.float16`` (the SMIYC storage precision, half the disk space) or ``np.float32``.

    Raises:
        ValueCheckError: not 2-D, not a real dtype, non-finite values, or finite values that overflow
            float16 (|s| > 65504; write float32 instead).
    """
    arr = np.asarray(scores)
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise ValueCheckError(f"Expected an (H, W) real score map for {path}, but got shape {arr.shape} {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueCheckError(f"Expected finite scores for {path}, but got NaN or inf")
    with np.errstate(over="ignore"):
        out: np.ndarray = arr.astype(dtype)
    if not np.all(np.isfinite(out)):
        raise ValueCheckError(
            f"Expected scores within ±65504 for float16 storage of {path}, but got up to {np.abs(arr).max():.6g}; "
            "store float32 instead"
        )
    buf = io.BytesIO()
    np.save(buf, out, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())
