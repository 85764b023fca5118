"""Pure camera geometry (NumPy): orbit poses, look-at rotations, pinhole projection, pixel rays.

Conventions are Blender's: a camera (or a sun lamp) looks along its local -Z with +Y up; Euler angles
are ``XYZ`` (R = Rz·Ry·Rx); the sensor (36 mm) spans the larger image side (``sensor_fit = AUTO``).
Image coordinates are (column, row) with the origin at the top-left corner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SENSOR_MM",
    "Camera",
    "euler_from_matrix",
    "look_at_matrix",
    "matrix_from_euler",
    "orbit_location",
    "sun_direction",
]

SENSOR_MM = 36.0


def look_at_matrix(forward: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """3×3 rotation whose local -Z is ``forward`` and whose local +Y is as close to ``up`` as possible."""
    f = np.asarray(forward, np.float64)
    f = f / np.linalg.norm(f)
    u = np.asarray(up, np.float64)
    if abs(float(np.dot(f, u))) > 0.999:  # looking straight up or down: any horizontal up will do
        u = np.array([0.0, 1.0, 0.0])
    r = np.cross(f, u)
    r /= np.linalg.norm(r)
    return np.stack([r, np.cross(r, f), -f], axis=1)


def euler_from_matrix(m: np.ndarray) -> tuple[float, float, float]:
    """Blender ``XYZ`` Euler angles (radians) of a rotation matrix.

    Example:
        >>> [abs(round(a, 6)) for a in euler_from_matrix(np.eye(3))]
        [0.0, 0.0, 0.0]
    """
    a = float(np.arctan2(m[2, 1], m[2, 2]))
    b = float(np.arctan2(-m[2, 0], np.hypot(m[0, 0], m[1, 0])))
    c = float(np.arctan2(m[1, 0], m[0, 0]))
    return a, b, c


def matrix_from_euler(e: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    """3×3 rotation of Blender ``XYZ`` Euler angles (R = Rz·Ry·Rx)."""
    a, b, c = (float(x) for x in e)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def orbit_location(
    slot: int, count: int, radius: float, height: float, target: tuple[float, float, float]
) -> np.ndarray:
    """Location of orbit slot ``slot`` (1-based) of ``count`` evenly spaced around ``target``."""
    ang = 2.0 * np.pi * (slot - 1) / count
    t = np.asarray(target, np.float64)
    return t + np.array([radius * np.cos(ang), radius * np.sin(ang), height])


def sun_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector from the scene towards the sun."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: world location, rotation (columns = local X, Y, Z axes), lens and image size."""

    location: np.ndarray
    rotation: np.ndarray
    lens_mm: float
    width: int
    height: int

    @classmethod
    def looking_at(
        cls, location: np.ndarray, target: tuple[float, float, float], lens_mm: float, width: int, height: int
    ) -> Camera:
        """A camera at ``location`` looking at ``target`` with world +Z up."""
        loc = np.asarray(location, np.float64)
        return cls(loc, look_at_matrix(np.asarray(target) - loc), lens_mm, width, height)

    @property
    def focal_px(self) -> float:
        """Focal length in pixels (the sensor spans the larger image side)."""
        return self.lens_mm / SENSOR_MM * max(self.width, self.height)

    @property
    def forward(self) -> np.ndarray:
        """Unit view direction (local -Z)."""
        return -self.rotation[:, 2]

    @property
    def euler(self) -> tuple[float, float, float]:
        """Blender ``XYZ`` Euler angles of the camera object."""
        return euler_from_matrix(self.rotation)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project (N, 3) world points to (N, 2) image coordinates (column, row) and their (N,) depths."""
        c = (np.asarray(points, np.float64) - self.location) @ self.rotation
        depth = -c[:, 2]
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        f = self.focal_px
        uv = np.stack([self.width / 2 + f * c[:, 0] / safe, self.height / 2 - f * c[:, 1] / safe], axis=1)
        return uv, depth

    def pixel_rays(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Unit world directions (N, 3) of the rays through pixel centres ``(cols + 0.5, rows + 0.5)``."""
        f = self.focal_px
        x = (np.asarray(cols, np.float64) + 0.5 - self.width / 2) / f
        y = -(np.asarray(rows, np.float64) + 0.5 - self.height / 2) / f
        d = np.stack([x, y, -np.ones_like(x)], axis=1) @ self.rotation.T
        return d / np.linalg.norm(d, axis=1, keepdims=True)
