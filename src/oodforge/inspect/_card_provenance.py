"""One gallery entry of a dataset card: pictures (click for full size) and the record's provenance.

The provenance is the manifest record as written: split, image_id, city, source_split, seed, status, planned
and placed instances, target labels, coco_ann_ids, placement note and camera; one row per placed instance
(category, COCO ids, target label, bbox, scale, flip, area, coverage, visible fraction, real height and the
applied realism parameters: photometric, texture, shadow); the outputs with their sha256.

Full size without script: each thumbnail links to ``#full-<k>``, an overlay that CSS shows while it is the
URL's target (``:target``); clicking it (a link back to the entry) closes it.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from oodforge.export.manifest import InstanceRecord, ManifestRecord
from oodforge.inspect._card_gallery import Pictures

__all__ = ["data_uri", "entry_html"]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def data_uri(data: bytes) -> str:
    """A ``data:`` URI of JPEG or PNG bytes."""
    mime = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _compact(value: Any) -> str:
    """A short text of a realism parameter dict (floats to 4 significant digits); "-" for None."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_compact(v)}" for k, v in value.items())
    return str(value)


def _fields(rec: ManifestRecord) -> list[tuple[str, str]]:
    kind = "synthetic" if rec.is_synth else "clean"
    rows = [
        ("split", rec.split),
        ("image_id", rec.image_id),
        ("city", rec.city),
        ("source_split", rec.source_split),
        ("kind", f"{kind}, has_anomaly: {str(rec.has_anomaly).lower()}, status: {rec.status}"),
        ("seed", str(rec.seed)),
        ("planned / placed", f"{rec.planned_instances} / {rec.placed_instances}"),
        ("target_labels", ", ".join(rec.target_labels) or "-"),
        ("coco_ann_ids", ", ".join(map(str, rec.coco_ann_ids)) or "-"),
    ]
    if rec.placement_note:
        rows.append(("placement_note", rec.placement_note))
    if rec.camera:
        rows.append(("camera", _compact(rec.camera)))
    return rows


_INSTANCE_COLS = (
    "id",
    "category",
    "coco_ann_id",
    "coco_image_id",
    "target",
    "bbox [x, y, w, h]",
    "scale",
    "flip",
    "area_px",
    "coverage",
    "visible",
    "real height (m)",
)
_REALISM_COLS = ("id", "photometric", "texture", "shadow")


def _instance_row(k: int, inst: InstanceRecord) -> list[str]:
    return [
        str(k),
        f"{inst.category} ({inst.category_id})",
        str(inst.coco_ann_id),
        str(inst.coco_image_id),
        inst.target_label,
        "[" + ", ".join(map(str, inst.bbox)) + "]",
        f"{inst.scale:.3f}",
        "yes" if inst.flip else "no",
        f"{inst.area_px:,}",
        f"{inst.coverage:.3f}",
        f"{inst.visible_fraction:.3f}",
        _compact(inst.real_height_m),
    ]


def _table(cls: str, head: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    out = [f'<div class="scroll"><table class="{cls}"><thead><tr>', *(f"<th>{_e(c)}</th>" for c in head)]
    out.append("</tr></thead><tbody>")
    out += ["<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows]
    return [*out, "</tbody></table></div>"]


def _outputs(rec: ManifestRecord) -> list[str]:
    out = ['<table class="sha"><tbody>']
    for key, rel in rec.outputs.items():
        rels = [rel] if isinstance(rel, str) else list(rel)
        shas = rec.sha256.get(key)
        hashes = [shas] if isinstance(shas, str) else list(shas or [])
        for i, path in enumerate(rels):
            sha = hashes[i] if i < len(hashes) else "-"
            out.append(f"<tr><th>{_e(key)}</th><td>{_e(path)}</td><td><code>{_e(sha)}</code></td></tr>")
    return [*out, "</tbody></table>"]


def _thumb(uri: str, k: int, alt: str, caption: str) -> str:
    return (
        f'<figure><a href="#full-{k}" title="click for full size"><img src="{uri}" alt="{_e(alt)}"></a>'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def entry_html(k: int, rec: ManifestRecord, pictures: Pictures | None, problem: str | None = None) -> list[str]:
    """The HTML of gallery entry ``k`` (``id="img-<k>"``): pictures, lightbox, provenance.

    Args:
        k: the entry's number (1-based), used in the element ids.
        rec: its manifest record.
        pictures: its pictures, or None when they could not be drawn (``problem`` says why).
        problem: the reason shown instead of the pictures.
    """
    name = f"{rec.split}/{rec.image_id}"
    kind = f"synthetic, {rec.placed_instances}/{rec.planned_instances} placed" if rec.is_synth else "clean"
    out = [f'<article class="entry" id="img-{k}">', f"<h3>{k}. {_e(name)} <small>{_e(kind)}</small></h3>"]
    if pictures is None:
        out.append(f'<p class="note">pictures unavailable: {_e(problem or "unknown reason")}</p>')
    else:
        full = data_uri(pictures.full)
        out += [
            '<div class="trip">',
            _thumb(data_uri(pictures.image), k, f"{name}: image", "image"),
            _thumb(data_uri(pictures.overlay), k, f"{name}: GT overlay", "GT: anomaly orange, ignore hatched"),
            _thumb(data_uri(pictures.outlines), k, f"{name}: instance outlines", "instances: id:category"),
            "</div>",
            f'<a class="lightbox" id="full-{k}" href="#img-{k}" title="click to close">'
            f'<img src="{full}" alt="{_e(name)}: full size GT overlay and instance outlines"></a>',
        ]
    out += ['<div class="prov"><dl class="kv">']
    out += [f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>" for key, value in _fields(rec)]
    out.append("</dl>")
    insts = list(enumerate(rec.instances, 1))
    if insts:
        out += _table("inst", _INSTANCE_COLS, [_instance_row(i, inst) for i, inst in insts])
    applied = [(i, x) for i, x in insts if x.photometric is not None or x.texture is not None or x.shadow is not None]
    if applied:
        rows = [[str(i), _compact(x.photometric), _compact(x.texture), _compact(x.shadow)] for i, x in applied]
        out += ["<h4>applied realism parameters</h4>", *_table("realism-params", _REALISM_COLS, rows)]
    out += ["<details><summary>outputs and sha256</summary>", *_outputs(rec), "</details>", "</div></article>"]
    return out
