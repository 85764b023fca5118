"""Lost and Found (Pinggera et al., IROS 2016).

Layout of the SMIYC toolkit (``DIR_LAF``)::

    leftImg8bit/<split>/<NN>_<scene>/<fid>_leftImg8bit.png   (or .webp / .jpg)
    gtCoarse/<split>/<NN>_<scene>/<fid>_gtCoarse_labelIds.png

The root may be the Lost and Found folder or its parent holding ``dataset_LostAndFound``.
Labels (``gtCoarse_labelIds``, SMIYC and Mask2Anomaly): 1 (free space) -> 0, 2..200 (every object
id, "non-hazard" classes included) -> 1, everything else (0 unlabeled, ego vehicle, outside the
ROI) -> 255; the ROI is the drivable area.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from oodforge._io import read_label_png
from oodforge.benchmarks._base import BenchmarkReader, FrameFiles
from oodforge.benchmarks._labels import LOST_AND_FOUND, LabelEncoding
from oodforge.benchmarks._registry import register_benchmark
from oodforge.errors import DataLayoutError

__all__ = ["LAF_EMPTY_LABEL_FRAMES", "LAF_NO_KNOWN_EXCLUDED", "LostAndFound"]

_IMG_SUFFIX = "_leftImg8bit"
_LABEL_SUFFIX = "_gtCoarse_labelIds.png"
_EXTS = ("png", "webp", "jpg")

#: Official frame count and sorted-frame indices of the frames with an empty label (toolkit
#: ``exclude_frame_indices``), per source split.
LAF_EMPTY_LABEL_FRAMES: dict[str, tuple[int, tuple[int, ...]]] = {
    "train": (1036, (44, 67, 88, 109, 131, 614)),
    "test": (1203, (17, 37, 55, 72, 91, 110, 129, 153, 174, 197, 218, 353, 490, 618, 686, 792, 793)),
}
#: Frame-id prefixes dropped by ``testNoKnown`` (children, bicycles: objects a model may know).
LAF_NO_KNOWN_EXCLUDED: tuple[str, ...] = (
    "15_Rechbergstr_Deckenpfronn",
    "01_Hanns_Klemm_Str_45_000006",
    "01_Hanns_Klemm_Str_45_000007",
    "10_Schlossberg_9_000004",
)
_SOURCE_SPLIT = {"train": "train", "test": "test", "trainValid": "train", "testValid": "test", "testNoKnown": "test"}


@register_benchmark("lost_and_found")
class LostAndFound(BenchmarkReader):
    """Lost and Found, SMIYC splits.

    Splits: ``train`` (1036), ``test`` (1203), ``trainValid`` (1030) and ``testValid`` (1186) without
    the frames whose raw label is all zero, ``testNoKnown`` (1043) = ``testValid`` minus the prefixes
    of :data:`LAF_NO_KNOWN_EXCLUDED` (the split of the SMIYC obstacle table). Empty-label frames are
    dropped by the toolkit's sorted-frame indices when the split has the official frame count; on any
    other copy they are found by reading every label of the split (and a note says so).
    Component metrics: ``SegEval-ObstacleTrack``.

    Args:
        root: The Lost and Found root (holding ``leftImg8bit/`` and ``gtCoarse/``) or its parent
            holding ``dataset_LostAndFound/``.
        split: One of :attr:`splits`; None for ``test``.
    """

    splits: ClassVar[tuple[str, ...]] = ("train", "test", "trainValid", "testValid", "testNoKnown")
    default_split: ClassVar[str] = "test"
    default_protocol: ClassVar[str] = "smiyc"
    component_config: ClassVar[str | None] = "ObstacleTrack"

    def expected_layout(self) -> str:
        """The accepted layout (one line)."""
        return (
            f"<root>/leftImg8bit/<split>/<NN>_<scene>/<fid>{_IMG_SUFFIX}.png with labels "
            f"<root>/gtCoarse/<split>/<NN>_<scene>/<fid>{_LABEL_SUFFIX} (split train or test), "
            "or the same under <root>/dataset_LostAndFound/"
        )

    def _encoding(self, files: FrameFiles) -> LabelEncoding:
        return LOST_AND_FOUND

    def _discover(self, split: str) -> dict[str, FrameFiles]:
        source = _SOURCE_SPLIT[split]
        for base in (self.root, self.root / "dataset_LostAndFound"):
            frames = _scan(base, source)
            if frames:
                break
        else:
            raise DataLayoutError(f"{self.root}: no {source} images found; expected {self.expected_layout()}")
        ordered = sorted(frames)
        if split in ("trainValid", "testValid", "testNoKnown"):
            drop = self._empty_label_frames(source, ordered, frames)
            ordered = [fid for fid in ordered if fid not in drop]
        if split == "testNoKnown":
            ordered = [fid for fid in ordered if not fid.startswith(LAF_NO_KNOWN_EXCLUDED)]
        return {fid: frames[fid] for fid in ordered}

    def _empty_label_frames(self, source: str, ordered: list[str], frames: dict[str, FrameFiles]) -> set[str]:
        expected, indices = LAF_EMPTY_LABEL_FRAMES[source]
        if len(ordered) == expected:
            return {ordered[i] for i in indices}
        self.notes.append(
            f"{source} has {len(ordered)} frames, not the official {expected}: frames with an all-zero raw "
            "label were found by reading every label instead of the toolkit's index list"
        )
        empty = set()
        for fid in ordered:
            path = frames[fid].label_path
            if path.is_file() and not np.any(read_label_png(path)):
                empty.add(fid)
        return empty


def _scan(base: Path, source: str) -> dict[str, FrameFiles]:
    """Frames of ``leftImg8bit/<source>`` under ``base`` (first extension with images, like the toolkit)."""
    img_dir = base / "leftImg8bit" / source
    if not img_dir.is_dir():
        return {}
    for ext in _EXTS:
        images = sorted(p for p in img_dir.glob(f"*/*{_IMG_SUFFIX}.{ext}") if p.is_file())
        if images:
            break
    else:
        return {}
    label_dir = base / "gtCoarse" / source
    frames = {}
    for path in images:
        fid = path.name[: -len(f"{_IMG_SUFFIX}.{ext}")]
        frames[fid] = FrameFiles(path, label_dir / path.parent.name / f"{fid}{_LABEL_SUFFIX}")
    return frames
