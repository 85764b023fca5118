"""ALLO's camera protocol (pure NumPy): table poses plus seeded per-day noise, ``Camera<k>`` naming.

ALLO (``render_binary.py``, ``utils/camera.py``) builds its cameras itself: for ``cams: {start, end}`` it
renders ``Camera<k>`` for every ``k`` in ``start..end`` (inclusive) and poses it from row ``k`` (0-based)
of one of two hard-coded tables: the 40 *training* poses in a normal run, the 10 *test* poses in an
anomalous run, so ``Camera2`` of a normal frame and ``Camera2`` of an anomalous frame are different
poses. Each day it adds noise: N(0, 1) to the location and N(0, 0.2) radians to each Euler angle, the
angles (roll, pitch, yaw) going straight into Blender's ``rotation_euler`` (``XYZ``: x = roll,
y = pitch, z = yaw). Its lens is 25 mm on Blender's default 36 mm sensor (``sensor_fit = AUTO``).

ALLO draws the noise from NumPy's global generator in camera order, so its values depend on what ran
before. oodforge draws it from its own generator per (seed, camera, day, normal/anomalous):
``stable_uint64(seed, "allo-camera", camera, day, table)``, location noise first, then the angles.
The tables are data carried over from ALLO (MIT): :mod:`oodforge.render._allo_poses`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from oodforge._seeding import stable_uint64
from oodforge.render._allo_poses import TEST_POSES, TRAIN_POSES

__all__ = [
    "ALLO_CLIP_END",
    "ALLO_LENS_MM",
    "ALLO_TEST_POSES",
    "ALLO_TRAIN_POSES",
    "AlloPose",
    "allo_camera_name",
    "allo_pose",
]

ALLO_TRAIN_POSES = TRAIN_POSES
ALLO_TEST_POSES = TEST_POSES
#: ALLO's camera lens (mm) on Blender's default 36 mm sensor.
ALLO_LENS_MM = 25.0
#: ALLO's camera far clip (scene units): the ephemeris bodies lie up to 4000 units away.
ALLO_CLIP_END = 10000.0
LOCATION_SIGMA = 1.0
ANGLE_SIGMA = 0.2

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class AlloPose:
    """One noisy ALLO camera pose: the table row used and the pose written to the camera object."""

    table: Literal["train", "test"]
    row: int
    table_location: Vec3
    table_rotation: Vec3  # (roll, pitch, yaw) = rotation_euler (x, y, z), radians
    location: Vec3
    rotation_euler: Vec3


def allo_camera_name(k: int) -> str:
    """ALLO's name of the camera of table row ``k``: ``Camera<k>`` (no padding).

    Example:
        >>> allo_camera_name(3)
        'Camera3'
    """
    return f"Camera{k}"


def _vec(values: np.ndarray) -> Vec3:
    x, y, z = (float(v) for v in values)
    return (x, y, z)


def allo_pose(seed: int, k: int, day: int, *, anomalous: bool) -> AlloPose:
    """The pose of ``Camera<k>`` on ``day``: table row ``k`` (test table when ``anomalous``) plus seeded noise.

    Args:
        seed: the run's seed.
        k: the table row (0-based, as ALLO's ``cams.start..end``).
        day: the rendered day (a new noise draw each day).
        anomalous: anomalous frames use the 10 test poses, normal frames the 40 training poses.

    Raises:
        IndexError: ``k`` outside the table.

    Example:
        >>> p = allo_pose(0, 1, 5, anomalous=False)
        >>> p.table, p.row, p.table_location
        ('train', 1, (-32.058, -12.693, 0.985))
        >>> p == allo_pose(0, 1, 5, anomalous=False) != allo_pose(0, 1, 6, anomalous=False)
        True
    """
    table: Literal["train", "test"] = "test" if anomalous else "train"
    poses = TEST_POSES if anomalous else TRAIN_POSES
    if not 0 <= k < len(poses):
        raise IndexError(f"Camera{k}: ALLO's {table} table has poses 0..{len(poses) - 1}")
    row = np.asarray(poses[k], np.float64)
    rng = np.random.Generator(np.random.PCG64(stable_uint64(seed, "allo-camera", allo_camera_name(k), day, table)))
    d_loc = rng.normal(0.0, LOCATION_SIGMA, 3)
    d_rot = rng.normal(0.0, ANGLE_SIGMA, 3)
    return AlloPose(
        table=table,
        row=k,
        table_location=_vec(row[:3]),
        table_rotation=_vec(row[3:]),
        location=_vec(row[:3] + d_loc),
        rotation_euler=_vec(row[3:] + d_rot),
    )
