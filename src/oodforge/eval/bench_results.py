"""What one ``oodforge benchmark`` run measured: the engine fills it, the writers turn it into files.

The engine (:mod:`oodforge.eval.bench_engine`) runs a model once per frame over every benchmark of a suite
and accumulates every (score, temperature) pair into its own metric states; each pair's result on each
benchmark is an ordinary :class:`~oodforge.eval.report.EvalReport`, the same object ``oodforge eval`` returns,
so the two commands give equal numbers by construction. The writers (:mod:`oodforge.eval.leaderboard`,
:mod:`oodforge.eval.html_report`) only read this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oodforge.eval.report import EvalReport, json_safe

__all__ = ["BenchmarkRun", "EntryInfo", "Temperature", "WorstFrame", "row_key"]


@dataclass(frozen=True)
class Temperature:
    """One temperature of the suite.

    Attributes:
        value: T > 0 (1.0 = no scaling).
        source: ``"fixed"`` (from the suite) or ``"fitted"`` (NLL on the calibration split).
        target: ``"logits"`` (dense per-pixel logits), ``"class"`` (class-query logits of a
            mask-classification model) or ``"pixel"`` (its per-pixel class scores).
        nll: the calibration NLL at ``value`` when fitted (else None).
    """

    value: float
    source: str = "fixed"
    target: str = "logits"
    nll: float | None = None

    @property
    def label(self) -> str:
        """Row label: ``T=1``, ``T=1.5 (fitted)``."""
        text = f"T={self.value:g}"
        return f"{text} (fitted)" if self.source == "fitted" else text


@dataclass(frozen=True)
class EntryInfo:
    """One benchmark of the suite as run: its display name, reader name, root, split and protocol."""

    name: str
    benchmark: str
    root: str
    split: str
    protocol: str
    n_images: int
    components: bool


@dataclass(frozen=True)
class WorstFrame:
    """A frame where the primary score does worst (lowest per-frame AP), with PNG thumbnails for the report."""

    entry: str
    image_id: str
    frame_ap: float
    image_png: bytes
    score_png: bytes
    label_png: bytes


def row_key(score: str, temperature: Temperature) -> str:
    """Leaderboard row name: ``msp @ T=1``."""
    return f"{score} @ {temperature.label}"


@dataclass
class BenchmarkRun:
    """Everything one run measured.

    Attributes:
        model: what was evaluated (checkpoint, registered model + weights, or a logits folder).
        suite_name: the suite's name (file stem or ``default``).
        suite_text: the resolved suite as YAML (goes into every output's header).
        header: provenance: oodforge version, git commit when known, date, machine, torch/numpy versions.
        entries: the benchmarks in suite order.
        scores: the score names in suite order.
        temperatures: the temperatures in suite order (fitted ones included).
        reports: ``reports[entry][row_key(score, T)]`` = the EvalReport of that pair on that benchmark.
        miou: mIoU (in [0, 1]) on the Cityscapes split per temperature label, or None when not asked;
            the same for every temperature of a dense model (argmax does not change with T).
        worst: per entry, the worst frames of the primary (first) row.
        notes: remarks (skipped scores, label checks, disk use of the component pass).
        score_dirs: ``score_dirs[entry][row_key]`` = folder of that row's float16 ``<image_id>.npy`` score maps,
            relative to the output folder (``score_maps/<entry>/<score>_T<T>``; rows that share a map share a
            folder), for the benchmarks whose maps were written (``outputs.score_maps``, or the SMIYC ones with
            ``outputs.smiyc_submission``); empty otherwise.
    """

    model: str
    suite_name: str
    suite_text: str
    header: dict[str, Any]
    entries: list[EntryInfo]
    scores: list[str]
    temperatures: list[Temperature]
    reports: dict[str, dict[str, EvalReport]] = field(default_factory=dict)
    miou: dict[str, float | None] = field(default_factory=dict)
    worst: dict[str, list[WorstFrame]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    score_dirs: dict[str, dict[str, str]] = field(default_factory=dict)

    def rows(self) -> list[str]:
        """Leaderboard rows (score × temperature) in suite order."""
        return [row_key(s, t) for s in self.scores for t in self.temperatures]

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON dict (NaN → None), curves left out (the plots hold them)."""
        return json_safe(
            {
                "model": self.model,
                "suite": self.suite_name,
                "header": self.header,
                "entries": [vars(e) for e in self.entries],
                "scores": self.scores,
                "temperatures": [
                    {"value": t.value, "source": t.source, "target": t.target, "nll": t.nll, "label": t.label}
                    for t in self.temperatures
                ],
                "miou": self.miou,
                "results": {
                    entry: {row: rep.to_dict(include_curves=False) for row, rep in rows.items()}
                    for entry, rows in self.reports.items()
                },
                "notes": self.notes,
                "score_dirs": self.score_dirs,
            }
        )
