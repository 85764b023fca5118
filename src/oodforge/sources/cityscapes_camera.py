"""Cityscapes ``camera/<split>/<city>/<stem>_camera.json``: the pinhole camera of one frame, checked.

Only a camera a real car could carry is accepted: every key read is a finite number, the camera stands
above the road (``extrinsic.z > 0``), the focal lengths are positive, the pitch is within
``(-pi/2, pi/2)`` and, given the frame size, the principal point lies in the frame. Anything else is
that frame's :class:`~oodforge.errors.SampleError` (one line naming the file, the key, the value and
the valid range), never a traceback deeper in the metric sizing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from oodforge.errors import SampleError

__all__ = ["CameraParams", "read_camera"]


@dataclass(frozen=True)
class CameraParams:
    """Pinhole intrinsics and the extrinsics needed for metric scaling.

    Attributes:
        fx: focal length in pixels along x.
        fy: focal length in pixels along y.
        u0: principal point column (pixels).
        v0: principal point row (pixels).
        pitch: camera pitch in radians; positive looks down.
        height_m: camera height above the ground in metres (Cityscapes extrinsic ``z``).
    """

    fx: float
    fy: float
    u0: float
    v0: float
    pitch: float
    height_m: float

    @property
    def horizon_row(self) -> float:
        """Image row of the horizon, ``v0 - fy * tan(pitch)`` (above the principal point when looking down)."""
        return self.v0 - self.fy * math.tan(self.pitch)


_CAMERA_FORMAT = (
    'Cityscapes camera json {"extrinsic": {"baseline", "pitch", "roll", "x", "y", "yaw", "z"}, '
    '"intrinsic": {"fx", "fy", "u0", "v0"}}'
)
#: keys read for metric sizing (required) and the other Cityscapes keys (checked when present)
_CAMERA_KEYS = (("intrinsic", ("fx", "fy", "u0", "v0"), True), ("extrinsic", ("pitch", "z"), True))
_CAMERA_OTHER_KEYS = (("extrinsic", ("baseline", "roll", "x", "y", "yaw"), False),)


def _finite(raw: object) -> float | None:
    """``raw`` as a float when it is a finite JSON number (not a bool), else ``None``."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        value = float(raw)
    except OverflowError:  # an integer beyond the float range
        return None
    return value if math.isfinite(value) else None


def _camera_values(path: Path, data: object) -> dict[str, float]:
    """The numeric camera keys of a parsed json, each a finite number (unused Cityscapes keys when present)."""
    if not isinstance(data, dict):
        raise SampleError(f"{path}: camera json is a {type(data).__name__}; expected an object ({_CAMERA_FORMAT})")
    values: dict[str, float] = {}
    for group, keys, required in (*_CAMERA_KEYS, *_CAMERA_OTHER_KEYS):
        section = data.get(group)
        for key in keys:
            if not isinstance(section, dict) or key not in section:
                if not required:
                    continue
                raise SampleError(
                    f"{path}: camera key '{group}.{key}' is missing; expected a finite number ({_CAMERA_FORMAT})"
                )
            raw = section[key]
            value = _finite(raw)
            if value is None:
                shown = repr(raw) if len(repr(raw)) <= 40 else f"{repr(raw)[:40]}..."
                raise SampleError(
                    f"{path}: camera key '{group}.{key}' is {shown}; expected a finite number ({_CAMERA_FORMAT})"
                )
            values[key] = value
    return values


def _check_camera(path: Path, v: dict[str, float], image_size: tuple[int, int] | None) -> None:
    """Refuse values no real camera has: the first failing key, its value and the valid range."""
    checks: list[tuple[str, bool, str]] = [
        ("extrinsic.z", v["z"] > 0, "the camera height above the road in metres (> 0)"),
        ("intrinsic.fx", v["fx"] > 0, "a focal length in pixels (> 0)"),
        ("intrinsic.fy", v["fy"] > 0, "a focal length in pixels (> 0)"),
        ("extrinsic.pitch", abs(v["pitch"]) < math.pi / 2, "a pitch in radians within (-pi/2, pi/2)"),
    ]
    if image_size is not None:
        width, height = image_size
        checks += [
            ("intrinsic.u0", 0 <= v["u0"] <= width, f"a principal point column inside the image (0 <= u0 <= {width})"),
            ("intrinsic.v0", 0 <= v["v0"] <= height, f"a principal point row inside the image (0 <= v0 <= {height})"),
        ]
    for name, ok, expected in checks:
        if not ok:
            key = name.split(".", 1)[1]
            raise SampleError(f"{path}: camera key '{name}' is {v[key]!r}; expected {expected}")


def read_camera(path: Path, image_size: tuple[int, int] | None = None) -> CameraParams:
    """Read a Cityscapes ``*_camera.json`` and check that a real camera could have it.

    Args:
        path: the camera file.
        image_size: ``(width, height)`` of the frame; with it, the principal point must lie in the frame.

    Raises:
        SampleError: the file is missing or not JSON; an intrinsic/extrinsic key is missing or not a finite
            number; or a value is physically impossible: height ``z <= 0``, ``fx`` or ``fy <= 0``,
            ``|pitch| >= pi/2``, the principal point outside the frame.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SampleError(f"{path}: cannot read camera file ({exc.strerror})") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer with too many digits
        raise SampleError(f"{path}: not a JSON camera file ({exc}); expected {_CAMERA_FORMAT}") from exc
    except RecursionError as exc:
        raise SampleError(f"{path}: not a JSON camera file (nested too deeply); expected {_CAMERA_FORMAT}") from exc
    values = _camera_values(path, data)
    _check_camera(path, values, image_size)
    return CameraParams(
        fx=values["fx"], fy=values["fy"], u0=values["u0"], v0=values["v0"], pitch=values["pitch"], height_m=values["z"]
    )
