"""The suite of ``oodforge benchmark``: which benchmarks, scores, temperatures, mIoU split and outputs (YAML).

```yaml
name: my_suite
skip_missing: false                # true: benchmarks whose root does not exist are skipped with a note
benchmarks:                        # run in this order; `name` is the display name and the --root key
  - {name: ra21, benchmark: road_anomaly_21, root: data/smiyc, split: validation}
  - {name: synth, benchmark: synth, root: out/cs_coco, split: test, protocol: fishyscapes, components: true}
scores: [msp, maxlogit, entropy, energy, sml, rba]   # sml needs sml_stats; rba needs mask-classification outputs
sml_stats: stats/sml.npz
temperatures:
  values: [1.0, 2.0]               # fixed temperatures T > 0
  fit: {root: data/cityscapes, split: val, limit: 50}   # or null: NLL fit on Cityscapes train ids
  target: logits                   # logits (dense) | class (class-query logits) | pixel (per-pixel class scores)
miou: {root: data/cityscapes, split: val, limit: null} # or null
outputs: {score_maps: false, logits: false, smiyc_submission: false}
```

Relative paths resolve against the suite file's folder (the packaged default suite: against the current
folder). ``--root NAME=PATH`` replaces the root of benchmark ``NAME`` (``cityscapes`` = the roots of ``fit`` and
``miou``); a root named that way must exist, whatever ``skip_missing`` says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from oodforge.config._base import Strict, validate_strict
from oodforge.config.loader import _format_error, read_yaml
from oodforge.errors import ConfigError, UsageError

__all__ = [
    "CITYSCAPES_KEY",
    "DEFAULT_SUITE",
    "BenchmarkEntry",
    "CityscapesSplit",
    "LoadedSuite",
    "Outputs",
    "SuiteConfig",
    "Temperatures",
    "load_suite",
    "parse_roots",
]

#: File name of the packaged default suite (``oodforge/configs``).
DEFAULT_SUITE = "benchmark_suite.yaml"
#: ``--root`` key of the Cityscapes roots (``temperatures.fit.root`` and ``miou.root``).
CITYSCAPES_KEY = "cityscapes"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class BenchmarkEntry(Strict):
    """One benchmark of the suite: display ``name``, registry ``benchmark``, ``root``, ``split``, options."""

    name: Annotated[str, Field(pattern=_NAME, max_length=64)]
    benchmark: str
    root: str
    split: str | None = None
    protocol: Literal["fishyscapes", "smiyc", "smiyc2021"] | None = None
    components: bool | None = None

    @model_validator(mode="after")
    def _known(self) -> BenchmarkEntry:
        from oodforge.benchmarks import list_benchmarks

        if self.benchmark not in list_benchmarks():
            raise ValueError(f"unknown benchmark '{self.benchmark}'; expected one of {', '.join(list_benchmarks())}")
        return self


class CityscapesSplit(Strict):
    """A Cityscapes split with labels (``gtFine``): the temperature fit or the mIoU."""

    root: str
    split: str = "val"
    limit: int | None = Field(default=None, ge=1)
    max_pixels: int = Field(default=2_000_000, ge=1)  # fit only: a uniform subsample beyond this many pixels


class Temperatures(Strict):
    """``temperatures``: fixed values, an optional NLL fit, and what T divides."""

    values: tuple[float, ...] = (1.0,)
    fit: CityscapesSplit | None = None
    target: Literal["logits", "class", "pixel"] = "logits"

    @model_validator(mode="after")
    def _check(self) -> Temperatures:
        bad = [v for v in self.values if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"temperature {bad[0]!r}; expected finite numbers > 0")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"repeated temperature in {list(self.values)}; expected distinct values")
        if not self.values and self.fit is None:
            raise ValueError("no temperature: give values (e.g. [1.0]) or a fit split")
        if self.fit is not None and self.target == "class":
            raise ValueError(
                "an NLL fit needs per-pixel logits; target 'class' (class-query logits) takes fixed values only: "
                "use target 'pixel' to fit"
            )
        return self


class Outputs(Strict):
    """``outputs``: what is written besides the leaderboard and the report (all float16)."""

    score_maps: bool = False
    logits: bool = False
    smiyc_submission: bool = False


class SuiteConfig(Strict):
    """The whole suite (module docstring)."""

    name: Annotated[str, Field(pattern=_NAME, max_length=64)] = "suite"
    skip_missing: bool = False
    benchmarks: Annotated[tuple[BenchmarkEntry, ...], Field(min_length=1)]
    scores: Annotated[tuple[str, ...], Field(min_length=1)] = ("msp", "maxlogit", "entropy", "energy")
    sml_stats: str | None = None
    temperatures: Temperatures = Temperatures()
    miou: CityscapesSplit | None = None
    outputs: Outputs = Outputs()

    @model_validator(mode="after")
    def _check(self) -> SuiteConfig:
        from oodforge.scores import list_scores

        names = [b.name for b in self.benchmarks]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise ValueError(f"benchmark name '{dup}' is used twice; expected distinct names")
        if CITYSCAPES_KEY in names:
            raise ValueError(f"benchmark name '{CITYSCAPES_KEY}' is reserved (the --root key of fit and miou)")
        unknown = [s for s in self.scores if s not in list_scores()]
        if unknown:
            raise ValueError(f"unknown score '{unknown[0]}'; expected some of {', '.join(list_scores())}")
        if len(set(self.scores)) != len(self.scores):
            raise ValueError(f"repeated score in {list(self.scores)}; expected distinct names")
        if "sml" in self.scores and self.sml_stats is None:
            raise ValueError("score 'sml' needs sml_stats: an .npz written by SMLStats.save")
        return self


@dataclass
class LoadedSuite:
    """A validated suite with resolved paths.

    Attributes:
        config: the suite, every path absolute, ``--root`` overrides applied.
        source: the suite file, or None for the packaged default.
        explicit: names whose root the user gave with ``--root`` (their roots must exist).
        notes: remarks (skipped benchmarks).
    """

    config: SuiteConfig
    source: Path | None
    explicit: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The resolved suite as YAML."""
        return yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False, default_flow_style=None, width=110)


