"""Drawing and row choice shared by the contact sheets of synthesized and rendered datasets.

Text is laid out before it is drawn: :func:`layout_lines` wraps a header's parts into lines that fit the
sheet's width (a word wider than a line is cut into pieces, text past :data:`MAX_HEADER_LINES` lines ends in
:data:`ELLIPSIS`) and returns each line's box; :func:`header` draws them on a band whose height follows the
number of lines. Glyphs get a one-pixel black outline drawn at their own weight, so outline and glyph share
their advances (OpenCV 5 draws a bolder, wider face for a thicker stroke).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import cv2
import numpy as np

from oodforge.errors import DataLayoutError, UsageError

__all__ = ["ANOMALY_RGB", "BACKGROUND", "GAP", "HEADER_H", "PART_SEP", "TextLine", "fit_text", "header"]
__all__ += ["header_height", "label", "layout_lines", "ok_records", "select", "stack_rows", "text"]

GAP = 4
BACKGROUND = (24, 24, 24)
ANOMALY_RGB = np.array([255, 120, 0], np.float32)
FONT = cv2.FONT_HERSHEY_SIMPLEX
HEADER_SCALE = 0.5
LABEL_SCALE = 0.45
HEADER_RGB = (240, 240, 240)
MAX_HEADER_LINES = 4
ELLIPSIS = "..."
PART_SEP = "   "
PAD_X = 6
PAD_Y = 2
LINE_GAP = 2
OUTLINE = 1
_OFFSETS = tuple((dx, dy) for dy in (-OUTLINE, 0, OUTLINE) for dx in (-OUTLINE, 0, OUTLINE) if dx or dy)
_TALL = "Ag|jy[]_"  # ascenders and descenders: the vertical extent of any line


class _Row(Protocol):
    @property
    def split(self) -> str: ...
    @property
    def image_id(self) -> str: ...
    @property
    def status(self) -> str: ...


R = TypeVar("R", bound=_Row)


def ok_records(records: Sequence[R], *, n: int, split: str | None, what: str, unit: str = "image") -> list[R]:
    """The ``ok`` records of ``split`` (all splits: None), sorted by (split, image_id): what a gallery picks from.

    Raises:
        UsageError: ``n`` < 1.
        DataLayoutError: ``split`` is not in the manifest, or no record of it has status ``ok``.
    """
    if n < 1:
        raise UsageError(f"--n {n}: expected at least 1 {unit}")
    if split is not None and all(rec.split != split for rec in records):
        available = ", ".join(sorted({rec.split for rec in records})) or "none"
        raise DataLayoutError(f"--split {split!r}: not in the manifest; available: {available}")
    ok = sorted(
        (rec for rec in records if rec.status == "ok" and (split is None or rec.split == split)),
        key=lambda rec: (rec.split, rec.image_id),
    )
    if not ok:
        raise DataLayoutError(f"no record with status ok {what}")
    return ok


def select(records: Sequence[R], *, n: int, split: str | None, seed: int, first: Callable[[R], bool]) -> list[R]:
    """Choose up to ``n`` ``ok`` records: those with ``first(rec)`` first, then the others.

    Within each group the choice is a seeded random subset (``numpy.random.default_rng(seed)``) of the
    records sorted by (split, image_id), kept in that order: the same dataset and seed give the same rows.

    Raises:
        UsageError: ``n`` < 1.
        DataLayoutError: ``split`` is not in the manifest, or no record has status ``ok``.
    """
    ok = ok_records(records, n=n, split=split, what="to preview", unit="row")
    rng = np.random.default_rng(seed)
    chosen: list[R] = []
    for group in ([rec for rec in ok if first(rec)], [rec for rec in ok if not first(rec)]):
        take = min(n - len(chosen), len(group))
        if take > 0:
            picks = sorted(int(i) for i in rng.permutation(len(group))[:take])
            chosen.extend(group[i] for i in picks)
    return chosen


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Rows one above the other, :data:`GAP` pixels of background between them."""
    width = rows[0].shape[1]
    parts: list[np.ndarray] = []
    for row in rows:
        if parts:
            parts.append(np.full((GAP, width, 3), BACKGROUND, np.uint8))
        parts.append(row)
    return np.ascontiguousarray(np.vstack(parts))


