"""SegmentMeIfYouCan: RoadAnomaly21 (AnomalyTrack) and RoadObstacle21 (ObstacleTrack).

Official layout (``DIR_DATASETS`` of the SMIYC toolkit, or the track folder itself)::

    dataset_AnomalyTrack/images/<fid>.jpg   dataset_AnomalyTrack/labels_masks/<fid>_labels_semantic.png
    dataset_ObstacleTrack/images/<fid>.webp dataset_ObstacleTrack/labels_masks/<fid>_labels_semantic.png

Redistributed ``Validation_Dataset`` layout (``benchmarks.md`` section 8; the root may be
``Validation_Dataset`` or the dataset folder)::

    RoadAnomaly21/images/<stem>.png         RoadAnomaly21/labels_masks/<stem>.png
    RoadObsticle21/images/<stem>.webp       RoadObsticle21/labels_masks/<stem>.png   (sic)

Labels: 0 normal (road), 1 anomaly (obstacle), 255 void. Like the official toolkit
(``DatasetRA.get_frame``: label starts at 255, ``== 0`` -> 0, ``== 1`` -> 1), **any other raw value
becomes void (255)** rather than raising: the pixel ROI is ``label < 255`` either way. Test labels
are not public; opening a split whose frames have no label file fails and points to ``validation``.
"""

from __future__ import annotations

from typing import ClassVar

from oodforge.benchmarks._base import FrameFiles
from oodforge.benchmarks._folders import FolderLayout, FolderReader
from oodforge.benchmarks._labels import SMIYC, LabelEncoding
from oodforge.benchmarks._registry import register_benchmark

__all__ = [
    "OBSTACLE_TEST_SCENES",
    "OBSTACLE_VALIDATION_EXCLUDED",
    "ROAD_ANOMALY_21_VALIDATION",
    "RoadAnomaly21",
    "RoadObstacle21",
]

_IMG_EXTS_RA21 = ("jpg", "png", "webp")
_IMG_EXTS_RO21 = ("webp", "png", "jpg")
_SEMANTIC = "_labels_semantic.png"

#: Frame ids of ``AnomalyTrack-validation`` (the 10 frames with public labels).
ROAD_ANOMALY_21_VALIDATION: frozenset[str] = frozenset(f"validation{i:04d}" for i in range(10))

#: Scenes (fid prefix before the first ``_``) of ``ObstacleTrack-test``.
OBSTACLE_TEST_SCENES: frozenset[str] = frozenset(
    {"curvy-street", "one-way-street", "gravel", "greyasphalt", "motorway", "paving", "darkasphalt", "darkasphalt2"}
)
#: Fid prefixes dropped from ``ObstacleTrack-validation`` by the toolkit (``exclude_prefix``).
OBSTACLE_VALIDATION_EXCLUDED: tuple[str, ...] = ("validation_19", *(f"validation_{i}" for i in range(21, 30)))
_NIGHT_SCENES = frozenset({"driveway"})
_SNOW_SCENES = frozenset({"snowstorm1", "snowstorm2"})


def _scene(fid: str) -> str:
    return fid.split("_", 1)[0]


def _smiyc_layouts(
    track_dir: str, val_dirs: tuple[str, ...], exts: tuple[str, ...], val_exts: tuple[str, ...]
) -> tuple[FolderLayout, ...]:
    """Official layouts (root above or at the track folder), then the redistributed ones."""
    official = (
        FolderLayout(f"{track_dir}/images", f"{track_dir}/labels_masks", _SEMANTIC, exts, "official", "<fid>"),
        FolderLayout("images", "labels_masks", _SEMANTIC, exts, "official", "<fid>"),
    )
    redistributed = tuple(
        FolderLayout(f"{d}/images", f"{d}/labels_masks", ".png", val_exts, "redistributed") for d in val_dirs
    )
    return (*official, *redistributed, FolderLayout("images", "labels_masks", ".png", val_exts, "redistributed"))


class _SmiycReader(FolderReader):
    """Shared label handling of both SMIYC tracks."""

    default_protocol: ClassVar[str] = "smiyc"
    labels_hint: ClassVar[str] = (
        "SMIYC test labels are not public: use split='validation' (test scores are evaluated by the organisers)"
    )

    def _encoding(self, files: FrameFiles) -> LabelEncoding:
        return SMIYC


