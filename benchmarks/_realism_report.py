"""The variants, goals and report text of the realism bench (``realism_bench.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._io import read_image_rgb, read_label_png
from oodforge.inspect.plausibility import real_texture_ratios

OLD_FILTERS = {"truncation_margin_px": 1, "max_occluded_outline": 1.0, "min_main_component": 0.0}
LAB = {"space": "lab", "strength": 1.0}
OLD_FORBIDDEN = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]


@dataclass(frozen=True)
class Variant:
    """One column of the comparison: config overrides (dotted keys) and what the changed step does."""

    name: str
    overrides: dict[str, Any]
    what: str

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "_").replace("-", "_")


VARIANTS = (
    Variant("default", {}, "Every step on: the plausible look `oodforge synth` makes without overrides."),
    Variant(
        "old look",
        {
            "synthesis.geometry.scale_mode": "perspective",
            "synthesis.blending.photometric": LAB,
            "synthesis.blending.shadow.enabled": False,
            "synthesis.placement.occlusion": False,
            "synthesis.blending.sharpness.enabled": False,
            "synthesis.blending.noise.enabled": False,
            "synthesis.placement.coverage_on": "object",
            "synthesis.placement.forbidden_overlap_labels": OLD_FORBIDDEN,
            "export.soft_edge": "normal",
            "synthesis.coco.filters": OLD_FILTERS,
        },
        "Every new step off at once (the look before the plausibility work): perspective scale, Lab mean "
        "transfer at full strength, no sharpness or noise matching, no shadow, no occlusion, coverage on the "
        "whole object with people and vehicles forbidden, soft edges counted as normal, the old pool filters.",
    ),
    Variant(
        "perspective sizing",
        {"synthesis.geometry.scale_mode": "perspective"},
        "Metric sizing gives an object the pixel height of its category's real height (jittered by 15 %) "
        "standing on the road at its base row, seen by the standard Cityscapes camera; perspective sizing "
        "instead scales the COCO crop by a factor growing linearly with the base row (0.35 at the top, 1.25 "
        "at the bottom), whatever the object and however large it was photographed.",
    ),
    Variant(
        "no whole-object filters",
        {"synthesis.coco.filters": OLD_FILTERS},
        "The whole-object pool filters reject COCO objects cut by the photo's border (4 px margin), "
        "objects whose outline runs along another instance for more than 10 % (occluded) and masks in pieces "
        "(largest component under 95 %); this variant uses the old, lax values.",
    ),
    Variant(
        "lab transfer",
        {"synthesis.blending.photometric": LAB},
        "Luminance-gain photometry scales the object's linear luminance toward the scene ring around it (half "
        "way, gain at most 2x) and keeps its own colours; Lab transfer at full strength moves the object's "
        "mean L, a and b onto the ring's, which repaints it in the colour of the road.",
    ),
    Variant(
        "no sharpness",
        {"synthesis.blending.sharpness.enabled": False},
        "Sharpness matching blurs the object (Gaussian, sigma up to 1.5 px) until its mean gradient is at most "
        "1.8x the ring's; off, downscaled COCO crops stay crisper than the soft Cityscapes frame.",
    ),
    Variant(
        "no noise",
        {"synthesis.blending.noise.enabled": False},
        "Noise matching adds Gaussian noise so the object's noise level equals the ring's; off, the object "
        "is cleaner than the sensor noise around it.",
    ),
    Variant(
        "no shadow",
        {"synthesis.blending.shadow.enabled": False},
        "The contact shadow darkens the ground under the object's base by 30-50 % (soft ellipse); off, the "
        "object floats. None of the figures measures it: look at the grid.",
    ),
    Variant(
        "no occlusion",
        {"synthesis.placement.occlusion": False},
        "With occlusion, people, vehicles, poles and signs standing nearer (their ground contact below the "
        "object's) are drawn over the object; off, the object is pasted over them.",
    ),
    Variant(
        "coverage on object",
        {"synthesis.placement.coverage_on": "object"},
        "The footprint rule asks that the object's bottom 10 % of rows lie at least 80 % on the drawn target "
        "label (it may rise in front of anything farther away); on object, 80 % of all its pixels must lie "
        "there, which keeps tall objects off narrow sidewalks.",
    ),
)

#: figure -> (low, high) inclusive; sidewalk_share is the share of objects placed on sidewalk
GOALS: dict[str, tuple[float, float]] = {
    "size_in_range": (0.8, 1.0),
    "whole": (0.9, 1.0),
    "chroma_shift_median": (0.0, 8.0),
    "chroma_shift_p90": (0.0, 20.0),
    "texture_ratio_median": (0.0, 2.5),
    "forbidden_objects": (0.0, 0.0),
    "sidewalk_share": (0.15, 0.45),
}


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def real_objects(cs_root: Path) -> dict[str, Any]:
    """Texture ratios of the real objects of the train frames (the reference for pasted objects)."""
    ratios: list[float] = []
    frames = []
    for img in sorted((cs_root / "leftImg8bit" / "train").rglob("*_leftImg8bit.png")):
        stem = img.name.removesuffix("_leftImg8bit.png")
        ids = cs_root / "gtFine" / "train" / img.parent.name / f"{stem}_gtFine_instanceIds.png"
        if ids.is_file():
            frames.append(stem)
            ratios.extend(real_texture_ratios(read_image_rgb(img), read_label_png(ids, np.uint16)))
    return {
        "frames": frames,
        "n_objects": len(ratios),
        "texture_ratio_median": float(np.percentile(ratios, 50)) if ratios else None,
        "texture_ratio_p90": float(np.percentile(ratios, 90)) if ratios else None,
    }


#: table columns: (header, figure key or special, kind, goal text)
_COLUMNS = (
    ("placed / planned", "placed", "placed", "-"),
    ("size in 0.5-2x", "size_in_range", "share", ">= 80 %"),
    ("whole", "whole", "share", ">= 90 %"),
    ("chroma median", "chroma_shift_median", "float", "<= 8"),
    ("chroma p90", "chroma_shift_p90", "float", "<= 20"),
    ("texture median", "texture_ratio_median", "float", "<= 2.5"),
    ("forbidden", "forbidden_objects", "count", "0"),
    ("sidewalk", "sidewalk_share", "share", "15-45 % (weight 0.3)"),
    ("visible median", "visible_fraction_median", "float", "-"),
)
#: figure -> (name in the text, kind, change below which it is noise)
_DELTAS = {
    "placement_rate": ("placed / planned", "share", 0.02),
    "size_in_range": ("size in range", "share", 0.02),
    "size_ratio_median": ("size ratio median", "float", 0.05),
    "whole": ("whole", "share", 0.02),
    "chroma_shift_median": ("chroma median", "float", 0.5),
    "chroma_shift_p90": ("chroma p90", "float", 1.0),
    "texture_ratio_median": ("texture median", "float", 0.1),
    "forbidden_objects": ("forbidden", "int", 0.5),
    "sidewalk_share": ("sidewalk share", "share", 0.03),
    "visible_fraction_median": ("visible median", "float", 0.02),
}


def figure(run: dict[str, Any], key: str) -> Any:
    """One figure of a variant's run (plausibility figures, plus ``sidewalk_share`` and ``placement_rate``)."""
    fig = run["figures"] or {}
    if key == "placement_rate":
        return run["placed"] / run["planned"] if run["planned"] else None
    if key == "sidewalk_share":
        return fig["target_label_shares"].get("sidewalk", 0.0) if fig.get("n_objects") else None
    return fig.get(key)


