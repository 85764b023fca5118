"""Straightforward transcription of the SMIYC per-frame algorithm of ``metrics.md`` sections 2-3.

Written from the prose definition with ``np.quantile`` / ``np.histogram`` / ``np.argsort``; used as
the reference the fast histogram implementation is tested against.

The official code is pinned to numpy 1.23.3, whose value-based casting decides the outer edges:
``vmin``, ``vmax`` are float16 scalars, so ``vmax - vmin`` is float16, but ``* 1e-2``,
``np.maximum(.., 1e-2)`` and ``vmin - eps`` / ``vmax + eps`` mix a float16 scalar with a Python float
and run in float64. Under numpy >= 2 (NEP 50) those lines would stay float16, so the casts are
written out here (``outer_edges_123``) to give the numpy-1.23 edges whatever numpy runs the tests.
"""

from __future__ import annotations

import numpy as np


def outer_edges_123(vmin: np.float16, vmax: np.float16) -> np.ndarray:
    """``[vmin - eps, vmax + eps]`` of the official code as numpy 1.23 computes it (float16 span, float64 rest)."""
    with np.errstate(over="ignore"):
        span = np.float16(vmax) - np.float16(vmin)  # float16 scalar op float16 scalar: float16, inf past 65504
    eps = np.maximum(np.float64(span) * 1e-2, 1e-2)  # float16 scalar * Python float: float64 in numpy 1.23
    return np.asarray([np.float64(vmin) - eps, np.float64(vmax) + eps])


def outer_edges_nep50(vmin: np.float16, vmax: np.float16) -> np.ndarray:
    """The same lines under numpy >= 2 (NEP 50): everything stays float16 (for tests of the difference)."""
    with np.errstate(over="ignore"):
        span = np.float16(vmax) - np.float16(vmin)
        eps = np.maximum(span * np.float16(1e-2), np.float16(1e-2))
        return np.asarray([np.float16(vmin) - eps, np.float16(vmax) + eps], dtype=np.float16)


def reference_frame(scores: np.ndarray, labels: np.ndarray, rule: str = "2023", outer=outer_edges_123):
    """One frame: descending lower edges, per-bin TP and FP, #pos, #neg (None if the ROI is empty)."""
    roi = labels < 255
    p = scores[roi].astype(np.float16)
    g = labels[roi] == 1
    if p.size == 0:
        return None
    pos, neg = p[g], p[~g]
    edges = [outer(np.min(p), np.max(p))] if rule == "2023" else [np.asarray([0, 1])]
    for part in (pos, neg):
        if part.size:
            with np.errstate(over="ignore", invalid="ignore"):  # float16 b - a overflows past 65504
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
