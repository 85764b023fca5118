"""Pydantic schema of the rendering modes (``modes:`` of the rendering config); see :mod:`oodforge.render.config`."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from oodforge.config._base import Strict as _Strict
from oodforge.render.palette import NAMED_COLOURS

__all__ = ["ColourMode", "DepthMode", "IlluminationMode", "ModesConfig", "ScaleMode"]

PositiveFloat = Annotated[float, Field(gt=0.0)]
_DEFAULT_PALETTE: list[str | tuple[float, float, float]] = ["red", "blue", "yellow"]


def _unique(values: list[float], what: str) -> list[float]:
    if not values:
        raise ValueError(f"expected at least one {what}")
    if len(set(values)) != len(values):
        raise ValueError(f"{what}s must be unique, got {values}")
    return values


class IlluminationMode(_Strict):
    """``modes.illumination``: sun strengths (W/m²-like Blender sun units), one frame each."""

    sun_strengths: list[PositiveFloat] = Field(default_factory=lambda: [1.0, 5.0, 10.0])

    @field_validator("sun_strengths")
    @classmethod
    def _check(cls, v: list[float]) -> list[float]:
        return _unique(v, "sun strength")


class DepthMode(_Strict):
    """``modes.depth``: offsets (scene units) added to the anomaly's distance along the view ray."""

    offsets: list[float] = Field(default_factory=lambda: [0.0, -1.0, 1.0])

    @field_validator("offsets")
    @classmethod
    def _check(cls, v: list[float]) -> list[float]:
        tags = [f"{x:+.1f}" for x in _unique(v, "depth offset")]
        if len(set(tags)) != len(tags):
            raise ValueError(f"depth offsets {v} give the same frame name ({tags}); use offsets 0.1 apart")
        return v


class ScaleMode(_Strict):
    """``modes.scale``: ``[min, max]`` of the uniform scale factor drawn per (camera, day)."""

    range: tuple[PositiveFloat, PositiveFloat] = (0.3, 0.7)

    @field_validator("range")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] > v[1]:
            raise ValueError(f"scale range min {v[0]} is greater than max {v[1]}; expected [min, max] with min <= max")
        return v


class ColourMode(_Strict):
    """``modes.colour``: palette of colour names or RGB triples in [0, 1]."""

    palette: list[str | tuple[float, float, float]] = Field(default_factory=lambda: _DEFAULT_PALETTE.copy())
    include_default: bool = True

    @field_validator("palette")
    @classmethod
    def _check(cls, v: list[str | tuple[float, float, float]]) -> list[str | tuple[float, float, float]]:
        if not v:
            raise ValueError("expected at least one colour")
        for c in v:
            if isinstance(c, str):
                if c not in NAMED_COLOURS:
                    close = difflib.get_close_matches(c, list(NAMED_COLOURS), n=1)
                    hint = f"did you mean '{close[0]}'? " if close else ""
                    raise ValueError(f"unknown colour '{c}'; {hint}known: {', '.join(NAMED_COLOURS)} or [r, g, b]")
            elif not all(0.0 <= x <= 1.0 for x in c):
                raise ValueError(f"RGB colour {list(c)} must have components in [0, 1]")
        return v


class ModesConfig(_Strict):
    """``modes``: a list of mode names (default ranges) or a mapping name → settings; ``color`` = ``colour``."""

    illumination: IlluminationMode | None = None
    depth: DepthMode | None = None
    scale: ScaleMode | None = None
    colour: ColourMode | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, list):
            if not all(isinstance(n, str) for n in data):
                raise ValueError(f"expected a list of mode names or a mapping, got {data!r}")
            data = {n: {} for n in data}
        if isinstance(data, dict):
            data = dict(data)
            if "color" in data:
                if "colour" in data:
                    raise ValueError("give either 'colour' or its alias 'color', not both")
                data["colour"] = data.pop("color")
            data = {k: ({} if v is None else v) for k, v in data.items()}
        return data

    def active(self) -> list[str]:
        """Names of the active modes in canonical order."""
        return [n for n in ("illumination", "depth", "scale", "colour") if getattr(self, n) is not None]
