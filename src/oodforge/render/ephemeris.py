"""ALLO's ephemeris table (``render_data_csv``): the Moon, Sun and Earth of each day (pure NumPy).

Format, as ALLO reads it (``render_binary.py``): plain comma-separated numbers, no header, one row per
day, 12 columns: Moon radius, x, y, z; Sun radius, x, y, z; Earth radius, x, y, z, in Blender scene
units with the station (``ISS``) at the origin. Day ``d`` is the **0-based row index** (line ``d + 1``
of the file): day 1 is the second line. Row 0 of ALLO's published table is uninitialised memory
(values such as ``6.9e-310`` and ``-3.6e+304``), so it is never a day here. Each body gets
``dimensions = 2 × radius`` and ``location = (x, y, z)``; the bodies are the objects named ``moon``,
``sun`` and ``earth``.

The whole file is checked when it is read (12 numeric columns on every line, no empty line before the
last row: an empty line would shift every later day); a row is checked when its day is asked for
(finite values, positive radii, the Sun away from the station). Every error is one line naming the file
and the row. A lookup is an array index (tens of µs with the checks; `make bench`); files are cached by path, size and
modification time.

The light: oodforge points its sun lamp from the Sun's table position towards the station (the
origin), so shading follows the ephemeris. ALLO as published does not: its sun lamp sits at the origin
with a track-to constraint on the station, also at the origin, so the lamp keeps one direction (light
travelling along -Z) whatever the day; only the Sun *mesh* moves.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oodforge.errors import InputFileError

__all__ = ["BODIES", "Body", "Ephemeris", "EphemerisDay", "load_ephemeris", "parse_ephemeris"]

#: Body names in the table's column order (ALLO's object names).
BODIES: tuple[str, ...] = ("moon", "sun", "earth")
COLUMNS = 4 * len(BODIES)
_LIMIT = 1e12  # larger magnitudes are garbage, not scene units
_HEADER = "moon r, x, y, z, sun r, x, y, z, earth r, x, y, z"

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Body:
    """One body of one day: its radius (``dimensions = 2 × radius``) and its location."""

    radius: float
    location: Vec3


@dataclass(frozen=True)
class EphemerisDay:
    """The bodies of one day (``row`` = ``day``, the 0-based row index; the file's line is ``row + 1``)."""

    day: int
    row: int
    moon: Body
    sun: Body
    earth: Body

    def bodies(self) -> dict[str, Body]:
        """The bodies by object name (``moon``, ``sun``, ``earth``)."""
        return {"moon": self.moon, "sun": self.sun, "earth": self.earth}

    @property
    def sun_direction(self) -> Vec3:
        """Unit vector from the station (origin) towards the Sun: the light comes from there."""
        x, y, z = self.sun.location
        n = math.sqrt(x * x + y * y + z * z)
        return (x / n, y / n, z / n)

    @property
    def light_direction(self) -> Vec3:
        """Unit vector the sunlight travels along (from the Sun towards the station)."""
        x, y, z = self.sun_direction
        return (-x, -y, -z)


def _where(source: str, line: int) -> str:
    return f"scene.ephemeris: {source} line {line}"


def parse_ephemeris(text: str, source: str = "<ephemeris>") -> np.ndarray:
    r"""Parse ALLO's ephemeris text into an (N, 12) float64 array (row = day); row values are not judged here.

    Raises:
        InputFileError: no rows, an empty line before the last row, a line without 12 columns, or a value
            that is not a number (one line naming ``source`` and the line).

    Example:
        >>> parse_ephemeris("0,0,0,0,0,0,0,0,0,0,0,0\n1,0,0,5,2,9,0,0,3,0,8,0\n").shape
        (2, 12)
    """
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise InputFileError(f"scene.ephemeris: {source}: no rows (expected {COLUMNS} columns: {_HEADER})")
    out = np.empty((len(lines), COLUMNS), np.float64)
    for i, line in enumerate(lines):
        if not line.strip():
            raise InputFileError(
                f"{_where(source, i + 1)} (row {i}): empty line before the last row (a day is its row index, "
                "so it would shift every later day)"
            )
        cells = line.split(",")
        if len(cells) != COLUMNS:
            raise InputFileError(
                f"{_where(source, i + 1)} (row {i}): {len(cells)} columns, expected {COLUMNS} ({_HEADER})"
            )
        for j, cell in enumerate(cells):
            try:
                out[i, j] = float(cell)
            except ValueError:
                raise InputFileError(
                    f"{_where(source, i + 1)} (row {i}), column {j + 1}: {cell.strip()!r} is not a number"
                ) from None
    return out


def _row_problem(row: np.ndarray) -> str | None:
    for k, name in enumerate(BODIES):
        r, loc = row[4 * k], row[4 * k + 1 : 4 * k + 4]
        if not (np.isfinite(r) and np.all(np.isfinite(loc))):
            return f"{name} has a non-finite value"
        if not 1e-9 < r < _LIMIT:
            return f"{name} radius {r:g} is not a usable size"
        if np.any(np.abs(loc) >= _LIMIT):
            return f"{name} location {[float(v) for v in loc]} is out of range"
    if float(np.linalg.norm(row[5:8])) <= 1e-9:
        return "the Sun sits on the station (no light direction)"
    return None


@dataclass(frozen=True)
class Ephemeris:
    """A parsed ephemeris file: ``table`` is (N, 12), row ``d`` = day ``d``; row 0 is never a day."""

    source: str
    table: np.ndarray

    @property
    def last_day(self) -> int:
        """The last day in the table (its last row index)."""
        return len(self.table) - 1

    def day(self, day: int) -> EphemerisDay:
        """The bodies of ``day`` (the 0-based row index, as ALLO).

        Raises:
            InputFileError: day 0 (ALLO's garbage first row), a day outside the table, or a garbage row.
        """
        where = f"scene.ephemeris: {self.source}"
        if day == 0:
            raise InputFileError(
                f"{where} row 0 (line 1) is ALLO's uninitialised first row, not a day; days start at 1 (days.start)"
            )
        if not 0 < day <= self.last_day:
            raise InputFileError(
                f"{where}: day {day} is outside the table (days 1..{self.last_day}; day = 0-based row index)"
            )
        row = self.table[day]
        problem = _row_problem(row)
        if problem is not None:
            raise InputFileError(f"{where} row {day} (line {day + 1}, day {day}) is garbage: {problem}")

        def body(k: int) -> Body:
            x, y, z = (float(v) for v in row[4 * k + 1 : 4 * k + 4])
            return Body(float(row[4 * k]), (x, y, z))

        return EphemerisDay(day=day, row=day, moon=body(0), sun=body(1), earth=body(2))


@functools.lru_cache(maxsize=8)
def _load(path: str, _size: int, _mtime_ns: int) -> Ephemeris:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputFileError(f"scene.ephemeris: {path}: not a text file") from None
    except OSError as exc:
        raise InputFileError(f"scene.ephemeris: {path}: cannot read ({exc.strerror})") from None
    table = parse_ephemeris(text, path)
    table.setflags(write=False)
    return Ephemeris(path, table)


def load_ephemeris(path: str | Path) -> Ephemeris:
    """Read and check an ephemeris file in ALLO's format (cached by path, size and modification time).

    Raises:
        InputFileError: missing or unreadable file, or a malformed line (one line naming file and line).
    """
    p = str(path)
    try:
        st = os.stat(p)
    except OSError:
        raise InputFileError(f"scene.ephemeris: {p} not found") from None
    return _load(p, st.st_size, st.st_mtime_ns)
