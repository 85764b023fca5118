"""Pydantic schema of the synthesis config (SPEC "Config"). One source of defaults.

Every model forbids unknown keys; :mod:`oodforge.config.loader` turns those into one-line
errors that suggest the closest valid key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from oodforge.config._base import Probability, Ratio, Strict, ordered_pair
from oodforge.config.blending import (
    BlendingConfig,
    MotionBlurConfig,
    NoiseConfig,
    PhotometricConfig,
    ShadowConfig,
    SharpnessConfig,
)

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
    "MotionBlurConfig",
    "NoiseConfig",
    "PhotometricConfig",
    "PlacementConfig",
    "ShadowConfig",
    "SharpnessConfig",
    "SourcesConfig",
    "SplitConfig",
    "StandardCamera",
    "SynthConfig",
    "SynthesisConfig",
]

#: The 18 default COCO categories (animals, furniture, appliances, food): SPEC.
DEFAULT_CATEGORIES: tuple[str, ...] = (
    "dog", "cat", "horse", "cow", "sheep", "bear", "zebra", "giraffe", "chair", "couch",
    "bed", "dining table", "microwave", "refrigerator", "toaster", "banana", "apple", "sandwich",
)  # fmt: skip


class DatasetConfig(Strict):
    """``dataset``: identity of the generated dataset."""

    name: str = Field(min_length=1)
    seed: int = Field(ge=0, lt=2**63)
    output_root: str


class CityscapesSource(Strict):
    """``sources.cityscapes``: root holding ``leftImg8bit/``, ``gtFine/`` and optionally ``camera/``."""

    root: str


class CocoSource(Strict):
    """``sources.coco``: COCO root, image folder and instances JSON (relative to ``root``)."""

    root: str
    images: str = "train2017"
    annotations: str = "annotations/instances_train2017.json"
    cache_dir: str | None = None  # None: $OODFORGE_CACHE_DIR or ~/.cache/oodforge


class SourcesConfig(Strict):
    """``sources``."""

    cityscapes: CityscapesSource
    coco: CocoSource


class SplitConfig(Strict):
    """One output split made from one Cityscapes source split."""

    source: str = Field(min_length=1)
    part: tuple[Ratio, Ratio] = (0.0, 1.0)
    clean_ratio: Probability
    synth_ratio: Probability

    @field_validator("part")
    @classmethod
    def _part(cls, v: tuple[float, float]) -> tuple[float, float]:
        return ordered_pair(v, "part")

    @model_validator(mode="after")
    def _ratios(self) -> SplitConfig:
        if abs(self.clean_ratio + self.synth_ratio - 1.0) > 1e-6:
            raise ValueError(
                f"clean_ratio {self.clean_ratio} + synth_ratio {self.synth_ratio} = "
                f"{self.clean_ratio + self.synth_ratio:g}; expected them to sum to 1"
            )
        return self


class InstancesPerImage(Strict):
    """``synthesis.instances_per_image``: uniform integer count in [min, max]."""

    min: int = Field(default=1, ge=0)
    max: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _order(self) -> InstancesPerImage:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}; expected min <= max")
        return self


class CocoFilters(Strict):
    """``synthesis.coco.filters``: which COCO annotations enter the instance pool (order: ``sources._coco_filters``)."""

    exclude_crowd: bool = True
    exclude_truncated: bool = True
    #: with ``exclude_truncated``: reject a bbox within this many pixels of its image border (COCO
    #: polygons of cut objects stop short of the edge: a real bed cut by the border has x = 1.68)
    truncation_margin_px: float = Field(default=4, ge=0)
    #: 1000 (checked on real train2017 instances): the smallest paste is 0.001 of a 2048 x 1024 frame,
    #: 2097 px, and crops are upscaled at most 1.5x (2.25x in area), so a source under ~930 px can never be
    #: placed; the few whole objects of 1000-2000 px (a toaster, a bag of apples) paste fine at far range.
    min_area_px: float = Field(default=1000, ge=0)
    area_ratio: tuple[Ratio, Ratio] = (0.002, 0.20)
    aspect_ratio: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (0.3, 3.0)
    #: reject when the largest 8-connected component holds less than this fraction of the mask pixels
    min_main_component: Ratio = 0.95
    #: 0.2 (checked on real instances): whole chairs with thin legs score ~0.36 and must pass; the
    #: fragmented masks a higher floor would catch (0.32-0.43) fail ``min_main_component`` first.
    min_solidity: Ratio = 0.2
    #: reject when more than this fraction of the outline lies within 2 px of another instance of the image
    max_occluded_outline: Ratio = 0.10

    @field_validator("area_ratio", "aspect_ratio")
    @classmethod
    def _pairs(cls, v: tuple[float, float]) -> tuple[float, float]:
        return ordered_pair(v, "range")


class CocoSynthConfig(Strict):
    """``synthesis.coco``: category allow-list, filters, and how instances are drawn."""

    allowed_categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES), min_length=1)
    filters: CocoFilters = CocoFilters()
    #: ``category``: a category uniformly, then an instance of it (counters COCO's animal bias);
    #: ``instance``: every pool instance equally likely.
    sampling: Literal["category", "instance"] = "category"


class PlacementConfig(Strict):
    """``synthesis.placement``: where an object may stand, judged on its footprint and visible pixels."""

    #: Cityscapes label -> weight; one label is drawn per planned object and all its locations lie on it.
    target_labels: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {"road": 0.7, "sidewalk": 0.3}, min_length=1
    )
    min_target_coverage: Ratio = 0.8
    #: ``footprint``: the coverage rule applies to the object's bottom rows (it stands there and may rise in
    #: front of anything farther away); ``object``: to every covered pixel (the pre-occlusion rule).
    coverage_on: Literal["footprint", "object"] = "footprint"
    #: the footprint: the lowest ``footprint_ratio`` of the object's covered rows (at least 2 rows).
    footprint_ratio: Annotated[float, Field(gt=0, le=1)] = 0.1
    #: labels no VISIBLE object pixel may lie on.
    forbidden_overlap_labels: list[str] = Field(
        default_factory=lambda: ["ego vehicle", "rectification border", "out of roi"]
    )
    #: scene objects of these labels whose ground contact row is below the object's are drawn over it.
    occlusion: bool = True
    occluder_labels: list[str] = Field(
        default_factory=lambda: [
            "person",
            "rider",
            "car",
            "truck",
            "bus",
            "caravan",
            "trailer",
            "train",
            "motorcycle",
            "bicycle",
            "pole",
            "polegroup",
            "traffic light",
            "traffic sign",
        ]
    )
    #: reject an object of which less than this fraction of its covered pixels stays visible.
    min_visible: Ratio = 0.5
    reject_border: bool = True
    allow_anomaly_overlap: bool = False

    @field_validator("target_labels")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if sum(v.values()) <= 0:
            raise ValueError("target label weights sum to 0; expected a positive sum")
        return v


class StandardCamera(Strict):
    """``synthesis.geometry.standard_camera``: used where ``camera/*.json`` is missing.

    Defaults are the typical Cityscapes calibration (camera 1.22 m above the road, pitched down
    0.038 rad, fy 2265 px and v0 513 px at 1024 rows); fy and v0 scale with the frame height.
    """

    height_m: float = Field(default=1.22, gt=0)
    pitch_rad: float = Field(default=0.038, ge=-0.5, le=0.5)
    fy_px: float = Field(default=2265.0, gt=0)
    v0_px: float = Field(default=513.0)
    #: frame height (rows) at which ``fy_px`` and ``v0_px`` hold.
    rows: int = Field(default=1024, gt=0)


class GeometryConfig(Strict):
    """``synthesis.geometry``: size from the row of the object's bottom (physical by default)."""

    scale_mode: Literal["metric", "perspective", "fixed"] = "metric"
    scale_range: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (0.35, 1.25)
    fixed_scale: float = Field(default=1.0, gt=0)
    #: pasted object area / scene area; an object outside it is rejected (never resized away from its size).
    final_area_ratio: tuple[Ratio, Ratio] = (0.001, 0.05)
    #: reject a placement that would enlarge the COCO crop by more than this (upscaled crops look soft).
    max_upscale: float = Field(default=1.5, gt=0)
    hflip_p: Probability = 0.5
    #: metric mode: relative jitter of the category's real height, uniform in [1 - j, 1 + j].
    height_jitter: Annotated[float, Field(ge=0, lt=1)] = 0.15
    #: metric mode: the camera assumed when ``camera/*.json`` is absent.
    standard_camera: StandardCamera = StandardCamera()
    #: metric mode: real object heights (m) overriding the built-in per-category table.
    category_heights_m: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)

    @field_validator("scale_range", "final_area_ratio")
    @classmethod
    def _pairs(cls, v: tuple[float, float]) -> tuple[float, float]:
        return ordered_pair(v, "range")


class SynthesisConfig(Strict):
    """``synthesis``."""

    p_has_anomaly: Probability = 1.0
    instances_per_image: InstancesPerImage = InstancesPerImage()
    max_instance_attempts: int = Field(default=30, ge=1)
    max_location_attempts: int = Field(default=50, ge=1)
    coco: CocoSynthConfig = CocoSynthConfig()
    placement: PlacementConfig = PlacementConfig()
    geometry: GeometryConfig = GeometryConfig()
    blending: BlendingConfig = BlendingConfig()


class ExportConfig(Strict):
    """``export``: file formats."""

    image_format: Literal["png", "jpg"] = "png"
    instance_format: Literal["idmap", "npy"] = "idmap"
    #: ``fast``: fpng for RGB images, unfiltered RLE zlib for masks (standard PNG, see ``oodforge._codec``);
    #: ``opencv``: OpenCV at ``png_compression`` (the files of oodforge before ``png_codec``)
    png_codec: Literal["fast", "opencv"] = "fast"
    png_compression: int = Field(default=1, ge=0, le=9)  # zlib level of the OpenCV path (masks: both codecs)
    #: pixels an object changes without covering them (0 < alpha < 0.5): ``ignore`` (GT 255) or ``normal`` (0).
    soft_edge: Literal["ignore", "normal"] = "ignore"
    jpeg_quality: int = Field(default=95, ge=50, le=100)


#: files oodforge writes next to the split folders (a split folder must not take their name)
_RESERVED_ROOT_NAMES = frozenset({"config.yaml", "manifest.jsonl", "preview.png", "exports.json"})


def _default_splits() -> dict[str, SplitConfig]:
    return {
        "train": SplitConfig(source="train", part=(0.0, 1.0), clean_ratio=0.5, synth_ratio=0.5),
        "val": SplitConfig(source="val", part=(0.0, 0.5), clean_ratio=1.0, synth_ratio=0.0),
        "test": SplitConfig(source="val", part=(0.5, 1.0), clean_ratio=0.0, synth_ratio=1.0),
    }


class SynthConfig(Strict):
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
            if not name or "/" in name or "\\" in name or name.startswith(".") or name != name.strip():
                raise ValueError(f"split name {name!r} is not a plain folder name")
            if name.lower() in _RESERVED_ROOT_NAMES:
                raise ValueError(
                    f"split name {name!r} is the name of a file oodforge writes in the output root; choose another"
                )
        return v
