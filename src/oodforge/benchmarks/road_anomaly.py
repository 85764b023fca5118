"""Road Anomaly (Lis et al., ICCV 2019): 60 road images with unusual objects.

Accepted layouts (the root may be the dataset folder or its parent)::

    RoadAnomaly/images/<stem>.jpg            RoadAnomaly/labels_masks/<stem>.png      (redistributed, section 8)
    images/<stem>.jpg                        labels_masks/<stem>.png
    frames/<stem>.jpg|webp                   frames/<stem>.labels/labels_semantic.png (original archive)
    RoadAnomaly/frames/<stem>.jpg|webp       RoadAnomaly/frames/<stem>.labels/labels_semantic.png

Labels: 0 normal, **2 anomaly -> 1**, 255 void (kept); any other raw value raises
:class:`~oodforge.errors.ValueCheckError` (a 1 in the file most likely means a different,
already-remapped dataset was pointed at).
"""

from __future__ import annotations

from typing import ClassVar

from oodforge.benchmarks._base import FrameFiles
from oodforge.benchmarks._folders import FolderLayout, FolderReader
from oodforge.benchmarks._labels import ROAD_ANOMALY, LabelEncoding
from oodforge.benchmarks._registry import register_benchmark

__all__ = ["RoadAnomaly"]

_EXTS = ("jpg", "webp", "png")
_ORIGINAL_SUFFIX = ".labels/labels_semantic.png"


@register_benchmark("road_anomaly")
class RoadAnomaly(FolderReader):
    """Road Anomaly: one split ``all`` (60 frames); image ids are the file stems.

    Args:
        root: Folder holding ``images/`` + ``labels_masks/`` or ``frames/``, or its parent holding
            ``RoadAnomaly/``.
        split: ``all`` (or None).
    """

    layouts: ClassVar[tuple[FolderLayout, ...]] = (
        FolderLayout("RoadAnomaly/images", "RoadAnomaly/labels_masks", ".png", _EXTS, "redistributed"),
        FolderLayout("images", "labels_masks", ".png", _EXTS, "redistributed"),
        FolderLayout("frames", "frames", _ORIGINAL_SUFFIX, _EXTS, "official"),
        FolderLayout("RoadAnomaly/frames", "RoadAnomaly/frames", _ORIGINAL_SUFFIX, _EXTS, "official"),
    )

    def _encoding(self, files: FrameFiles) -> LabelEncoding:
        return ROAD_ANOMALY
