"""On-the-fly outlier exposure: paste COCO instances into training samples with the synth rules.

One implementation of pasting: instance choice, location-first sizing and placement on covered
pixels come from :func:`oodforge.synth.search.search_placements`, feathering, photometric matching,
compositing and the 0/1/255 mask from :func:`oodforge.synth.apply.render_placements`.

**Label space.** Synth judges placements on Cityscapes *label ids*, training samples carry *train
ids*. The search reads label values only through the name -> value map and the forbidden look-up
table it is given, so both are built in train-id space: every name in ``placement.target_labels``
and ``placement.forbidden_overlap_labels`` must have a train id (``road`` -> 0, ``car`` -> 13);
void labels (``parking``...) all share 255: as a target they are a config error, among the forbidden
and occluder labels they are left out (``ego vehicle``, ``out of roi``... are all 255, which
``avoid_ignore``, default on as in ``mix_ood``, forbids covering).

**Determinism.** A call's generators are :func:`oodforge._seeding.sample_streams` of
``stable_uint64("outlier_paste", seed, epoch, index)``: ``decision`` draws whether to paste (``p``) and
how many instances, ``instances`` / ``geometry`` / ``placement`` drive the search; never the global
RNG. An :class:`OutlierPaste` pickles without its opened pool and crop cache (reopened lazily).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from oodforge._seeding import sample_streams, stable_uint64
from oodforge.config.schema import (
    BlendingConfig,
    CocoSynthConfig,
    GeometryConfig,
    InstancesPerImage,
    PlacementConfig,
    SynthesisConfig,
)
from oodforge.errors import ConfigError, ShapeError
from oodforge.sources.cityscapes import horizon_from_road
from oodforge.sources.cityscapes_labels import VOID_TRAIN_ID, name2label
from oodforge.sources.coco_pool import CocoPool, load_or_build_pool
from oodforge.synth.apply import render_placements
from oodforge.synth.scene import SceneCamera, SceneInfo, contact_rows
from oodforge.synth.search import Placement, search_placements

__all__ = ["OutlierPaste", "OutlierPasteConfig", "PasteParams", "train_ids_for_names"]

U8 = npt.NDArray[np.uint8]


def train_ids_for_names(names: Sequence[str], key: str, *, skip_void: bool = False) -> list[int]:
    """Train ids of Cityscapes label names; ``key`` names the config key in the error.

    Args:
        names: Cityscapes label names.
        key: the config key, for the error.
        skip_void: leave out names whose train id is void (255) instead of failing.

    Raises:
        ConfigError: a name is not a Cityscapes label, or (unless ``skip_void``) its train id is void.
    """
    out = []
    for name in names:
        lab = name2label.get(name)
        if lab is not None and skip_void and not 0 <= lab.train_id < VOID_TRAIN_ID:
            continue
        if lab is None or not 0 <= lab.train_id < VOID_TRAIN_ID:
            why = "is not a Cityscapes label" if lab is None else "has no train id (void, 255)"
            raise ConfigError(f"{key}: '{name}' {why}; expected a label of the 19 train classes (road, sidewalk, ...)")
        out.append(lab.train_id)
    return out


class OutlierPasteConfig(BaseModel):
    """Configuration of :class:`OutlierPaste`; unknown keys are errors.

    Defaults differ from ``oodforge synth`` where training crops call for it: p 0.5 (``mix_ood``
    uses 0.2); 5 instances x 10 locations tried per slot (a bounded cost per sample); placement on
    road 0.7 / sidewalk 0.3 with >= 50 % coverage (``mix_ood`` road-only rule) and objects allowed
    to touch the crop border; objects 0.2 % - 8 % of the crop; 2 px feathering. Perspective sizes
    grow from the crop's top row to its bottom row, as in ``mix_ood`` (crops have no camera);
    ``metric`` mode takes the horizon from the top road row of the sample and the height and focal
    length of ``geometry.standard_camera``. Nearer persons, vehicles, poles and signs (train ids,
    8-connected components) are drawn over a pasted object, as in ``oodforge synth``.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

    p: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    instances: InstancesPerImage = InstancesPerImage(min=1, max=3)
    max_instance_attempts: int = Field(default=5, ge=1)
    max_location_attempts: int = Field(default=10, ge=1)
    #: pool building (``from_coco``) and instance sampling mode (``category`` / ``instance``)
    coco: CocoSynthConfig = CocoSynthConfig()
    placement: PlacementConfig = PlacementConfig(min_target_coverage=0.5, reject_border=False)
    geometry: GeometryConfig = GeometryConfig(scale_mode="perspective", final_area_ratio=(0.002, 0.08))
    blending: BlendingConfig = BlendingConfig(feather_px=2)
    #: never cover a pixel whose train id is 255 (ignore)
    avoid_ignore: bool = True
    #: semantic target of covered pixels: None -> 255 (ignore), an int -> that label (e.g. 19)
    ood_label: Annotated[int, Field(ge=0, le=255)] | None = None
    #: soft rim (0 < alpha < 0.5) in the outlier mask: ``ignore`` (255) or ``normal`` (0)
    soft_edge: Literal["ignore", "normal"] = "ignore"
    seed: int = Field(default=0, ge=0, lt=2**63)

    @model_validator(mode="after")
    def _train_id_names(self) -> OutlierPasteConfig:
        train_ids_for_names([n for n, w in self.placement.target_labels.items() if w > 0], "placement.target_labels")
        train_ids_for_names(
            self.placement.forbidden_overlap_labels, "placement.forbidden_overlap_labels", skip_void=True
        )
        train_ids_for_names(self.placement.occluder_labels, "placement.occluder_labels", skip_void=True)
        return self

    def synthesis(self) -> SynthesisConfig:
        """The equivalent ``synthesis`` section of a synth config (what the shared search reads)."""
        return SynthesisConfig(
            instances_per_image=self.instances, max_instance_attempts=self.max_instance_attempts,
            max_location_attempts=self.max_location_attempts, coco=self.coco, placement=self.placement,
            geometry=self.geometry, blending=self.blending,
        )  # fmt: skip


