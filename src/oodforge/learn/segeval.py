"""``oodforge segeval``: pixel accuracy, per-class IoU and mIoU of a checkpoint on a Cityscapes split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oodforge._io import atomic_write_bytes, encode_png
from oodforge.learn.predict import predict_arrays
from oodforge.metrics import SemanticMetrics, SemanticResult
from oodforge.sources.cityscapes import frame_paths, list_image_ids, load_label_ids
from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut, train_id_colors

__all__ = ["segment_evaluate"]


def segment_evaluate(
    module: torch.nn.Module,
    root: Path,
    split: str = "val",
    *,
    limit: int | None = None,
    vis_dir: Path | None = None,
    n_vis: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> SemanticResult:
    """Stream the semantic metrics of ``module`` over a split (labelIds → train ids, void ignored).

    Args:
        module: a loaded checkpoint (:func:`oodforge.learn.predict.load_module`).
        root: Cityscapes root.
        split: source split with labels.
        limit: only the first N images (sorted ids).
        vis_dir: write ``image | prediction | ground truth`` PNGs for the first ``n_vis`` images here.
        n_vis: number of visualisations.
        progress: ``progress(done, total)``.
    """
    from oodforge._io import read_image_rgb

    ids = list_image_ids(root, split)[:limit]
    lut, pal = label_id_to_train_id_lut(), train_id_colors()
    cfg: Any = getattr(module, "cfg", None)
    metrics = SemanticMetrics(int(cfg.model.num_classes) if cfg is not None else 19)
    for i, image_id in enumerate(ids):
        frame = frame_paths(root, split, image_id)
        image = read_image_rgb(frame.image_path)
        target = lut[load_label_ids(frame.label_path)]
        pred, _ = predict_arrays(module, image)
        metrics.update(pred, target)
        if vis_dir is not None and i < n_vis:
            panel = np.concatenate([image, pal[pred], pal[target]], axis=1)
            atomic_write_bytes(vis_dir / f"{image_id}.png", encode_png(panel, 3))
        if progress:
            progress(i + 1, len(ids))
    return metrics.compute()
