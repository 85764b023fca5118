"""Blender scene building (the only module, with ``_bpy_frame``, that touches ``bpy``; untyped: ``Any``).

Builds the procedural moon-and-station scene or opens a ``.blend``, sets pass indices (1 = scene
objects, 2 = anomaly), Cycles, the compositor (object-index pass → EXR) and loads anomaly objects
(:mod:`oodforge.render._bpy_anomalies`).

Coverage mask (``render.coverage_mask``): the object-index pass holds one value per pixel (the first
sample's hit), so its edges are hard. Cycles' Cryptomatte object pass accumulates, per pixel, the share
of the samples whose camera ray first hits each object; a Cryptomatte node selecting the anomaly
objects turns it into a matte in [0, 1], written next to the index pass (``coverage`` EXR). It costs no
second render (measured at 32² and 16 samples: values in steps of 1/samples). The samples are spread by
Cycles' pixel filter (Blackman-Harris, 1.5 px), the same filter that blends the image's edges, so the
coverage can be a little above 0 just outside the hard mask.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oodforge.errors import InputFileError, UsageError
from oodforge.render._bpy_shapes import build_station
from oodforge.render.config import RenderConfig

if TYPE_CHECKING:
    from oodforge.render._bpy_anomalies import AnomalyObject

__all__ = ["COVERAGE_NODE", "INSTALL_HINT", "build_scene", "import_bpy", "quiet_stdout"]

INSTALL_HINT = "oodforge render needs Blender as a Python module: pip install 'oodforge[render]'"
#: name of the compositor's Cryptomatte node of the coverage mask
COVERAGE_NODE = "oodforge_coverage"


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
    if cfg.render.coverage_mask:
        scene.view_layers[0].use_pass_cryptomatte_object = True
        crypto = nt.nodes.new("CompositorNodeCryptomatteV2")
        crypto.name = COVERAGE_NODE
        crypto.source, crypto.scene = "RENDER", scene
        fo.file_slots.new("coverage")
        nt.links.new(rl.outputs["Image"], crypto.inputs["Image"])
        nt.links.new(crypto.outputs["Matte"], fo.inputs[1])
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
        build_station(bpy, scene, bodies=cfg.scene.ephemeris is not None)
        _world(bpy, scene, cfg.scene.ambient)
    device = _render_settings(bpy, scene, cfg, tmp_dir)
    from oodforge.render._bpy_anomalies import load_anomalies  # it imports this module

    anomalies = load_anomalies(bpy, scene, cfg)
    if cfg.render.coverage_mask:  # the matte selects every anomaly object (one renders at a time)
        scene.node_tree.nodes[COVERAGE_NODE].matte_id = ",".join(a.obj.name for a in anomalies.values())
    return scene, anomalies, device
