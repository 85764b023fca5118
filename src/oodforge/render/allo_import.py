"""``oodforge import-allo``: an oodforge render config from ALLO's ``render_config.yaml``.

One table (:data:`ALLO_KEYS`) says where each ALLO key goes; a target that this oodforge's
:class:`~oodforge.render.config.RenderConfig` does not have is left out of the written config (and said so),
and the result is validated against the real schema before it is written. Values ALLO fixes in its code
rather than its config (1920×1080, 256 samples, the default sun strength 10, ``--seed``, ``--mode``) are
filled in too and listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from oodforge._io import atomic_write_text
from oodforge.config.loader import read_yaml
from oodforge.errors import ConfigError, UsageError
from oodforge.render.config import RenderConfig
from oodforge.render.config_io import render_config_from_dict
from oodforge.render.palette import NAMED_COLOURS

__all__ = ["ALLO_KEYS", "ALLO_MODES", "AlloImport", "KeyRow", "allo_to_oodforge", "import_allo_config"]

#: ALLO key -> (oodforge key or None, note); the one table of the mapping
ALLO_KEYS: dict[str, tuple[str | None, str]] = {
    "start_day": ("days.start", "ephemeris row index (0-based; row 0 is garbage in ALLO's table)"),
    "end_day": ("days.end", "inclusive, as ALLO's range(start, end + 1)"),
    "day_interval": ("days.interval", ""),
    "sun_strength": ("modes.illumination.sun_strengths", "used with --mode illumination, as in ALLO"),
    "depths": ("modes.depth.offsets", "scene units along the camera's view ray, as ALLO; ALLO wants 0 first"),
    "scales": ("modes.scale.range", "ALLO picks one of the listed values; oodforge draws in [min, max]"),
    "colours": ("modes.colour.palette", "same names; ALLO's are pure RGB (red = 1,0,0), oodforge's softer"),
    "cams": ("cameras", "source: allo (ALLO's pose tables, Camera<k> = row k), start, end"),
    "anomalies": ("anomalies", "names of models in scene.anomalies_dir"),
    "min_pixel": ("min_pixel", "preprocess skips anomalous frames with <= min_pixel pixels (ALLO's rule)"),
    "ephemeris_path": ("scene.ephemeris", "ALLO's day table (render_data_csv)"),
    "anomalies_path": ("scene.anomalies_dir", "folder of <name>.blend (also .obj, .glb, .stl, .ply)"),
    "output_dir": ("output_root", "with output.layout: allo, exp_<n>/Camera<k>/... as ALLO writes"),
    "cad_models_path": (
        None,
        "no equivalent: ALLO appends ISS, moon, earth, sun from <path><name>.blend into an emptied scene; "
        "oodforge moves objects so named in scene.blend_file (--blend-file)",
    ),
}
#: ALLO's ``--mode`` names (``render_binary.py`` tests ``"colour"``; its README writes ``color``)
ALLO_MODES = ("illumination", "depth", "scale", "colour")
_MODE_KEY = {"illumination": "sun_strength", "depth": "depths", "scale": "scales", "colour": "colours"}
#: what ALLO fixes in code: ``utils/setup.py`` (resolution), ``render_binary.py`` (samples, sun strength)
_FIXED: list[tuple[str, Any, str]] = [
    ("render.resolution", [1920, 1080], "fixed in ALLO's utils/setup.py"),
    ("render.samples", 256, "fixed in ALLO's render_binary.py (20 for its pixel check)"),
    ("scene.sun_strength", 10.0, "ALLO's default_sun_strength, used when the illumination mode is off"),
    ("output.layout", "allo", "ALLO's folders and file names (its only layout)"),
]
#: key order of the written config
_ORDER = ("output_root", "seed", "scene", "cameras", "days", "anomalies", "modes", "min_pixel", "render", "output")


@dataclass(frozen=True)
class KeyRow:
    """One line of the report: an ALLO key (or ``(code)`` / ``--flag``), where it went, why."""

    allo: str
    oodforge: str | None
    note: str


@dataclass
class AlloImport:
    """The written config (as a mapping) and the report."""

    config: dict[str, Any]
    rows: list[KeyRow] = field(default_factory=list)


def _schema_has(dotted: str, model: type[BaseModel] = RenderConfig) -> bool:
    """True when ``dotted`` names a field of the render schema (nested models followed)."""
    head, _, rest = dotted.partition(".")
    info = model.model_fields.get(head)
    if info is None:
        return False
    if not rest:
        return True
    ann = info.annotation
    candidates = [ann, *getattr(ann, "__args__", ())]
    return any(isinstance(c, type) and issubclass(c, BaseModel) and _schema_has(rest, c) for c in candidates)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


def _numbers(src: str, key: str, value: Any) -> list[float]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int | float) for v in value):
        raise ConfigError(f"{src}: {key}: expected a list of numbers, got {value!r}")
    return [float(v) for v in value]


def _path(src: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{src}: {key}: expected a path, got {value!r}")
    p = Path(value)
    return str(p if p.is_absolute() else (src.resolve().parent / p))  # ALLO runs next to its config


def _convert(src: Path, key: str, value: Any, modes: set[str], notes: list[str]) -> dict[str, Any]:
    """The oodforge keys (dotted) and values for one ALLO key."""
    name = str(src)
    if key in ("start_day", "end_day", "day_interval", "min_pixel"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{name}: {key}: expected an integer, got {value!r}")
        return {str(ALLO_KEYS[key][0]): value}
    if key == "sun_strength":
        return {"modes.illumination.sun_strengths": _numbers(name, key, value)} if "illumination" in modes else {}
    if key == "depths":
        return {"modes.depth.offsets": _numbers(name, key, value)} if "depth" in modes else {}
    if key == "scales":
        v = _numbers(name, key, value)
        return {"modes.scale.range": [min(v), max(v)]} if "scale" in modes else {}
    if key == "colours":
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise ConfigError(f"{name}: colours: expected a list of colour names, got {value!r}")
        known = [c for c in value if c in NAMED_COLOURS]
        notes += [f"colour {c!r} unknown to oodforge: left out (ALLO skips unknown colours too)"
                  for c in value if c not in NAMED_COLOURS]  # fmt: skip
        return {"modes.colour.palette": known, "modes.colour.include_default": True} if "colour" in modes else {}
    if key == "cams":
        if not isinstance(value, dict) or not all(isinstance(value.get(k), int) for k in ("start", "end")):
            raise ConfigError(f"{name}: cams: expected {{start: <int>, end: <int>}}, got {value!r}")
        return {"cameras.source": "allo", "cameras.start": value["start"], "cameras.end": value["end"]}
    if key == "anomalies":
        if not isinstance(value, list) or not all(isinstance(a, str) and a for a in value):
            raise ConfigError(f"{name}: anomalies: expected a list of model names, got {value!r}")
        return {"anomalies": list(value)}
    if key in ("ephemeris_path", "anomalies_path", "output_dir"):
        return {str(ALLO_KEYS[key][0]): _path(src, key, value)}
    return {}


def allo_to_oodforge(
    data: dict[str, Any], src: Path, *, modes: list[str] | None = None, blend_file: str | None = None, seed: int = 0
) -> AlloImport:
    """Map a parsed ``render_config.yaml`` to an oodforge render config; validate it against the schema.

    Args:
        data: ALLO's config as parsed.
        src: its path (relative paths in it are taken from its folder, where ALLO runs).
        modes: ALLO's ``--mode`` values to turn on; default: every mode whose list the config gives.
        blend_file: ALLO's scene ``.blend`` (``scene.blend_file``).
        seed: ALLO's ``--seed``.

    Raises:
        ConfigError: a key of the wrong type, an unknown mode, or a result the schema refuses (one line).
    """
    wanted = [("colour" if m == "color" else m) for m in (modes or [])]
    bad = sorted(set(wanted) - set(ALLO_MODES))
    if bad:
        raise ConfigError(f"--mode {bad[0]!r}: unknown; ALLO's modes are {', '.join(ALLO_MODES)} (color = colour)")
    on = set(wanted) if modes else {m for m in ALLO_MODES if data.get(_MODE_KEY[m])}
    out: dict[str, Any] = {"seed": seed}
    rows: list[KeyRow] = []
    for key, value in data.items():
        if key not in ALLO_KEYS:
            rows.append(KeyRow(key, None, "not an ALLO key: left out"))
            continue
        target, note = ALLO_KEYS[key]
        notes: list[str] = []
        mapped = _convert(src, key, value, on, notes)
        dropped = [k for k in mapped if not _schema_has(k)]
        for k in dropped:
            notes.append(f"{k} not in this oodforge's schema: left out")
        for k, v in mapped.items():
            if k not in dropped:
                _set(out, k, v)
        if target is not None and not mapped and not dropped:
            mode = next(m for m, k in _MODE_KEY.items() if k == key)
            notes.append(f"mode {mode} off (pass --mode {mode})")
        rows.append(KeyRow(key, target if mapped and not dropped else None, "; ".join([note, *notes]).strip("; ")))
    for dotted, value, where in _FIXED:
        if _schema_has(dotted):
            _set(out, dotted, value)
            rows.append(KeyRow("(code)", f"{dotted}: {value}", where))
    rows.append(KeyRow("--seed", f"seed: {seed}", "render_binary.py --seed (default 0)"))
    rows.append(KeyRow("--mode", "modes", ", ".join(m for m in ALLO_MODES if m in on) or "none"))
    if blend_file is not None:
        _set(out, "scene.blend_file", blend_file)
        rows.append(KeyRow("(blender argument)", "scene.blend_file", "ALLO's ephemeris_model.blend"))
    out.setdefault("output_root", "allo_render")
    if not out.get("anomalies"):
        out["anomalies"] = []
    out = {k: out[k] for k in sorted(out, key=lambda k: _ORDER.index(k) if k in _ORDER else len(_ORDER))}
    render_config_from_dict(out, f"{src} (imported)")
    return AlloImport(out, rows)


def import_allo_config(
    src: str | Path, out: str | Path, *, modes: list[str] | None = None, blend_file: str | Path | None = None,
    seed: int = 0, overwrite: bool = False,
) -> AlloImport:  # fmt: skip
    """Read ALLO's ``render_config.yaml`` at ``src`` and write the oodforge render config to ``out``.

    Raises:
        ConfigError: unreadable YAML, a key of the wrong type, or a result the schema refuses.
        UsageError: ``out`` exists (without ``overwrite``) or is the input.
    """
    src, out = Path(src), Path(out)
    data = read_yaml(src)
    if not isinstance(data, dict):
        raise ConfigError(f"{src}: expected ALLO's render_config.yaml (a mapping), found {type(data).__name__}")
    if out.exists() and (not overwrite or out.resolve() == src.resolve()):
        raise UsageError(f"{out}: exists; pass --overwrite to replace it (never the ALLO config itself)")
    blend = None if blend_file is None else str(Path(blend_file).resolve())  # the config resolves from its folder
    res = allo_to_oodforge(data, src, modes=modes, blend_file=blend, seed=seed)
    header = f"# oodforge render config imported from ALLO's {src.name} (oodforge import-allo)\n"
    body = yaml.safe_dump(res.config, sort_keys=False, default_flow_style=None, width=100)
    atomic_write_text(out, header + body)
    return res