def goals(run: dict[str, Any]) -> dict[str, bool | None]:
    """Which goals a variant's run meets (None: the figure was not measured)."""
    out: dict[str, bool | None] = {}
    for key, (low, high) in GOALS.items():
        value = figure(run, key)
        out[key] = None if value is None else bool(low <= value <= high)
    return out


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "share":
        return f"{value:.1%}"
    return f"{value:.2f}" if kind == "float" else str(value)


def _row(name: str, run: dict[str, Any]) -> str:
    cells = [name]
    for _, key, kind, _goal in _COLUMNS:
        if kind == "placed":
            cells.append(f"{run['placed']} / {run['planned']}")
            continue
        value = figure(run, key)
        text = _fmt(value, kind)
        if kind == "count" and value is not None:
            text = f"{value} of {run['figures']['forbidden_checked']}"
        cells.append(f"**{text}**" if run["goals"].get(key) is False else text)
    met = [ok for ok in run["goals"].values() if ok is not None]
    cells.append(f"{sum(met)} / {len(met)}")
    return "| " + " | ".join(cells) + " |"


def _changes(run: dict[str, Any], default: dict[str, Any]) -> str:
    out = []
    for key, (label, kind, tol) in _DELTAS.items():
        a, b = figure(default, key), figure(run, key)
        if a is not None and b is not None and abs(b - a) >= tol:
            out.append(f"{label} {_fmt(a, kind)} -> {_fmt(b, kind)}")
    return "; ".join(out) if out else "no figure moves beyond noise"


