"""A hand-built :class:`BenchmarkRun` with known values for the leaderboard, plot and HTML report tests.

Load it with ``eval_fixtures.load_module("bench_run_fixtures", <this file>)``.

Two entries (``RA21`` with components, ``FS L&F`` without), scores ``msp`` and ``energy``, temperatures
``T=1`` and ``T=1.5 (fitted)``. ``FS L&F`` has no ``energy @ T=1.5 (fitted)`` report; RA21's
``energy @ T=1`` mean F1 is NaN. Expected best cells are listed in :data:`BEST`.
"""

from __future__ import annotations

import math

import numpy as np

from oodforge._io import encode_png
from oodforge.eval.bench_results import BenchmarkRun, EntryInfo, Temperature, WorstFrame
from oodforge.eval.report import EvalCurves, EvalReport, ScoreHistogram
from oodforge.metrics import ComponentResult, PixelResult

ROWS = ["msp @ T=1", "msp @ T=1.5 (fitted)", "energy @ T=1", "energy @ T=1.5 (fitted)"]
MODEL = "erfnet & <weights|v2>.pth"
NAN = math.nan

#: RA21 per row: AP, FPR95, AUROC, sIoU, PPV, mean F1.
RA21 = {
    ROWS[0]: (0.40, 0.30, 0.90, 0.20, 0.30, 0.10),
    ROWS[1]: (0.45, 0.25, 0.91, 0.25, 0.35, 0.15),
    ROWS[2]: (0.60, 0.20, 0.95, 0.30, 0.20, NAN),
    ROWS[3]: (0.55, 0.22, 0.9345678912345, 0.28, 0.40, 0.20),
}
#: FS L&F per row: AP, FPR95, AUROC (the last row is not measured).
FSLAF = {
    ROWS[0]: (0.10, 0.50, 0.80),
    ROWS[1]: (0.123456789, 0.40, 0.85),
    ROWS[2]: (0.12, 0.45, 0.85),
}
MIOU = {"T=1": 0.71, "T=1.5 (fitted)": 0.70}
COLUMNS = [
    *(f"RA21/{m}" for m in ("ap", "fpr95", "auroc", "siou", "ppv", "f1_mean")),
    *(f"FS L&F/{m}" for m in ("ap", "fpr95", "auroc")),
    "miou",
]
#: (row index, column key) of the best cells (AUROC of FS L&F: a tie of two rows).
BEST = {
    (2, "RA21/ap"),
    (2, "RA21/fpr95"),
    (2, "RA21/auroc"),
    (2, "RA21/siou"),
    (3, "RA21/ppv"),
    (3, "RA21/f1_mean"),
    (1, "FS L&F/ap"),
    (1, "FS L&F/fpr95"),
    (1, "FS L&F/auroc"),
    (2, "FS L&F/auroc"),
    (0, "miou"),
    (2, "miou"),
}
HEADER = {
    "oodforge_version": "0.1.0",
    "git_commit": "abc1234",
    "date": "2026-01-02T03:04:05+00:00",
    "versions": {"numpy": "2.4.6", "torch": "2.5.1"},
    "machine": None,
}
#: Solid colour of the worst-frame image thumbnails (RGB), to find them in a screenshot.
THUMB_RGB = (255, 0, 255)


def curves(ap: float) -> EvalCurves:
    """Monotone PR / ROC points, better for a higher ``ap``."""
    r = np.linspace(0.0, 1.0, 41)
    k = 0.5 + 4 * ap
    return EvalCurves(np.linspace(1.0, 0.0, 41), np.clip(1 - r**k * (1 - 0.05), 0, 1), r, r**k)


def report(
    values: tuple[float, ...], benchmark: str, split: str, protocol: str, n: int, notes: tuple[str, ...] = ()
) -> EvalReport:
    """An EvalReport with these AP, FPR95, AUROC (and sIoU, PPV, mean F1 when six values are given)."""
    ap, fpr95, auroc = values[:3]
    pixel = PixelResult(protocol, ap, auroc, fpr95, 0.4, 0.3, 0.5, 1000, 99000)
    comp = None
    if len(values) == 6:
        siou, ppv, f1 = values[3:]
        comp = ComponentResult(siou, ppv, 0.3, f1, 0.4, 0.3, 0.1, (f1,) * 11, (1,) * 11, (1,) * 11, (1,) * 11, 4, 5)
    hist = ScoreHistogram(np.linspace(0, 1, 5), np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1]))
    return EvalReport(
        benchmark, split, protocol, n, pixel, comp, "anomaly" if comp else None, 0.3 if comp else None, curves(ap),
        hist, notes,
    )  # fmt: skip


def thumb(rgb: tuple[int, int, int], h: int = 24, w: int = 48) -> bytes:
    """A solid-colour RGB PNG."""
    return encode_png(np.broadcast_to(np.array(rgb, np.uint8), (h, w, 3)).copy())


def make_run(*, miou: bool = True, n_rows: int | None = None) -> BenchmarkRun:
    """The run described in the module docstring (``n_rows=1``: only ``msp @ T=1``)."""
    temps = [Temperature(1.0), Temperature(1.5, "fitted", "logits", 0.25)]
    scores = ["msp", "energy"]
    if n_rows == 1:
        temps, scores = temps[:1], scores[:1]
    entries = [
        EntryInfo("RA21", "road_anomaly_21", "/data/smiyc", "validation", "smiyc", 10, True),
        EntryInfo("FS L&F", "fishyscapes_lost_and_found", "/data/fs", "val", "fishyscapes", 100, False),
    ]
    rows = ROWS[: n_rows or len(ROWS)]
    ra = {r: report(RA21[r], "road_anomaly_21", "validation", "smiyc", 10, ("reader: 10 frames <ok>",)) for r in rows}
    fs = {r: report(FSLAF[r], "fishyscapes_lost_and_found", "val", "fishyscapes", 100) for r in rows if r in FSLAF}
    worst = [
        WorstFrame("RA21", f"validation000{k}", 0.05 * k, thumb(THUMB_RGB), thumb((40, 40, 40)), thumb((0, 0, 0)))
        for k in range(2)
    ]
    return BenchmarkRun(
        model=MODEL,
        suite_name="default",
        suite_text="benchmarks:\n  - name: RA21  # <script>alert(1)</script>\n",
        header=dict(HEADER),
        entries=entries,
        scores=scores,
        temperatures=temps,
        reports={"RA21": ra, "FS L&F": fs},
        miou=dict(MIOU) if miou else {},
        worst={"RA21": worst},
        notes=["component pass used 1.2 MB & <no> warnings"],
    )
