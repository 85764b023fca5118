"""``oodforge report``: a dataset card, one self-contained HTML page about a synthesized dataset.

The page opens from the file system in any browser: no server, no network, no script, no external CSS or
font (inline CSS, system fonts, charts as inline SVG, every picture a base64 ``data:`` URI). Content:

- **Config**: key settings (seed, sources, splits, synthesis), which realism steps were on, whether
  ``config.yaml`` matches the manifest's ``config_sha256``, and the resolved ``config.yaml`` (collapsed);
- **Counts** per split and in total, **placed objects** (category histogram, log-binned histograms of the
  visible area and bbox sides, percentiles) and **plausibility**: all from
  :func:`oodforge.inspect.stats.dataset_stats`, formatted as ``oodforge stats`` prints them;
- **Gallery** of ``n`` images (:func:`oodforge.inspect._card_gallery.choose_records`: seeded, synthetic images
  with anomalies first, round robin over the splits): image, GT overlay and instance outlines as thumbnails,
  a click shows them full size; under each, the record's provenance (:mod:`oodforge.inspect._card_provenance`).
  The outline thumbnails of the first :data:`STRIP_SIZE` also form a strip under the title, linking to their entries.

The bytes are a function of the dataset, ``n``, ``split``, ``seed`` and the oodforge version (no date). The
page carries :data:`GENERATOR_META`; :func:`write_card` replaces an existing file only with ``overwrite`` and
only when it carries that marker (a file oodforge wrote), never a user's file.
"""

from __future__ import annotations

import html
from pathlib import Path

from oodforge import __version__
from oodforge._io import atomic_write_text
from oodforge._paths import check_output_file
from oodforge.errors import DataLayoutError, SampleError, UsageError
from oodforge.inspect._card_config import read_config
from oodforge.inspect._card_gallery import Pictures, choose_records, render_pictures
from oodforge.inspect._card_provenance import data_uri, entry_html
from oodforge.inspect._card_sections import charts_section, config_section, counts_section, plausibility_section
from oodforge.inspect._card_style import CSS
from oodforge.inspect._dataset import load_any
from oodforge.inspect.stats import dataset_stats

__all__ = ["DEFAULT_CARD_NAME", "GENERATOR_META", "check_card_target", "render_card", "write_card"]

#: file name of the card inside the dataset root (``oodforge report DIR`` without ``--out``)
DEFAULT_CARD_NAME = "report.html"
#: the marker that says a file is a card oodforge wrote (the only kind ``--overwrite`` replaces)
GENERATOR_META = '<meta name="generator" content="oodforge report">'
_MARKER_WINDOW = 4096
#: gallery images repeated (instance outline thumbnails) in a strip under the title
STRIP_SIZE = 4
_NAV = (
    '<nav><a href="#config">Config</a><a href="#counts">Counts</a><a href="#objects">Placed objects</a>'
    '<a href="#plausibility">Plausibility</a><a href="#gallery">Gallery</a></nav></header>'
)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def check_card_target(out: Path, *, overwrite: bool) -> None:
    """Raise unless ``out`` may be written: new, or (with ``overwrite``) a card oodforge wrote.

    Raises:
        UsageError: ``out`` is a folder or cannot become a file, exists without ``overwrite``, or exists
            and is not an oodforge card (no :data:`GENERATOR_META` in its first 4 kB).
    """
    check_output_file(out, "--out")
    if not out.exists():
        return
    if not overwrite:
        raise UsageError(
            f"--out {out}: exists; use --overwrite to replace a card oodforge wrote, or choose another --out"
        )
    try:
        with out.open("rb") as fh:
            head = fh.read(_MARKER_WINDOW)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot read it to check who wrote it ({exc.strerror})") from None
    if GENERATOR_META.encode() not in head:
        raise UsageError(
            f"--out {out}: exists and was not written by `oodforge report` (no generator marker); "
            "oodforge never replaces other files: choose another --out"
        )


def render_card(root: Path, *, n: int = 12, split: str | None = None, seed: int = 0) -> str:
    """The text of the card of the synthesized dataset at ``root`` (see the module docstring).

    Args:
        root: the output root of ``oodforge synth``.
        n: gallery size; fewer when the dataset (or split) has fewer ``ok`` images.
        split: gallery from this split only (the statistics always cover the whole dataset).
        seed: seed of the gallery choice.

    Raises:
        InputFileError: ``root`` is missing or its manifest has a malformed line.
        DataLayoutError: ``root`` is not a dataset, is a rendered dataset, has no records, ``split`` is unknown
            or has no ``ok`` record.
        UsageError: ``n`` < 1.
    """
    data = load_any(root)
    if data.kind == "render":
        raise DataLayoutError(
            f"{root}: a rendered dataset (`oodforge render`); `oodforge report` needs `oodforge synth` output"
        )
    if not data.synth:
        raise DataLayoutError(f"{data.layout.manifest_path}: holds no records; expected a synthesized dataset")
    chosen = choose_records(data.synth, n=n, split=split, seed=seed)
    stats = dataset_stats(root, plausibility=True)
    config = read_config(data.layout)
    name = config.data.get("dataset", {}).get("name") if isinstance(config.data.get("dataset"), dict) else None
    title = f"oodforge dataset card: {name or root.name}"
    manifest_sha = sorted({rec.config_sha256 for rec in data.synth})
    body = [
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="note">{_e(root)} · {len(data.synth):,} images in {len(stats["splits"])} split(s) · '
        f"oodforge {_e(__version__)} · gallery: {len(chosen)} image(s), seed {seed}"
        f"{_e(f', split {split}') if split else ''}</p>",
        _NAV,
        *config_section(config, manifest_sha),
        *counts_section(stats),
        *charts_section(stats, data.synth),
        *plausibility_section(stats),
        '<h2 id="gallery">Gallery</h2>',
        '<p class="note">Chosen with a seeded shuffle: synthetic images with anomalies first, then synthetic '
        "images without, then clean ones, taking the splits in turn. Click a picture for full size.</p>",
    ]
    strip: list[str] = []
    for k, rec in enumerate(chosen, 1):
        pictures: Pictures | None = None
        problem = None
        try:
            pictures = render_pictures(data.layout, rec)
        except SampleError as exc:
            problem = str(exc)
        body += entry_html(k, rec, pictures, problem)
        if pictures is not None and len(strip) < STRIP_SIZE:
            alt = f"{rec.split}/{rec.image_id}: instance outlines"
            strip.append(f'<a href="#img-{k}"><img src="{data_uri(pictures.outlines)}" alt="{_e(alt)}"></a>')
    if strip:
        at = body.index(_NAV) + 1
        body[at:at] = ['<div class="strip">', *strip, "</div>"]
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        GENERATOR_META,
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style></head><body>",
    ]
    return "\n".join([*head, *body, "</body></html>", ""])


def write_card(
    root: Path,
    out: Path | None = None,
    *,
    n: int = 12,
    split: str | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Check ``out`` (default ``root/report.html``), render the card and write it atomically; return its path.

    Raises:
        UsageError: as :func:`check_card_target` and :func:`render_card`.
    """
    target = out if out is not None else root / DEFAULT_CARD_NAME
    check_card_target(target, overwrite=overwrite)
    text = render_card(root, n=n, split=split, seed=seed)
    check_card_target(target, overwrite=overwrite)  # again: a user's file may have appeared meanwhile
    atomic_write_text(target, text)
    return target
