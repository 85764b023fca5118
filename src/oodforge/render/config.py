"""Pydantic schema of the rendering config (``oodforge render``): one source of defaults.

Every model forbids unknown keys; :mod:`oodforge.render.config_io` turns validation errors into one
line naming the key, the value found and what was expected (closest valid key suggested).

Modes follow ALLO (seed-synthgen §17), combinable; a mode left out uses its neutral value
(``scene.sun_strength``, depth offset 0, scale 1, the object's own colour):

- ``illumination``: one frame per sun strength in ``sun_strengths``;
- ``depth``: one anomalous frame per offset in ``offsets`` (the anomaly moved along the camera's view
  direction, positive = farther);
- ``scale``: one scale drawn uniformly in ``range`` per (camera, day), rounded to 2 decimals;
- ``colour`` (``color`` accepted): the object's own colour (``include_default``) plus one colour drawn
  from ``palette`` (names or RGB triples in [0, 1]) per (camera, day).
"""

from __future__ import annotations

import difflib
from pathlib import PurePath
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from oodforge.config._base import Strict as _Strict
from oodforge.render.palette import NAMED_COLOURS

__all__ = [
    "MESH_EXTENSIONS",
    "PRIMITIVES",
    "CamerasConfig",
    "ColourMode",
    "DaysConfig",
    "DepthMode",
    "IlluminationMode",
    "ModesConfig",
    "PlacementConfig",
    "RenderConfig",
    "RenderSettings",
    "ScaleMode",
    "SceneConfig",
]

#: Procedural anomaly objects built in Blender (no file needed).
PRIMITIVES: tuple[str, ...] = ("cube", "sphere", "cylinder", "cone", "torus", "plate", "drill")
#: Mesh formats Blender 4.2 imports without add-ons beyond the bundled ones.
MESH_EXTENSIONS: tuple[str, ...] = (".obj", ".ply", ".stl", ".gltf", ".glb")

Vec3 = tuple[float, float, float]
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


class SceneConfig(_Strict):
    """``scene``: a user's ``.blend`` or the built-in procedural moon-and-station scene (``blend_file: null``)."""

    blend_file: str | None = None
    sun_strength: PositiveFloat = 10.0  # used when the illumination mode is off
    ambient: float = Field(default=0.03, ge=0.0)  # world light for shading; the camera still sees black space

    @field_validator("blend_file")
    @classmethod
    def _blend(cls, v: str | None) -> str | None:
        if v is not None and PurePath(v).suffix.lower() != ".blend":
            raise ValueError(f"expected a .blend file, got '{v}'")
        return v


class CamerasConfig(_Strict):
    """``cameras``: ``count`` evenly spaced slots on an orbit around ``target``; render slots ``start..end``."""

    count: int = Field(default=3, ge=1, le=999)
    start: int | None = Field(default=None, ge=1)
    end: int | None = Field(default=None, ge=1)
    radius: PositiveFloat = 8.0
    height: float = 2.0
    target: Vec3 = (0.0, 0.0, 0.0)
    lens_mm: PositiveFloat = 35.0
    jitter: float = Field(default=0.3, ge=0.0)  # camera position noise of normal variants v1, v2, ...

    @model_validator(mode="after")
    def _range(self) -> CamerasConfig:
        lo, hi = self.first, self.last
        if lo > hi:
            raise ValueError(f"cameras start {lo} is greater than end {hi}; expected start <= end")
        if hi > self.count:
            raise ValueError(f"cameras end {hi} is greater than count {self.count}")
        return self

    @property
    def first(self) -> int:
        """First rendered slot (1-based)."""
        return self.start if self.start is not None else 1

    @property
    def last(self) -> int:
        """Last rendered slot (1-based, inclusive)."""
        return self.end if self.end is not None else self.count


