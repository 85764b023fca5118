"""``outlier-mask``: the binary outlier mask of each composite, 0 normal / 1 anomaly / 255 ignore.

The mask RbA-style training pairs with train ids (``trainids --anomaly-value 255``). It is re-derived
from the final composite (1 where the id map holds an object, 255 where the GT ignores a pixel no object
covers, 0 elsewhere) and checked to equal the dataset's ``gt_pixel``.

```
OUT/<split>/<image_id>.png    uint8 0/1/255 (the gt_pixel convention)
OUT/exports.json              target, options, per-split counts, files (image <-> label)
```
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oodforge.errors import DataLayoutError
from oodforge.export.targets._dataset import Composite, open_dataset
from oodforge.export.targets._run import Progress, TargetExport, run_png_export

__all__ = ["export_outlier_mask", "outlier_mask_from_composite"]


def outlier_mask_from_composite(gt: np.ndarray, idmap: np.ndarray) -> np.ndarray:
    """The 0/1/255 outlier mask: 1 where ``idmap > 0``, 255 where ``gt == 255`` elsewhere, 0 otherwise.

    Args:
        gt: (H, W) uint8 0/1/255 of the composite.
        idmap: (H, W) uint16 instance id map.

    Returns:
        (H, W) uint8 mask, equal to ``gt`` for a dataset that keeps the pixel conventions.

    Raises:
        DataLayoutError: the mask differs from ``gt``.

    Example:
        >>> gt = np.array([[0, 1, 255]], np.uint8)
        >>> outlier_mask_from_composite(gt, np.array([[0, 3, 0]], np.uint16)).tolist()
        [[0, 1, 255]]
    """
    mask = np.where(idmap > 0, 1, np.where(gt == 255, 255, 0)).astype(np.uint8)
    n = int(np.count_nonzero(mask != gt))
    if n:
        raise DataLayoutError(f"outlier mask: {n} pixel(s) differ from gt_pixel; expected GT 1 exactly where idmap > 0")
    return mask


def export_outlier_mask(
    dataset: Path,
    out: Path,
    *,
    splits: list[str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> TargetExport:
    """Write the 0/1/255 outlier mask of every ``ok`` image of ``dataset`` (see the module docstring).

    Args:
        dataset: root of an ``oodforge synth`` dataset.
        out: export folder: new, empty, or a previous export (see ``overwrite``).
        splits: only these splits (default: all).
        overwrite: replace a previous export in ``out`` (only files oodforge wrote are deleted).
        progress: optional ``progress(stage, done, total)`` callback.

    Raises:
        UsageError: unknown split, missing or unreadable input file (named), a composite that breaks the
            pixel conventions, or an export folder that is refused.
    """
    view = open_dataset(dataset, splits)

    def derive(comp: Composite) -> np.ndarray:
        return outlier_mask_from_composite(comp.gt, comp.idmap)

    return run_png_export(
        view, out, target="outlier-mask", options={"values": {"normal": 0, "anomaly": 1, "ignore": 255}},
        derive=derive, count_ignore=lambda a: int(np.count_nonzero(a == 255)), overwrite=overwrite, progress=progress,
    )  # fmt: skip