def parse_roots(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["ra21=/data/x", ...]`` → ``{"ra21": "/data/x"}``.

    Raises:
        UsageError: an item without ``=``, an empty name or path, or a name given twice.
    """
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise UsageError(f"--root {item!r}; expected NAME=PATH, e.g. --root ra21=/data/Validation_Dataset")
        if name.strip() in out:
            raise UsageError(f"--root {name.strip()} is given twice; expected one path per name")
        out[name.strip()] = path.strip()
    return out


def _abs(value: str, base: Path) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).absolute())


def _apply_roots(data: dict[str, Any], roots: dict[str, str], base: Path) -> None:
    """Resolve the suite's paths against ``base`` and apply the ``--root`` overrides (CWD-relative)."""
    entries = {b["name"]: b for b in data["benchmarks"]}
    unknown = sorted(set(roots) - set(entries) - {CITYSCAPES_KEY})
    if unknown:
        raise UsageError(
            f"--root {unknown[0]}=...: no benchmark of that name in the suite; expected one of "
            f"{', '.join([*entries, CITYSCAPES_KEY])}"
        )
    cwd = Path.cwd()
    for name, entry in entries.items():
        entry["root"] = _abs(roots[name], cwd) if name in roots else _abs(entry["root"], base)
    for key in ("miou", "fit"):
        node = data["miou"] if key == "miou" else data["temperatures"]["fit"]
        if node is not None:
            node["root"] = _abs(roots[CITYSCAPES_KEY], cwd) if CITYSCAPES_KEY in roots else _abs(node["root"], base)
    if data["sml_stats"] is not None:
        data["sml_stats"] = _abs(data["sml_stats"], base)


def _check_roots(cfg: SuiteConfig, explicit: frozenset[str], notes: list[str]) -> SuiteConfig:
    """Drop missing roots the user did not name (``skip_missing``), else refuse them."""
    kept = []
    for entry in cfg.benchmarks:
        if Path(entry.root).is_dir():
            kept.append(entry)
        elif cfg.skip_missing and entry.name not in explicit:
            notes.append(f"skipped benchmark '{entry.name}': no folder {entry.root} (give --root {entry.name}=PATH)")
        else:
            raise UsageError(
                f"benchmark '{entry.name}': root {entry.root} is not a folder; expected the {entry.benchmark} "
                f"dataset root (--root {entry.name}=PATH)"
            )
    if not kept:
        raise UsageError(
            "no benchmark to run: no root of the suite exists; give them with --root NAME=PATH "
            f"(names: {', '.join(b.name for b in cfg.benchmarks)})"
        )
    updates: dict[str, Any] = {"benchmarks": tuple(kept)}
    for key in ("miou", "fit"):
        node = cfg.miou if key == "miou" else cfg.temperatures.fit
        if node is None or Path(node.root).is_dir():
            continue
        if not cfg.skip_missing or CITYSCAPES_KEY in explicit:
            raise UsageError(
                f"{'miou' if key == 'miou' else 'temperatures.fit'}: Cityscapes root {node.root} is not a folder "
                f"(--root {CITYSCAPES_KEY}=PATH)"
            )
        notes.append(f"skipped {'mIoU' if key == 'miou' else 'the temperature fit'}: no folder {node.root}")
        if key == "miou":
            updates["miou"] = None
        else:
            temps = cfg.temperatures
            updates["temperatures"] = temps.model_copy(update={"fit": None, "values": temps.values or (1.0,)})
    return cfg.model_copy(update=updates)


def load_suite(path: str | Path | None = None, roots: dict[str, str] | None = None) -> LoadedSuite:
    """Read, validate and resolve a suite file (None: the packaged default suite).

    Args:
        path: the suite YAML, or None for ``oodforge/configs/benchmark_suite.yaml``.
        roots: ``--root`` overrides, name → path (relative paths against the current folder).

    Raises:
        ConfigError: missing file, YAML syntax error, invalid key or value (one line naming the key).
        UsageError: a ``--root`` name not in the suite; a root that must exist and does not; no root at all.
    """
    roots = dict(roots or {})
    if path is None:
        source: Path | None = None
        where = f"<default suite {DEFAULT_SUITE}>"
        data = yaml.safe_load(resources.files("oodforge").joinpath("configs", DEFAULT_SUITE).read_text("utf-8"))
        base = Path.cwd()
    else:
        source = Path(path)
        where = str(source)
        data = read_yaml(source)
        base = source.absolute().parent
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a YAML mapping at the top level, found {type(data).__name__}")
    try:
        cfg = validate_strict(SuiteConfig, data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, where, SuiteConfig)) from None
    resolved = cfg.model_dump(mode="python")
    _apply_roots(resolved, roots, base)
    cfg = SuiteConfig.model_validate(resolved)
    notes: list[str] = []
    explicit = frozenset(roots)
    return LoadedSuite(_check_roots(cfg, explicit, notes), source, explicit, notes)
