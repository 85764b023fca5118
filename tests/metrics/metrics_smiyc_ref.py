"""Straightforward transcription of the SMIYC per-frame algorithm of ``metrics.md`` sections 2-3.

Written from the prose definition with ``np.quantile`` / ``np.histogram`` / ``np.argsort``; used as
the reference the fast histogram implementation is tested against.
"""

from __future__ import annotations

import numpy as np


def reference_frame(scores: np.ndarray, labels: np.ndarray, rule: str = "2023"):
    """One frame: descending lower edges, per-bin TP and FP, #pos, #neg (None if the ROI is empty)."""
    roi = labels < 255
    p = scores[roi].astype(np.float16)
    g = labels[roi] == 1
    if p.size == 0:
        return None
    pos, neg = p[g], p[~g]
    if rule == "2023":
        vmin, vmax = np.min(p), np.max(p)
        eps = np.maximum((vmax - vmin) * 1e-2, 1e-2)
        edges = [np.asarray([vmin - eps, vmax + eps])]
    else:
        edges = [np.asarray([0, 1])]
    for part in (pos, neg):
        if part.size:
            edges.append(np.quantile(part, np.linspace(0, 1, min(384, part.size))))
    edges = np.unique(np.concatenate(edges))
    tp, _ = np.histogram(pos, bins=edges)
    fp, _ = np.histogram(neg, bins=edges)
    return edges[:-1][::-1], tp[::-1], fp[::-1], int(g.sum()), int((~g).sum())


def trapz(y, x):
    d = np.diff(x)
    return float((d * (y[1:] + y[:-1]) / 2.0).sum())


def reference_metrics(frames_scores, frames_labels, rule: str = "2023", keep_index0: bool = False):
    """Pooled official numbers: dict with ap, auroc, fpr95, fpr95_threshold, best_f1, best_f1_threshold."""
    frames = [reference_frame(s, lab, rule) for s, lab in zip(frames_scores, frames_labels, strict=True)]
    frames = [f for f in frames if f is not None]
    thr = np.concatenate([f[0] for f in frames])
    tp_rel = np.concatenate([f[1] for f in frames])
    fp_rel = np.concatenate([f[2] for f in frames])
    P = sum(f[3] for f in frames)
    N = sum(f[4] for f in frames)
    order = np.argsort(thr)[::-1]
    thr = thr[order]
    tp = np.cumsum(tp_rel[order].astype(np.float64))
    fp = np.cumsum(fp_rel[order].astype(np.float64))
    if rule == "2023":
        keep = [i for i in range(len(thr)) if (i == 0 and keep_index0) or i == len(thr) - 1 or thr[i] != thr[i + 1]]
        thr, tp, fp = thr[keep], tp[keep], fp[keep]
        if tp[0] + fp[0] > 0:
            thr, tp, fp = np.r_[thr[0] + 1, thr], np.r_[0.0, tp], np.r_[0.0, fp]
        if tp[-1] != P or fp[-1] != N:
            thr, tp, fp = np.r_[thr, thr[0] - 1], np.r_[tp, P], np.r_[fp, N]
        tpr, fpr = tp / P, fp / N
        prec = np.array([t / (t + f) if t + f > 0 else 1.0 for t, f in zip(tp, fp, strict=True)])
        ap = sum((tpr[i] - tpr[i - 1]) * prec[i] for i in range(1, len(tpr)))
        auroc = trapz(tpr, fpr)
    else:
        start = next(i for i in range(len(tp)) if tp[i] + fp[i] > 0.01)
        thr, tp, fp = thr[start:], tp[start:], fp[start:]
        tpr, fpr = tp / P, fp / N
        prec = tp / (tp + fp)
        ap = trapz(prec, tpr)
        auroc = trapz(tpr, fpr)
    j = int(np.searchsorted(tpr, 0.95))
    fpr95, thr95 = (float(fpr[j]), float(thr[j])) if j < len(tpr) else (1.0, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * tp / (2 * tp + fp + (P - tp))
    ix = int(np.nanargmax(f1))
    return {
        "ap": float(ap),
        "auroc": auroc,
        "fpr95": fpr95,
        "fpr95_threshold": thr95,
        "best_f1": float(f1[ix]),
        "best_f1_threshold": float(thr[ix]),
        "fpr95_interpolated": float(np.interp(0.95, tpr, fpr)),
    }
