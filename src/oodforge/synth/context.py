"""Everything a worker needs to synthesize one image, in a small picklable object.

A :class:`SynthContext` holds the resolved config, its hash and the location of the cached COCO
pool; heavy state (the opened pool, look-up tables) is created lazily once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from oodforge.config.schema import SynthConfig
from oodforge.export.layout import DatasetLayout
from oodforge.sources.cityscapes_labels import LABELS, VOID_TRAIN_ID, label_ids_for_names

if TYPE_CHECKING:
    from oodforge.sources.coco_pool import CocoPool

__all__ = ["SynthContext", "gt_base_lut"]


def gt_base_lut() -> np.ndarray:
    """A (256,) uint8 table from Cityscapes label id to base GT: 255 where the train id is void, else 0."""
    lut = np.full(256, 255, dtype=np.uint8)
    for lab in LABELS:
        if lab.id >= 0 and lab.train_id != VOID_TRAIN_ID:
            lut[lab.id] = 0
    return lut


@dataclass
class SynthContext:
    """Picklable per-run state shared by every per-image task.

    Attributes:
        config: the resolved config (absolute paths).
        config_sha256: SHA-256 of the resolved ``config.yaml`` bytes.
        pool_path: folder of the cached COCO instance pool.
    """

    config: SynthConfig
    config_sha256: str
    pool_path: Path
    _pool: Any = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_") and k not in self._cached_names()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pool = None

    @staticmethod
    def _cached_names() -> tuple[str, ...]:
        return (
            "layout", "gt_lut", "target_ids", "forbidden_lut", "occluder_lut", "cityscapes_root", "coco_images_root",
        )  # fmt: skip

    @property
    def pool(self) -> CocoPool:
        """The COCO instance pool, opened on first use in this process."""
        if self._pool is None:
            from oodforge.sources.coco_pool import CocoPool

            self._pool = CocoPool.open(self.pool_path)
        return self._pool

    @cached_property
    def layout(self) -> DatasetLayout:
        """Output layout under ``dataset.output_root``."""
        return DatasetLayout(Path(self.config.dataset.output_root))

    @cached_property
    def cityscapes_root(self) -> Path:
        """Cityscapes root folder."""
        return Path(self.config.sources.cityscapes.root)

    @cached_property
    def coco_images_root(self) -> Path:
        """COCO image folder (``sources.coco.root / sources.coco.images``)."""
        return Path(self.config.sources.coco.root) / self.config.sources.coco.images

    @cached_property
    def gt_lut(self) -> np.ndarray:
        """Label id → base GT value (0 or 255)."""
        return gt_base_lut()

    @cached_property
    def target_ids(self) -> dict[str, int]:
        """Target label name → Cityscapes label id, for labels with a positive weight."""
        placement = self.config.synthesis.placement
        names = [n for n, w in placement.target_labels.items() if w > 0]
        ids = label_ids_for_names(names, "synthesis.placement.target_labels")
        return dict(zip(names, ids, strict=True))

    def _names_lut(self, key: str) -> np.ndarray:
        """(256,) bool, True at the label ids of the names under ``synthesis.placement.<key>``."""
        lut = np.zeros(256, dtype=bool)
        lut[label_ids_for_names(getattr(self.config.synthesis.placement, key), f"synthesis.placement.{key}")] = True
        return lut

    @cached_property
    def occluder_lut(self) -> np.ndarray:
        """(256,) bool: label ids of scene objects that hide a pasted object standing behind them."""
        return self._names_lut("occluder_labels")

    @cached_property
    def forbidden_lut(self) -> np.ndarray:
        """(256,) bool: label ids on which no visible object pixel may lie."""
        return self._names_lut("forbidden_overlap_labels")
