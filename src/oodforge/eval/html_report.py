"""One self-contained HTML report of an ``oodforge benchmark`` run: ``report.html``.

Opens in any browser from the file system: no server, no network, no external CSS, script or font
(inline CSS, system fonts; every image a base64 ``data:`` URI). Content: title and provenance (model,
suite, code and library versions, date: ``run.header``), the per-benchmark protocol, the leaderboard
(same columns and best-value rule as :mod:`oodforge.eval.leaderboard`), and per benchmark the PR / ROC
figures of every row (:mod:`oodforge.eval.bench_plots`; without matplotlib the report says so and has no
figures), the worst frames of the primary row (image | score map | ground truth, with the frame AP) and
the notes. All text is HTML-escaped. Check the rendering with ``scripts/check_report_html.sh``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from oodforge._io import atomic_write_text
from oodforge.errors import UsageError
from oodforge.eval.bench_plots import plot_stem, render_benchmark_plots
from oodforge.eval.bench_results import BenchmarkRun, EntryInfo, WorstFrame
from oodforge.eval.leaderboard import (
    best_cells,
    entry_protocols,
    format_pct,
    leaderboard_columns,
    leaderboard_values,
    provenance_lines,
)

__all__ = ["REPORT_FILE", "render_html_report", "write_html_report"]

#: File name written by :func:`write_html_report`.
REPORT_FILE = "report.html"

_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --head: #f6f8fa; --best: #dafbe1; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1240px; padding: 24px 28px 48px; color: var(--fg); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
h1 { font-size: 24px; margin: 0 0 12px; } h2 { font-size: 19px; margin: 36px 0 8px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); } h3 { font-size: 15px; margin: 20px 0 8px; }
h2 small { font-weight: normal; color: var(--muted); font-size: 13px; margin-left: 8px; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 8px; }
dl.prov dt { color: var(--muted); } dl.prov dd { margin: 0; font-family: ui-monospace, monospace;
  font-size: 12.5px; overflow-wrap: anywhere; }
nav { margin: 12px 0; color: var(--muted); } nav a { margin-right: 12px; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; width: 100%; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
thead th { background: var(--head); font-weight: 600; text-align: center; }
td { text-align: right; } tbody th { text-align: left; font-weight: 500; background: #fff;
  position: sticky; left: 0; } .g0 { border-left: 1px solid var(--line); }
td.best { background: var(--best); font-weight: 700; } td.na { color: var(--muted); }
tbody tr:hover td, tbody tr:hover th { background: #f0f4f8; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; } .plots figure { margin: 0; flex: 1 1 520px; }
.plots img { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
#protocol td { text-align: left; }
.frame { margin: 0 0 14px; max-width: 980px; } .trip { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px; }
.trip img { width: 100%; height: auto; border-radius: 3px; background: #eee; image-rendering: auto; }
.trip span, figcaption { color: var(--muted); font-size: 12.5px; }
.note { color: var(--muted); font-style: italic; } ul.notes { margin: 6px 0; padding-left: 20px; }
pre { background: var(--head); padding: 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _data_uri(data: bytes) -> str:
    mime = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/webp" if data[8:12] == b"WEBP" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img(data: bytes, alt: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<img{klass} src="{_data_uri(data)}" alt="{_e(alt)}">'


def _anchor(entry: str) -> str:
    return f"entry-{plot_stem(entry)}"


def _header(run: BenchmarkRun) -> list[str]:
    out = [f"<h1>oodforge benchmark: {_e(run.model)}</h1>", '<dl class="prov">']
    out += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in provenance_lines(run)]
    temps = "; ".join(f"{t.label} ({t.source}, {t.target})" for t in run.temperatures)
    out += [f"<dt>temperatures</dt><dd>{_e(temps)}</dd>", "</dl>"]
    links = "".join(f'<a href="#{_e(_anchor(e.name))}">{_e(e.name)}</a>' for e in run.entries)
    out.append(f'<nav>Benchmarks: {links}<a href="#notes">Notes</a></nav>')
    return out


def _protocol(run: BenchmarkRun) -> list[str]:
    keys = ["name", "benchmark", "split", "protocol", "images", "components"]
    out = ["<h2>Protocol</h2>", '<div class="scroll"><table id="protocol">', "<thead><tr>"]
    out += [f"<th>{_e(k)}</th>" for k in keys] + ["</tr></thead><tbody>"]
    for p in entry_protocols(run):
        out.append("<tr>" + "".join(f"<td>{_e(p[k])}</td>" for k in keys) + "</tr>")
    return [*out, "</tbody></table></div>"]


def _leaderboard(run: BenchmarkRun) -> list[str]:
    cols, values = leaderboard_columns(run), leaderboard_values(run)
    best = best_cells(cols, values)
    groups: list[tuple[str | None, int]] = []
    for c in cols:
        if groups and groups[-1][0] == c.entry and c.entry is not None:
            groups[-1] = (c.entry, groups[-1][1] + 1)
        else:
            groups.append((c.entry, 1))
    top = ['<th rowspan="2">score @ temperature</th>']
    top += [f'<th colspan="{n}" class="g0">{_e(g)}</th>' if g else "" for g, n in groups]
    top += [f'<th rowspan="2" class="g0">{_e(c.title)}</th>' for c in cols if c.entry is None]

    def edge(j: int) -> bool:
        return j == 0 or cols[j - 1].entry != cols[j].entry

    sub = [f'<th class="{"g0" if edge(j) else ""}">{_e(c.short)}</th>' for j, c in enumerate(cols) if c.entry]
    out = [
        "<h2>Leaderboard</h2>",
        '<p class="note">Percent, 2 decimals; ↑ higher is better, ↓ lower is better; '
        "best of each column highlighted.</p>",
        '<div class="scroll"><table id="leaderboard">',
        f"<thead><tr>{''.join(top)}</tr><tr>{''.join(sub)}</tr></thead><tbody>",
    ]
    for i, (row, vals) in enumerate(zip(run.rows(), values, strict=True)):
        cells = []
        for j, (c, v) in enumerate(zip(cols, vals, strict=True)):
            flags = (("g0", edge(j)), ("best", (i, j) in best), ("na", v is None))
            klass = " ".join(k for k, on in flags if on)
            cells.append(f'<td class="{klass}" data-col="{_e(c.key)}">{_e(format_pct(v))}</td>')
        out.append(f'<tr><th scope="row">{_e(row)}</th>{"".join(cells)}</tr>')
    return [*out, "</tbody></table></div>"]


def _worst(frames: list[WorstFrame], primary: str) -> list[str]:
    if not frames:
        return ['<p class="note">No worst frames recorded for this benchmark.</p>']
    out = [f"<h3>Worst frames of {_e(primary)} (lowest frame AP)</h3>"]
    for f in frames:
        out += [
            '<figure class="frame"><div class="trip">',
            _img(f.image_png, f"{f.image_id}: image"),
            _img(f.score_png, f"{f.image_id}: score map"),
            _img(f.label_png, f"{f.image_id}: ground truth"),
            "</div>",
            f"<figcaption>{_e(f.image_id)}: frame AP {_e(format_pct(f.frame_ap))} % "
            "(image | score map | ground truth)</figcaption></figure>",
        ]
    return out


def _entry(run: BenchmarkRun, entry: EntryInfo, plots: dict[str, dict[str, bytes]], plot_note: str | None) -> list[str]:
    proto = next(p for p in entry_protocols(run) if p["name"] == entry.name)
    small = f"{proto['benchmark']} / {proto['split']} · {proto['protocol']} · {proto['images']} images"
    out = [f'<section id="{_e(_anchor(entry.name))}">', f"<h2>{_e(entry.name)}<small>{_e(small)}</small></h2>"]
    figs = plots.get(entry.name)
    if figs:
        out.append('<div class="plots">')
        for kind, caption in (("pr", "Precision–recall"), ("roc", "ROC")):
            img = _img(figs[kind], f"{entry.name}: {caption} curves")
            out.append(f"<figure>{img}<figcaption>{caption}</figcaption></figure>")
        out.append("</div>")
    else:
        out.append(f'<p class="note">{_e(plot_note or "No curves: nothing was measured on this benchmark.")}</p>')
    out += _worst(run.worst.get(entry.name, []), run.rows()[0] if run.rows() else "")
    notes = list(dict.fromkeys(n for rep in run.reports.get(entry.name, {}).values() for n in rep.notes))
    if notes:
        out += ['<ul class="notes">', *(f"<li>{_e(n)}</li>" for n in notes), "</ul>"]
    return [*out, "</section>"]


def render_html_report(run: BenchmarkRun, *, plots: dict[str, dict[str, bytes]] | None = None) -> str:
    """The text of ``report.html``.

    Args:
        run: The measured run.
        plots: Figures from :func:`~oodforge.eval.bench_plots.render_benchmark_plots` (rendered here when
            None and matplotlib is installed; without matplotlib the report has a note instead).
    """
    plot_note = None
    if plots is None:
        try:
            plots = render_benchmark_plots(run)
        except UsageError as exc:
            plots, plot_note = {}, f"No curves: {exc}."
    notes = list(run.notes) + ([plot_note] if plot_note else [])
    body = [*_header(run), *_protocol(run), *_leaderboard(run)]
    for e in run.entries:
        body += _entry(run, e, plots, plot_note)
    body += ['<h2 id="notes">Notes</h2>']
    body += (
        ['<ul class="notes">', *(f"<li>{_e(n)}</li>" for n in notes), "</ul>"]
        if notes
        else ['<p class="note">None.</p>']
    )
    body += ["<details><summary>Resolved suite</summary>", f"<pre>{_e(run.suite_text)}</pre></details>"]
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>oodforge benchmark: {_e(run.model)}</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    return "\n".join([*head, *body, "</body></html>", ""])


def write_html_report(run: BenchmarkRun, out_dir: Path, *, plots: dict[str, dict[str, bytes]] | None = None) -> Path:
    """Write ``out_dir/report.html`` atomically (see :func:`render_html_report`) and return its path."""
    path = out_dir / REPORT_FILE
    atomic_write_text(path, render_html_report(run, plots=plots))
    return path
