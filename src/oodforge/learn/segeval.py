"""``oodforge segeval``: pixel accuracy, per-class IoU and mIoU of a checkpoint on a Cityscapes split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from oodforge._io import atomic_write_bytes, encode_png
from oodforge.errors import UsageError, every_sample_needed
from oodforge.learn.predict import Predictor, predict_arrays
from oodforge.metrics import SemanticMetrics, SemanticResult
from oodforge.sources.cityscapes import frame_paths, list_image_ids, load_label_ids
from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut, train_id_colors

__all__ = ["N_EVAL_CLASSES", "segment_evaluate"]

#: The Cityscapes evaluation classes (train ids 0..18).
N_EVAL_CLASSES = 19


def segment_evaluate(
    predictor: Predictor,
    root: Path,
    split: str = "val",
    *,
    limit: int | None = None,
    vis_dir: Path | None = None,
    n_vis: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> SemanticResult:
    """Stream the semantic metrics of a model over a split (labelIds → train ids, void ignored).

    The mIoU and pixel accuracy are over the 19 Cityscapes evaluation classes: a model's extra outputs
    (a void 20th class) are never a correct answer (see :class:`~oodforge.metrics.SemanticMetrics`).

    Args:
        predictor: a loaded model (:func:`oodforge.learn.predict.load_predictor`).
        root: Cityscapes root.
        split: source split with labels.
        limit: only the first N images (sorted ids).
        vis_dir: write ``image | prediction | ground truth`` PNGs for the first ``n_vis`` images here.
        n_vis: number of visualisations.
        progress: ``progress(done, total)``.

    Raises:
        UsageError: ``limit`` < 1 or ``n_vis`` < 0.
        DataLayoutError: ``root`` / ``split`` is not a Cityscapes split with labels.
    """
    from oodforge._io import read_image_rgb

    if limit is not None and limit < 1:
        raise UsageError(f"--limit {limit}; expected an image count >= 1 (or no --limit: every image)")
    if n_vis < 0:
        raise UsageError(f"--n-vis {n_vis}; expected a count >= 0")
    ids = list_image_ids(root, split)[:limit]
    lut, pal = label_id_to_train_id_lut(), train_id_colors()
    k = max(predictor.num_classes, N_EVAL_CLASSES)
    metrics = SemanticMetrics(k, eval_classes=N_EVAL_CLASSES)
    for i, image_id in enumerate(ids):
        frame = frame_paths(root, split, image_id)
        with every_sample_needed():  # mIoU over fewer images than asked would mislead
            image = read_image_rgb(frame.image_path)
            target = lut[load_label_ids(frame.label_path)]
        pred, _ = predict_arrays(predictor, image)
        metrics.update(pred, target)
        if vis_dir is not None and i < n_vis:
            panel = np.concatenate([image, pal[np.where(pred < N_EVAL_CLASSES, pred, 255)], pal[target]], axis=1)
            atomic_write_bytes(vis_dir / f"{image_id}.png", encode_png(panel, 3))
        if progress:
            progress(i + 1, len(ids))
    return metrics.compute()
