"""Anomaly objects in Blender (``bpy``, untyped: ``Any``): primitives, imported meshes, ``.blend`` models.

Every anomaly becomes one hidden mesh object ``oodforge_anomaly_<k>`` (pass index 2) whose mesh is
centred on its bounding box and scaled to ``placement.object_size``. A mesh file is imported and its mesh
objects merged (world transforms applied). A ``.blend`` model is appended as ALLO does (the object named
like the file, e.g. ``drill`` in ``drill.blend``; every object of the file when none has that name) and
its objects are merged as they render (modifiers applied, curves and text converted to meshes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oodforge.errors import InputFileError
from oodforge.render._bpy_scene import quiet_stdout
from oodforge.render._bpy_shapes import build_primitive, material
from oodforge.render.config import RenderConfig
from oodforge.render.config_io import anomaly_file

__all__ = ["AnomalyObject", "load_anomalies", "mesh_arrays"]

_IMPORTERS = {".obj": ("wm", "obj_import"), ".ply": ("wm", "ply_import"), ".stl": ("wm", "stl_import"),
              ".gltf": ("import_scene", "gltf"), ".glb": ("import_scene", "gltf")}  # fmt: skip
_GEOMETRY = {"MESH", "CURVE", "SURFACE", "META", "FONT"}


class AnomalyObject:
    """A loaded anomaly: its Blender object, local vertices and polygons (for the placement BVH)."""

    def __init__(self, source: str, obj: Any, verts: np.ndarray, polys: list[tuple[int, ...]]) -> None:
        self.source = source
        self.obj = obj
        self.verts = verts
        self.polys = polys
        self.radius = float(np.linalg.norm(verts, axis=1).max()) if len(verts) else 0.0


def mesh_arrays(mesh: Any) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """(N, 3) float64 vertex coordinates and the polygons (vertex index tuples) of a mesh datablock."""
    verts = np.empty(len(mesh.vertices) * 3, np.float64)
    mesh.vertices.foreach_get("co", verts)
    return verts.reshape(-1, 3), [tuple(p.vertices) for p in mesh.polygons]


def _merge(bpy: Any, name: str, parts: list[tuple[Any, Any, list[Any]]]) -> Any:
    """One mesh datablock from (mesh copy, world matrix, materials) parts; the copies are removed."""
    import bmesh

    merged = bpy.data.meshes.new(name)
    bm = bmesh.new()
    for tmp, matrix, materials in parts:
        tmp.transform(matrix)
        offset = len(merged.materials)
        for m in materials:
            merged.materials.append(m)
        if offset:
            idx = np.empty(len(tmp.polygons), np.int32)
            tmp.polygons.foreach_get("material_index", idx)
            tmp.polygons.foreach_set("material_index", idx + offset)
        bm.from_mesh(tmp)
        bpy.data.meshes.remove(tmp)
    bm.to_mesh(merged)
    bm.free()
    return merged


def _import_mesh(bpy: Any, path: str) -> Any:
    """Import a mesh file and merge its mesh objects into one mesh datablock (world transforms applied)."""
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
    merged = _merge(bpy, Path(path).stem, [(o.data.copy(), o.matrix_world, list(o.data.materials)) for o in meshes])
    for o in new:
        bpy.data.objects.remove(o, do_unlink=True)
    return merged


def _append_blend(bpy: Any, scene: Any, path: str) -> Any:
    """Append a ``.blend`` model (the object named like the file, else all its objects) as one mesh."""
    stem = Path(path).stem
    try:
        with quiet_stdout(stderr=True), bpy.data.libraries.load(path, link=False) as (src, dst):
            dst.objects = [stem] if stem in src.objects else list(src.objects)
    except (OSError, RuntimeError) as exc:
        reason = str(exc).strip().replace("\n", " ")
        raise InputFileError(f"anomalies: Blender cannot open {path} ({reason})") from None
    objs = [o for o in dst.objects if o is not None]
    for o in objs:
        scene.collection.objects.link(o)
    bpy.context.view_layer.update()
    dg = bpy.context.evaluated_depsgraph_get()
    parts = []
    for o in objs:
        if o.type not in _GEOMETRY:
            continue
        ev = o.evaluated_get(dg)
        mesh = bpy.data.meshes.new_from_object(ev)
        if len(mesh.polygons):
            parts.append((mesh, ev.matrix_world.copy(), [s.material for s in ev.material_slots if s.material]))
        else:
            bpy.data.meshes.remove(mesh)
    for o in objs:
        bpy.data.objects.remove(o, do_unlink=True)
    if not parts:
        raise InputFileError(f"anomalies: {path} holds no object '{stem}' (or any object) with faces")
    return _merge(bpy, stem, parts)


def _normalise(mesh: Any, size: float | None) -> None:
    """Centre the mesh on its bounding box and scale its largest extent to ``size`` (None: keep units)."""
    verts, _ = mesh_arrays(mesh)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    verts = verts - (lo + hi) / 2
    if size is not None and float((hi - lo).max()) > 0:
        verts *= size / float((hi - lo).max())
    mesh.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    mesh.update()


def load_anomalies(bpy: Any, scene: Any, cfg: RenderConfig) -> dict[str, AnomalyObject]:
    """Build or load every anomaly of ``cfg`` (hidden, pass index 2); keyed by its ``anomalies`` entry.

    Raises:
        InputFileError: a model file is missing, cannot be read, or holds no faces.
    """
    default = material(bpy, "oodforge_anomaly_default", (0.6, 0.6, 0.6), roughness=0.5)
    out: dict[str, AnomalyObject] = {}
    for k, source in enumerate(dict.fromkeys(cfg.anomalies)):
        path = anomaly_file(cfg, cfg.anomalies.index(source))
        if path is None:
            mesh = build_primitive(bpy, source)
        elif Path(path).suffix.lower() == ".blend":
            mesh = _append_blend(bpy, scene, path)
        else:
            mesh = _import_mesh(bpy, path)
        _normalise(mesh, cfg.placement.object_size)
        if not len(mesh.materials):
            mesh.materials.append(default)
        obj = bpy.data.objects.new(f"oodforge_anomaly_{k}", mesh)
        scene.collection.objects.link(obj)
        obj.pass_index = 2
        obj.hide_render = True
        verts, polys = mesh_arrays(mesh)
        out[source] = AnomalyObject(source, obj, verts, polys)
    return out
