"""Literal transcription of the official SMIYC component evaluation (``metrics.md`` section 4).

Component loops with full-image masks, ``scipy.ndimage.label`` with a 3x3 structure, PPV for FP
(as since Sep 2021). Slow (O(components x pixels)); only for small test frames.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import label


def reference_frame(pred: np.ndarray, labels: np.ndarray, min_pred: int, min_gt: int):
    """Return (sIoU per gt component, PPV per predicted component, sIoU per predicted component)."""
    structure = np.ones((3, 3), dtype=int)
    gt_inst, n_gt = label(labels == 1, structure)
    seg = pred.copy()
    seg[labels == 255] = False
    pred_inst, n_pred = label(seg, structure)
    sizes = [np.sum(pred_inst == c) for c in range(n_pred + 1)]
    for c in range(n_pred + 1):
        if sizes[c] < min_pred:
            pred_inst[pred_inst == c] = 0
    labels = labels.copy()
    for c in range(n_gt + 1):
        if np.sum(gt_inst == c) < min_gt:
            labels[gt_inst == c] = 255
    roi = labels < 255
    g, p = gt_inst[roi], pred_inst[roi]

    def siou(a, b):
        out = []
        for i in np.unique(a[a > 0]):
            loc = b[a == i]
            seg_ind = np.unique(loc[loc != 0])
            inter = len(loc[np.isin(loc, seg_ind)])
            adj = len(b[np.logical_and(~np.isin(a, [0, i]), np.isin(b, seg_ind))])
            union = np.sum(np.isin(b, seg_ind)) + np.sum(a == i) - inter - adj
            out.append(inter / union)
        return np.array(out)

    ppv = []
    for i in np.unique(p[p > 0]):
        loc = g[p == i]
        ppv.append(np.count_nonzero(loc) / np.sum(p == i))
    return siou(g, p), np.array(ppv), siou(p, g)


def reference_split(preds, labels_list, min_pred: int, min_gt: int):
    """Split-level dict as the official aggregate, with FP from PPV."""
    frames = [reference_frame(p, lab, min_pred, min_gt) for p, lab in zip(preds, labels_list, strict=True)]
    out = {}
    f1s = []
    for t in np.linspace(0.25, 0.75, 11):
        tp = sum(np.count_nonzero(f[0] >= t) for f in frames)
        fn = sum(np.count_nonzero(f[0] < t) for f in frames)
        fp = sum(np.count_nonzero(f[1] < t) for f in frames)
        f1s.append((2 * tp) / (2 * tp + fn + fp) if (2 * tp + fn + fp) else float("nan"))
        out.setdefault("tp", []).append(tp)
        out.setdefault("fn", []).append(fn)
        out.setdefault("fp", []).append(fp)
    n_gt = sum(len(f[0]) for f in frames)
    n_pred = sum(len(f[1]) for f in frames)
    out["f1"] = f1s
    out["f1_mean"] = float(np.mean(f1s))
    out["siou_gt"] = sum(np.sum(f[0]) for f in frames) / n_gt if n_gt else float("nan")
    out["ppv"] = sum(np.sum(f[1]) for f in frames) / n_pred if n_pred else float("nan")
    out["siou_pred"] = sum(np.sum(f[2]) for f in frames) / n_pred if n_pred else float("nan")
    return out
