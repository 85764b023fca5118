"""SegmentMeIfYouCan submission files: one float16 HDF5 score map per frame, where the official code reads it.

Source: SegmentMeIfYouCan/road-anomaly-benchmark @ ``1c7804e`` (2023-08-24; ``metrics.md`` section 2):

- ``road_anomaly_benchmark/evaluation.py``, ``Evaluation.channels['anomaly_p']`` =
  ``ChannelLoaderHDF5(DIR_OUTPUTS / "anomaly_p/{method_name}/{dset_name}/{fid}.hdf5", compression=9)``;
  ``Evaluation.save_output`` casts the map with ``anomaly_p.astype(np.float16)``; the metrics read it back
  through the same channel and ``np.squeeze`` it.
- ``road_anomaly_benchmark/datasets/dataset_io.py``, ``ChannelLoaderHDF5``: ``var_name='value'``;
  ``write_file`` calls ``h5py.File(path, 'w').create_dataset('value', data=..., compression=9)``
  (h5py reads an integer compression as gzip level 9); ``DatasetBase.get_frame`` sets
  ``dset_name = cfg.get('name_for_persistence', cfg.name)``.
- ``road_anomaly_benchmark/paths.py``: ``DIR_OUTPUTS`` = env ``DIR_OUTPUTS``, default ``<repo>/outputs``.
- ``datasets/tracks.py``, ``tracks_extra.py``: every ObstacleTrack split (and ``Erasing-*``) persists as
  ``ObstacleTrack-all``; the AnomalyTrack splits (``-test``, ``-validation``, ``-animals``, …) read their
  frames from ``AnomalyTrack-all`` and persist under it; ``LostAndFound-testValid`` / ``-testNoKnown`` as
  ``LostAndFound-test``, ``-trainValid`` as ``LostAndFound-train``. ``FishyLAF*`` frames persist under the
  Lost and Found split they come from (train or test), which depends on the frame: pass that split.

So a file written here with ``out_dir = $DIR_OUTPUTS/anomaly_p/<MethodName>`` is exactly what
``python -m road_anomaly_benchmark metric PixBinaryClass <MethodName> AnomalyTrack-validation`` reads, and
what the organisers expect for the hidden test splits (``AnomalyTrack-all``, ``ObstacleTrack-all``).
The export refuses what the float16 file cannot hold: NaN, ±inf and finite scores beyond ±65504
(they would become inf); rescale raw logits or energies (e.g. to a probability) first.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._io import atomic_write_bytes
from oodforge.errors import ShapeError, UsageError, ValueCheckError

__all__ = [
    "SMIYC_COMPRESSION",
    "SMIYC_DATASET",
    "read_smiyc_submission",
    "require_h5py",
    "smiyc_dataset_name",
    "smiyc_submission_path",
    "write_smiyc_submission",
]

#: HDF5 dataset name of the score map (``ChannelLoaderHDF5.var_name``).
SMIYC_DATASET = "value"
#: gzip level of the official writer (``compression=9``).
SMIYC_COMPRESSION = 9
_F16_MAX = float(np.finfo(np.float16).max)  # 65504

#: Persistence folder of each SMIYC dataset name, and of oodforge's benchmark names.
_PERSIST: dict[str, str] = {
    **dict.fromkeys(
        (
            "AnomalyTrack-all",
            "AnomalyTrack-test",
            "AnomalyTrack-validation",
            "AnomalyTrack-animals",
            "AnomalyTrack-vehicles",
            "AnomalyTrack-other",
            "road_anomaly_21",
        ),
        "AnomalyTrack-all",
    ),
    **dict.fromkeys(
        ("ObstacleTrack-all", "ObstacleTrack-test", "ObstacleTrack-validation", "ObstacleTrack-night"),
        "ObstacleTrack-all",
    ),
    **dict.fromkeys(("ObstacleTrack-snowstorm", "ObstacleTrack-noNight", "road_obstacle_21"), "ObstacleTrack-all"),
    **dict.fromkeys(("LostAndFound-test", "LostAndFound-testValid", "LostAndFound-testNoKnown"), "LostAndFound-test"),
    **dict.fromkeys(("LostAndFound-train", "LostAndFound-trainValid"), "LostAndFound-train"),
}


def require_h5py() -> Any:
    """Import and return ``h5py``, or raise a one-line :class:`UsageError` naming the extra to install."""
    try:
        import h5py
    except ImportError:
        raise UsageError("the SMIYC export needs h5py: pip install 'oodforge[smiyc]'") from None
    return h5py


def smiyc_dataset_name(track: str) -> str:
    """The folder the official code stores ``track``'s frames under (its ``name_for_persistence``).

    ``track``: a SMIYC dataset name (``AnomalyTrack-validation``, ``ObstacleTrack-test``, ``ObstacleScene-*``,
    ``Erasing-*``, ``LostAndFound-testNoKnown``, …) or an oodforge benchmark name (``road_anomaly_21``,
    ``road_obstacle_21``).

    Example:
        >>> smiyc_dataset_name("AnomalyTrack-validation"), smiyc_dataset_name("road_obstacle_21")
        ('AnomalyTrack-all', 'ObstacleTrack-all')
    """
    if track in _PERSIST:
        return _PERSIST[track]
    if track.startswith(("ObstacleScene-", "Erasing-")):
        return "ObstacleTrack-all"
    if track.startswith("FishyLAF"):
        raise UsageError(
            f"SMIYC track {track!r}: FishyLAF frames are stored under their Lost and Found split; "
            "pass LostAndFound-train or LostAndFound-test (the split of the frame)"
        )
    names = ", ".join(sorted(set(_PERSIST.values())))
    raise UsageError(f"unknown SMIYC track {track!r}; expected a SMIYC dataset name (stored under: {names})")


def smiyc_submission_path(out_dir: Path, track: str, image_id: str) -> Path:
    """``out_dir/<dset_name>/<image_id>.hdf5`` (``out_dir`` = ``$DIR_OUTPUTS/anomaly_p/<MethodName>``)."""
    if not image_id or image_id in (".", "..") or any(c in image_id for c in "/\\\0"):
        raise UsageError(f"Expected `image_id` to be a SMIYC frame id (a file stem), but got {image_id!r}")
    return out_dir / smiyc_dataset_name(track) / f"{image_id}.hdf5"


def _check_score(score: Any, image_id: str) -> np.ndarray:
    arr = np.asarray(score)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ShapeError(f"{image_id}: Expected the score map to be (H, W), but got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) or arr.dtype == bool:
        raise ValueCheckError(f"{image_id}: Expected a real-valued score map, but got dtype {arr.dtype}")
    wide = arr.astype(np.float64, copy=False)
    if not np.isfinite(wide).all():
        raise ValueCheckError(f"{image_id}: the score map holds NaN or inf; SMIYC needs finite float16 scores")
    peak = float(np.abs(wide).max())
    if peak > _F16_MAX:
        raise ValueCheckError(
            f"{image_id}: score {peak:.6g} exceeds float16's maximum 65504 (SMIYC stores float16); "
            "rescale the scores (e.g. to a probability) before export"
        )
    return arr.astype(np.float16)


def write_smiyc_submission(out_dir: Path, track: str, image_id: str, score: np.ndarray) -> Path:
    """Write one frame's score map as the official toolkit does and return the file path.

    Args:
        out_dir: The method folder, ``$DIR_OUTPUTS/anomaly_p/<MethodName>`` for the official toolkit.
        track: SMIYC dataset name (or ``road_anomaly_21`` / ``road_obstacle_21``): see :func:`smiyc_dataset_name`.
        image_id: The frame id (``validation0000``); the file stem.
        score: (H, W) real scores at the image's resolution, higher = more anomalous; cast to float16.

    Returns:
        ``out_dir/<dset_name>/<image_id>.hdf5`` (written atomically): dataset ``value``, float16, gzip 9.

    Raises:
        UsageError: unknown track, bad image id, or h5py missing (``pip install 'oodforge[smiyc]'``).
        ShapeError: ``score`` is not 2-D.
        ValueCheckError: NaN / inf, or a finite score beyond float16's range (±65504).
    """
    path = smiyc_submission_path(out_dir, track, image_id)
    value = _check_score(score, image_id)
    h5py = require_h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as fh:
        fh.create_dataset(SMIYC_DATASET, data=value, compression=SMIYC_COMPRESSION)
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_smiyc_submission(path: Path) -> np.ndarray:
    """Read a score map back the way the official code does (dataset ``value``, squeezed): float16 (H, W)."""
    h5py = require_h5py()
    with h5py.File(path, "r") as fh:
        if SMIYC_DATASET not in fh:
            raise UsageError(f"{path}: no HDF5 dataset {SMIYC_DATASET!r} (found {sorted(fh.keys())})")
        return np.squeeze(fh[SMIYC_DATASET][()])