class DaysConfig(_Strict):
    """``days``: the day sweep ``start..end`` every ``interval`` days; the sun turns ``azimuth_per_day_deg`` a day."""

    start: int = Field(default=1, ge=0)
    end: int = Field(default=1, ge=0)
    interval: int = Field(default=1, ge=1)
    azimuth_start_deg: float = 30.0
    azimuth_per_day_deg: float = 40.0
    elevation_deg: float = Field(default=25.0, ge=-90.0, le=90.0)

    @model_validator(mode="after")
    def _range(self) -> DaysConfig:
        if self.start > self.end:
            raise ValueError(f"days start {self.start} is greater than end {self.end}; expected start <= end")
        return self


class PlacementConfig(_Strict):
    """``placement``: ALLO-like; ``distance`` ahead of the camera plus a cube offset of half-side ``jitter``·d."""

    distance: PositiveFloat = 4.0
    jitter: float = Field(default=0.3, ge=0.0)
    max_tries: int = Field(default=100, ge=1)
    require_visible: bool = True  # redraw until ≥ max(1, min_pixel) pixels are estimated visible
    margin: float = Field(default=0.05, ge=0.0, lt=0.5)  # frustum margin (fraction of the image) for the object centre
    object_size: PositiveFloat | None = 1.0  # largest extent before scale; null keeps mesh units


class RenderSettings(_Strict):
    """``render``: Cycles settings."""

    engine: Literal["CYCLES"] = "CYCLES"
    device: Literal["auto", "CPU", "GPU"] = "auto"
    samples: int = Field(default=64, ge=1, le=65536)
    resolution: tuple[Annotated[int, Field(ge=8, le=16384)], Annotated[int, Field(ge=8, le=16384)]] = (512, 512)
    max_bounces: int = Field(default=4, ge=0, le=64)
    png_compression: int = Field(default=15, ge=0, le=100)


class RenderConfig(_Strict):
    """The whole rendering config (validated once; unknown keys rejected)."""

    seed: int = Field(default=0, ge=0, lt=2**63)
    output_root: str
    scene: SceneConfig = SceneConfig()
    anomalies: list[str] = Field(default_factory=lambda: ["drill"])
    modes: ModesConfig = ModesConfig()
    cameras: CamerasConfig = CamerasConfig()
    days: DaysConfig = DaysConfig()
    placement: PlacementConfig = PlacementConfig()
    render: RenderSettings = RenderSettings()
    min_pixel: int = Field(default=0, ge=0)
    normal_per_anomalous: int = Field(default=1, ge=0, le=100)

    @field_validator("anomalies")
    @classmethod
    def _anomalies(cls, v: list[str]) -> list[str]:
        for item in v:
            if item in PRIMITIVES:
                continue
            suffix = PurePath(item).suffix.lower()
            if not suffix:
                close = difflib.get_close_matches(item, PRIMITIVES, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ValueError(
                    f"'{item}' is neither a primitive nor a mesh file; {hint}primitives: {', '.join(PRIMITIVES)}"
                )
            if suffix not in MESH_EXTENSIONS:
                raise ValueError(
                    f"'{item}': mesh format '{suffix}' cannot be imported; supported: {', '.join(MESH_EXTENSIONS)}"
                )
        return v

    @model_validator(mode="after")
    def _depth_in_front(self) -> RenderConfig:
        if self.modes.depth is not None:
            nearest = self.placement.distance + min(self.modes.depth.offsets)
            if nearest <= 0.0:
                raise ValueError(
                    f"modes.depth.offsets: offset {min(self.modes.depth.offsets)} puts the anomaly at distance "
                    f"{nearest:g} from the camera (placement.distance {self.placement.distance:g}); expected > 0"
                )
        if not self.anomalies and self.normal_per_anomalous == 0:
            raise ValueError("nothing to render: anomalies is empty and normal_per_anomalous is 0")
        if self.cameras.jitter == 0.0 and self.normal_per_anomalous > 1:
            raise ValueError("normal_per_anomalous > 1 needs cameras.jitter > 0 (else the extra normal frames repeat)")
        return self
