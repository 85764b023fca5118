"""A pinhole camera over flat ground, written in the Cityscapes ``camera/*.json`` format.

Vehicle frame: X to the right, Y down (from the camera), Z forward; the camera is pitched down by
``pitch`` and sits ``height`` metres above the ground (Cityscapes ``extrinsic.z``). The horizon is row
``v0 - fy * tan(pitch)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Camera", "random_camera"]


@dataclass(frozen=True)
class Camera:
    """Intrinsics and the extrinsics the demo world uses (yaw = roll = 0)."""

    fx: float
    fy: float
    u0: float
    v0: float
    pitch: float
    height: float
    baseline: float = 0.209313

    @property
    def horizon(self) -> float:
        """Image row of the horizon of the ground plane."""
        return self.v0 - self.fy * math.tan(self.pitch)

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """Image (u, v) of the vehicle-frame point (x right, y down from the camera, z forward)."""
        c, s = math.cos(self.pitch), math.sin(self.pitch)
        zc = z * c + y * s
        yc = y * c - z * s
        return self.u0 + self.fx * x / zc, self.v0 + self.fy * yc / zc

    def depth(self, y: float, z: float) -> float:
        """Camera-frame depth of the point at height ``y`` (down) and distance ``z``; ``fx / depth`` is px per metre."""
        return z * math.cos(self.pitch) + y * math.sin(self.pitch)

    def ground_maps(self, height: int, width: int, max_z: float = 2000.0) -> tuple[np.ndarray, np.ndarray]:
        """Forward distance Z and lateral X (metres) of the ground point seen at every pixel.

        Rows at or above the horizon get ``Z = inf`` and ``X = 0``.

        Returns:
            ``(z, x)`` float64 arrays of shape (height, width).
        """
        c, s = math.cos(self.pitch), math.sin(self.pitch)
        v = np.arange(height, dtype=np.float64)[:, None] + 0.5
        u = np.arange(width, dtype=np.float64)[None, :] + 0.5
        t = (v - self.v0) / self.fy
        denom = t * c + s
        below = denom > 1e-9
        z = np.where(below, self.height * (c - t * s) / np.where(below, denom, 1.0), np.inf)
        z = np.where(z > max_z, np.inf, z)
        zc = np.where(np.isfinite(z), z * c + self.height * s, np.inf)
        x = np.where(np.isfinite(zc), (u - self.u0) * np.where(np.isfinite(zc), zc, 0.0) / self.fx, 0.0)
        return np.broadcast_to(z, (height, width)).copy(), x

    def to_json(self) -> dict[str, object]:
        """The Cityscapes ``camera/<split>/<city>/<stem>_camera.json`` object."""
        return {
            "baseline": self.baseline,
            "extrinsic": {
                "baseline": self.baseline,
                "pitch": self.pitch,
                "roll": 0.0,
                "x": 1.7,
                "y": 0.1,
                "yaw": 0.0,
                "z": self.height,
            },
            "intrinsic": {"fx": self.fx, "fy": self.fy, "u0": self.u0, "v0": self.v0},
        }


def random_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    """A Cityscapes-like camera for a ``width`` x ``height`` image (fx = fy ~ 1.1 W, pitch 0.03-0.06 rad)."""
    f = round(width * 1.1 * float(rng.uniform(0.985, 1.015)), 4)
    return Camera(
        fx=f,
        fy=f,
        u0=round(width / 2 + float(rng.uniform(-0.01, 0.01)) * width, 4),
        v0=round(height / 2 + float(rng.uniform(-0.01, 0.01)) * height, 4),
        pitch=round(float(rng.uniform(0.03, 0.06)), 5),
        height=round(float(rng.uniform(1.15, 1.3)), 4),
    )
