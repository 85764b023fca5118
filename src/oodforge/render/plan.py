"""The frames of a render run, planned without Blender: cameras, days, mode values, frame names.

Per camera and day (a *group*) the values shared by its frames are drawn from one generator seeded by
``stable_uint64(seed, camera, day)``: the anomaly object, its scale, the palette colour and its rotation
(all four are always drawn, so switching one mode on or off leaves the others' values unchanged). A
second child stream of the same seed drives the placement search (:func:`placement_rng`). Normal
variants ``v1, v2, ...`` shift the camera by a noise drawn from ``image_seed(seed, camera, frame_id)``.

Frame names: ``d001_normal_i10`` (``_v1`` ...) and ``d001_anomaly_i10_s0.50_d+1.0_cred``.

Cameras are named ``cam01``... on the orbit and ``Camera<k>`` (ALLO's names) with ``cameras.source``
``allo`` or ``blend``. With ``allo`` each frame carries its noisy table pose
(:func:`oodforge.render.allo_cameras.allo_pose`: training table for normal frames, test table for
anomalous ones). With ``scene.ephemeris`` each frame carries its day's bodies and the sun's azimuth and
elevation come from the Sun's table position; without it they follow the ``days`` sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from oodforge._seeding import image_seed, stable_uint64
from oodforge.errors import UsageError
from oodforge.render.allo_cameras import AlloPose, allo_camera_name, allo_pose
from oodforge.render.config import RenderConfig
from oodforge.render.ephemeris import EphemerisDay, load_ephemeris
from oodforge.render.palette import colour_entry

__all__ = ["FrameSpec", "camera_names", "days_of", "group_seed", "placement_rng", "plan_frames"]

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class FrameSpec:
    """Everything that defines one frame except the anomaly's position (found by the placement search)."""

    camera: str
    slot: int  # 1-based orbit slot, or k of Camera<k> (allo, blend)
    day: int
    frame_id: str
    anomalous: bool
    sun_strength: float
    sun_azimuth_deg: float
    sun_elevation_deg: float
    seed: int  # the group seed (camera, day)
    camera_offset: RGB = (0.0, 0.0, 0.0)
    anomaly: str | None = None
    scale: float | None = None
    depth_offset: float | None = None
    colour: str | None = None  # "default" = the object's own materials
    colour_rgb: RGB | None = None
    rotation: RGB | None = None
    camera_source: str = "orbit"  # orbit | allo | blend
    allo_pose: AlloPose | None = None  # cameras.source allo: the noisy table pose of this frame
    ephemeris: EphemerisDay | None = None  # scene.ephemeris: the bodies of this day

    @property
    def group(self) -> tuple[str, int]:
        """(camera, day): frames sharing the anomaly draws and placement."""
        return (self.camera, self.day)


def camera_names(cfg: RenderConfig) -> list[tuple[str, int]]:
    """(name, slot) of the rendered cameras: ``[("cam01", 1), ...]`` on the orbit, ``[("Camera1", 1), ...]`` else."""
    ks = range(cfg.cameras.first, cfg.cameras.last + 1)
    if cfg.cameras.source != "orbit":
        return [(allo_camera_name(k), k) for k in ks]
    width = max(2, len(str(cfg.cameras.count)))
    return [(f"cam{k:0{width}d}", k) for k in ks]


def days_of(cfg: RenderConfig) -> list[int]:
    """The days of the sweep: ``start, start + interval, ... <= end``."""
    return list(range(cfg.days.start, cfg.days.end + 1, cfg.days.interval))


def group_seed(seed: int, camera: str, day: int) -> int:
    """The seed of the (camera, day) group recorded in the manifest."""
    return stable_uint64(seed, camera, f"day{day}")


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    draws, place = np.random.SeedSequence(seed).spawn(2)
    return np.random.Generator(np.random.PCG64(draws)), np.random.Generator(np.random.PCG64(place))


def placement_rng(seed: int) -> np.random.Generator:
    """The generator of the placement search of a group (independent of the value draws)."""
    return _streams(seed)[1]


