"""The reader interface shared by every benchmark: frames listed at open time, decoded on demand."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from oodforge._io import read_image_rgb, read_label_png
from oodforge.benchmarks._labels import LabelEncoding
from oodforge.errors import DataLayoutError, ShapeError, UsageError

__all__ = ["COMPONENT_TRACKS", "BenchmarkReader", "FrameFiles", "Sample"]

#: SMIYC component configuration name -> ``track`` argument of :class:`oodforge.metrics.ComponentMetrics`
#: (``AnomalyTrack``: predicted components < 500 px deleted, GT components < 100 px void;
#: ``ObstacleTrack``: 50 / 10 px).
COMPONENT_TRACKS: dict[str, str] = {"AnomalyTrack": "anomaly", "ObstacleTrack": "obstacle"}

#: True while :meth:`BenchmarkReader.open_images` opens a reader: frames without a label file are kept.
_IMAGES_ONLY: ContextVar[bool] = ContextVar("oodforge_benchmark_images_only", default=False)


@dataclass(frozen=True, eq=False)
class Sample:
    """One decoded frame of a benchmark.

    Attributes:
        image_id: Frame id, unique within the benchmark; score files are named after it.
        image: RGB uint8 (H, W, 3).
        label: uint8 (H, W): 0 normal, 1 anomaly, 255 void.
        image_path: The image file (for Fishyscapes Static: the Cityscapes frame under the overlay).
        label_path: The raw label file.
    """

    image_id: str
    image: np.ndarray
    label: np.ndarray
    image_path: Path | None = None
    label_path: Path | None = None


@dataclass(frozen=True)
class FrameFiles:
    """Files of one frame as found on disk.

    Attributes:
        image_path: Image file.
        label_path: Raw label file (may not exist for frames with hidden labels).
        overlay_path: Fishyscapes Static ``*_rgb.npz`` overlay added to the image, else None.
    """

    image_path: Path
    label_path: Path
    overlay_path: Path | None = None


class BenchmarkReader(abc.ABC):
    """Base class of the benchmark readers: one split of one benchmark under one root.

    Subclasses set the class attributes and implement :meth:`_discover`, :meth:`expected_layout` and
    :meth:`_encoding`. Frames are listed when the reader is opened (file names only; a frame whose
    label file is missing is refused then, with the expected path); images and labels are decoded by
    :meth:`load` / :meth:`load_label`.

    Attributes:
        name: Registry name, e.g. ``"road_anomaly_21"``.
        splits: Valid split names (``synth``: the splits of the manifest).
        default_split: Split used when ``split`` is None.
        default_protocol: Pixel protocol of :mod:`oodforge.metrics` the benchmark is reported with.
        component_config: SMIYC component configuration (``"AnomalyTrack"``, ``"ObstacleTrack"``) or None.
        labels_hint: Appended to the error raised for frames without a label file.
        root: Dataset root as given.
        split: The split read.
        notes: Human-readable remarks gathered while opening (skipped records, fallbacks).
        images_only: Opened by :meth:`open_images`: frames may lack a label file.
    """

    name: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = ("all",)
    default_split: ClassVar[str] = "all"
    default_protocol: ClassVar[str] = "fishyscapes"
    component_config: ClassVar[str | None] = None
    labels_hint: ClassVar[str] = ""

    def __init__(self, root: str | Path, split: str | None = None) -> None:
        """Open ``split`` of the benchmark under ``root``.

        Args:
            root: Dataset root (see :meth:`expected_layout`).
            split: Split name; None for :attr:`default_split`.

        Raises:
            DataLayoutError: ``root`` is not a folder, does not have the expected layout, the split is
                empty, or frames have no label file.
            UsageError: unknown split (the message lists the valid ones).
        """
        self.root = Path(root)
        self.notes: list[str] = []
        if not self.root.is_dir():
            raise DataLayoutError(f"{self.root}: not a folder; expected {self.expected_layout()}")
        self._open()
        self.split = self._resolve_split(split)
        frames = self._discover(self.split)
        if not frames:
            raise DataLayoutError(f"{self.root}: split '{self.split}' of {self.name} holds no frame")
        self._frames: dict[str, FrameFiles] = dict(sorted(frames.items()))
        self.images_only = _IMAGES_ONLY.get()
        if not self.images_only:
            self._check_labels_exist()

    @classmethod
    def open_images(cls, root: str | Path, split: str | None = None, **options: Any) -> Self:
        """Open ``split`` for its images only: frames whose label file is missing (hidden test labels) are kept.

        For what needs no label (a SMIYC submission on the test split): :meth:`image_ids`, :meth:`load_image`.
        :meth:`load` and :meth:`load_label` still read the label file, and fail on a frame without one.

        Raises:
            DataLayoutError, UsageError: as the constructor, except for frames without a label file.
        """
        token = _IMAGES_ONLY.set(True)
        try:
            return cls(root, split, **options)
        finally:
            _IMAGES_ONLY.reset(token)

    # ---- to implement -------------------------------------------------------------------------------

    @abc.abstractmethod
    def expected_layout(self) -> str:
        """One-line description of the accepted on-disk layouts (used in every layout error)."""

    @abc.abstractmethod
    def _discover(self, split: str) -> dict[str, FrameFiles]:
        """Frames of ``split`` (image id -> files), in any order; raise DataLayoutError if none found."""

    @abc.abstractmethod
    def _encoding(self, files: FrameFiles) -> LabelEncoding:
        """The raw label encoding of a frame's label file."""

    def _open(self) -> None:
        """Hook run after the root check and before split resolution (e.g. read a manifest)."""
        return None

    def available_splits(self) -> tuple[str, ...]:
        """Valid split names for this root."""
        return self.splits

    def _default_split(self) -> str:
        return self.default_split

    def _load_image(self, files: FrameFiles) -> np.ndarray:
        """Decode the RGB uint8 (H, W, 3) image of a frame."""
        return read_image_rgb(files.image_path)

    def _check_label(self, label: np.ndarray, files: FrameFiles) -> None:
        """Extra per-frame checks on the mapped uint8 (H, W) label; raise ValueCheckError on failure."""
        return None

    # ---- public API ---------------------------------------------------------------------------------

    @property
    def has_components(self) -> bool:
        """Whether SMIYC component metrics (sIoU, PPV, mean F1) are reported for this benchmark."""
        return self.component_config is not None

    @property
    def component_track(self) -> str | None:
        """``track`` argument of :class:`oodforge.metrics.ComponentMetrics` (``"anomaly"``/``"obstacle"``) or None."""
        return None if self.component_config is None else COMPONENT_TRACKS[self.component_config]

    def __len__(self) -> int:
        return len(self._frames)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._frames

    def __iter__(self) -> Iterator[Sample]:
        """Yield the samples of the split in :meth:`image_ids` order."""
        for image_id in self._frames:
            yield self.load(image_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root='{self.root}', split='{self.split}', frames={len(self)})"

    def image_ids(self) -> list[str]:
        """Image ids of the split, sorted in plain string order."""
        return list(self._frames)

    def frame_files(self, image_id: str) -> FrameFiles:
        """The files of one frame.

        Raises:
            KeyError: ``image_id`` is not in the split.
        """
        try:
            return self._frames[image_id]
        except KeyError:
            raise KeyError(f"{self.name}: image id '{image_id}' is not in split '{self.split}'") from None

    def load_label(self, image_id: str) -> np.ndarray:
        """Read and map one label file, without decoding the image.

        Returns:
            uint8 (H, W) with 0 normal, 1 anomaly, 255 void.

        Raises:
            KeyError: unknown image id.
            SampleError: unreadable label file.
            ValueCheckError: the file holds values outside the benchmark's documented encoding.
        """
        files = self.frame_files(image_id)
        label = self._encoding(files).apply(read_label_png(files.label_path), files.label_path)
        self._check_label(label, files)
        return label

    def load_image(self, image_id: str) -> np.ndarray:
        """Decode one frame's RGB uint8 (H, W, 3) image without reading its label.

        Raises:
            KeyError: unknown image id.
            SampleError: unreadable image file.
        """
        return self._load_image(self.frame_files(image_id))

    def load(self, image_id: str) -> Sample:
        """Decode one frame.

        Raises:
            KeyError: unknown image id.
            SampleError: unreadable image or label file.
            ValueCheckError: label values outside the documented encoding.
            ShapeError: image and label sizes differ.
        """
        files = self.frame_files(image_id)
        label = self.load_label(image_id)
        image = self._load_image(files)
        if image.shape[:2] != label.shape:
            raise ShapeError(
                f"{files.label_path}: label is {label.shape[1]}x{label.shape[0]} but image "
                f"{files.image_path} is {image.shape[1]}x{image.shape[0]} (width x height)"
            )
        return Sample(image_id, image, label, files.image_path, files.label_path)

    # ---- shared machinery ---------------------------------------------------------------------------

    def _resolve_split(self, split: str | None) -> str:
        valid = self.available_splits()
        chosen = self._default_split() if split is None else split
        if chosen not in valid:
            raise UsageError(f"{self.name}: unknown split '{chosen}'; valid splits: {', '.join(valid)}")
        return chosen

    def _check_labels_exist(self) -> None:
        missing = [f.label_path for f in self._frames.values() if not f.label_path.is_file()]
        if missing:
            hint = f"; {self.labels_hint}" if self.labels_hint else ""
            raise DataLayoutError(
                f"{self.root}: {len(missing)} of {len(self._frames)} frames of split '{self.split}' have no label "
                f"file (first: {missing[0]}){hint}"
            )
