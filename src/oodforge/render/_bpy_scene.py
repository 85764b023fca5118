"""Blender scene building (the only module, with ``_bpy_frame``, that touches ``bpy``; untyped: ``Any``).

Builds the procedural moon-and-station scene or opens a ``.blend``, sets pass indices (1 = scene
objects, 2 = anomaly), Cycles, the compositor (object-index pass → EXR) and loads anomaly objects.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

from oodforge.errors import InputFileError, UsageError
from oodforge.render._bpy_shapes import build_primitive, build_station, material
from oodforge.render.config import PRIMITIVES, RenderConfig

__all__ = ["INSTALL_HINT", "AnomalyObject", "build_scene", "import_bpy", "quiet_stdout"]

INSTALL_HINT = "oodforge render needs Blender as a Python module: pip install 'oodforge[render]'"
_IMPORTERS = {".obj": ("wm", "obj_import"), ".ply": ("wm", "ply_import"), ".stl": ("wm", "stl_import"),
              ".gltf": ("import_scene", "gltf"), ".glb": ("import_scene", "gltf")}  # fmt: skip


def import_bpy() -> Any:
    """Import ``bpy`` lazily.

    Raises:
        UsageError: bpy is not installed (the message says how to install the extra).
    """
    try:
        import bpy
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return bpy


@contextmanager
def quiet_stdout(*, stderr: bool = False) -> Iterator[None]:
    """Silence Blender's prints: C-level file descriptor 1 (and 2 with ``stderr``) and Python's streams.

    Render progress and importer timings go to stdout; importer errors, already carried by the raised
    ``RuntimeError``, also go to stderr. Leave ``stderr`` off while a progress bar is drawn.
    """
    fds = (1, 2) if stderr else (1,)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        saved = [os.dup(fd) for fd in fds]
    except OSError:  # no usable descriptors (embedded interpreters): silence Python's streams only
        saved = []
    devnull = os.open(os.devnull, os.O_WRONLY)
    sink = io.StringIO()
    try:
        for fd in fds[: len(saved)]:
            os.dup2(devnull, fd)
        with redirect_stdout(sink), redirect_stderr(sink) if stderr else nullcontext():
            yield
    finally:
        for fd, old in zip(fds, saved, strict=False):
            os.dup2(old, fd)
            os.close(old)
        os.close(devnull)


class AnomalyObject:
    """A loaded anomaly: its Blender object, local vertices and polygons (for the placement BVH)."""

    def __init__(self, source: str, obj: Any, verts: np.ndarray, polys: list[tuple[int, ...]]) -> None:
        self.source = source
        self.obj = obj
        self.verts = verts
        self.polys = polys
        self.radius = float(np.linalg.norm(verts, axis=1).max()) if len(verts) else 0.0


def _mesh_arrays(mesh: Any) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    verts = np.empty(len(mesh.vertices) * 3, np.float64)
    mesh.vertices.foreach_get("co", verts)
    return verts.reshape(-1, 3), [tuple(p.vertices) for p in mesh.polygons]


def _import_mesh(bpy: Any, path: str) -> Any:
    """Import a mesh file and merge its mesh objects into one mesh datablock (world transforms applied)."""
    import bmesh

    suffix = Path(path).suffix.lower()
    group, name = _IMPORTERS[suffix]
    before = set(bpy.data.objects)
    try:
        with quiet_stdout(stderr=True):
            getattr(getattr(bpy.ops, group), name)(filepath=path)
    except RuntimeError as exc:
        reason = str(exc).strip().replace("\n", " ").removeprefix("Error: ")
        raise InputFileError(f"anomalies: Blender cannot import {path} ({reason})") from None
    new = [o for o in bpy.data.objects if o not in before]
    bpy.context.view_layer.update()
    meshes = [o for o in new if o.type == "MESH" and len(o.data.polygons)]
    if not meshes:
        raise InputFileError(f"anomalies: {path} holds no mesh with faces")
    merged = bpy.data.meshes.new(Path(path).stem)
    bm = bmesh.new()
    for o in meshes:
        tmp = o.data.copy()
        tmp.transform(o.matrix_world)
        offset = len(merged.materials)
        for m in o.data.materials:
            merged.materials.append(m)
        if offset:
            idx = np.empty(len(tmp.polygons), np.int32)
            tmp.polygons.foreach_get("material_index", idx)
            tmp.polygons.foreach_set("material_index", idx + offset)
        bm.from_mesh(tmp)
        bpy.data.meshes.remove(tmp)
    bm.to_mesh(merged)
    bm.free()
    for o in new:
        bpy.data.objects.remove(o, do_unlink=True)
    return merged


def _normalise(mesh: Any, size: float | None) -> None:
    """Centre the mesh on its bounding box and scale its largest extent to ``size`` (None: keep units)."""
    verts, _ = _mesh_arrays(mesh)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    verts = verts - (lo + hi) / 2
    if size is not None and float((hi - lo).max()) > 0:
        verts *= size / float((hi - lo).max())
    mesh.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    mesh.update()


def _load_anomalies(bpy: Any, scene: Any, cfg: RenderConfig) -> dict[str, AnomalyObject]:
    default = material(bpy, "oodforge_anomaly_default", (0.6, 0.6, 0.6), roughness=0.5)
    out: dict[str, AnomalyObject] = {}
    for k, source in enumerate(dict.fromkeys(cfg.anomalies)):
        mesh = build_primitive(bpy, source) if source in PRIMITIVES else _import_mesh(bpy, source)
        _normalise(mesh, cfg.placement.object_size)
        if not len(mesh.materials):
            mesh.materials.append(default)
        obj = bpy.data.objects.new(f"oodforge_anomaly_{k}", mesh)
        scene.collection.objects.link(obj)
        obj.pass_index = 2
        obj.hide_render = True
        verts, polys = _mesh_arrays(mesh)
        out[source] = AnomalyObject(source, obj, verts, polys)
    return out


def _world(bpy: Any, scene: Any, ambient: float) -> None:
    """Black space for camera rays, a faint ambient light for shading."""
    world = bpy.data.worlds.new("oodforge_space")
    world.use_nodes = True
    nt = world.node_tree
    nt.nodes.clear()
    lp, mix = nt.nodes.new("ShaderNodeLightPath"), nt.nodes.new("ShaderNodeMixShader")
    amb, black = nt.nodes.new("ShaderNodeBackground"), nt.nodes.new("ShaderNodeBackground")
    amb.inputs["Strength"].default_value = ambient
    black.inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
    out = nt.nodes.new("ShaderNodeOutputWorld")
    nt.links.new(lp.outputs["Is Camera Ray"], mix.inputs[0])
    nt.links.new(amb.outputs[0], mix.inputs[1])
    nt.links.new(black.outputs[0], mix.inputs[2])
    nt.links.new(mix.outputs[0], out.inputs["Surface"])
    scene.world = world


def configure_device(bpy: Any, scene: Any, device: str) -> str:
    """Set Cycles to the CPU or an available GPU; ``auto`` picks a GPU when one is present."""
    scene.cycles.device = "CPU"
    if device == "CPU":
        return "CPU"
    prefs = bpy.context.preferences.addons["cycles"].preferences
    for backend in ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL"):
        try:
            prefs.compute_device_type = backend
            prefs.get_devices()
        except (TypeError, ValueError, RuntimeError):
            continue
        gpus = [d for d in prefs.devices if d.type == backend]
        if gpus:
            for d in prefs.devices:
                d.use = d.type == backend
            scene.cycles.device = "GPU"
            return f"GPU ({backend})"
    if device == "GPU":
        raise UsageError("render.device: GPU requested but Blender finds no usable GPU; use CPU or auto")
    return "CPU"


def _render_settings(bpy: Any, scene: Any, cfg: RenderConfig, tmp_dir: Path) -> str:
    r, c = scene.render, scene.cycles
    r.engine = "CYCLES"
    device = configure_device(bpy, scene, cfg.render.device)
    c.samples = cfg.render.samples
    c.use_denoising = False
    c.use_adaptive_sampling = False
    c.max_bounces = cfg.render.max_bounces
    c.diffuse_bounces = c.glossy_bounces = min(2, cfg.render.max_bounces)
    c.transmission_bounces = c.volume_bounces = 0
    c.caustics_reflective = c.caustics_refractive = False
    r.resolution_x, r.resolution_y = cfg.render.resolution
    r.resolution_percentage = 100
    r.use_persistent_data = True
    r.film_transparent = False
    r.dither_intensity = 0.0
    r.use_file_extension = False
    r.filepath = str(tmp_dir / "image.png")
    img = r.image_settings
    img.file_format, img.color_mode, img.color_depth = "PNG", "RGB", "8"
    img.compression = cfg.render.png_compression
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.frame_current = 1
    scene.view_layers[0].use_pass_object_index = True
    scene.use_nodes = True
    nt = scene.node_tree
    nt.nodes.clear()
    rl, comp = nt.nodes.new("CompositorNodeRLayers"), nt.nodes.new("CompositorNodeComposite")
    fo = nt.nodes.new("CompositorNodeOutputFile")
    fo.base_path = str(tmp_dir)
    fo.format.file_format, fo.format.color_depth, fo.format.exr_codec = "OPEN_EXR", "16", "NONE"
    fo.file_slots[0].path = "index"
    nt.links.new(rl.outputs["Image"], comp.inputs["Image"])
    nt.links.new(rl.outputs["IndexOB"], fo.inputs[0])
    return device


def build_scene(bpy: Any, cfg: RenderConfig, tmp_dir: Path) -> tuple[Any, dict[str, AnomalyObject], str]:
    """Reset Blender and build the scene of ``cfg``; returns (scene, anomalies by source, device used).

    Raises:
        InputFileError: the ``.blend`` or a mesh file cannot be opened or imported.
    """
    with quiet_stdout():
        bpy.ops.wm.read_factory_settings(use_empty=True)
    if cfg.scene.blend_file is not None:
        try:
            with quiet_stdout(stderr=True):
                bpy.ops.wm.open_mainfile(filepath=cfg.scene.blend_file)
        except RuntimeError as exc:
            reason = str(exc).strip().replace("\n", " ")
            raise InputFileError(f"scene.blend_file: Blender cannot open {cfg.scene.blend_file} ({reason})") from None
        scene = bpy.context.scene
        for obj in scene.objects:
            obj.pass_index = 1 if obj.type in {"MESH", "CURVE", "SURFACE", "META", "FONT"} else 0
    else:
        scene = bpy.context.scene
        build_station(bpy, scene)
        _world(bpy, scene, cfg.scene.ambient)
    device = _render_settings(bpy, scene, cfg, tmp_dir)
    anomalies = _load_anomalies(bpy, scene, cfg)
    return scene, anomalies, device
