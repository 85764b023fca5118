"""Datasets made by ``oodforge synth``, read through their manifest.

Layout (SPEC "Output layout")::

    OUT/manifest.jsonl                   one record per image (split, image_id, outputs, status)
    OUT/<split>/images/<image_id>.png    (or .jpg)
    OUT/<split>/gt_pixel/<image_id>.png  uint8 0 normal / 1 anomaly / 255 ignore

Every split of the manifest can be read; image ids are the manifest ``image_id`` s of the split.
Records with ``status: failed`` have no outputs and are skipped (listed in :attr:`notes`). The
ground truth is already 0 / 1 / 255; any other value raises :class:`~oodforge.errors.ValueCheckError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from oodforge._paths import relative_inside
from oodforge.benchmarks._base import BenchmarkReader, FrameFiles
from oodforge.benchmarks._labels import STRICT_BINARY, LabelEncoding
from oodforge.benchmarks._registry import register_benchmark
from oodforge.errors import DataLayoutError, UsageError
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord, read_manifest

__all__ = ["SynthDataset"]

_DEFAULT_SPLITS = ("test", "val")


@register_benchmark("synth")
class SynthDataset(BenchmarkReader):
    """Any split of a dataset written by ``oodforge synth``.

    Pasted COCO objects are whole instances anywhere in the scene, so component metrics use the
    ``AnomalyTrack`` configuration; pixel metrics default to the exact ``fishyscapes`` protocol.

    Args:
        root: The output root of ``oodforge synth`` (holding ``manifest.jsonl``).
        split: A split present in the manifest; None for ``test``, else ``val``, else the only split.

    Raises:
        InputFileError: a malformed manifest line.
    """

    default_protocol: ClassVar[str] = "fishyscapes"
    component_config: ClassVar[str | None] = "AnomalyTrack"

    def expected_layout(self) -> str:
        """The layout of an ``oodforge synth`` output root (one line)."""
        return (
            "the output root of `oodforge synth`: <root>/manifest.jsonl with images "
            "<root>/<split>/images/<image_id>.png and labels <root>/<split>/gt_pixel/<image_id>.png"
        )

    def _open(self) -> None:
        layout = DatasetLayout(self.root)
        if not layout.manifest_path.is_file():
            raise DataLayoutError(f"{self.root}: no manifest.jsonl; expected {self.expected_layout()}")
        self._records: list[ManifestRecord] = read_manifest(layout.manifest_path)
        if not self._records:
            raise DataLayoutError(
                f"{layout.manifest_path}: manifest holds no record; expected {self.expected_layout()}"
            )

    def available_splits(self) -> tuple[str, ...]:
        """Splits present in the manifest, sorted."""
        return tuple(sorted({rec.split for rec in self._records}))

    def _default_split(self) -> str:
        splits = self.available_splits()
        for name in _DEFAULT_SPLITS:
            if name in splits:
                return name
        if len(splits) == 1:
            return splits[0]
        raise UsageError(f"{self.root}: choose a split of this synth dataset: {', '.join(splits)}")

    def _encoding(self, files: FrameFiles) -> LabelEncoding:
        return STRICT_BINARY

    def _discover(self, split: str) -> dict[str, FrameFiles]:
        frames: dict[str, FrameFiles] = {}
        failed: list[str] = []
        for rec in self._records:
            if rec.split != split:
                continue
            if rec.status != "ok":
                failed.append(rec.image_id)
                continue
            image, gt = rec.outputs.get("image"), rec.outputs.get("gt_pixel")
            if not isinstance(image, str) or not isinstance(gt, str):
                raise DataLayoutError(
                    f"{self.root}/manifest.jsonl: record {split}/{rec.image_id} has no 'image' or 'gt_pixel' "
                    "output path; expected outputs {'image': '<split>/images/<id>.png', "
                    "'gt_pixel': '<split>/gt_pixel/<id>.png', ...}"
                )
            frames[rec.image_id] = FrameFiles(_inside(self.root, image), _inside(self.root, gt))
        if failed:
            shown = ", ".join(sorted(failed)[:5]) + (", ..." if len(failed) > 5 else "")
            self.notes.append(f"skipped {len(failed)} failed record(s) of split '{split}': {shown}")
        if not frames:
            raise DataLayoutError(f"{self.root}: split '{split}' has no record with status ok")
        return frames


def _inside(root: Path, rel: str) -> Path:
    """``root / rel``, refusing absolute paths and ``..`` that would leave the dataset root."""
    if relative_inside(rel) is None:
        raise DataLayoutError(f"{root}/manifest.jsonl: output path '{rel}' is not relative to the dataset root")
    return root / rel