@dataclass(frozen=True)
class PasteParams:
    """What one call did: enough to re-render it with :meth:`OutlierPaste.apply`.

    Attributes:
        seed: the call's seed, ``stable_uint64("outlier_paste", seed, epoch, index)``.
        pasted: whether the ``p`` draw asked for a paste.
        planned: instances planned (0 when not ``pasted``).
        placements: the placed instances in paste order (later over earlier).
        note: why fewer than planned were placed, if so.
    """

    seed: int
    pasted: bool
    planned: int
    placements: tuple[Placement, ...]
    note: str | None
    horizon_row: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the silhouettes prepared during the search are left out)."""
        d = asdict(self)
        for p in d["placements"]:
            p.pop("prepared", None)
        return d


class OutlierPaste:
    """Paste 1..k COCO instances into a training sample with probability ``p``.

    Args:
        config: an :class:`OutlierPasteConfig` or a mapping validated into one.
        pool: a COCO pool or its cache folder (:func:`oodforge.sources.coco_pool.load_or_build_pool`).
        images_root: folder of the pool's COCO images (e.g. ``<coco>/train2017``).
        crop_cache_size: per-process LRU cache of decoded object crops (0 disables it).
    """

    def __init__(
        self,
        config: OutlierPasteConfig | Mapping[str, Any],
        pool: CocoPool | str | Path,
        images_root: str | Path,
        *,
        crop_cache_size: int = 128,
    ) -> None:
        self.config = config if isinstance(config, OutlierPasteConfig) else OutlierPasteConfig.model_validate(config)
        self._pool: CocoPool | None = pool if isinstance(pool, CocoPool) else None
        self.pool_path = pool.path if isinstance(pool, CocoPool) else Path(pool)
        self.images_root = Path(images_root)
        self.crop_cache_size = int(crop_cache_size)
        self._crops: OrderedDict[int, U8] = OrderedDict()
        self._synth = self.config.synthesis()
        plc = self.config.placement
        names = [n for n, w in plc.target_labels.items() if w > 0]
        self.target_ids = dict(zip(names, train_ids_for_names(names, "placement.target_labels"), strict=True))
        self.forbidden_lut = np.zeros(256, dtype=bool)
        forbidden = train_ids_for_names(
            plc.forbidden_overlap_labels, "placement.forbidden_overlap_labels", skip_void=True
        )
        self.forbidden_lut[forbidden] = True
        self.forbidden_lut[VOID_TRAIN_ID] = self.config.avoid_ignore
        self.occluder_lut = np.zeros(256, dtype=bool)
        if plc.occlusion:
            self.occluder_lut[train_ids_for_names(plc.occluder_labels, "placement.occluder_labels", skip_void=True)] = (
                True
            )
        self._ignore_lut = np.zeros(256, dtype=np.uint8)
        self._ignore_lut[VOID_TRAIN_ID] = VOID_TRAIN_ID

    @classmethod
    def from_coco(
        cls,
        config: OutlierPasteConfig | Mapping[str, Any],
        coco_root: str | Path,
        *,
        images: str = "train2017",
        annotations: str = "annotations/instances_train2017.json",
        cache_dir: str | Path | None = None,
    ) -> OutlierPaste:
        """Build (or open the cached) pool from ``config.coco`` and a COCO root, then construct."""
        cfg = config if isinstance(config, OutlierPasteConfig) else OutlierPasteConfig.model_validate(config)
        root, cache = Path(coco_root), None if cache_dir is None else Path(cache_dir)
        pool = load_or_build_pool(root / annotations, cfg.coco.allowed_categories, cfg.coco.filters, cache)
        return cls(cfg, pool, root / images)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_pool", "_crops")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pool, self._crops = None, OrderedDict()

    @property
    def pool(self) -> CocoPool:
        """The COCO pool, opened on first use in this process."""
        if self._pool is None:
            self._pool = CocoPool.open(self.pool_path)
        return self._pool

    def source(self, pool_index: int) -> tuple[U8, npt.NDArray[np.bool_]]:
        """Tight ``(h, w, 3)`` uint8 RGB crop and ``(h, w)`` bool mask of a pool instance (crops cached)."""
        rgb = self._crops.get(pool_index)
        if rgb is None:
            rgb = self.pool.rgb_crop(pool_index, self.images_root)
            if self.crop_cache_size > 0:
                self._crops[pool_index] = rgb
                if len(self._crops) > self.crop_cache_size:
                    self._crops.popitem(last=False)
        else:
            self._crops.move_to_end(pool_index)
        return rgb, self.pool.mask(pool_index)

    def sample_params(self, train_ids: U8, *, index: int, epoch: int, horizon_row: float | None = None) -> PasteParams:
        """Decide and place the instances for one sample (no pixel is written).

        Args:
            train_ids: ``(H, W)`` uint8 train ids of the (augmented) sample.
            index: the sample's dataset index.
            epoch: the training epoch.
            horizon_row: ``metric`` mode horizon; default the top row holding a target pixel
                (road when it is a target).
        """
        _check(None, train_ids)
        cfg = self.config
        seed = stable_uint64("outlier_paste", cfg.seed, int(epoch), int(index))
        streams = sample_streams(seed)
        rng = streams["decision"]
        pasted = bool(rng.random() < cfg.p)
        planned = int(rng.integers(cfg.instances.min, cfg.instances.max + 1)) if pasted else 0
        if planned == 0:
            return PasteParams(seed, pasted, 0, (), None)
        scene = self._scene(train_ids, horizon_row)
        result = search_placements(self._synth, self.pool, scene, planned, streams, self.target_ids, self.forbidden_lut)
        return PasteParams(seed, pasted, planned, tuple(result.placements), result.note, horizon_row)

    def _scene(self, train_ids: U8, horizon_row: float | None) -> SceneInfo:
        """Occluder contact rows of the sample and, for ``metric`` mode, a camera with its horizon."""
        ids = np.ascontiguousarray(train_ids)
        contact = contact_rows(ids, self.occluder_lut) if self.occluder_lut.any() else None
        std = self.config.geometry.standard_camera
        if horizon_row is None:
            road = [self.target_ids["road"]] if "road" in self.target_ids else list(self.target_ids.values())
            top = horizon_from_road(ids, road)
            horizon_row = None if top is None else float(top)
        fy = std.fy_px * ids.shape[0] / std.rows
        camera = None if horizon_row is None else SceneCamera(horizon_row, std.height_m, fy, "standard")
        return SceneInfo(ids, contact, camera)

    def apply(self, image: U8, train_ids: U8, params: PasteParams) -> tuple[U8, U8, U8]:
        """Render recorded placements (pure: no randomness).

        Args:
            image: ``(H, W, 3)`` uint8 RGB; not modified.
            train_ids: ``(H, W)`` uint8 train ids (255 = ignore); not modified.
            params: from :meth:`sample_params` on the same ``train_ids``.

        Returns:
            ``image`` (H, W, 3) uint8; ``target`` (H, W) uint8 train ids with covered pixels set to
            ``ood_label`` (or 255); ``outlier_mask`` (H, W) uint8: 1 exactly on covered pixels, 255
            where the target was 255 and not covered, else 0. When nothing is placed, ``image`` and
            ``target`` are the inputs themselves (not copies).
        """
        _check(image, train_ids)
        gt_base = np.asarray(cv2.LUT(np.ascontiguousarray(train_ids), self._ignore_lut), dtype=np.uint8)
        if not params.placements:
            return image, train_ids, gt_base
        sources = [self.source(p.pool_index) for p in params.placements]
        rendered = render_placements(
            image, gt_base, list(params.placements), sources, self.config.blending,
            self._scene(train_ids, params.horizon_row), footprint_ratio=self.config.placement.footprint_ratio,
            soft_edge=self.config.soft_edge,
        )  # fmt: skip
        target = train_ids.copy()
        ood = self.config.ood_label
        target[rendered.id_map > 0] = VOID_TRAIN_ID if ood is None else ood
        return rendered.image, target, rendered.gt

    def __call__(
        self, image: U8, train_ids: U8, *, index: int, epoch: int, horizon_row: float | None = None
    ) -> tuple[U8, U8, U8, PasteParams]:
        """Sample and apply: ``(image, target, outlier_mask, params)``; see :meth:`apply`."""
        _check(image, train_ids)  # before the search, which would fail less clearly
        params = self.sample_params(train_ids, index=index, epoch=epoch, horizon_row=horizon_row)
        return (*self.apply(image, train_ids, params), params)


def _check(image: U8 | None, train_ids: U8) -> None:
    if train_ids.ndim != 2 or train_ids.dtype != np.uint8:
        raise ShapeError(f"OutlierPaste: train_ids {train_ids.shape} {train_ids.dtype}; expected (H, W) uint8")
    if image is not None and (image.shape != (*train_ids.shape, 3) or image.dtype != np.uint8):
        raise ShapeError(
            f"OutlierPaste: image {image.shape} {image.dtype}, train_ids {train_ids.shape}; expected (H, W, 3) uint8"
        )
