"""A short ephemeris in ALLO's format for the procedural render scene (demo and tests).

``write_demo_ephemeris(path, days=8)`` writes ``days + 1`` rows of 12 comma-separated numbers, no header,
as ALLO's ``render_data_csv``: Moon radius, x, y, z; Sun radius, x, y, z; Earth radius, x, y, z, with the
station at the origin. Row 0 is garbage on purpose (ALLO's first row is uninitialised memory), so day
``d`` is row ``d``. The distances and sizes are ALLO's (Moon 500 units away, radius 150-250; Sun 4000
away, radius 19; Earth 2000 away, radius 35); the directions suit the procedural scene's orbit cameras:
the Moon 35° below the horizon turning 23° a day, the Sun 25° above it turning 40° a day from 70°
azimuth (the built-in day sweep's light on day 1), the Earth 10° up, slowly turning. Not real
ephemerides: made-up values in the real format.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from oodforge._io import atomic_write_bytes

__all__ = ["GARBAGE_ROW", "demo_ephemeris_table", "write_demo_ephemeris"]

#: A first row like ALLO's (uninitialised doubles).
GARBAGE_ROW: tuple[float, ...] = (6.9337806249778e-310, 1.6276830648708e-316, 1.6276830648708e-316,
                                  1.6276830648708e-316, 1.185757550019e-322, 6.9337803159077e-310,
                                  -3.5659785519256e304, 1.5973387386608e-316, 8.9123823228941e-313,
                                  9.1245819019906e-313, 0.0, 1.5717714343673e-316)  # fmt: skip


def _at(distance: float, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def demo_ephemeris_table(days: int = 8) -> np.ndarray:
    """The (days + 1, 12) table: row 0 garbage, row ``d`` the bodies of day ``d``.

    Example:
        >>> t = demo_ephemeris_table(3)
        >>> t.shape, round(float(np.linalg.norm(t[1, 5:8])))
        ((4, 12), 4000)
    """
    if days < 1:
        raise ValueError(f"expected at least one day, got {days}")
    rows = [np.asarray(GARBAGE_ROW, np.float64)]
    for d in range(1, days + 1):
        moon = _at(500.0, -90.0 + 23.0 * (d - 1), -35.0)
        sun = _at(4000.0, 30.0 + 40.0 * d, 25.0)
        earth = _at(2000.0, 200.0 + 5.0 * d, 10.0)
        moon_r = 200.0 + 50.0 * np.sin(0.7 * d)
        rows.append(np.concatenate([[moon_r], moon, [19.0], sun, [35.0], earth]))
    return np.stack(rows)


def write_demo_ephemeris(path: str | Path, *, days: int = 8) -> Path:
    """Write :func:`demo_ephemeris_table` to ``path`` in ALLO's text format (atomically); returns the path."""
    buf = io.StringIO()
    np.savetxt(buf, demo_ephemeris_table(days), delimiter=",", fmt="%.18e")
    out = Path(path)
    atomic_write_bytes(out, buf.getvalue().encode("ascii"))
    return out
