"""Small inline SVG charts for the dataset card: no matplotlib, no fonts to embed, a few kB each.

:func:`bar_chart` draws labelled horizontal bars (the category histogram); :func:`log_histogram` bins positive
values on a log scale (object area, bbox sides) and draws vertical bars with the bin edges under them. Every
text is HTML-escaped; each chart carries ``role="img"`` and an ``aria-label``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["BAR_RGB", "bar_chart", "log_bins", "log_histogram"]

BAR_RGB = "#3b7dd8"
_FONT = 'font-family="system-ui, DejaVu Sans, Arial, sans-serif" font-size="11"'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    head = (
        f'<svg class="chart" role="img" aria-label="{_e(label)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    )
    return "".join([head, f"<title>{_e(label)}</title>", *body, "</svg>"])


def bar_chart(items: Sequence[tuple[str, int]], *, title: str, width: int = 560, max_bars: int = 24) -> str:
    """Horizontal bars, one per ``(label, count)``, longest first as given; the rest summed as "other".

    Returns:
        An ``<svg>`` element, or a ``<p class="note">`` when ``items`` is empty.
    """
    if not items:
        return f'<p class="note">{_e(title)}: no placed objects.</p>'
    rows = list(items[:max_bars])
    if len(items) > max_bars:
        rows.append((f"other ({len(items) - max_bars})", sum(c for _, c in items[max_bars:])))
    bar_h, gap, top, label_w, count_w = 16, 4, 22, 130, 44
    height = top + len(rows) * (bar_h + gap) + 6
    scale = (width - label_w - count_w - 10) / max(c for _, c in rows)
    body = [f'<text x="0" y="13" {_FONT} font-weight="600">{_e(title)}</text>']
    for i, (name, count) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(1.0, count * scale)
        short = name if len(name) <= 20 else name[:19] + "…"
        body += [
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" {_FONT}>{_e(short)}</text>',
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{BAR_RGB}" rx="2">'
            f"<title>{_e(name)}: {count}</title></rect>",
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}" {_FONT}>{count:,}</text>',
        ]
    return _svg(width, height, title, body)


def log_bins(values: Sequence[float], n_bins: int = 12) -> np.ndarray:
    """``n_bins + 1`` log-spaced edges spanning the positive ``values`` (a single value gets a decade around it)."""
    arr = np.asarray([v for v in values if v > 0], np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo * 1.0001:
        lo, hi = lo / math.sqrt(10), hi * math.sqrt(10)
    return np.geomspace(lo, hi * 1.000001, n_bins + 1)


def _tick(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def log_histogram(
    values: Sequence[float], *, title: str, unit: str, width: int = 560, height: int = 200, n_bins: int = 12
) -> str:
    """Vertical bars of the positive ``values`` counted in log-spaced bins; edges labelled under the bars.

    Returns:
        An ``<svg>`` element, or a ``<p class="note">`` when no value is positive.
    """
    if not any(v > 0 for v in values):
        return f'<p class="note">{_e(title)}: no placed objects.</p>'
    edges = log_bins(values, n_bins)
    counts, _ = np.histogram(np.asarray([v for v in values if v > 0], np.float64), bins=edges)
    left, right, top, bottom = 36, 10, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / len(counts)
    peak = max(int(counts.max()), 1)
    body = [
        f'<text x="0" y="13" {_FONT} font-weight="600">{_e(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#8c959f"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" {_FONT}>{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {_FONT}>0</text>',
    ]
    for i, count in enumerate(counts.tolist()):
        h = plot_h * count / peak
        x = left + i * step
        tip = f"{_tick(edges[i])}-{_tick(edges[i + 1])} {unit}: {count}"
        body.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{step - 2:.1f}" height="{h:.1f}" '
            f'fill="{BAR_RGB}"><title>{_e(tip)}</title></rect>'
        )
    for i in range(0, len(edges), 2):
        x = left + i * step
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle" {_FONT}>{_tick(edges[i])}</text>')
    body.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 3}" text-anchor="middle" {_FONT} fill="#59636e">'
        f"{_e(unit)} (log scale)</text>"
    )
    return _svg(width, height, title, body)
