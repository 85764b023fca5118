"""Procedural geometry and materials in Blender (``bpy``/``bmesh``, untyped: ``Any``).

The demo scene: a moon-like sphere (noise-textured albedo, crater and noise bump) below a station-like
assembly of a hull cylinder, end modules, a truss, solar panels, a dish and an antenna. Anomaly
primitives are single meshes centred on the origin (normalised later).

With an ephemeris (``bodies=True``) the bodies are objects named as ALLO names them, ``moon``, ``earth``
and ``sun``: unit-radius spheres centred on their origin, so ``location`` and ``dimensions = 2 × radius``
from the table place and size them. The sun is an emitter that casts no shadow (it lies on the sun
lamp's shadow rays).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["build_primitive", "build_station", "emitter", "material"]

RGB = tuple[float, float, float]


def material(bpy: Any, name: str, rgb: RGB, *, roughness: float = 0.5, metallic: float = 0.0) -> Any:
    """A Principled BSDF material with a flat base colour."""
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*rgb, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    return mat


def emitter(bpy: Any, name: str, rgb: RGB, strength: float) -> Any:
    """An emission-only material."""
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    emit, out = nt.nodes.new("ShaderNodeEmission"), nt.nodes.new("ShaderNodeOutputMaterial")
    emit.inputs["Color"].default_value = (*rgb, 1.0)
    emit.inputs["Strength"].default_value = strength
    nt.links.new(emit.outputs[0], out.inputs["Surface"])
    return mat


def _moon_material(bpy: Any) -> Any:
    mat = material(bpy, "oodforge_moon", (0.4, 0.4, 0.4), roughness=0.95)
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]
    noise = nt.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = 24.0
    noise.inputs["Detail"].default_value = 8.0
    ramp = nt.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (0.03, 0.03, 0.03, 1.0)
    ramp.color_ramp.elements[1].color = (0.22, 0.215, 0.21, 1.0)
    nt.links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
    nt.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    craters = nt.nodes.new("ShaderNodeTexVoronoi")
    craters.inputs["Scale"].default_value = 90.0
    crater_shape = nt.nodes.new("ShaderNodeMapRange")  # flat floor, steep rim: bowl-like craters
    crater_shape.inputs["From Min"].default_value = 0.15
    crater_shape.inputs["From Max"].default_value = 0.45
    nt.links.new(craters.outputs["Distance"], crater_shape.inputs["Value"])
    bump_c = nt.nodes.new("ShaderNodeBump")
    bump_c.inputs["Strength"].default_value = 0.35
    nt.links.new(crater_shape.outputs["Result"], bump_c.inputs["Height"])
    bump_n = nt.nodes.new("ShaderNodeBump")
    bump_n.inputs["Strength"].default_value = 0.3
    nt.links.new(noise.outputs["Fac"], bump_n.inputs["Height"])
    nt.links.new(bump_c.outputs["Normal"], bump_n.inputs["Normal"])
    nt.links.new(bump_n.outputs["Normal"], bsdf.inputs["Normal"])
    return mat


def _bm_box(bmesh: Any, bm: Any, size: RGB, loc: RGB) -> None:
    from mathutils import Matrix

    m = Matrix.Translation(loc) @ Matrix.Diagonal((*size, 1.0))
    bmesh.ops.create_cube(bm, size=1.0, matrix=m)


def _bm_cyl(bmesh: Any, bm: Any, r1: float, r2: float, depth: float, loc: RGB, axis: str = "Z", seg: int = 24) -> None:
    from mathutils import Matrix

    rot = {"X": Matrix.Rotation(math.pi / 2, 4, "Y"), "Y": Matrix.Rotation(math.pi / 2, 4, "X"), "Z": Matrix()}[axis]
    m = Matrix.Translation(loc) @ rot
    bmesh.ops.create_cone(bm, cap_ends=True, segments=seg, radius1=r1, radius2=r2, depth=depth, matrix=m)


def _bm_torus(bm: Any, major: float, minor: float, n_major: int = 32, n_minor: int = 12) -> None:
    rings: list[list[Any]] = []
    for i in range(n_major):
        a = 2 * math.pi * i / n_major
        ring = []
        for j in range(n_minor):
            b = 2 * math.pi * j / n_minor
            r = major + minor * math.cos(b)
            ring.append(bm.verts.new((r * math.cos(a), r * math.sin(a), minor * math.sin(b))))
        rings.append(ring)
    for i in range(n_major):
        for j in range(n_minor):
            p, q = rings[i], rings[(i + 1) % n_major]
            bm.faces.new((p[j], q[j], q[(j + 1) % n_minor], p[(j + 1) % n_minor]))


def _mesh_from(bpy: Any, name: str, fill: Any) -> Any:
    import bmesh

    bm = bmesh.new()
    fill(bmesh, bm)
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    return mesh


def build_primitive(bpy: Any, name: str) -> Any:
    """A mesh datablock of the named primitive (``cube``, ``sphere``, ..., ``drill``)."""

    def fill(bmesh: Any, bm: Any) -> None:
        if name == "cube":
            bmesh.ops.create_cube(bm, size=1.0)
        elif name == "sphere":
            bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=12, radius=0.5)
        elif name == "cylinder":
            _bm_cyl(bmesh, bm, 0.3, 0.3, 1.0, (0, 0, 0))
        elif name == "cone":
            _bm_cyl(bmesh, bm, 0.4, 0.0, 1.0, (0, 0, 0))
        elif name == "torus":
            _bm_torus(bm, 0.4, 0.12)
        elif name == "plate":
            _bm_box(bmesh, bm, (1.0, 0.7, 0.05), (0, 0, 0))
        elif name == "drill":  # body, chuck, bit, handle and battery: a hand-drill-like composite
            _bm_cyl(bmesh, bm, 0.14, 0.14, 0.6, (0, 0, 0), axis="X")
            _bm_cyl(bmesh, bm, 0.08, 0.06, 0.14, (0.37, 0, 0), axis="X", seg=16)
            _bm_cyl(bmesh, bm, 0.025, 0.005, 0.35, (0.61, 0, 0), axis="X", seg=8)
            _bm_box(bmesh, bm, (0.14, 0.12, 0.45), (-0.12, 0, -0.3))
            _bm_box(bmesh, bm, (0.3, 0.18, 0.12), (-0.1, 0, -0.56))
        else:
            raise ValueError(f"unknown primitive '{name}'")

    return _mesh_from(bpy, f"oodforge_{name}", fill)


def _unit_sphere(bmesh: Any, bm: Any) -> None:
    bmesh.ops.create_uvsphere(bm, u_segments=96, v_segments=48, radius=1.0)
    for f in bm.faces:
        f.smooth = True


def build_station(bpy: Any, scene: Any, *, bodies: bool = False) -> None:
    """Add the moon and the station (pass index 1) to ``scene``; with ``bodies`` also earth and sun (ALLO names)."""
    hull = material(bpy, "oodforge_hull", (0.7, 0.7, 0.72), roughness=0.35, metallic=0.8)
    foil = material(bpy, "oodforge_foil", (0.85, 0.6, 0.2), roughness=0.3, metallic=0.9)
    solar = material(bpy, "oodforge_solar", (0.02, 0.04, 0.15), roughness=0.15, metallic=0.3)
    white = material(bpy, "oodforge_white", (0.8, 0.8, 0.8), roughness=0.6)
    truss = material(bpy, "oodforge_truss", (0.25, 0.25, 0.27), roughness=0.5, metallic=0.6)

    def part(name: str, mat: Any, fill: Any) -> None:
        mesh = _mesh_from(bpy, name, fill)
        mesh.materials.append(mat)
        obj = bpy.data.objects.new(name, mesh)
        obj.pass_index = 1
        scene.collection.objects.link(obj)

    def boxes(*specs: tuple[RGB, RGB]) -> Any:
        def fill(bmesh: Any, bm: Any) -> None:
            for size, loc in specs:
                _bm_box(bmesh, bm, size, loc)

        return fill

    def dish_and_antenna(bmesh: Any, bm: Any) -> None:
        _bm_cyl(bmesh, bm, 0.05, 0.5, 0.3, (1.6, 0, 0.75))
        _bm_cyl(bmesh, bm, 0.02, 0.02, 0.9, (-1.6, 0, 0.9), seg=8)

    part("station_hull", hull, lambda bmesh, bm: _bm_cyl(bmesh, bm, 0.55, 0.55, 2.4, (0, 0, 0), axis="X", seg=32))
    part("station_modules", foil, boxes(((0.9, 0.9, 0.9), (1.6, 0, 0)), ((0.9, 0.9, 0.9), (-1.6, 0, 0))))
    part("station_truss", truss, boxes(((0.15, 4.6, 0.15), (0, 0, 0))))
    part("station_panels", solar, boxes(((1.4, 1.3, 0.03), (0, 1.75, 0)), ((1.4, 1.3, 0.03), (0, -1.75, 0))))
    part("station_dish", white, dish_and_antenna)

    def moon(bmesh: Any, bm: Any) -> None:
        from mathutils import Matrix

        bmesh.ops.create_uvsphere(bm, u_segments=96, v_segments=48, radius=30.0, matrix=Matrix.Translation((0, 0, -36)))
        for f in bm.faces:
            f.smooth = True

    if not bodies:
        part("moon", _moon_material(bpy), moon)
        return
    part("moon", _moon_material(bpy), _unit_sphere)
    part("earth", material(bpy, "oodforge_earth", (0.05, 0.15, 0.45), roughness=0.7), _unit_sphere)
    part("sun", emitter(bpy, "oodforge_sun_surface", (1.0, 0.95, 0.85), 20.0), _unit_sphere)
    scene.objects["sun"].visible_shadow = False
