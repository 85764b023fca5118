"""Readers whose frames are ``<image_dir>/<stem>.<ext>`` with the label at ``<label_dir>/<stem><suffix>``.

A reader lists several accepted :class:`FolderLayout` s (official layout, redistributed copies,
root given one level higher or lower) and uses the first one that holds images and at least one
matching label file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from oodforge.benchmarks._base import BenchmarkReader, FrameFiles
from oodforge.errors import DataLayoutError

__all__ = ["FolderLayout", "FolderReader", "list_images"]


@dataclass(frozen=True)
class FolderLayout:
    """One accepted on-disk layout.

    Attributes:
        image_dir: Image folder relative to the root, e.g. ``"dataset_AnomalyTrack/images"``.
        label_dir: Label folder relative to the root.
        label_suffix: Appended to the image stem to name the label, e.g. ``"_labels_semantic.png"``.
        image_exts: Accepted image extensions without dot, in priority order (first = documented one).
        kind: ``"official"`` or ``"redistributed"``; readers may pick the label encoding by it.
        stem: Placeholder shown for the image stem in error messages (``"<fid>"``, ``"<stem>"``).
    """

    image_dir: str
    label_dir: str
    label_suffix: str
    image_exts: tuple[str, ...]
    kind: str = "official"
    stem: str = "<stem>"

    def describe(self) -> str:
        """``<root>/<image_dir>/<stem>.<ext> with labels <root>/<label_dir>/<stem><suffix>``."""
        return (
            f"<root>/{self.image_dir}/{self.stem}.{self.image_exts[0]} with labels "
            f"<root>/{self.label_dir}/{self.stem}{self.label_suffix}"
        )

    def frames(self, root: Path) -> dict[str, FrameFiles]:
        """Frames of this layout under ``root`` (stem -> files); labels are not checked to exist."""
        images = list_images(root / self.image_dir, self.image_exts)
        label_dir = root / self.label_dir
        return {stem: FrameFiles(path, label_dir / f"{stem}{self.label_suffix}") for stem, path in images.items()}


def list_images(folder: Path, exts: tuple[str, ...]) -> dict[str, Path]:
    """Image files directly in ``folder`` with one of ``exts`` (stem -> path; earlier ext wins a tie).

    Hidden files (leading ``.``) are skipped; a missing folder gives an empty dict.
    """
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for ext in exts:
        for path in folder.glob(f"*.{ext}"):
            if path.is_file() and not path.name.startswith("."):
                found.setdefault(path.stem, path)
    return found


def detect_layout(root: Path, layouts: tuple[FolderLayout, ...]) -> tuple[FolderLayout, dict[str, FrameFiles]] | None:
    """The first layout with images and at least one label file; else the first with images; else None."""
    fallback: tuple[FolderLayout, dict[str, FrameFiles]] | None = None
    for layout in layouts:
        frames = layout.frames(root)
        if not frames:
            continue
        if any(f.label_path.is_file() for f in frames.values()):
            return layout, frames
        if fallback is None:
            fallback = (layout, frames)
    return fallback


def describe_layouts(layouts: tuple[FolderLayout, ...]) -> str:
    """The descriptions of ``layouts`` joined with ``", or "``."""
    return ", or ".join(layout.describe() for layout in layouts)


class FolderReader(BenchmarkReader):
    """A reader over :class:`FolderLayout` s; subclasses set ``layouts`` and filter splits.

    Attributes:
        layouts: Accepted layouts, tried in order.
        layout: The layout detected under the root.
    """

    layouts: ClassVar[tuple[FolderLayout, ...]] = ()
    layout: FolderLayout

    def expected_layout(self) -> str:
        """The accepted layouts, e.g. ``<root>/images/<stem>.jpg with labels <root>/labels_masks/<stem>.png``."""
        return describe_layouts(self.layouts)

    def _discover(self, split: str) -> dict[str, FrameFiles]:
        found = detect_layout(self.root, self.layouts)
        if found is None:
            raise DataLayoutError(f"{self.root}: no images found; expected {self.expected_layout()}")
        self.layout, frames = found
        if split == "all":
            return frames
        selected = {fid: f for fid, f in frames.items() if self._in_split(fid, split)}
        if not selected:
            raise DataLayoutError(
                f"{self.root}: none of the {len(frames)} frames belongs to split '{split}' of {self.name} "
                f"({self._split_rule(split)}); first frame id: '{min(frames)}'"
            )
        return selected

    def _in_split(self, image_id: str, split: str) -> bool:
        """Whether a frame id belongs to ``split`` (never called for ``"all"``)."""
        raise NotImplementedError  # pragma: no cover - readers with more than "all" override it

    def _split_rule(self, split: str) -> str:
        """One-line description of how ``split`` is derived from frame ids (for error messages)."""
        return f"split '{split}'"