@dataclass(frozen=True)
class TextLine:
    """A laid-out line: text, ``cv2.putText`` origin and ``box`` (x0, y0, x1, y1; exclusive) of all it draws."""

    text: str
    org: tuple[int, int]
    box: tuple[int, int, int, int]


def _metrics(scale: float) -> tuple[int, int]:
    """(ascent, descent) in pixels of any line at ``scale``, the outline included."""
    (_, ascent), descent = cv2.getTextSize(_TALL, FONT, scale, 1)
    return ascent + OUTLINE + 1, descent + OUTLINE + 1


def text_width(line: str, scale: float) -> int:
    """Width in pixels that ``line`` draws at ``scale``, the outline included."""
    return cv2.getTextSize(line, FONT, scale, 1)[0][0] + 2 * OUTLINE + 2 if line else 0  # glyphs reach 1 px left


def line_height(scale: float) -> int:
    """Height in pixels of one line at ``scale``, the outline included."""
    ascent, descent = _metrics(scale)
    return ascent + descent


def header_height(n_lines: int, scale: float = HEADER_SCALE) -> int:
    """Height of a header band of ``n_lines`` lines (at least one)."""
    n = max(1, n_lines)
    return 2 * PAD_Y + n * line_height(scale) + (n - 1) * LINE_GAP


#: height of a one-line header
HEADER_H = header_height(1)


def fit_text(line: str, max_width: int, scale: float) -> str:
    """``line`` if it fits in ``max_width`` pixels, else its longest prefix that fits followed by :data:`ELLIPSIS`.

    Empty when not even the ellipsis fits.
    """
    if text_width(line, scale) <= max_width:
        return line
    if text_width(ELLIPSIS, scale) > max_width:
        return ""
    k = _longest(len(line), lambda k: text_width(line[:k].rstrip() + ELLIPSIS, scale) <= max_width)
    return line[:k].rstrip() + ELLIPSIS


