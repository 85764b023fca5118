"""Training targets of a synthesized image, from what was written: the scene's train ids and the composite's GT.

The dataset stores the composite's pixel GT (``gt_pixel``: 1 where a pasted object covers the pixel, 255 for the
scene's void and the soft rim, else 0) but not the scene's semantic labels: those are the source frame's
Cityscapes ``*_gtFine_labelIds.png`` (found from the record's ``source_split`` and ``image_id``), mapped to train
ids with the official table. Pasting never moves scene pixels, so the two line up pixel for pixel.

Used by offline outlier exposure (:class:`oodforge.learn.synth_data.SynthSegmentation`), which must read the same
targets :class:`~oodforge.learn.outlier_paste.OutlierPaste` makes on the fly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from oodforge.errors import SampleError
from oodforge.sources.cityscapes import frame_paths, load_label_ids
from oodforge.sources.cityscapes_labels import VOID_TRAIN_ID, label_id_to_train_id_lut

__all__ = ["outlier_exposure_targets", "scene_train_ids"]

U8 = npt.NDArray[np.uint8]


def scene_train_ids(cityscapes_root: Path, source_split: str, image_id: str) -> U8:
    """The source frame's Cityscapes train ids (255 = void), from its ``labelIds`` file.

    Raises:
        SampleError: the label file is missing or unreadable (the message names it).
    """
    path = frame_paths(Path(cityscapes_root), source_split, image_id).label_path
    return np.asarray(label_id_to_train_id_lut()[load_label_ids(path)], dtype=np.uint8)


def outlier_exposure_targets(scene: U8, gt: U8, ood_label: int | None = None, *, where: str = "") -> tuple[U8, U8]:
    """``(target, outlier_mask)`` as :meth:`OutlierPaste.apply <oodforge.learn.outlier_paste.OutlierPaste.apply>`
    returns them for the same composite.

    Args:
        scene: ``(H, W)`` train ids of the scene before pasting.
        gt: ``(H, W)`` the composite's pixel GT (0 / 1 / 255).
        ood_label: the train id of covered pixels in ``target``; None: 255 (ignored by the segmentation loss).
        where: names the sample in errors.

    Returns:
        ``target``: the scene's train ids with covered pixels (GT 1) set to ``ood_label`` (or 255);
        ``outlier_mask``: the GT itself (1 covered, 255 void or soft rim, 0 else).

    Raises:
        SampleError: the two maps differ in size, or the GT holds a value other than 0, 1, 255.
    """  # noqa: D205
    if scene.shape != gt.shape:
        raise SampleError(
            f"{where}: the scene's labels are {scene.shape[1]}x{scene.shape[0]}, its GT {gt.shape[1]}x{gt.shape[0]}"
        )
    bad = (gt != 0) & (gt != 1) & (gt != 255)
    if bad.any():
        raise SampleError(f"{where}: GT value {int(gt[bad][0])}; expected 0 (normal), 1 (anomaly) or 255 (ignore)")
    target = scene.copy()
    target[gt == 1] = VOID_TRAIN_ID if ood_label is None else ood_label
    return target, gt.copy()
