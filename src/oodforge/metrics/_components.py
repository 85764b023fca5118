"""Private per-frame component statistics (SMIYC ``SegEval``): sIoU, PPV, sIoU of predictions.

One frame costs O(pixels): two 8-connected labelings (OpenCV), one ``bincount`` over the
(ground-truth id, predicted id) pairs of the overlapping pixels, and a few ``bincount`` reductions
over those pairs; no loop over components, no per-component mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "FrameComponents",
    "FrameTruth",
    "connected_components",
    "frame_components",
    "frame_truth",
    "truth_components",
]

_DENSE_PAIR_LIMIT = 1 << 24


@dataclass(frozen=True)
class FrameComponents:
    """Per-component values of one frame (components in label order).

    Attributes:
        siou_gt: (K,) float64 sIoU of each kept ground-truth component.
        ppv: (L,) float64 PPV of each kept predicted component.
        siou_pred: (L,) float64 sIoU of each kept predicted component (roles swapped).
    """

    siou_gt: np.ndarray
    ppv: np.ndarray
    siou_pred: np.ndarray


def connected_components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """8-connected components of a boolean mask (same partition as ``scipy.ndimage.label`` 3x3).

    Args:
        mask: (H, W) bool.

    Returns:
        ``(count, ids)``: number of components (background excluded) and (H, W) int32 ids, 0 = background.
    """
    import cv2  # local import: keeps ``import oodforge.metrics`` light

    n, ids = cv2.connectedComponents(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    return int(n) - 1, ids


def _sum_by(idx: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """float64 ``bincount`` with weights (also float64 when ``idx`` is empty)."""
    return np.bincount(idx, weights=weights, minlength=size).astype(np.float64, copy=False)


def _pairs(gt: np.ndarray, pred: np.ndarray, n_pred: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gt id, pred id, pixel count) for every overlapping pair, from the ids of overlap pixels."""
    width = n_pred + 1
    keys = gt.astype(np.int64) * width + pred
    if keys.size and int(gt.max() + 1) * width <= _DENSE_PAIR_LIMIT:
        dense = np.bincount(keys)
        uniq = np.flatnonzero(dense)
        counts = dense[uniq]
    else:
        uniq, counts = np.unique(keys, return_counts=True)
    return uniq // width, uniq % width, counts.astype(np.float64)


@dataclass(frozen=True)
class FrameTruth:
    """The label side of one frame, computed once and shared by every prediction scored against it.

    Attributes:
        gt_mask: (H, W) bool, label == 1.
        valid: (H, W) bool, label in {0, 1}.
        ids: (H, W) int32 8-connected ground-truth component ids (0 = background).
        size: (K + 1,) float64 pixel count of each id, background included.
    """

    gt_mask: np.ndarray
    valid: np.ndarray
    ids: np.ndarray
    size: np.ndarray


def frame_truth(gt_mask: np.ndarray, valid: np.ndarray) -> FrameTruth:
    """The :class:`FrameTruth` of a frame from its anomaly and valid masks."""
    n_gt, ids = connected_components(gt_mask)
    size = np.bincount(ids.ravel(), minlength=n_gt + 1).astype(np.float64)
    return FrameTruth(gt_mask, valid, ids, size)


def frame_components(
    pred: np.ndarray, gt_mask: np.ndarray, valid: np.ndarray, min_pred_size: int, min_gt_size: int
) -> FrameComponents:
    """Component statistics of one frame (:func:`truth_components` with the frame's :func:`frame_truth`).

    Args:
        pred: (H, W) bool predicted anomaly mask.
        gt_mask: (H, W) bool, label == 1.
        valid: (H, W) bool, label in {0, 1}.
        min_pred_size: ``thresh_segsize``.
        min_gt_size: ``thresh_instsize``.

    Returns:
        The frame's per-component values.
    """
    return truth_components(pred, frame_truth(gt_mask, valid), min_pred_size, min_gt_size)


def truth_components(pred: np.ndarray, truth: FrameTruth, min_pred_size: int, min_gt_size: int) -> FrameComponents:
    """Component statistics of one frame, following the official ``default_instancer`` + ``segment_metrics``.

    Steps: void pixels are removed from the prediction; predicted components below
    ``min_pred_size`` pixels are deleted; ground-truth components (background id 0 included, as in
    the official loop) below ``min_gt_size`` pixels become void; every size below is counted inside
    the remaining ROI, and a predicted component left without ROI pixels is not counted.
    sIoU(k) = |k n K^(k)| / (|K^(k)| + |k| - |k n K^(k)| - |A(k)|) and PPV(k^) = |k^ n K(k^)| / |k^|
    (``metrics.md`` section 4). Only the overlap pixels are paired; the removals are applied to
    the per-component tables, never to the image. Per prediction this costs one labeling and a
    count over the predicted pixels; the label side comes from ``truth``.

    Args:
        pred: (H, W) bool predicted anomaly mask.
        truth: The frame's ground truth.
        min_pred_size: ``thresh_segsize``.
        min_gt_size: ``thresh_instsize``.

    Returns:
        The frame's per-component values.
    """
    pred = pred & truth.valid
    gt, gt_size = truth.ids, truth.size
    n_gt = len(gt_size) - 1
    n_pr, pr = connected_components(pred)
    pr_size = np.bincount(pr[pred], minlength=n_pr + 1).astype(np.float64)
    pr_size[0] = pred.size - pr_size[1:].sum()  # background: every pixel not predicted
    both = truth.gt_mask & pred
    gi, pi, cnt = _pairs(gt[both], pr[both], n_pr)

    gt_void = gt_size < min_gt_size  # id 0 too: the official loop also tests the background
    on_gt = _sum_by(pi, cnt, n_pr + 1)
    on_void = _sum_by(pi, cnt * gt_void[gi], n_pr + 1)
    if gt_void[0]:
        on_void += pr_size - on_gt
    pr_size -= on_void  # sizes inside the updated ROI
    keep_gt = ~gt_void
    keep_gt[0] = False
    keep_pr = pr_size >= 1
    keep_pr &= (pr_size + on_void) >= min_pred_size
    keep_pr[0] = False
    sel = keep_gt[gi] & keep_pr[pi]
    gi, pi, cnt = gi[sel], pi[sel], cnt[sel]

    inter_gt = _sum_by(gi, cnt, n_gt + 1)  # |k n K^(k)|
    inter_pr = _sum_by(pi, cnt, n_pr + 1)  # |k^ n K(k^)|
    khat = _sum_by(gi, pr_size[pi], n_gt + 1)  # |K^(k)|
    adj_gt = _sum_by(gi, inter_pr[pi] - cnt, n_gt + 1)  # |A(k)|
    kk = _sum_by(pi, gt_size[gi], n_pr + 1)  # |K(k^)|
    adj_pr = _sum_by(pi, inter_gt[gi] - cnt, n_pr + 1)

    g_ids = np.flatnonzero(keep_gt)
    p_ids = np.flatnonzero(keep_pr)
    siou_gt = inter_gt[g_ids] / (khat[g_ids] + gt_size[g_ids] - inter_gt[g_ids] - adj_gt[g_ids])
    ppv = inter_pr[p_ids] / pr_size[p_ids]
    siou_pred = inter_pr[p_ids] / (kk[p_ids] + pr_size[p_ids] - inter_pr[p_ids] - adj_pr[p_ids])
    return FrameComponents(siou_gt, ppv, siou_pred)
