"""Step 6c of the chain (appearance): a soft contact shadow on the ground under the object's base.

An object standing on the road occludes the sky light right under it. The shadow is an ellipse on
the ground plane centred under the footprint: its half-width is ``width_ratio`` times the footprint's,
its half-height is the half-width foreshortened by the ground plane, ``ry = rx * (foot_row - horizon)
/ fy`` (a circle on the road at that depth), and its darkening falls off as
``strength * exp(-2 r^2)`` with ``r`` the elliptical radius (applied in linear light, cut at ``r = 2``).
Shadow pixels stay normal in the ground truth: a shadow on the road is road.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oodforge.synth.photometric import linear_to_srgb, srgb_to_linear
from oodforge.synth.scene import SceneCamera

__all__ = ["ShadowParams", "apply_shadow", "shadow_factor", "shadow_params"]

_CUT_RADIUS = 2.0
#: Vertical half-axis relative to the horizontal one when no camera gives the foreshortening.
_DEFAULT_FLATNESS = 0.2


@dataclass(frozen=True)
class ShadowParams:
    """An elliptical contact shadow in scene pixels (plain floats, manifest-friendly)."""

    strength: float
    cx: float
    cy: float
    rx: float
    ry: float

    def window(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` (end-exclusive) of the pixels it may darken, clipped to the frame."""
        ex, ey = _CUT_RADIUS * self.rx, _CUT_RADIUS * self.ry
        x0, y0 = max(int(np.floor(self.cx - ex)), 0), max(int(np.floor(self.cy - ey)), 0)
        x1, y1 = min(int(np.ceil(self.cx + ex)) + 1, width), min(int(np.ceil(self.cy + ey)) + 1, height)
        return x0, y0, max(x1, x0), max(y1, y0)


def shadow_params(
    footprint: npt.NDArray[np.bool_],
    x0: int,
    y0: int,
    foot_row: int,
    camera: SceneCamera | None,
    *,
    strength: float,
    width_ratio: float,
) -> ShadowParams | None:
    """The shadow of an object whose footprint (patch coordinates) lies at ``(x0, y0)``; None without one."""
    cols = np.flatnonzero(footprint.any(axis=0))
    if strength <= 0 or cols.size == 0:
        return None
    rx = max(width_ratio * (cols[-1] - cols[0] + 1) / 2.0, 1.0)
    below = foot_row - camera.horizon_row if camera is not None else 0.0
    ry = rx * below / camera.fy_px if camera is not None and below > 0 else rx * _DEFAULT_FLATNESS
    ry = max(ry, 1.0)
    cx = x0 + (cols[0] + cols[-1]) / 2.0
    cy = foot_row - 0.25 * ry
    return ShadowParams(round(float(strength), 6), round(cx, 3), round(cy, 3), round(rx, 3), round(ry, 3))


def shadow_factor(params: ShadowParams, window: tuple[int, int, int, int]) -> npt.NDArray[np.float32]:
    """Multiplicative factor (linear light) over ``window`` = ``(x0, y0, x1, y1)``; 1 outside the shadow."""
    x0, y0, x1, y1 = window
    dx = (np.arange(x0, x1, dtype=np.float64) - params.cx) / params.rx
    dy = (np.arange(y0, y1, dtype=np.float64) - params.cy) / params.ry
    r2 = dy[:, None] ** 2 + dx[None, :] ** 2
    dark = params.strength * np.exp(-2.0 * r2)
    dark[r2 > _CUT_RADIUS**2] = 0.0
    return np.asarray(1.0 - dark, dtype=np.float32)


def apply_shadow(
    window_rgb: npt.NDArray[np.uint8], factor: npt.NDArray[np.float32], exclude: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """Darken ``window_rgb`` by ``factor`` in linear light except on ``exclude``.

    Returns:
        The new window and the ``(h, w)`` bool mask of the pixels the shadow may have changed.
    """
    region = (factor < 1.0) & ~exclude
    out = window_rgb.copy()
    if region.any():
        lin = srgb_to_linear(window_rgb[region].astype(np.float64) / 255.0) * factor[region][:, None]
        out[region] = np.floor(linear_to_srgb(lin) * 255.0 + 0.5).astype(np.uint8)
    return out, region
