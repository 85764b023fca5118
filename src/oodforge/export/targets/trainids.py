"""``trainids``: Cityscapes train-id PNGs of the composites, anomaly pixels set to one chosen value.

For RbA / Mask2Former-semantic training (train ids, 255 ignore, with ``--anomaly-value 255`` plus the
``outlier-mask`` export) and Mask2Anomaly / Meta-OoD (pasted outlier pixels = 254, the default).

```
OUT/<split>/<image_id>.png    uint8: the scene's train id (0..18, 255 void);
                              anomaly pixels (GT 1) = anomaly_value; soft-edge pixels (GT 255 on a
                              non-void scene pixel) = 255
OUT/exports.json              target, options, per-split counts, files (image <-> label)
```

The scene's train ids come from the source ``gtFine/<split>/<city>/<id>_gtFine_labelIds.png`` mapped with
the official table (:mod:`oodforge.sources.cityscapes_labels`). Clean images are exported too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oodforge.errors import UsageError
from oodforge.export.targets._dataset import Composite, open_dataset
from oodforge.export.targets._run import Progress, TargetExport, run_png_export
from oodforge.export.targets._scene import cityscapes_root_of, scene_label_ids
from oodforge.sources.cityscapes import frame_paths
from oodforge.sources.cityscapes_labels import VOID_TRAIN_ID, label_id_to_train_id_lut

__all__ = ["DEFAULT_ANOMALY_VALUE", "export_trainids", "trainids_from_composite"]

#: Meta-OoD / Mask2Anomaly: pasted outlier pixels are 254
DEFAULT_ANOMALY_VALUE = 254
_N_CLASSES = 19
_LUT = label_id_to_train_id_lut()


def check_anomaly_value(value: int) -> int:
    """``value`` if it is a valid anomaly train id (19..255), else a :class:`UsageError`."""
    if isinstance(value, bool) or not isinstance(value, int) or not _N_CLASSES <= value <= VOID_TRAIN_ID:
        raise UsageError(
            f"--anomaly-value: {value!r} given; expected an integer in 19..255 (0..18 are Cityscapes classes): "
            "254 (Meta-OoD, Mask2Anomaly), 255 (ignore; pair with the outlier-mask export) or 19 (an extra class)"
        )
    return value


def trainids_from_composite(
    gt: np.ndarray, label_ids: np.ndarray, *, anomaly_value: int = DEFAULT_ANOMALY_VALUE
) -> np.ndarray:
    """Train ids of a composite: the scene's train ids, GT 1 -> ``anomaly_value``, GT 255 -> 255.

    Args:
        gt: (H, W) uint8 0/1/255 of the composite.
        label_ids: (H, W) uint8 Cityscapes label ids of the scene.
        anomaly_value: the value of anomaly pixels, 19..255.

    Returns:
        (H, W) uint8 train ids.

    Example:
        >>> gt = np.array([[0, 1, 255, 255]], np.uint8)
        >>> label_ids = np.array([[7, 7, 8, 1]], np.uint8)  # road, road, sidewalk (soft edge), ego vehicle
        >>> trainids_from_composite(gt, label_ids).tolist()
        [[0, 254, 255, 255]]
        >>> trainids_from_composite(gt, label_ids, anomaly_value=19).tolist()
        [[0, 19, 255, 255]]
    """
    check_anomaly_value(anomaly_value)
    out = _LUT[label_ids]
    out[gt == VOID_TRAIN_ID] = VOID_TRAIN_ID
    out[gt == 1] = anomaly_value
    return out


def export_trainids(
    dataset: Path,
    out: Path,
    *,
    anomaly_value: int = DEFAULT_ANOMALY_VALUE,
    cityscapes_root: Path | None = None,
    splits: list[str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> TargetExport:
    """Write the train-id PNG of every ``ok`` image of ``dataset`` under ``out`` (see the module docstring).

    Args:
        dataset: root of an ``oodforge synth`` dataset.
        out: export folder: new, empty, or a previous export (see ``overwrite``).
        anomaly_value: the train id of anomaly pixels, 19..255 (default 254).
        cityscapes_root: the Cityscapes root (default: the dataset config's ``sources.cityscapes.root``).
        splits: only these splits (default: all).
        overwrite: replace a previous export in ``out`` (only files oodforge wrote are deleted).
        progress: optional ``progress(stage, done, total)`` callback.

    Raises:
        UsageError: a bad ``anomaly_value``, unknown split, missing or unreadable input file (named), a
            scene that contradicts the dataset's GT, or an export folder that is refused.
    """
    check_anomaly_value(anomaly_value)
    view = open_dataset(dataset, splits)
    root = cityscapes_root_of(dataset, cityscapes_root)

    def derive(comp: Composite) -> np.ndarray:
        return trainids_from_composite(comp.gt, scene_label_ids(root, comp), anomaly_value=anomaly_value)

    return run_png_export(
        view, out, target="trainids", options={"anomaly_value": anomaly_value, "cityscapes_root": str(root)},
        derive=derive, count_ignore=lambda a: int(np.count_nonzero(a == VOID_TRAIN_ID)),
        scene_files=lambda rec: [frame_paths(root, rec.source_split, rec.image_id).label_path],
        overwrite=overwrite, progress=progress,
    )  # fmt: skip
