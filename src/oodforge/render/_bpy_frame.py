"""One Blender session: camera and sun per frame, ALLO-like anomaly placement, render, object-index pass.

Placement of a (camera, day) group: the anomaly (with the group's rotation and scale) is put
``placement.distance`` ahead of the camera plus a uniform offset in a cube of half-side
``jitter × distance``; a candidate is kept when, at every depth offset, it lies in front of the camera
and neither intersects (BVH overlap) nor sits inside a scene object, its centre projects inside the
frame (``margin``), and, with ``require_visible``, rays through the pixels it covers estimate at least
more than ``min_pixel`` visible pixels (ALLO's rule: ``preprocess`` skips a frame with ``<= min_pixel``; at least
one). The first candidate that passes wins (``max_tries`` at most).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from oodforge.errors import SampleError
from oodforge.render._bpy_scene import build_scene, import_bpy, quiet_stdout
from oodforge.render._bpy_shapes import material
from oodforge.render._bpy_views import Bodies, CameraRig
from oodforge.render.config import RenderConfig
from oodforge.render.geometry import Camera, euler_from_matrix, look_at_matrix, matrix_from_euler, sun_direction
from oodforge.render.plan import FrameSpec, placement_rng

__all__ = ["BlenderSession", "RenderedFrame"]

_MAX_PROBE_RAYS = 1024


class RenderedFrame:
    """What one render gives back: PNG bytes as Blender wrote them, the index pass, Blender's seconds.

    ``coverage`` (``render.coverage_mask``): (H, W) float32 share of the samples hitting the anomaly.
    """

    def __init__(self, png: bytes, index: np.ndarray, blender_s: float, coverage: np.ndarray | None = None) -> None:
        self.png = png
        self.index = index
        self.blender_s = blender_s
        self.coverage = coverage


def _read_exr(bpy: Any, path: Path) -> np.ndarray:
    """First channel of an EXR as (H, W) float32, top row first."""
    img = bpy.data.images.load(str(path))
    try:
        w, h = img.size
        px = np.empty(w * h * img.channels, np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return px.reshape(h, w, -1)[::-1, :, 0].copy()


class BlenderSession:
    """The scene of one config, ready to place anomalies and render frames (one per process: bpy is global)."""

    def __init__(self, cfg: RenderConfig, tmp_dir: Path) -> None:
        self.cfg = cfg
        self.tmp_dir = tmp_dir
        self.bpy = import_bpy()
        self.scene, self.anomalies, self.device = build_scene(self.bpy, cfg, tmp_dir)
        bpy = self.bpy
        self.colour_mat = material(bpy, "oodforge_anomaly_colour", (0.5, 0.5, 0.5), roughness=0.5)
        suns = [o for o in self.scene.objects if o.type == "LIGHT" and o.data.type == "SUN"]
        if suns:
            self.sun = suns[0]
        else:
            self.sun = bpy.data.objects.new("oodforge_sun", bpy.data.lights.new("oodforge_sun", "SUN"))
            self.scene.collection.objects.link(self.sun)
            self.sun.data.angle = math.radians(0.5)
        self.rig = CameraRig(bpy, self.scene, cfg)
        self.bodies = Bodies(bpy, self.scene, cfg) if cfg.scene.ephemeris is not None else None
        self._build_foreground_bvh()

    @property
    def moved_bodies(self) -> list[str]:
        """The bodies the ephemeris moves in this scene (empty without an ephemeris)."""
        return self.bodies.moved if self.bodies is not None else []

    def _apply_day(self, frame: FrameSpec) -> None:
        """Move the ephemeris bodies to the frame's day (and rebuild the placement BVH when they moved)."""
        if self.bodies is not None and frame.ephemeris is not None and self.bodies.apply(frame.ephemeris):
            self._build_foreground_bvh()

    # ---- geometry ------------------------------------------------------------------------------------
    def _build_foreground_bvh(self) -> None:
        from mathutils.bvhtree import BVHTree

        dg = self.bpy.context.evaluated_depsgraph_get()
        verts: list[np.ndarray] = []
        polys: list[tuple[int, ...]] = []
        self.fg_boxes: list[tuple[np.ndarray, np.ndarray]] = []
        n = 0
        for obj in self.scene.objects:
            if obj.type != "MESH" or obj.pass_index != 1 or obj.hide_render:
                continue
            ev = obj.evaluated_get(dg)
            mesh = ev.to_mesh()
            co = np.empty(len(mesh.vertices) * 3, np.float64)
            mesh.vertices.foreach_get("co", co)
            m = np.array(ev.matrix_world)
            w = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
            polys.extend(tuple(i + n for i in p.vertices) for p in mesh.polygons)
            ev.to_mesh_clear()
            if len(w):
                verts.append(w)
                self.fg_boxes.append((w.min(axis=0), w.max(axis=0)))
                n += len(w)
        all_v = np.concatenate(verts) if verts else np.zeros((0, 3))
        self.fg_bvh = BVHTree.FromPolygons(all_v.tolist(), polys) if polys else None

    def camera(self, frame: FrameSpec) -> Camera:
        """The pinhole camera of a frame (its camera source's pose plus the normal variant's offset)."""
        return self.rig.camera(frame)

    def _anomaly_bvh(self, source: str, rot: np.ndarray, scale: float, pos: np.ndarray) -> Any:
        from mathutils.bvhtree import BVHTree

        a = self.anomalies[source]
        return BVHTree.FromPolygons((a.verts @ (rot * scale).T + pos).tolist(), a.polys)

    def _collides(self, bvh: Any, pos: np.ndarray) -> bool:
        if self.fg_bvh is None:
            return False
        if bvh.overlap(self.fg_bvh):
            return True
        if any(bool(np.all(pos >= lo) and np.all(pos <= hi)) for lo, hi in self.fg_boxes):
            loc, normal, _, _ = self.fg_bvh.find_nearest(pos.tolist())
            if loc is not None and float(np.dot(pos - np.array(loc), np.array(normal))) < 0.0:
                return True  # centre inside a closed scene object
        return False

    def visible_pixels(self, cam: Camera, bvh: Any, pos: np.ndarray, radius: float) -> int:
        """Estimate of the anomaly's visible pixels: rays through (a grid of) the pixels its sphere covers."""
        uv, depth = cam.project(pos[None])
        r_px = cam.focal_px * radius / max(float(depth[0]), 1e-6)
        c0, c1 = max(0, int(uv[0, 0] - r_px)), min(cam.width, math.ceil(uv[0, 0] + r_px))
        r0, r1 = max(0, int(uv[0, 1] - r_px)), min(cam.height, math.ceil(uv[0, 1] + r_px))
        if c0 >= c1 or r0 >= r1:
            return 0
        stride = max(1, math.ceil(math.sqrt((c1 - c0) * (r1 - r0) / _MAX_PROBE_RAYS)))
        cols, rows = np.meshgrid(np.arange(c0, c1, stride), np.arange(r0, r1, stride))
        dirs = cam.pixel_rays(cols.ravel(), rows.ravel())
        origin = cam.location.tolist()
        hits = 0
        for d in dirs.tolist():
            loc, _, _, dist = bvh.ray_cast(origin, d)
            if loc is None:
                continue
            if self.fg_bvh is None or self.fg_bvh.ray_cast(origin, d, dist)[0] is None:
                hits += 1
        return hits * stride * stride

    def place(self, frame: FrameSpec, offsets: list[float]) -> tuple[np.ndarray, int] | None:
        """Search the group's anomaly position (depth offset 0); returns (position, tries) or None."""
        self._apply_day(frame)
        p, cam = self.cfg.placement, self.camera(frame)
        if frame.anomaly is None or frame.rotation is None or frame.scale is None:
            raise ValueError(f"{frame.frame_id}: not an anomalous frame")
        rng = placement_rng(frame.seed)
        rot = matrix_from_euler(frame.rotation)
        radius = self.anomalies[frame.anomaly].radius * frame.scale
        need = self.cfg.min_pixel + 1  # > min_pixel, as ALLO's preprocess keeps them
        half = p.jitter * p.distance
        for tries in range(1, p.max_tries + 1):
            base = cam.location + cam.forward * p.distance + rng.uniform(-half, half, 3)
            uv, depth = cam.project(base[None])
            m = p.margin
            if not (
                m * cam.width <= uv[0, 0] <= (1 - m) * cam.width and m * cam.height <= uv[0, 1] <= (1 - m) * cam.height
            ):
                continue
            if float(depth[0]) + min(offsets) <= radius + 0.05:
                continue
            spots = [base + cam.forward * o for o in offsets]
            if any(self._collides(self._anomaly_bvh(frame.anomaly, rot, frame.scale, q), q) for q in spots):
                continue
            if p.require_visible:
                bvh = self._anomaly_bvh(frame.anomaly, rot, frame.scale, base)
                if self.visible_pixels(cam, bvh, base, radius) < need:
                    continue
            return base, tries
        return None

    # ---- rendering -----------------------------------------------------------------------------------
    def setup(self, frame: FrameSpec, position: np.ndarray | None) -> Camera:
        """Pose camera, sun and anomaly for ``frame`` (``position``: the group's depth-0 anomaly position)."""
        self._apply_day(frame)
        cam = self.camera(frame)
        self.scene.camera = self.rig.pose(frame, cam)
        sun_dir = sun_direction(frame.sun_azimuth_deg, frame.sun_elevation_deg)
        self.sun.rotation_euler = euler_from_matrix(look_at_matrix(-sun_dir))
        self.sun.data.energy = frame.sun_strength
        for a in self.anomalies.values():
            a.obj.hide_render = True
        if frame.anomalous:
            if frame.anomaly is None or position is None or frame.rotation is None or frame.scale is None:
                raise ValueError(f"{frame.frame_id}: an anomalous frame needs its object, position and rotation")
            obj = self.anomalies[frame.anomaly].obj
            obj.hide_render = False
            obj.location = (position + cam.forward * (frame.depth_offset or 0.0)).tolist()
            obj.rotation_euler = frame.rotation
            obj.scale = (frame.scale,) * 3
            for slot in obj.material_slots:
                slot.link = "DATA" if frame.colour_rgb is None else "OBJECT"
                if frame.colour_rgb is not None:
                    slot.material = self.colour_mat
            if frame.colour_rgb is not None:
                bsdf = self.colour_mat.node_tree.nodes["Principled BSDF"]
                bsdf.inputs["Base Color"].default_value = (*frame.colour_rgb, 1.0)
        self.scene.cycles.seed = frame.seed % (2**31)
        return cam

    def render(self) -> RenderedFrame:
        """Render the posed scene; read the RGB PNG and the object-index pass (top row first)."""
        for p in self.tmp_dir.iterdir():
            p.unlink()
        t0 = time.perf_counter()
        with quiet_stdout():
            self.bpy.ops.render.render(write_still=True)
        blender_s = time.perf_counter() - t0
        png_path = Path(self.scene.render.filepath)
        index_files = sorted(self.tmp_dir.glob("index*"))
        if not png_path.is_file() or not index_files:
            raise SampleError("Blender wrote no image or no object-index pass")
        png = png_path.read_bytes()
        index = _read_exr(self.bpy, index_files[0])
        coverage = None
        if self.cfg.render.coverage_mask:
            cov_files = sorted(self.tmp_dir.glob("coverage*"))
            if not cov_files:
                raise SampleError("Blender wrote no coverage (Cryptomatte) pass")
            coverage = _read_exr(self.bpy, cov_files[0])
        return RenderedFrame(png, index, blender_s, coverage)
