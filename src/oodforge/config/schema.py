"""Pydantic schema of the synthesis config (SPEC "Config"). One source of defaults.

Every model forbids unknown keys; :mod:`oodforge.config.loader` turns those into one-line
errors that suggest the closest valid key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_CATEGORIES",
    "BlendingConfig",
    "CityscapesSource",
    "CocoFilters",
    "CocoSource",
    "CocoSynthConfig",
    "DatasetConfig",
    "ExportConfig",
    "GeometryConfig",
    "InstancesPerImage",
    "PhotometricConfig",
    "PlacementConfig",
    "SourcesConfig",
    "SplitConfig",
    "SynthConfig",
    "SynthesisConfig",
]

#: The 18 default COCO categories (animals, furniture, appliances, food): SPEC.
DEFAULT_CATEGORIES: tuple[str, ...] = (
    "dog", "cat", "horse", "cow", "sheep", "bear", "zebra", "giraffe", "chair", "couch",
    "bed", "dining table", "microwave", "refrigerator", "toaster", "banana", "apple", "sandwich",
)  # fmt: skip

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


def _ordered_pair(v: tuple[float, float], what: str) -> tuple[float, float]:
    if v[0] > v[1]:
        raise ValueError(f"{what} min {v[0]} is greater than max {v[1]}; expected [min, max] with min <= max")
    return v


class DatasetConfig(_Strict):
    """``dataset``: identity of the generated dataset."""

    name: str = Field(min_length=1)
    seed: int = Field(ge=0, lt=2**63)
    output_root: str


class CityscapesSource(_Strict):
    """``sources.cityscapes``: root holding ``leftImg8bit/``, ``gtFine/`` and optionally ``camera/``."""

    root: str


class CocoSource(_Strict):
    """``sources.coco``: COCO root, image folder and instances JSON (relative to ``root``)."""

    root: str
    images: str = "train2017"
    annotations: str = "annotations/instances_train2017.json"
    cache_dir: str | None = None  # None: $OODFORGE_CACHE_DIR or ~/.cache/oodforge


class SourcesConfig(_Strict):
    """``sources``."""

    cityscapes: CityscapesSource
    coco: CocoSource


class SplitConfig(_Strict):
    """One output split made from one Cityscapes source split."""

    source: str = Field(min_length=1)
    part: tuple[Ratio, Ratio] = (0.0, 1.0)
    clean_ratio: Probability
    synth_ratio: Probability

    @field_validator("part")
    @classmethod
    def _part(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _ordered_pair(v, "part")

    @model_validator(mode="after")
    def _ratios(self) -> SplitConfig:
        if abs(self.clean_ratio + self.synth_ratio - 1.0) > 1e-6:
            raise ValueError(
                f"clean_ratio {self.clean_ratio} + synth_ratio {self.synth_ratio} = "
                f"{self.clean_ratio + self.synth_ratio:g}; expected them to sum to 1"
            )
        return self


class InstancesPerImage(_Strict):
    """``synthesis.instances_per_image``: uniform integer count in [min, max]."""

    min: int = Field(default=1, ge=0)
    max: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _order(self) -> InstancesPerImage:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}; expected min <= max")
        return self


class CocoFilters(_Strict):
    """``synthesis.coco.filters``: which COCO annotations enter the instance pool."""

    exclude_crowd: bool = True
    exclude_truncated: bool = True
    min_area_px: float = Field(default=1000, ge=0)
    area_ratio: tuple[Ratio, Ratio] = (0.002, 0.20)
    aspect_ratio: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (0.3, 3.0)
    min_solidity: Ratio = 0.2

    @field_validator("area_ratio", "aspect_ratio")
    @classmethod
    def _pairs(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _ordered_pair(v, "range")


class CocoSynthConfig(_Strict):
    """``synthesis.coco``: category allow-list, filters, and how instances are drawn."""

    allowed_categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES), min_length=1)
    filters: CocoFilters = CocoFilters()
    #: ``category``: a category uniformly, then an instance of it (counters COCO's animal bias);
    #: ``instance``: every pool instance equally likely.
    sampling: Literal["category", "instance"] = "category"


class PlacementConfig(_Strict):
    """``synthesis.placement``: where an object may go, judged on its covered pixels."""

    target_labels: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {"road": 0.7, "sidewalk": 0.3}, min_length=1
    )
    min_target_coverage: Ratio = 0.8
    forbidden_overlap_labels: list[str] = Field(
        default_factory=lambda: ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]
    )
    reject_border: bool = True
    allow_anomaly_overlap: bool = False

    @field_validator("target_labels")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if sum(v.values()) <= 0:
            raise ValueError("target label weights sum to 0; expected a positive sum")
        return v


class GeometryConfig(_Strict):
    """``synthesis.geometry``: size from the row of the object's bottom, then clamps."""

    scale_mode: Literal["perspective", "metric", "fixed"] = "perspective"
    scale_range: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (0.35, 1.25)
    fixed_scale: float = Field(default=1.0, gt=0)
    final_area_ratio: tuple[Ratio, Ratio] = (0.001, 0.05)
    hflip_p: Probability = 0.5
    #: metric mode: relative jitter of the category's real height, uniform in [1 - j, 1 + j].
    height_jitter: Annotated[float, Field(ge=0, lt=1)] = 0.15
    #: metric mode: camera height (m) when ``camera/*.json`` is absent.
    default_camera_height_m: float = Field(default=1.22, gt=0)
    #: metric mode: real object heights (m) overriding the built-in per-category table.
    category_heights_m: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)

    @field_validator("scale_range", "final_area_ratio")
    @classmethod
    def _pairs(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _ordered_pair(v, "range")


class PhotometricConfig(_Strict):
    """``synthesis.blending.photometric``: match object colour statistics to the surrounding ring."""

    space: Literal["lab", "rgb", "none"] = "lab"
    match_mean: bool = True
    match_std: bool = False
    #: 1 = full match, 0 = no change; intermediate values move part of the way.
    strength: Ratio = 1.0
    ring_px: int = Field(default=12, ge=1)
    eps: float = Field(default=1e-6, gt=0)


class BlendingConfig(_Strict):
    """``synthesis.blending``."""

    feather_px: int = Field(default=4, ge=0, le=64)
    photometric: PhotometricConfig = PhotometricConfig()


class SynthesisConfig(_Strict):
    """``synthesis``."""

    p_has_anomaly: Probability = 1.0
    instances_per_image: InstancesPerImage = InstancesPerImage()
    max_instance_attempts: int = Field(default=30, ge=1)
    max_location_attempts: int = Field(default=50, ge=1)
    coco: CocoSynthConfig = CocoSynthConfig()
    placement: PlacementConfig = PlacementConfig()
    geometry: GeometryConfig = GeometryConfig()
    blending: BlendingConfig = BlendingConfig()


class ExportConfig(_Strict):
    """``export``: file formats."""

    image_format: Literal["png", "jpg"] = "png"
    instance_format: Literal["idmap", "npy"] = "idmap"
    png_compression: int = Field(default=1, ge=0, le=9)
    jpeg_quality: int = Field(default=95, ge=50, le=100)


def _default_splits() -> dict[str, SplitConfig]:
    return {
        "train": SplitConfig(source="train", part=(0.0, 1.0), clean_ratio=0.5, synth_ratio=0.5),
        "val": SplitConfig(source="val", part=(0.0, 0.5), clean_ratio=1.0, synth_ratio=0.0),
        "test": SplitConfig(source="val", part=(0.5, 1.0), clean_ratio=0.0, synth_ratio=1.0),
    }


class SynthConfig(_Strict):
    """The whole ``oodforge synth`` config. ``schema_version`` is bumped on incompatible changes."""

    schema_version: Literal[1] = 1
    dataset: DatasetConfig
    sources: SourcesConfig
    splits: dict[str, SplitConfig] = Field(default_factory=_default_splits, min_length=1)
    synthesis: SynthesisConfig = SynthesisConfig()
    export: ExportConfig = ExportConfig()

    @field_validator("splits")
    @classmethod
    def _split_names(cls, v: dict[str, SplitConfig]) -> dict[str, SplitConfig]:
        for name in v:
            if not name or "/" in name or name.startswith(".") or name != name.strip():
                raise ValueError(f"split name {name!r} is not a plain folder name")
        return v
