"""The leaderboard of an ``oodforge benchmark`` run as Markdown, CSV and JSON.

Rows are score × temperature (:meth:`BenchmarkRun.rows`, suite order); columns are benchmark × metric:
AP ↑, FPR95 ↓, AUROC ↑ for every benchmark, plus sIoU ↑, PPV ↑ and mean F1 ↑ where the benchmark has
component metrics, plus one mIoU ↑ column (the mIoU at the row's temperature) when the run measured it.
Every file starts with the provenance: model, suite, code version (``run.header``), and per benchmark the
exact protocol (reader, split, pixel protocol, number of images, component track).

- ``leaderboard.md``: percent with 2 decimals, the best value of each column in bold (lowest FPR95,
  highest otherwise; every cell that prints equal to the best one; only with two rows or more).
- ``leaderboard.csv``: ``#`` comment lines (provenance), then a header line and one line per row;
  values are fractions in [0, 1] at full precision (``repr``), an empty cell where nothing was measured.
  Text fields are quoted; read it with ``pandas.read_csv(path, comment="#")`` or skip the ``#`` lines.
- ``leaderboard.json``: :meth:`BenchmarkRun.to_dict` plus ``suite_yaml`` and ``leaderboard``
  (the CSV's columns and values, the same floats).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oodforge._io import atomic_write_json, atomic_write_text
from oodforge.eval.bench_results import BenchmarkRun, EntryInfo, Temperature, row_key
from oodforge.eval.report import EvalReport, json_safe

__all__ = [
    "LEADERBOARD_FILES",
    "Column",
    "best_cells",
    "entry_protocols",
    "format_pct",
    "leaderboard_columns",
    "leaderboard_dict",
    "leaderboard_table",
    "leaderboard_values",
    "provenance_lines",
    "render_csv",
    "render_markdown",
    "write_leaderboard",
]

#: File names written by :func:`write_leaderboard`, in return order.
LEADERBOARD_FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json")
#: (key, label, higher is better) of the pixel metrics, then of the component metrics.
PIXEL_METRICS = (("ap", "AP", True), ("fpr95", "FPR95", False), ("auroc", "AUROC", True))
COMPONENT_METRICS = (("siou", "sIoU", True), ("ppv", "PPV", True), ("f1_mean", "mean F1", True))
_ROW_TITLE = "score @ temperature"


@dataclass(frozen=True)
class Column:
    """One leaderboard column: ``entry`` × ``metric`` (``entry`` None for the mIoU column)."""

    key: str
    entry: str | None
    metric: str
    label: str
    higher_is_better: bool

    @property
    def short(self) -> str:
        """Metric label with the direction arrow: ``AP ↑``, ``FPR95 ↓``."""
        return f"{self.label} {'↑' if self.higher_is_better else '↓'}"

    @property
    def title(self) -> str:
        """Display title: ``RA21 AP ↑``, ``mIoU ↑``."""
        return f"{self.entry} {self.short}" if self.entry else self.short


def format_pct(value: float | None) -> str:
    """Percent with 2 decimals, ``n/a`` for a missing or non-finite value."""
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.2f}"


def leaderboard_columns(run: BenchmarkRun) -> list[Column]:
    """The columns in entry order (pixel metrics, then component metrics where ``entry.components``)."""
    cols = []
    for e in run.entries:
        metrics = PIXEL_METRICS + (COMPONENT_METRICS if e.components else ())
        cols += [Column(f"{e.name}/{key}", e.name, key, label, hib) for key, label, hib in metrics]
    if run.miou:
        cols.append(Column("miou", None, "miou", "mIoU", True))
    return cols


def _metric(report: EvalReport | None, metric: str) -> float | None:
    if report is None:
        return None
    if metric in ("ap", "fpr95", "auroc"):
        value = getattr(report.pixel, metric)
    elif report.components is None:
        return None
    else:
        c = report.components
        value = {"siou": c.siou_gt, "ppv": c.ppv, "f1_mean": c.f1_mean}[metric]
    value = float(value)
    return value if math.isfinite(value) else None


def _row_pairs(run: BenchmarkRun) -> list[tuple[str, str, Temperature]]:
    return [(row_key(s, t), s, t) for s in run.scores for t in run.temperatures]


def leaderboard_values(run: BenchmarkRun) -> list[list[float | None]]:
    """Row-major values (fractions), None where a pair was not measured or is undefined (NaN)."""
    cols = leaderboard_columns(run)
    out = []
    for row, _, temp in _row_pairs(run):
        values: list[float | None] = []
        for c in cols:
            if c.entry is None:
                miou = run.miou.get(temp.label)
                values.append(float(miou) if miou is not None and math.isfinite(miou) else None)
            else:
                values.append(_metric(run.reports.get(c.entry, {}).get(row), c.metric))
        out.append(values)
    return out


def best_cells(columns: list[Column], values: list[list[float | None]]) -> set[tuple[int, int]]:
    """(row, column) indices of the best cell(s) of each column, compared as printed (:func:`format_pct`).

    A column with fewer than two measured rows has no best cell.
    """
    best: set[tuple[int, int]] = set()
    for j, col in enumerate(columns):
        cells = [(i, row[j]) for i, row in enumerate(values) if row[j] is not None]
        if len(cells) < 2:
            continue
        pick = max if col.higher_is_better else min
        top = format_pct(pick(v for _, v in cells if v is not None))
        best |= {(i, j) for i, v in cells if format_pct(v) == top}
    return best


def leaderboard_table(run: BenchmarkRun) -> list[list[str]]:
    """Header line, then one line per row: row name and percent strings (for a rich table in the CLI).

    Cell ``[i + 1][j + 1]`` of the result is value ``[i][j]`` of :func:`leaderboard_values`; to highlight the
    best ones as the Markdown does, use ``best_cells(leaderboard_columns(run), leaderboard_values(run))``.
    """
    cols = leaderboard_columns(run)
    header = [_ROW_TITLE, *(c.title for c in cols)]
    pairs = zip(_row_pairs(run), leaderboard_values(run), strict=True)
    rows = [[name, *(format_pct(v) for v in vals)] for (name, _, _), vals in pairs]
    return [header, *rows]


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _flat(f"{prefix}.{k}" if prefix else str(k), v)]
    if value is None:
        return [(prefix, "unknown")]
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return [(prefix, " ".join(text.split()))]


def provenance_lines(run: BenchmarkRun) -> list[tuple[str, str]]:
    """(key, value) lines: model, suite, then ``run.header`` flattened (nested keys dotted, None as ``unknown``).

    The oodforge version that wrote the files is added when the header names no oodforge version.
    """
    lines = [("model", run.model), ("suite", run.suite_name), *_flat("", run.header)]
    if not any("oodforge" in k or k == "version" for k, _ in lines):
        from oodforge import __version__

        lines.append(("oodforge_version", __version__))
    return [(k, " ".join(v.split())) for k, v in lines]


def _component_track(run: BenchmarkRun, entry: EntryInfo) -> str:
    tracks = sorted({r.component_track for r in run.reports.get(entry.name, {}).values() if r.component_track})
    return ", ".join(tracks) if tracks else ("yes" if entry.components else "no")


def entry_protocols(run: BenchmarkRun) -> list[dict[str, str]]:
    """Per entry: name, benchmark (reader), split, protocol, images, components (track or ``no``)."""
    return [
        {
            "name": e.name,
            "benchmark": e.benchmark,
            "split": e.split,
            "protocol": e.protocol,
            "images": str(e.n_images),
            "components": _component_track(run, e),
        }
        for e in run.entries
    ]


def _temperature_lines(run: BenchmarkRun) -> list[str]:
    out = []
    for t in run.temperatures:
        nll = f", calibration NLL {t.nll:.6g}" if t.nll is not None else ""
        out.append(f"{t.label}: {t.source}, on {t.target}{nll}")
    return out


def _md(text: str) -> str:
    text = " ".join(text.split())
    return text.replace("|", "\\|").replace("<", "\\<").replace(">", "\\>")


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_table(header: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    align = ["---" if j < right_from else "---:" for j in range(len(header))]
    lines = [header, align, *rows]
    return ["| " + " | ".join(cells) + " |" for cells in lines]


def render_markdown(run: BenchmarkRun) -> str:
    """The text of ``leaderboard.md``."""
    out = [f"# oodforge benchmark: {_md(run.model)}", ""]
    out += [f"- {_md(k)}: {_md(v)}" for k, v in provenance_lines(run)]
    out += [
        "- numbers: percent, 2 decimals; ↑ higher is better, ↓ lower is better; best of each column in **bold**",
        "",
        "## Protocol",
        "",
    ]
    protos = entry_protocols(run)
    keys = ["name", "benchmark", "split", "protocol", "images", "components"]
    out += _md_table(keys, [[_md(p[k]) for k in keys] for p in protos], right_from=len(keys))
    out += ["", "Temperatures:", "", *(f"- {_md(line)}" for line in _temperature_lines(run)), "", "## Results", ""]
    cols, values = leaderboard_columns(run), leaderboard_values(run)
    best = best_cells(cols, values)
    rows = []
    for i, ((name, _, _), vals) in enumerate(zip(_row_pairs(run), values, strict=True)):
        cells = [f"**{format_pct(v)}**" if (i, j) in best else format_pct(v) for j, v in enumerate(vals)]
        rows.append([_md(name), *cells])
    out += _md_table([_ROW_TITLE, *(_md(c.title) for c in cols)], rows)
    if run.notes:
        out += ["", "## Notes", "", *(f"- {_md(n)}" for n in run.notes)]
    fence = _fence(run.suite_text)
    out += ["", "## Suite (resolved)", "", f"{fence}yaml", run.suite_text.rstrip("\n"), fence, ""]
    return "\n".join(out)


def render_csv(run: BenchmarkRun) -> str:
    """The text of ``leaderboard.csv`` (``#`` provenance lines, header, one line per row)."""
    lines = ["# oodforge benchmark leaderboard", *(f"# {k}: {v}" for k, v in provenance_lines(run))]
    for p in entry_protocols(run):
        lines.append(f"# entry {p.pop('name')}: " + " ".join(f"{k}={v}" for k, v in p.items()))
    lines += [f"# temperature {line}" for line in _temperature_lines(run)]
    lines.append("# values: fractions in [0, 1] at full precision (x100 for percent); empty = not measured")
    buf = io.StringIO()
    # every text field quoted: a '#' inside a name then stays data for pandas.read_csv(comment="#")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(["row", "score", "temperature", "T", *(c.key for c in leaderboard_columns(run))])
    for (name, score, temp), vals in zip(_row_pairs(run), leaderboard_values(run), strict=True):
        writer.writerow([name, score, temp.label, float(temp.value), *("" if v is None else v for v in vals)])
    return "\n".join(" ".join(line.split()) for line in lines) + "\n" + buf.getvalue()


def leaderboard_dict(run: BenchmarkRun) -> dict[str, Any]:
    """The object of ``leaderboard.json``: ``run.to_dict()`` + ``suite_yaml`` + ``leaderboard``."""
    out = run.to_dict()
    out["suite_yaml"] = run.suite_text
    out["leaderboard"] = json_safe(
        {
            "rows": run.rows(),
            "columns": [
                {"key": c.key, "entry": c.entry, "metric": c.metric, "title": c.title} for c in leaderboard_columns(run)
            ],
            "values": leaderboard_values(run),
            "units": "fraction",
        }
    )
    return out


def write_leaderboard(run: BenchmarkRun, out_dir: Path) -> list[Path]:
    """Write ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.json`` into ``out_dir``, atomically.

    Args:
        run: The measured run.
        out_dir: Target folder (created).

    Returns:
        The three paths, in :data:`LEADERBOARD_FILES` order.
    """
    md, csv_path, json_path = (out_dir / name for name in LEADERBOARD_FILES)
    atomic_write_text(md, render_markdown(run))
    atomic_write_text(csv_path, render_csv(run))
    atomic_write_json(json_path, leaderboard_dict(run), indent=2)
    return [md, csv_path, json_path]
