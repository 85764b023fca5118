"""The ground-plane layout of a demo frame, in metres: road, sidewalks, terrain, walls, far facade."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Blocks", "Street", "random_street"]


@dataclass(frozen=True)
class Blocks:
    """A piecewise-constant profile: ``heights[i]`` holds from ``edges[i-1]`` to ``edges[i]`` (last one onwards)."""

    edges: np.ndarray
    heights: np.ndarray

    def at(self, pos: np.ndarray) -> np.ndarray:
        """Height at each position."""
        idx = np.minimum(np.searchsorted(self.edges, pos, side="right"), len(self.heights) - 1)
        return self.heights[idx]


def _blocks(rng: np.random.Generator, length: tuple[float, float], height: tuple[float, float], total: float) -> Blocks:
    edges: list[float] = []
    pos = 0.0
    while pos < total:
        pos += float(rng.uniform(*length))
        edges.append(pos)
    heights = rng.uniform(*height, size=len(edges) + 1)
    return Blocks(np.asarray(edges), heights)


@dataclass(frozen=True)
class Street:
    """Ground layout: lateral widths (m) measured from the road centre line ``offset + curv * z**2``."""

    has_road: bool
    half: float
    sw_left: float
    sw_right: float
    terrain_left: float
    terrain_right: float
    offset: float
    curv: float
    side_left: str
    side_right: str
    z_end: float
    patches: tuple[tuple[float, float, float, float], ...]
    walls_left: Blocks
    walls_right: Blocks
    far: Blocks
    #: label of the band next to the road: ``sidewalk`` on streets, ``ground`` (void) on a plaza
    paving: str = "sidewalk"

    def centre(self, z: np.ndarray) -> np.ndarray:
        """Lateral position (m) of the road centre line at forward distance ``z``."""
        return self.offset + self.curv * z**2

    def wall_x(self, *, left: bool) -> float:
        """Lateral position (m) of the left or right wall (curvature ignored: walls are straight)."""
        if left:
            return self.offset - self.half - self.sw_left - self.terrain_left
        return self.offset + self.half + self.sw_right + self.terrain_right

    def wall_heights(self, z: np.ndarray, *, left: bool) -> np.ndarray:
        """Height (m) of the left or right wall at forward distances ``z``."""
        return (self.walls_left if left else self.walls_right).at(z)

    def far_heights(self, width: int) -> np.ndarray:
        """Per column: height of the far facade (m) when the street is closed, else skyline height (px)."""
        frac = (np.arange(width, dtype=np.float64) + 0.5) / width
        return self.far.at(frac)

    def lateral_band(self, what: str, *, left: bool) -> tuple[float, float]:
        """(inner, outer) lateral distance from the centre line of ``road`` lane, ``sidewalk`` or ``kerb``."""
        sw = self.sw_left if left else self.sw_right
        if what == "road":
            return (0.4, max(0.5, self.half - 1.1))
        if what == "kerb":
            return (self.half + 0.25, self.half + 0.6)
        return (self.half + 0.3, self.half + max(0.5, sw - 0.3))


def _side(rng: np.random.Generator) -> str:
    return "vegetation" if rng.random() < 0.3 else "building"


def _walls(rng: np.random.Generator, side: str) -> Blocks:
    if side == "vegetation":
        return _blocks(rng, (2.5, 6.0), (3.0, 8.0), 400.0)
    return _blocks(rng, (6.0, 22.0), (5.0, 16.0), 400.0)


def random_street(rng: np.random.Generator, *, has_road: bool = True) -> Street:
    """A random street (or, with ``has_road=False``, a plaza paved with ``ground``, with terrain patches)."""
    side_l, side_r = _side(rng), _side(rng)
    if not has_road:
        plaza = float(rng.uniform(9.0, 18.0))
        patches = tuple(
            (float(rng.uniform(-plaza, plaza)), float(rng.uniform(8, 40)), float(rng.uniform(1.5, 5)),
             float(rng.uniform(2, 8)))
            for _ in range(int(rng.integers(1, 4)))
        )  # fmt: skip
        return Street(
            has_road=False, half=0.0, sw_left=plaza, sw_right=plaza, terrain_left=0.0, terrain_right=0.0,
            offset=float(rng.uniform(-3, 3)), curv=0.0, side_left=side_l, side_right=side_r,
            z_end=float(rng.uniform(35, 70)), patches=patches, walls_left=_walls(rng, side_l),
            walls_right=_walls(rng, side_r), far=_blocks(rng, (0.08, 0.3), (5.0, 14.0), 1.0), paving="ground",
        )  # fmt: skip
    half = float(rng.uniform(3.0, 6.5))
    closed = rng.random() < 0.3
    return Street(
        has_road=True,
        half=half,
        sw_left=float(rng.uniform(1.8, 4.5)),
        sw_right=float(rng.uniform(1.8, 4.5)),
        terrain_left=float(rng.uniform(1.0, 4.0)) if rng.random() < 0.35 else 0.0,
        terrain_right=float(rng.uniform(1.0, 4.0)) if rng.random() < 0.35 else 0.0,
        offset=float(rng.uniform(-0.35, 0.35)) * half,
        curv=float(rng.uniform(-0.0025, 0.0025)) if rng.random() < 0.6 else 0.0,
        side_left=side_l,
        side_right=side_r,
        z_end=float(rng.uniform(90, 180)) if closed else math.inf,
        patches=(),
        walls_left=_walls(rng, side_l),
        walls_right=_walls(rng, side_r),
        far=_blocks(rng, (0.03, 0.12), (8.0, 20.0), 1.0) if closed else _blocks(rng, (0.02, 0.08), (1.0, 9.0), 1.0),
    )
