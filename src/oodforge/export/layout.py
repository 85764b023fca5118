"""Paths of a synthesized dataset (SPEC "Output layout").

```
OUT/config.yaml                      resolved config
OUT/manifest.jsonl                   one record per image, sorted by (split, image_id)
OUT/<split>/images/<id>.png|jpg      clean images are byte copies of the source PNG
OUT/<split>/gt_pixel/<id>.png        uint8 0 normal / 1 anomaly / 255 ignore
OUT/<split>/instances/<id>.png       uint16 id map (idmap) or <id>_<k>.npy per instance (npy)
OUT/<split>/labels/<id>.json         per-instance labels
OUT/.oodforge/records/<split>/<id>.json   per-image records (resume state; the manifest is rebuilt from them)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DatasetLayout"]


@dataclass(frozen=True)
class DatasetLayout:
    """Relative and absolute paths inside one output root."""

    root: Path

    @property
    def config_path(self) -> Path:
        """``OUT/config.yaml``."""
        return self.root / "config.yaml"

    @property
    def manifest_path(self) -> Path:
        """``OUT/manifest.jsonl``."""
        return self.root / "manifest.jsonl"

    @property
    def state_dir(self) -> Path:
        """``OUT/.oodforge``: resume state (per-image records)."""
        return self.root / ".oodforge"

    def record_path(self, split: str, image_id: str) -> Path:
        """Per-image record written atomically after the image's files."""
        return self.state_dir / "records" / split / f"{image_id}.json"

    @staticmethod
    def image_rel(split: str, image_id: str, ext: str) -> str:
        """``<split>/images/<id>.<ext>``."""
        return f"{split}/images/{image_id}.{ext}"

    @staticmethod
    def gt_rel(split: str, image_id: str) -> str:
        """``<split>/gt_pixel/<id>.png``."""
        return f"{split}/gt_pixel/{image_id}.png"

    @staticmethod
    def instances_rel(split: str, image_id: str) -> str:
        """``<split>/instances/<id>.png`` (idmap format)."""
        return f"{split}/instances/{image_id}.png"

    @staticmethod
    def instance_npy_rel(split: str, image_id: str, k: int) -> str:
        """``<split>/instances/<id>_<k:02d>.npy`` (npy format: one bool mask per instance)."""
        return f"{split}/instances/{image_id}_{k:02d}.npy"

    @staticmethod
    def labels_rel(split: str, image_id: str) -> str:
        """``<split>/labels/<id>.json``."""
        return f"{split}/labels/{image_id}.json"

    def abs(self, rel: str) -> Path:
        """Absolute path of a path relative to the root."""
        return self.root / rel