def _sun_angles(cfg: RenderConfig, day: int, eph: EphemerisDay | None) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of the direction towards the sun: the ephemeris or the day sweep."""
    if eph is None:
        return cfg.days.azimuth_start_deg + (
            day - cfg.days.start
        ) * cfg.days.azimuth_per_day_deg, cfg.days.elevation_deg
    x, y, z = eph.sun_direction
    return float(np.degrees(np.arctan2(y, x))), float(np.degrees(np.arcsin(np.clip(z, -1.0, 1.0))))


def _group_frames(
    cfg: RenderConfig, camera: str, slot: int, day: int, day_width: int, eph: EphemerisDay | None = None
) -> list[FrameSpec]:
    seed = group_seed(cfg.seed, camera, day)
    rng, _ = _streams(seed)
    modes = cfg.modes
    azimuth, elevation = _sun_angles(cfg, day, eph)
    source = cfg.cameras.source
    common: dict[str, Any] = {"camera": camera, "slot": slot, "day": day, "sun_azimuth_deg": azimuth,
                              "sun_elevation_deg": elevation, "seed": seed, "camera_source": source,
                              "ephemeris": eph}  # fmt: skip
    pose_n = allo_pose(cfg.seed, slot, day, anomalous=False) if source == "allo" else None
    strengths = modes.illumination.sun_strengths if modes.illumination else [cfg.scene.sun_strength]
    # always draw all four values, in this order, so modes do not perturb one another
    k_obj = int(rng.integers(len(cfg.anomalies))) if cfg.anomalies else 0
    u_scale = float(rng.random())
    u_colour = float(rng.random())
    rx, ry, rz = (float(x) for x in rng.uniform(0.0, 2.0 * np.pi, 3))
    rotation: RGB = (rx, ry, rz)
    dtag = f"d{day:0{day_width}d}"
    frames: list[FrameSpec] = []
    for s in strengths:
        for v in range(cfg.normal_per_anomalous):
            fid = f"{dtag}_normal_i{s:g}" + (f"_v{v}" if v else "")
            offset: RGB = (0.0, 0.0, 0.0)
            if v:
                g = np.random.Generator(np.random.PCG64(image_seed(cfg.seed, camera, fid)))
                ox, oy, oz = (float(x) for x in g.uniform(-cfg.cameras.jitter, cfg.cameras.jitter, 3))
                offset = (ox, oy, oz)
            frames.append(FrameSpec(frame_id=fid, anomalous=False, sun_strength=s, camera_offset=offset,
                                    allo_pose=pose_n, **common))  # fmt: skip
    if not cfg.anomalies:
        return frames
    scale = 1.0
    if modes.scale:
        lo, hi = modes.scale.range
        scale = round(lo + u_scale * (hi - lo), 2)
    colours: list[tuple[str, RGB | None]] = [("default", None)]
    if modes.colour:
        pal = modes.colour.palette
        pick = colour_entry(pal[min(int(u_colour * len(pal)), len(pal) - 1)])
        colours = ([("default", None)] if modes.colour.include_default else []) + [pick]
    offsets = modes.depth.offsets if modes.depth else [0.0]
    pose_a = allo_pose(cfg.seed, slot, day, anomalous=True) if source == "allo" else None
    for s in strengths:
        for off in offsets:
            for cname, rgb in colours:
                fid = f"{dtag}_anomaly_i{s:g}_s{scale:.2f}_d{off:+.1f}_c{cname}"
                frames.append(
                    FrameSpec(frame_id=fid, anomalous=True, sun_strength=s, anomaly=cfg.anomalies[k_obj], scale=scale,
                              depth_offset=off, colour=cname, colour_rgb=rgb, rotation=rotation, allo_pose=pose_a,
                              **common)
                )  # fmt: skip
    return frames


def plan_frames(cfg: RenderConfig, *, limit: int | None = None) -> list[FrameSpec]:
    """Every frame of a run, sorted by (camera, frame_id); ``limit`` keeps the first N frames per camera.

    Raises:
        UsageError: ``limit`` below 1, or two frames with the same name.
        InputFileError: ``scene.ephemeris`` is missing, malformed, or has no good row for a rendered day.
    """
    if limit is not None and limit < 1:
        raise UsageError(f"--limit: expected a positive number of frames per camera, got {limit}")
    day_width = max(3, len(str(cfg.days.end)))
    days = days_of(cfg)
    eph: dict[int, EphemerisDay | None] = dict.fromkeys(days)
    if cfg.scene.ephemeris is not None:
        table = load_ephemeris(cfg.scene.ephemeris)
        eph = {d: table.day(d) for d in days}
    out: list[FrameSpec] = []
    for camera, slot in camera_names(cfg):
        frames = [f for day in days for f in _group_frames(cfg, camera, slot, day, day_width, eph[day])]
        frames.sort(key=lambda f: f.frame_id)
        ids = [f.frame_id for f in frames]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise UsageError(f"two frames of {camera} are both named '{dup}' (check the mode values)")
        out.extend(frames[:limit])
    return out
