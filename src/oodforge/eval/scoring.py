"""Turn saved logits into score maps that :func:`oodforge.eval.evaluate` reads (``oodforge score``).

Input, one file per image in ``logits_dir``, named by image id:

- dense scores (``msp``, ``maxlogit``, ``entropy``, ``energy``, ``sml``): ``<id>.npy`` holding float
  logits (C, H, W) (or (1, C, H, W)), or ``<id>.npz`` with that array as its only entry or under
  ``logits``;
- ``rba``: ``<id>.npz`` with ``class_logits`` (Q, K+1) and ``mask_logits`` (Q, H, W) of a
  mask-classification model (Mask2Former, EoMT), or dense per-pixel class scores as above.

Output: ``out_dir/<id>.npy`` (H, W) float16 (or float32) maps, each written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._array_files import load_array_file
from oodforge.errors import InputFileError, UsageError, ValueCheckError
from oodforge.eval.score_io import SCORE_SUFFIXES, write_score_map
from oodforge.scores import SMLStats, create_score, is_score, list_scores, mask_class_pixel_scores

__all__ = ["find_logit_files", "load_logits", "score_logits_dir"]

_MASK_KEYS = ("class_logits", "mask_logits")


def find_logit_files(logits_dir: Path) -> dict[str, Path]:
    """Map image id -> ``.npy`` / ``.npz`` logits file in ``logits_dir``, sorted by id.

    Raises:
        InputFileError: not a folder, no logits file, or both ``.npy`` and ``.npz`` for one id.
    """
    if not logits_dir.is_dir():
        raise InputFileError(f"{logits_dir}: not a folder; expected logits files <image_id>.npy or .npz in it")
    found: dict[str, Path] = {}
    for path in sorted(p for p in logits_dir.iterdir() if p.suffix in SCORE_SUFFIXES and p.is_file()):
        if path.stem in found:
            raise InputFileError(f"{path}: both .npy and .npz logits files exist for image id '{path.stem}'; keep one")
        found[path.stem] = path
    if not found:
        raise InputFileError(f"{logits_dir}: no logits file; expected <image_id>.npy or <image_id>.npz files")
    return found


def _check_float(arr: np.ndarray, path: Path, name: str) -> np.ndarray:
    if arr.dtype.kind != "f":
        raise InputFileError(f"{path}: {name} have dtype {arr.dtype}; expected float16, float32 or float64")
    return arr


def load_logits(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    """Read one logits file: an (C, H, W) float array, or the mask-classification pair as a dict.

    Raises:
        InputFileError: unreadable file, several entries without ``logits`` / the mask pair, a non-float
            dtype or a rank other than (C, H, W) / (1, C, H, W).
    """
    data = load_array_file(path, "logits file")
    if isinstance(data, dict):
        keys = list(data)
        if all(k in keys for k in _MASK_KEYS):
            return {k: _check_float(data[k], path, k) for k in _MASK_KEYS}
        if "logits" not in keys and len(keys) != 1:
            raise InputFileError(
                f"{path}: expected one array, a 'logits' entry, or 'class_logits' + 'mask_logits', "
                f"but got entries {keys}"
            )
        arr = data["logits" if "logits" in keys else keys[0]]
    else:
        arr = data
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3:
        raise InputFileError(f"{path}: logits have shape {arr.shape}; expected (C, H, W)")
    return _check_float(arr, path, "logits")


def _make_scorer(
    method: str, temperature: float | None, class_temperature: float | None, sml_stats: Path | None
) -> Callable[[np.ndarray | dict[str, np.ndarray]], Any]:
    if not is_score(method):
        raise UsageError(f"unknown score method '{method}'; available methods: {', '.join(list_scores())}")
    if method == "sml" and sml_stats is None:
        raise UsageError("method 'sml' needs --sml-stats FILE (an .npz written by SMLStats.save)")
    if method != "sml" and sml_stats is not None:
        raise UsageError(f"--sml-stats only applies to method 'sml', not '{method}'")
    if method != "rba" and class_temperature is not None:
        raise UsageError(f"--class-temperature only applies to method 'rba', not '{method}'")
    for flag, value in (("--temperature", temperature), ("--class-temperature", class_temperature)):
        if value is not None and not (math.isfinite(value) and value > 0):  # before any file is read
            raise UsageError(f"{flag} {value:g}; expected a finite number > 0")
    kwargs: dict[str, Any] = {} if temperature is None else {"temperature": temperature}
    if sml_stats is not None:
        kwargs["stats"] = SMLStats.load(sml_stats)
    try:
        score = create_score(method, **kwargs)
    except UsageError:
        if temperature is not None:
            raise UsageError(f"--temperature does not apply to method '{method}'") from None
        raise
    ct = 1.0 if class_temperature is None else class_temperature

    def run(x: np.ndarray | dict[str, np.ndarray]) -> Any:
        if isinstance(x, dict):
            if method != "rba":
                raise ValueCheckError(
                    f"mask-classification logits (class_logits + mask_logits) need method 'rba', not '{method}'"
                )
            x = mask_class_pixel_scores(x["class_logits"], x["mask_logits"], temperature=ct)
        return score(x)

    return run


def score_logits_dir(
    method: str,
    logits_dir: str | Path,
    out_dir: str | Path,
    *,
    temperature: float | None = None,
    class_temperature: float | None = None,
    sml_stats: str | Path | None = None,
    dtype: type = np.float16,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Score every logits file of ``logits_dir`` with ``method`` and write ``out_dir/<id>.npy`` maps.

    Args:
        method: A registered score (see :func:`oodforge.scores.list_scores`).
        logits_dir: Folder of logits files (module docstring).
        out_dir: Target folder (created).
        temperature: Per-pixel temperature T of the score (``msp``, ``entropy``, ``energy``, ``rba``).
        class_temperature: ``rba`` only: temperature of the class-query logits.
        sml_stats: ``sml`` only (required): ``.npz`` written by :meth:`oodforge.scores.SMLStats.save`.
        dtype: ``np.float16`` (default, SMIYC precision) or ``np.float32`` stored scores.
        progress: Optional ``progress(done, total)`` callback.

    Returns:
        The written files, sorted by image id.

    Raises:
        UsageError: unknown method (the message lists the available ones), missing ``sml_stats`` or an
            option the method does not take.
        InputFileError: a bad logits file, or scores that are NaN / infinite / overflow float16.
    """
    scorer = _make_scorer(method, temperature, class_temperature, None if sml_stats is None else Path(sml_stats))
    files = find_logit_files(Path(logits_dir))
    written: list[Path] = []
    for k, (image_id, path) in enumerate(files.items(), start=1):
        try:
            scores = np.asarray(scorer(load_logits(path)))
            if scores.ndim == 3 and scores.shape[0] == 1:
                scores = scores[0]
            target = Path(out_dir) / f"{image_id}.npy"
            write_score_map(target, scores, dtype=dtype)
        except UsageError:
            raise
        except ValueError as exc:  # ShapeError / ValueCheckError of the score or of the float16 storage
            raise InputFileError(f"{path}: {exc}") from exc
        written.append(target)
        if progress is not None:
            progress(k, len(files))
    return written