def _longest(n: int, ok: Callable[[int], bool]) -> int:
    """The largest ``k`` in ``0..n`` with ``ok(k)`` (``ok`` is monotone, ``ok(0)`` assumed)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def _fitting_prefix(line: str, max_width: int, scale: float) -> int:
    """Length of the longest prefix of ``line`` that fits in ``max_width`` pixels."""
    return _longest(len(line), lambda k: text_width(line[:k], scale) <= max_width)


def _break_after(word: str, lo: int) -> int:
    """Where to cut ``word[:lo]``: after its last ``/`` or ``_``, else its last ``-`` or ``.``, else at ``lo``."""
    best = max(word.rfind("/", 0, lo), word.rfind("_", 0, lo)) + 1
    return best or max(word.rfind("-", 0, lo), word.rfind(".", 0, lo)) + 1 or lo


def _split_word(word: str, max_width: int, scale: float) -> list[str]:
    """``word`` cut into pieces that each fit, preferably just after a ``/`` or ``_``, else a ``-`` or ``.``.

    Where not even one character fits, the last piece is the rest of the word, which does not fit.
    """
    pieces: list[str] = []
    while word:
        lo = _fitting_prefix(word, max_width, scale)
        if lo == 0:
            return [*pieces, word]
        cut = lo if lo == len(word) else _break_after(word, lo)
        pieces.append(word[:cut])
        word = word[cut:]
    return pieces


def _wrap(parts: Sequence[str], max_width: int, scale: float) -> list[str]:
    """Greedy wrap: whole parts joined by :data:`PART_SEP`, a wider part broken at its spaces, a wider word cut."""
    lines: list[str] = []
    cur = ""

    def fits(candidate: str) -> bool:
        return text_width(candidate, scale) <= max_width

    def push(line: str) -> None:
        if line:
            lines.append(line)

    for part in (p.strip() for p in parts):
        if not part:
            continue
        if fits(f"{cur}{PART_SEP}{part}" if cur else part):
            cur = f"{cur}{PART_SEP}{part}" if cur else part
            continue
        if fits(part):
            push(cur)
            cur = part
            continue
        sep = PART_SEP
        for word in part.split():
            if fits(f"{cur}{sep}{word}" if cur else word):
                cur = f"{cur}{sep}{word}" if cur else word
            elif fits(word):
                push(cur)
                cur = word
            else:
                push(cur)
                *full, cur = _split_word(word, max_width, scale)
                lines.extend(full)
                if not fits(cur):  # not even one character fits: the text stops here
                    push(fit_text(cur, max_width, scale))
                    return lines
            sep = " "
    push(cur)
    return lines


def layout_lines(
    parts: str | Sequence[str], width: int, *, scale: float = HEADER_SCALE, max_lines: int = MAX_HEADER_LINES
) -> list[TextLine]:
    """Lay out a header's ``parts`` on a band ``width`` pixels wide (see the module docstring).

    Returns:
        At least one line (an empty one for no text), at most ``max_lines``; the boxes lie inside
        ``[0, width)`` x ``[0, header_height(len(lines), scale))`` and do not intersect.
    """
    max_width = max(0, width - 2 * PAD_X)
    lines = _wrap([parts] if isinstance(parts, str) else parts, max_width, scale) or [""]
    if len(lines) > max_lines:
        rest = PART_SEP.join(lines[max_lines - 1 :])
        lines = [*lines[: max_lines - 1], fit_text(rest, max_width, scale)]
    ascent, _ = _metrics(scale)
    step = line_height(scale) + LINE_GAP
    out: list[TextLine] = []
    for i, line in enumerate(lines):
        top = PAD_Y + i * step
        x0 = PAD_X - OUTLINE - 1
        box = (x0, top, x0 + text_width(line, scale), top + line_height(scale))
        out.append(TextLine(line, (PAD_X, top + ascent), box))
    return out


def header(parts: str | Sequence[str], width: int) -> np.ndarray:
    """A dark band ``width`` pixels wide holding ``parts`` laid out by :func:`layout_lines`."""
    lines = layout_lines(parts, width)
    out = np.full((header_height(len(lines)), width, 3), BACKGROUND, np.uint8)
    for line in lines:
        text(out, line.text, line.org, HEADER_RGB, HEADER_SCALE)
    return out


def label(
    img: np.ndarray,
    line: str,
    anchor: tuple[int, int, int, int],
    color: tuple[int, int, int],
    taken: list[tuple[int, int, int, int]],
    scale: float = LABEL_SCALE,
) -> tuple[int, int, int, int] | None:
    """Draw ``line`` near the box ``anchor`` (x0, y0, x1, y1) inside ``img``, clear of the boxes in ``taken``.

    The label is cut to the image's width and tried next to the anchor first (above it, then below it, each
    left-aligned then right-aligned with it), then in every band of the image from the top, aligned with the
    anchor or at the left and right edge; the first place that meets no taken box wins, its box is added to
    ``taken`` and returned. A label with no free place (a small image crowded with labels) is left out: None.
    """
    h, w = img.shape[:2]
    line = fit_text(line, w, scale)
    tw, lh = text_width(line, scale), line_height(scale)
    if not line or lh > h:
        return None
    near = [(t, x) for t in (anchor[1] - lh - 1, anchor[3] + 1) for x in (anchor[0], anchor[2] - tw)]
    far = [(t, x) for t in range(0, h - lh + 1, lh) for x in (anchor[0], anchor[2] - tw, 0, w - tw)]
    for t, x in near + far:
        top, left = min(max(t, 0), h - lh), min(max(x, 0), w - tw)
        box = (left, top, left + tw, top + lh)
        if not any(_meets(box, b) for b in taken):
            text(img, line, (left + OUTLINE + 1, top + _metrics(scale)[0]), color, scale)
            taken.append(box)
            return box
    return None


def _meets(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def text(img: np.ndarray, line: str, org: tuple[int, int], color: tuple[int, int, int], scale: float) -> None:
    """Draw ``line`` in ``color`` with a one-pixel black outline (the glyphs shifted in eight directions)."""
    if not line:
        return
    x, y = org
    for dx, dy in _OFFSETS:
        cv2.putText(img, line, (x + dx, y + dy), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, line, org, FONT, scale, color, 1, cv2.LINE_AA)
