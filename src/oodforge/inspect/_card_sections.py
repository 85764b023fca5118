"""The summary sections of a dataset card, as HTML lines: config, counts, charts, plausibility.

Every number comes from :func:`oodforge.inspect.stats.dataset_stats` (the figures of ``oodforge stats``) and
is formatted as ``oodforge stats`` prints it (:func:`oodforge.inspect.stats._fmt`,
:data:`oodforge.inspect._stats_plausibility._ROWS`); nothing is recomputed here except the histogram bins.
"""

from __future__ import annotations

import html
from typing import Any

from oodforge.export.manifest import ManifestRecord
from oodforge.inspect._card_charts import bar_chart, log_histogram
from oodforge.inspect._card_config import ConfigView, config_summary, realism_steps, split_rows
from oodforge.inspect._stats_plausibility import _ROWS, _cell
from oodforge.inspect.stats import COUNT_KEYS, _fmt

__all__ = ["charts_section", "config_section", "counts_section", "plausibility_section"]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _kv(rows: list[tuple[str, str]], cls: str = "kv") -> list[str]:
    return [f'<dl class="{cls}">', *(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows), "</dl>"]


def _table(table_id: str, head: list[str], rows: list[list[str]], bold_last: bool = False) -> list[str]:
    out = [f'<div class="scroll"><table id="{table_id}"><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head] + ["</tr></thead><tbody>"]
    for row in rows:
        cells = [f'<th scope="row">{_e(row[0])}</th>']
        for j, value in enumerate(row[1:], 1):
            klass = ' class="total"' if bold_last and j == len(row) - 1 else ""
            cells.append(f"<td{klass}>{_e(value)}</td>")
        out.append(f"<tr>{''.join(cells)}</tr>")
    return [*out, "</tbody></table></div>"]


def config_section(view: ConfigView, manifest_sha: list[str]) -> list[str]:
    """Config summary, splits, realism steps and the resolved ``config.yaml`` (collapsed).

    Args:
        view: the dataset's config.
        manifest_sha: the distinct ``config_sha256`` values of the manifest records.
    """
    out = ['<h2 id="config">Config</h2>']
    if view.problem:
        out.append(f'<p class="warn">{_e(view.problem)}</p>')
    if view.sha256 is not None:
        match = manifest_sha == [view.sha256]
        state = "matches the manifest" if match else f"manifest has {', '.join(manifest_sha) or 'none'}"
        out.append(
            f'<p class="{"note" if match else "warn"}">config_sha256 of config.yaml <code>{_e(view.sha256)}</code>: '
            f"{_e(state)}</p>"
        )
    out.append('<div class="cols"><div>')
    out += _kv(config_summary(view))
    out.append("</div><div>")
    splits = split_rows(view)
    if splits:
        out.append("<h3>Splits</h3>")
        out += _table(
            "config-splits", ["split", "source", "part", "clean_ratio", "synth_ratio"], [list(r) for r in splits]
        )
    out += ["<h3>Realism steps</h3>", '<table id="realism"><tbody>']
    for step, on, detail in realism_steps(view):
        state, klass = ("on", "on") if on else ("off", "off") if on is not None else ("?", "na")
        cells = f'<td class="{klass}">{state}</td><td class="detail">{_e(detail)}</td>'
        out.append(f'<tr><th scope="row">{_e(step)}</th>{cells}</tr>')
    out += ["</tbody></table>", "</div></div>"]
    if view.text:
        out += [
            "<details><summary>resolved config.yaml</summary>",
            f'<pre id="config-yaml">{_e(view.text)}</pre></details>',
        ]
    return out


def counts_section(stats: dict[str, Any]) -> list[str]:
    """Counts per split and in total (the rows of ``oodforge stats``)."""
    groups = {**stats["splits"], "total": stats["totals"]}
    rows = [
        [key, *(_fmt(g[key], key) for g in groups.values())] for key in (*COUNT_KEYS, "placement_rate", "flip_rate")
    ]
    sizes = ["x".join(map(str, g["image_size"])) if g["image_size"] else "-" for g in groups.values()]
    rows.append(["image_size (HxW)", *sizes])
    return ['<h2 id="counts">Counts</h2>', *_table("counts", ["", *groups], rows, bold_last=True)]


def charts_section(stats: dict[str, Any], records: list[ManifestRecord]) -> list[str]:
    """Category histogram (from the stats) and size histograms (area, bbox sides) of every placed object."""
    insts = [inst for rec in records for inst in rec.instances]
    cats = list(stats["totals"]["categories"].items())
    total = stats["totals"]
    dist = []
    for key in ("area_px", "coverage", "scale"):
        d = total.get(key)
        if d:
            dist.append([key, *(_fmt(v, key) for v in d.values())])
    out = ['<h2 id="objects">Placed objects</h2>', '<div class="charts">']
    out.append(bar_chart(cats, title=f"categories ({len(insts)} objects)"))
    out.append(log_histogram([float(i.area_px) for i in insts], title="visible area", unit="px"))
    out.append(log_histogram([float(i.bbox[3]) for i in insts], title="bbox height", unit="px"))
    out.append(log_histogram([float(i.bbox[2]) for i in insts], title="bbox width", unit="px"))
    out.append("</div>")
    if dist:
        head = ["", *next(d for d in (total.get(k) for k in ("area_px", "coverage", "scale")) if d).keys()]
        out += _table("distributions", head, dist)
    targets = ", ".join(f"{label} {count:,}" for label, count in total["target_labels"].items())
    if targets:
        out.append(f'<p class="note">target labels: {_e(targets)}</p>')
    return out


def plausibility_section(stats: dict[str, Any]) -> list[str]:
    """The plausibility figures of ``oodforge stats`` per split and in total, with their notes."""
    groups = {**stats["splits"], "total": stats["totals"]}
    figs = {name: g["plausibility"] for name, g in groups.items() if g.get("plausibility", {}).get("n_objects")}
    out = ['<h2 id="plausibility">Plausibility of placed objects</h2>']
    if not figs:
        return [*out, '<p class="note">No placed objects to measure.</p>']
    out.append(
        '<p class="note">As <code>oodforge stats</code> measures them: size = visible bbox height over the height '
        "expected on the standard camera; whole = at least 95 % in one piece; chroma shift = CIELab (a, b) "
        "distance to the COCO source object; texture ratio = gradient inside over the ring around it.</p>"
    )
    rows = [[label, *(_cell(f, key, kind) for f in figs.values())] for label, key, kind in _ROWS]
    labels = list(figs.get("total", next(iter(figs.values())))["target_label_shares"])
    rows += [[f"target {t}", *(f"{f['target_label_shares'].get(t, 0.0):.1%}" for f in figs.values())] for t in labels]
    out += _table("plausibility", ["", *figs], rows, bold_last="total" in figs)
    notes = [f"{name}: {note}" for name, fig in figs.items() for note in fig["notes"]]
    if notes:
        out += ['<ul class="notes">', *(f"<li>{_e(n)}</li>" for n in notes), "</ul>"]
    return out
