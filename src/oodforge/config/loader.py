"""Load, validate and resolve a synthesis config; dump the resolved config deterministically.

Relative paths resolve against the config file's folder. Validation errors become one line
naming the key, what was found and what was expected; unknown keys suggest the closest valid key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from oodforge.config._base import field_loc, validate_strict
from oodforge.config.schema import SynthConfig
from oodforge.errors import ConfigError

__all__ = ["config_from_dict", "dump_resolved", "load_config", "read_yaml", "resolve_config", "resolve_path"]


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the field at ``loc`` (None when it is not a model)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            # a dict[str, Model] or similar container: step into its value type
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
            if not (isinstance(current, type) and issubclass(current, BaseModel)):
                return None
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
        args = getattr(current, "__args__", ())
        if args and get_origin(current) is not dict:
            for a in args:
                if isinstance(a, type) and issubclass(a, BaseModel):
                    current = a
                    break
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _format_error(exc: ValidationError, source: str, root: type[BaseModel] = SynthConfig) -> str:
    errors = exc.errors()
    err = errors[0]
    loc = field_loc(root, tuple(err["loc"]))
    key = ".".join(str(p) for p in loc) or "<root>"
    # a union value fails once per member at the same key: one problem, several expectations
    same = [e for e in errors if field_loc(root, tuple(e["loc"])) == loc]
    others = len(errors) - len(same)
    extra = f" (and {others} more problem(s))" if others else ""
    if err["type"] == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        valid = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        listing = f" Valid keys here: {', '.join(valid)}." if valid else ""
        return f"{source}: unknown key '{key}'{hint}{listing}{extra}"
    if err["type"] == "missing":
        return f"{source}: missing required key '{key}'{extra}"
    found = err.get("input")
    found_txt = f" (found {found!r})" if found is not None and not isinstance(found, dict) else ""
    msgs = list(dict.fromkeys(e["msg"].removeprefix("Value error, ") for e in same))
    msg = " or ".join([msgs[0], *(m.removeprefix("Input should be ") for m in msgs[1:])])
    return f"{source}: invalid value for '{key}'{found_txt}: {msg}{extra}"


def config_from_dict(data: Any, source: str = "<config>") -> SynthConfig:
    """Validate a plain mapping (as parsed from YAML) into a :class:`SynthConfig`.

    Raises:
        ConfigError: one line naming the key, the value found and what was expected.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a YAML mapping at the top level, found {type(data).__name__}")
    try:
        return validate_strict(SynthConfig, data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from None


def resolve_path(value: str, base: Path) -> str:
    """``value`` (``~`` expanded) as an absolute resolved path, a relative one taken against ``base``."""
    p = Path(value).expanduser()
    return str((p if p.is_absolute() else base / p).resolve())


def resolve_config(cfg: SynthConfig, base_dir: Path) -> SynthConfig:
    """Return a copy of ``cfg`` whose paths are absolute, relative ones taken against ``base_dir``."""
    data = cfg.model_dump(mode="python")
    data["dataset"]["output_root"] = resolve_path(data["dataset"]["output_root"], base_dir)
    data["sources"]["cityscapes"]["root"] = resolve_path(data["sources"]["cityscapes"]["root"], base_dir)
    coco = data["sources"]["coco"]
    coco["root"] = resolve_path(coco["root"], base_dir)
    if coco["cache_dir"] is not None:
        coco["cache_dir"] = resolve_path(coco["cache_dir"], base_dir)
    return SynthConfig.model_validate(data)


def read_yaml(path: Path) -> Any:
    """Parse a YAML config file; missing file, unreadable bytes and syntax errors are one-line ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: YAML syntax error{where}: {problem}") from None


def load_config(path: str | Path) -> SynthConfig:
    """Read a YAML config file, validate it and resolve its relative paths against its folder.

    Raises:
        ConfigError: missing file, YAML syntax error, or an invalid key/value.
    """
    path = Path(path)
    cfg = config_from_dict(read_yaml(path), str(path))
    return resolve_config(cfg, path.resolve().parent)


def dump_resolved(cfg: SynthConfig) -> bytes:
    """Deterministic YAML bytes of the resolved config as written to ``OUT/config.yaml``.

    ``dataset.output_root`` is written as ``.`` (the file lives in the output root), so the bytes,
    and the ``config_sha256`` in every manifest record, do not depend on where the output goes.
    """
    data = cfg.model_dump(mode="json")
    data["dataset"]["output_root"] = "."
    text = "# oodforge resolved config: every default filled in. Regenerate with `oodforge synth <this file>`.\n"
    text += yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)
    return text.encode("utf-8")
