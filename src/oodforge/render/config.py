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

ALLO's own pieces are options: ``scene.ephemeris`` (its day table of Moon, Sun and Earth),
``cameras.source: allo`` (its pose tables and per-day noise), ``cameras.source: blend`` (the ``Camera<k>``
objects of ``scene.blend_file``), ``scene.anomalies_dir`` (anomaly models by name) and
``output.layout: allo`` (its folders and file names).
"""

from __future__ import annotations

import difflib
from pathlib import PurePath
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from oodforge.config._base import Strict as _Strict
from oodforge.render.allo_cameras import ALLO_TEST_POSES, ALLO_TRAIN_POSES
from oodforge.render.config_modes import ColourMode, DepthMode, IlluminationMode, ModesConfig, ScaleMode

__all__ = [
    "ANOMALY_DIR_EXTENSIONS",
    "MESH_EXTENSIONS",
    "PRIMITIVES",
    "CamerasConfig",
    "ColourMode",
    "DaysConfig",
    "DepthMode",
    "IlluminationMode",
    "ModesConfig",
    "OutputConfig",
    "PlacementConfig",
    "RenderConfig",
    "RenderSettings",
    "ScaleMode",
    "SceneConfig",
    "anomaly_name",
]

#: Procedural anomaly objects built in Blender (no file needed).
PRIMITIVES: tuple[str, ...] = ("cube", "sphere", "cylinder", "cone", "torus", "plate", "drill")
#: Mesh formats Blender 4.2 imports without add-ons beyond the bundled ones.
MESH_EXTENSIONS: tuple[str, ...] = (".obj", ".ply", ".stl", ".gltf", ".glb")
#: Suffixes tried, in this order, for an anomaly given by name with ``scene.anomalies_dir``.
ANOMALY_DIR_EXTENSIONS: tuple[str, ...] = (".blend", ".obj", ".glb", ".stl", ".ply")
_FILE_EXTENSIONS = (*MESH_EXTENSIONS, ".blend")

Vec3 = tuple[float, float, float]
PositiveFloat = Annotated[float, Field(gt=0.0)]


def anomaly_name(item: str) -> str:
    """The name of an ``anomalies`` entry: a primitive or a bare name as given, a file path's stem.

    Example:
        >>> anomaly_name("cube"), anomaly_name("models/blanket.blend"), anomaly_name("drill")
        ('cube', 'blanket', 'drill')
    """
    return item if item in PRIMITIVES else PurePath(item).stem


class SceneConfig(_Strict):
    """``scene``: a user's ``.blend`` or the built-in procedural moon-and-station scene (``blend_file: null``)."""

    blend_file: str | None = None
    sun_strength: PositiveFloat = 10.0  # used when the illumination mode is off
    ambient: float = Field(default=0.03, ge=0.0)  # world light for shading; the camera still sees black space
    ephemeris: str | None = None  # ALLO's day table (render_data_csv): moon, sun, earth per day; light from the sun
    anomalies_dir: str | None = None  # folder of anomaly models looked up by name (ALLO's anomalies_path)

    @field_validator("blend_file")
    @classmethod
    def _blend(cls, v: str | None) -> str | None:
        if v is not None and PurePath(v).suffix.lower() != ".blend":
            raise ValueError(f"expected a .blend file, got '{v}'")
        return v


class CamerasConfig(_Strict):
    """``cameras``: where the cameras come from and which ones render (``start..end``, inclusive).

    - ``orbit`` (default): ``count`` evenly spaced slots (1-based) on an orbit around ``target``;
    - ``allo``: ALLO's pose tables (:mod:`oodforge.render.allo_cameras`), ``Camera<k>`` = table row ``k``
      (0-based, as ALLO indexes them), 25 mm lens, seeded per-day noise; ``count`` is then only the
      default ``end``;
    - ``blend``: the camera objects ``Camera<k>`` of ``scene.blend_file`` as posed there.
    """

    source: Literal["orbit", "allo", "blend"] = "orbit"
    count: int = Field(default=3, ge=1, le=999)
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)
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
        if self.source == "orbit":
            if lo < 1:
                raise ValueError("cameras start 0: orbit slots are numbered from 1")
            if hi > self.count:
                raise ValueError(f"cameras end {hi} is greater than count {self.count}")
        if self.source == "allo" and hi >= len(ALLO_TRAIN_POSES):
            raise ValueError(
                f"cameras end {hi}: ALLO's training table has poses 0..{len(ALLO_TRAIN_POSES) - 1} (Camera<k> = row k)"
            )
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
    require_visible: bool = True  # redraw until > min_pixel pixels are estimated visible
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
    coverage_mask: bool = False  # also write coverage/: 8-bit share of samples hitting the anomaly (Cryptomatte)


class OutputConfig(_Strict):
    """``output``: ``oodforge`` layout (``<camera>/images|gt_pixel|fb_mask``) or ALLO's (``exp_<n>/Camera<k>/...``).

    With ``allo``, normal frames go to ``exp_<normal_exp>`` and anomalous ones to ``exp_<anomalous_exp>``
    (ALLO renders them in two runs); see :mod:`oodforge.render.allo_layout`.
    """

    layout: Literal["oodforge", "allo"] = "oodforge"
    normal_exp: int = Field(default=1, ge=0)
    anomalous_exp: int = Field(default=2, ge=0)

    @model_validator(mode="after")
    def _distinct(self) -> OutputConfig:
        if self.normal_exp == self.anomalous_exp:
            raise ValueError(f"normal_exp and anomalous_exp are both {self.normal_exp}; expected two experiments")
        return self


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
    output: OutputConfig = OutputConfig()

    @field_validator("anomalies")
    @classmethod
    def _anomalies(cls, v: list[str], info: ValidationInfo) -> list[str]:
        scene = info.data.get("scene")
        by_name = scene is not None and scene.anomalies_dir is not None
        for item in v:
            if item in PRIMITIVES:
                continue
            suffix = PurePath(item).suffix.lower()
            if not suffix:
                if by_name:
                    continue  # a model looked up by name in scene.anomalies_dir
                close = difflib.get_close_matches(item, PRIMITIVES, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ValueError(
                    f"'{item}' is neither a primitive nor a mesh file (a bare name needs scene.anomalies_dir); "
                    f"{hint}primitives: {', '.join(PRIMITIVES)}"
                )
            if suffix not in _FILE_EXTENSIONS:
                raise ValueError(
                    f"'{item}': mesh format '{suffix}' cannot be imported; supported: {', '.join(_FILE_EXTENSIONS)}"
                )
        return v

    @model_validator(mode="after")
    def _sources(self) -> RenderConfig:
        cams = self.cameras
        if cams.source == "blend" and self.scene.blend_file is None:
            raise ValueError("cameras.source: blend takes the Camera<k> objects of scene.blend_file, which is not set")
        if cams.source == "allo" and self.anomalies and cams.last >= len(ALLO_TEST_POSES):
            raise ValueError(
                f"cameras.end {cams.last}: anomalous frames use ALLO's test table, poses "
                f"0..{len(ALLO_TEST_POSES) - 1}; use end <= {len(ALLO_TEST_POSES) - 1} or anomalies: [] "
                "(normal frames only)"
            )
        if self.output.layout == "allo" and self.normal_per_anomalous > 1:
            raise ValueError(
                "output.layout allo names one normal frame per sun strength; use normal_per_anomalous <= 1"
            )
        return self

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