def _applied(a: dict[str, Any]) -> str:
    """One sentence on what the steps did to the objects (from the manifest)."""
    if not a["objects"]:
        return "No object placed."
    blur = f", median sigma {a['blur_sigma_median']:.2f} px" if a["blurred"] else ""
    noise = f" (at most {a['noise_sigma_max']:.2f} grey levels)" if a["noised"] else ""
    return (
        f"Applied to its {a['objects']} objects: blurred {a['blurred']}{blur}; noise added to {a['noised']}{noise}; "
        f"partly hidden by nearer scene objects {a['partly_hidden']}; contact shadow {a['shadowed']}."
    )


def markdown(result: dict[str, Any]) -> str:
    """The results page: setup, the table, the real-object and goal rows, one paragraph per variant."""
    runs, real, m = result["variants"], result["real_objects"], result["machine"]
    default = runs["default"]
    lines = [
        "# Realism benchmark\n",
        f"`oodforge synth` on {len(result['frames'])} real Cityscapes train frames ({', '.join(result['frames'])}) "
        f"with the COCO images of `{Path(result['data_dir']).name}`: {result['draws']} independent draws per "
        f"variant (splits r00..r{result['draws'] - 1:02d}, dataset seed {result['dataset_seed']}), the figures of "
        "`oodforge stats` pooled over every placed object. Default: "
        f"{result['default_ms_per_image']:.0f} ms per image (steady state after the first image, one worker, "
        f"{result['workers']} variants at a time on {m['cpu_count']} cores; informational). Whole bench "
        f"{result['total_s']:.0f} s. Python {m['python']}, numpy {m['numpy']}, OpenCV {m.get('opencv', '-')}.\n",
        "Figures: share of objects whose height is 0.5-2x the height their category has at their base row "
        "(standard camera), share in one piece, CIELab (a, b) shift from the COCO source (median, p90), "
        "mean gradient inside over the ring around (median), objects on ego vehicle / border / out of roi, "
        "share of objects on sidewalk, visible fraction after occlusion. **Bold**: misses the goal.\n",
        "| variant | " + " | ".join(c[0] for c in _COLUMNS) + " | goals met |",
        "|---" * (len(_COLUMNS) + 2) + "|",
    ]
    lines += [_row(name, run) for name, run in runs.items()]
    texture = _fmt(real["texture_ratio_median"], "float")
    dash = ["-"] * len(_COLUMNS)
    dash[5] = f"{texture} (p90 {_fmt(real['texture_ratio_p90'], 'float')})"
    lines.append(f"| real Cityscapes objects (n={real['n_objects']}) | " + " | ".join(dash) + " | |")
    lines.append("| goal | " + " | ".join(c[3] for c in _COLUMNS) + " | |")
    lines.append(
        f"\n![before (old look) and after (default)]({Path(result['grid']['path']).name})\n\n"
        f"Grid: the frames of draw r00, old look left and default right, anomaly outlines (GT == 1) in orange; "
        "below each frame, zoomed crops of its objects (no outline).\n\n## Variants\n"
    )
    for name, run in runs.items():
        from_default = "" if name == "default" else f" Against the default: {_changes(run, default)}."
        notes = run["figures"]["notes"] if run["figures"] else []
        extra = f" Not measured: {'; '.join(notes)}." if notes else ""
        failed = f" {run['n_failed']} image(s) failed." if run["n_failed"] else ""
        lines.append(f"**{name}**: {run['what']}{from_default} {_applied(run['applied'])}{extra}{failed}\n")
    return "\n".join(lines)