@register_benchmark("road_anomaly_21")
class RoadAnomaly21(_SmiycReader):
    """SMIYC RoadAnomaly21 (AnomalyTrack): 100 test + 10 validation frames, ``.jpg`` images.

    Splits: ``all`` (110), ``test`` (100, labels hidden), ``validation`` (fids ``validation0000`` ..
    ``validation0009``). Images may also be ``.png`` / ``.webp``. Component metrics use
    ``SegEval-AnomalyTrack`` (500 / 100 px size limits).

    Args:
        root: ``DIR_DATASETS`` (holding ``dataset_AnomalyTrack``), the track folder, ``Validation_Dataset``
            or ``Validation_Dataset/RoadAnomaly21``.
        split: ``all``, ``test`` or ``validation``; None for ``all``.
    """

    splits: ClassVar[tuple[str, ...]] = ("all", "test", "validation")
    component_config: ClassVar[str | None] = "AnomalyTrack"
    layouts: ClassVar[tuple[FolderLayout, ...]] = _smiyc_layouts(
        "dataset_AnomalyTrack", ("RoadAnomaly21",), _IMG_EXTS_RA21, ("png", "jpg", "webp")
    )

    def _in_split(self, image_id: str, split: str) -> bool:
        is_val = image_id in ROAD_ANOMALY_21_VALIDATION
        return is_val if split == "validation" else not is_val

    def _split_rule(self, split: str) -> str:
        if split == "validation":
            return "frame ids validation0000 .. validation0009"
        return "frame ids other than validation0000 .. validation0009"


@register_benchmark("road_obstacle_21")
class RoadObstacle21(_SmiycReader):
    """SMIYC RoadObstacle21 (ObstacleTrack): ``.webp`` images; the ROI is the road.

    Splits derived from frame ids (scene = fid prefix before the first ``_``), as in the toolkit:
    ``all`` (every frame found), ``test`` (scenes curvy-street, one-way-street, gravel, greyasphalt,
    motorway, paving, darkasphalt, darkasphalt2; labels hidden), ``validation`` (scene ``validation``
    minus the prefixes ``validation_19``, ``validation_21`` .. ``validation_29``), ``night`` (scene
    ``driveway``), ``snowstorm`` (``snowstorm1``/``snowstorm2``), ``noNight`` (all but ``driveway``).
    Component metrics use ``SegEval-ObstacleTrack`` (50 / 10 px).

    Args:
        root: ``DIR_DATASETS`` (holding ``dataset_ObstacleTrack``), the track folder, ``Validation_Dataset``
            or ``Validation_Dataset/RoadObsticle21``.
        split: One of :attr:`splits`; None for ``all``.
    """

    splits: ClassVar[tuple[str, ...]] = ("all", "test", "validation", "night", "snowstorm", "noNight")
    component_config: ClassVar[str | None] = "ObstacleTrack"
    layouts: ClassVar[tuple[FolderLayout, ...]] = _smiyc_layouts(
        "dataset_ObstacleTrack", ("RoadObsticle21", "RoadObstacle21"), _IMG_EXTS_RO21, _IMG_EXTS_RO21
    )

    def _in_split(self, image_id: str, split: str) -> bool:
        scene = _scene(image_id)
        if split == "test":
            return scene in OBSTACLE_TEST_SCENES
        if split == "validation":
            return scene == "validation" and not image_id.startswith(OBSTACLE_VALIDATION_EXCLUDED)
        if split == "night":
            return scene in _NIGHT_SCENES
        if split == "snowstorm":
            return scene in _SNOW_SCENES
        return scene not in _NIGHT_SCENES  # noNight

    def _split_rule(self, split: str) -> str:
        rules = {
            "test": f"scenes {', '.join(sorted(OBSTACLE_TEST_SCENES))}",
            "validation": "scene 'validation' minus prefixes validation_19, validation_21 .. validation_29",
            "night": "scene 'driveway'",
            "snowstorm": "scenes 'snowstorm1', 'snowstorm2'",
            "noNight": "every scene but 'driveway'",
        }
        return rules[split] + " (scene = frame id before the first '_')"
