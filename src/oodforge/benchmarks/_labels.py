"""Label encodings: raw benchmark label values -> oodforge's 0 normal / 1 anomaly / 255 void.

Each encoding is a 256-entry lookup table over the raw ``uint8`` values; an entry of ``-1`` marks
a value the encoding does not allow, which raises :class:`~oodforge.errors.ValueCheckError`
naming the file and the offending values instead of being mapped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oodforge.errors import ValueCheckError

__all__ = [
    "ANOMALY",
    "FISHYSCAPES",
    "LOST_AND_FOUND",
    "NORMAL",
    "ROAD_ANOMALY",
    "SMIYC",
    "STRICT_255_IS_OOD",
    "STRICT_BINARY",
    "VOID",
    "LabelEncoding",
]

NORMAL, ANOMALY, VOID = 0, 1, 255
_FORBIDDEN = -1


@dataclass(frozen=True)
class LabelEncoding:
    """A raw-to-oodforge label map.

    Attributes:
        name: Short description used in error messages, e.g. ``"0 road / 1 obstacle / 255 void"``.
        lut: int16 (256,) table; ``lut[raw]`` is 0, 1 or 255, or -1 for a forbidden raw value.
    """

    name: str
    lut: np.ndarray = field(repr=False)

    @classmethod
    def build(cls, name: str, mapping: dict[int, int], default: int = _FORBIDDEN) -> LabelEncoding:
        """Build an encoding from explicit ``raw -> value`` pairs; every other raw value gets ``default``.

        Args:
            name: Description used in error messages.
            mapping: Raw value (0..255) -> 0, 1 or 255.
            default: Value of raw values missing from ``mapping``: 0, 1, 255, or -1 (forbidden).
        """
        lut = np.full(256, default, np.int16)
        for raw, value in mapping.items():
            lut[raw] = value
        return cls(name, lut)

    def allowed(self) -> list[int]:
        """Raw values the encoding accepts, ascending."""
        return [int(v) for v in np.flatnonzero(self.lut != _FORBIDDEN)]

    def apply(self, raw: np.ndarray, path: Path | str) -> np.ndarray:
        """Map a raw label image to 0 / 1 / 255.

        Args:
            raw: uint8 (H, W) raw label values as stored in the file.
            path: The label file, named in errors.

        Returns:
            uint8 (H, W) array with values in {0, 1, 255}.

        Raises:
            ValueCheckError: ``raw`` holds a value the encoding forbids.
        """
        counts = value_counts(raw)
        bad = np.flatnonzero((counts > 0) & (self.lut == _FORBIDDEN))
        if bad.size:
            shown = ", ".join(f"{int(v)} ({int(counts[v])} px)" for v in bad[:8])
            more = f" and {bad.size - 8} more" if bad.size > 8 else ""
            raise ValueCheckError(
                f"{path}: label values {shown}{more} are outside the encoding {self.name} "
                f"(allowed raw values: {_compact(self.allowed())})"
            )
        return self.lut[raw].astype(np.uint8)


def value_counts(raw: np.ndarray) -> np.ndarray:
    """Pixel count of each raw value: int64 (256,) for a uint8 array of any shape."""
    return np.bincount(raw.ravel(), minlength=256)


def _compact(values: list[int]) -> str:
    """``[0, 1, 2, 3, 255]`` -> ``"0..3, 255"``; ``[0, 1, 255]`` -> ``"0, 1, 255"``."""
    parts: list[str] = []
    start = prev = None
    for v in [*values, None]:
        if v is not None and prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None and prev is not None:
            if prev - start >= 2:
                parts.append(f"{start}..{prev}")
            else:
                parts.extend(str(x) for x in range(start, prev + 1))
        start = prev = v
    return ", ".join(parts)


#: SMIYC tracks (``label_pixel_gt`` of the official toolkit): 0 -> 0, 1 -> 1, any other value -> 255.
SMIYC = LabelEncoding.build("0 normal / 1 anomaly / other void (SMIYC)", {0: NORMAL, 1: ANOMALY}, default=VOID)
#: Fishyscapes ``*_labels.png``: 0 -> 0, 1 -> 1, every other value (255 included) -> 255.
FISHYSCAPES = LabelEncoding.build(
    "0 normal / 1 anomaly / other void (Fishyscapes)", {0: NORMAL, 1: ANOMALY}, default=VOID
)
#: Files that are already 0 / 1 / 255 (redistributed copies, ``oodforge synth``): nothing else allowed.
STRICT_BINARY = LabelEncoding.build("0 normal / 1 anomaly / 255 void", {0: NORMAL, 1: ANOMALY, 255: VOID})
#: The "255 is OOD" reading of the redistributed Fishyscapes Static copy: 0 -> 0, 255 -> 1, no void.
STRICT_255_IS_OOD = LabelEncoding.build("0 normal / 255 anomaly ('255_is_ood')", {0: NORMAL, 255: ANOMALY})
#: Road Anomaly (Lis et al.): 0 -> 0, 2 -> 1, 255 -> 255; nothing else allowed.
ROAD_ANOMALY = LabelEncoding.build("0 normal / 2 anomaly / 255 void (Road Anomaly)", {0: NORMAL, 2: ANOMALY, 255: VOID})
#: Lost and Found ``gtCoarse_labelIds``: 1 (free space) -> 0, 2..200 (objects) -> 1, everything else -> 255.
LOST_AND_FOUND = LabelEncoding.build(
    "1 free space / 2..200 object / other void (Lost and Found labelIds)",
    {1: NORMAL, **dict.fromkeys(range(2, 201), ANOMALY)},
    default=VOID,
)
