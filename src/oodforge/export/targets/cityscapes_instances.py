"""``cityscapes-instances``: instanceIds-style PNGs of the composites, pasted objects as label id 50.

cityscapesScripts' ``*_gtFine_instanceIds.png`` holds ``labelId * 1000 + k`` on pixels of instances of a
class with instances (person, rider, car, ...) and the plain ``labelId`` elsewhere (also on crowd groups).
This export keeps the scene's instance ids and adds the pasted anomalies under one extra label id:

- **anomaly label id 50** (:data:`ANOMALY_LABEL_ID`): not in the official table (ids 0..33 and -1), so
  ``value // 1000 == 50`` can never be mistaken for a Cityscapes class; a pixel of the dataset's
  instance ``k`` (``instances/<id>.png == k``, the ``id`` of ``labels/<id>.json``) holds ``50000 + k``;
  ``k`` is 1-based like the dataset's id map (at most 999 per image, so ``value % 1000 == k``);
- soft-edge pixels (GT 255 on a non-void scene pixel: the rim a pasted object changes without covering)
  are ``0`` (``unlabeled``);
- every other pixel keeps the scene's value from the source ``gtFine_instanceIds.png``.

```
OUT/<split>/<image_id>.png    uint16 instance ids (as above)
OUT/exports.json              target, options (anomaly_label_id), per-split counts, files (image <-> label)
```

Decode with ``label = v if v < 1000 else v // 1000`` and ``instance = v % 1000`` (for ``v >= 1000``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oodforge.errors import DataLayoutError
from oodforge.export.manifest import ManifestRecord
from oodforge.export.targets._dataset import Composite, open_dataset
from oodforge.export.targets._run import Progress, TargetExport, run_png_export
from oodforge.export.targets._scene import cityscapes_root_of, scene_instance_ids, scene_label_ids
from oodforge.sources.cityscapes import frame_paths
from oodforge.sources.cityscapes_labels import VOID_TRAIN_ID, label_id_to_train_id_lut

__all__ = ["ANOMALY_LABEL_ID", "export_cityscapes_instances", "instance_ids_from_composite"]

#: the label id of pasted anomalies; their instance value is ANOMALY_LABEL_ID * 1000 + k
ANOMALY_LABEL_ID = 50
#: the most instances one image can carry (k % 1000 must stay k)
MAX_INSTANCES = 999
UNLABELED = 0
_LUT = label_id_to_train_id_lut()


def instance_ids_from_composite(
    gt: np.ndarray, idmap: np.ndarray, label_ids: np.ndarray, instance_ids: np.ndarray, *, where: str = "composite"
) -> np.ndarray:
    """InstanceIds of a composite: the scene's, anomalies ``50000 + k``, soft edges ``0``.

    Args:
        gt: (H, W) uint8 0/1/255 of the composite.
        idmap: (H, W) uint16 instance id map of the composite.
        label_ids: (H, W) uint8 Cityscapes label ids of the scene.
        instance_ids: (H, W) int32 Cityscapes instance ids of the scene.
        where: how messages name the scene's instance file.

    Returns:
        (H, W) uint16 instance ids.

    Raises:
        DataLayoutError: the scene's instance ids disagree with its label ids, a value does not fit 16 bits,
            or the id map holds an id above 999.

    Example:
        >>> gt = np.array([[0, 1, 255, 0]], np.uint8)
        >>> idmap = np.array([[0, 2, 0, 0]], np.uint16)
        >>> label_ids = np.array([[7, 7, 8, 26]], np.uint8)  # road, road, sidewalk (soft edge), car
        >>> instance_ids = np.array([[7, 7, 8, 26003]], np.int32)
        >>> instance_ids_from_composite(gt, idmap, label_ids, instance_ids).tolist()
        [[7, 50002, 0, 26003]]
    """
    scene = instance_ids.astype(np.int64)
    if scene.size and (scene.min() < 0 or scene.max() > np.iinfo(np.uint16).max):
        raise DataLayoutError(f"{where}: instance ids outside 0..65535 (found {scene.min()}..{scene.max()})")
    labels_of_scene = np.where(scene < 1000, scene, scene // 1000)
    wrong = labels_of_scene != label_ids
    if np.any(wrong):
        r, c = (int(v[0]) for v in np.nonzero(wrong))
        raise DataLayoutError(
            f"{where}: {int(np.count_nonzero(wrong))} pixel(s) whose instance id names another label than the "
            f"labelIds file (e.g. row {r}, col {c}: {int(scene[r, c])} vs label {int(label_ids[r, c])}); "
            "expected the instanceIds and labelIds of one frame"
        )
    if idmap.size and int(idmap.max()) > MAX_INSTANCES:
        raise DataLayoutError(f"{where}: instance id {int(idmap.max())} in the id map; at most {MAX_INSTANCES} fit")
    out = scene.copy()
    out[(gt == 255) & (_LUT[label_ids] != VOID_TRAIN_ID)] = UNLABELED
    covered = idmap > 0
    out[covered] = ANOMALY_LABEL_ID * 1000 + idmap[covered].astype(np.int64)
    return out.astype(np.uint16)


def _count_void(ids: np.ndarray) -> int:
    """Pixels of a void Cityscapes label (train id 255), the anomaly label left out."""
    labels = np.where(ids < 1000, ids, ids // 1000)
    return int(np.count_nonzero((_LUT[labels] == VOID_TRAIN_ID) & (labels != ANOMALY_LABEL_ID)))


def export_cityscapes_instances(
    dataset: Path,
    out: Path,
    *,
    cityscapes_root: Path | None = None,
    splits: list[str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> TargetExport:
    """Write the instanceIds PNG of every ``ok`` image of ``dataset`` under ``out`` (see the module docstring).

    Args:
        dataset: root of an ``oodforge synth`` dataset.
        out: export folder: new, empty, or a previous export (see ``overwrite``).
        cityscapes_root: the Cityscapes root (default: the dataset config's ``sources.cityscapes.root``).
        splits: only these splits (default: all).
        overwrite: replace a previous export in ``out`` (only files oodforge wrote are deleted).
        progress: optional ``progress(stage, done, total)`` callback.

    Raises:
        UsageError: unknown split, missing or unreadable input file (named: also a scene without its
            ``gtFine_instanceIds.png``), a scene that contradicts the dataset's GT, or a refused export folder.
    """
    view = open_dataset(dataset, splits)
    root = cityscapes_root_of(dataset, cityscapes_root)

    def derive(comp: Composite) -> np.ndarray:
        path = frame_paths(root, comp.source_split, comp.image_id).instance_path
        return instance_ids_from_composite(
            comp.gt, comp.idmap, scene_label_ids(root, comp), scene_instance_ids(root, comp), where=str(path)
        )

    def scene_files(rec: ManifestRecord) -> list[Path]:
        frame = frame_paths(root, rec.source_split, rec.image_id)
        return [frame.label_path, frame.instance_path]

    return run_png_export(
        view, out, target="cityscapes-instances",
        options={"anomaly_label_id": ANOMALY_LABEL_ID, "anomaly_value": f"{ANOMALY_LABEL_ID} * 1000 + k",
                 "soft_edge_value": UNLABELED, "cityscapes_root": str(root)},
        derive=derive, count_ignore=_count_void,
        scene_files=scene_files, overwrite=overwrite, progress=progress,
    )  # fmt: skip
