"""Cameras and ephemeris bodies in Blender (``bpy``, untyped: ``Any``).

:class:`CameraRig` poses the camera of a frame for each ``cameras.source``:

- ``orbit``: one camera object per orbit slot, looking at ``cameras.target`` (lens ``cameras.lens_mm``);
- ``allo``: one camera object ``Camera<k>`` per table row with ALLO's 25 mm lens and 10000-unit far clip,
  its ``location`` and ``rotation_euler`` set to the frame's noisy table pose
  (:mod:`oodforge.render.allo_cameras`);
- ``blend``: the file's camera object ``Camera<k>`` as posed there (lens, sensor and sensor fit read
  from it for the placement geometry; lens shift is not modelled).

A normal variant's ``camera_offset`` is added to the location in every case. With an ephemeris the far
clip of the rendering camera is raised, when needed, to reach the day's bodies.

:class:`Bodies` moves the objects named ``moon``, ``sun`` and ``earth`` (ALLO's names) to a day's table
values: ``location = (x, y, z)``, ``dimensions = 2 × radius``. The ``sun`` object casts no shadow (it
sits on the sun lamp's shadow rays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oodforge.errors import InputFileError
from oodforge.render.allo_cameras import ALLO_CLIP_END, ALLO_LENS_MM
from oodforge.render.config import RenderConfig
from oodforge.render.ephemeris import BODIES, EphemerisDay
from oodforge.render.geometry import SENSOR_MM, Camera, matrix_from_euler, orbit_location
from oodforge.render.plan import FrameSpec, camera_names

__all__ = ["Bodies", "CameraRig"]

_ORBIT_CLIP_END = 1000.0


def _far_clip(eph: EphemerisDay | None, base: float) -> float:
    if eph is None:
        return base
    far = max(float(np.linalg.norm(b.location)) + b.radius for b in eph.bodies().values())
    return max(base, 1.5 * far)


class CameraRig:
    """The camera objects of a session and the pinhole geometry of each frame's camera."""

    def __init__(self, bpy: Any, scene: Any, cfg: RenderConfig) -> None:
        self.bpy, self.scene, self.cfg = bpy, scene, cfg
        self.objs: dict[str, Any] = {}
        self.home: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # blend cameras: (location, world matrix) in the file
        if cfg.cameras.source == "blend":
            self._find_blend_cameras()

    def _find_blend_cameras(self) -> None:
        found = sorted(o.name for o in self.scene.objects if o.type == "CAMERA")
        for name, _ in camera_names(self.cfg):
            obj = self.scene.objects.get(name)
            if obj is None or obj.type != "CAMERA":
                have = ", ".join(found) or "none"
                raise InputFileError(
                    f"scene.blend_file: {self.cfg.scene.blend_file} has no camera object named {name} "
                    f"(cameras.source blend, start..end; camera objects found: {have})"
                )
            if obj.data.type != "PERSP":
                raise InputFileError(f"scene.blend_file: camera {name} is {obj.data.type}, expected a perspective one")
            self.objs[name] = obj
            self.home[name] = (np.array(obj.location, np.float64), np.array(obj.matrix_world, np.float64))

    def _blend_camera(self, frame: FrameSpec) -> Camera:
        obj = self.objs[frame.camera]
        w, h = self.cfg.render.resolution
        m = self.home[frame.camera][1]
        rot = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
        data = obj.data
        fit = data.sensor_fit
        if fit == "VERTICAL":
            focal_px = data.lens / data.sensor_height * h
        else:  # AUTO: the sensor width spans the larger side; HORIZONTAL: the width
            focal_px = data.lens / data.sensor_width * (w if fit == "HORIZONTAL" else max(w, h))
        lens = focal_px * SENSOR_MM / max(w, h)  # the same focal length on oodforge's 36 mm AUTO sensor
        return Camera(m[:3, 3] + np.asarray(frame.camera_offset), rot, lens, w, h)

    def camera(self, frame: FrameSpec) -> Camera:
        """The pinhole camera of a frame (its source's pose plus the normal variant's offset)."""
        c = self.cfg.cameras
        w, h = self.cfg.render.resolution
        offset = np.asarray(frame.camera_offset)
        if frame.camera_source == "allo":
            if frame.allo_pose is None:
                raise ValueError(f"{frame.frame_id}: an ALLO camera frame without its pose")
            loc = np.asarray(frame.allo_pose.location) + offset
            return Camera(loc, matrix_from_euler(frame.allo_pose.rotation_euler), ALLO_LENS_MM, w, h)
        if frame.camera_source == "blend":
            return self._blend_camera(frame)
        loc = orbit_location(frame.slot, c.count, c.radius, c.height, c.target) + offset
        return Camera.looking_at(loc, c.target, c.lens_mm, w, h)

    def _new_camera(self, name: str, lens: float, clip_end: float) -> Any:
        data = self.bpy.data.cameras.new(name)
        data.lens, data.sensor_width, data.sensor_fit = lens, 36.0, "AUTO"
        data.clip_start, data.clip_end = 0.05, clip_end
        obj = self.bpy.data.objects.new(name, data)
        self.scene.collection.objects.link(obj)
        self.objs[name] = obj
        return obj

    def pose(self, frame: FrameSpec, cam: Camera) -> Any:
        """Pose (or create) the Blender camera object of ``frame`` at ``cam``; returns it."""
        obj = self.objs.get(frame.camera)
        if frame.camera_source == "blend":
            obj = self.objs[frame.camera]
            obj.location = (self.home[frame.camera][0] + np.asarray(frame.camera_offset)).tolist()
            obj.data.clip_end = max(obj.data.clip_end, _far_clip(frame.ephemeris, 0.0))
            return obj
        if frame.camera_source == "allo":
            if obj is None:
                obj = self._new_camera(frame.camera, ALLO_LENS_MM, ALLO_CLIP_END)
            obj.location = cam.location.tolist()
            obj.rotation_euler = frame.allo_pose.rotation_euler if frame.allo_pose else cam.euler
            obj.data.clip_end = _far_clip(frame.ephemeris, ALLO_CLIP_END)
            return obj
        if obj is None:
            obj = self._new_camera(frame.camera, self.cfg.cameras.lens_mm, _ORBIT_CLIP_END)
        obj.location = cam.location.tolist()
        obj.rotation_euler = cam.euler
        if frame.ephemeris is not None:
            obj.data.clip_end = _far_clip(frame.ephemeris, _ORBIT_CLIP_END)
        return obj


class Bodies:
    """The scene's ``moon``, ``sun`` and ``earth`` objects, moved to a day of the ephemeris."""

    def __init__(self, bpy: Any, scene: Any, cfg: RenderConfig) -> None:
        self.bpy = bpy
        self.objs = {name: scene.objects[name] for name in BODIES if scene.objects.get(name) is not None}
        if not self.objs:
            where = cfg.scene.blend_file or "the procedural scene"
            raise InputFileError(
                f"scene.ephemeris: {where} has no object named {', '.join(BODIES)} to move (ALLO's names)"
            )
        if "sun" in self.objs:
            self.objs["sun"].visible_shadow = False
        self.day: int | None = None

    @property
    def moved(self) -> list[str]:
        """Names of the bodies the ephemeris moves, in table order."""
        return [name for name in BODIES if name in self.objs]

    def apply(self, eph: EphemerisDay) -> bool:
        """Move and size the bodies for ``eph``; False when that day is already applied."""
        if self.day == eph.day:
            return False
        for name, body in eph.bodies().items():
            obj = self.objs.get(name)
            if obj is not None:
                obj.location = body.location
                obj.dimensions = (2.0 * body.radius,) * 3
        self.bpy.context.view_layer.update()
        self.day = eph.day
        return True
