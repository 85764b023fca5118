"""Rendered anomalies (ALLO-like): Blender scenes with anomaly objects, exact masks, ALLO-format preprocessing.

Importing this package never imports ``bpy``; Blender is loaded only when a render starts.
"""

from oodforge.render.config import RenderConfig
from oodforge.render.config_io import dump_resolved_render, load_render_config, render_config_from_dict
from oodforge.render.plan import FrameSpec, plan_frames
from oodforge.render.preprocess import PreprocessSummary, preprocess_renders
from oodforge.render.runner import RenderSummary, render_dataset

__all__ = [
    "FrameSpec",
    "PreprocessSummary",
    "RenderConfig",
    "RenderSummary",
    "dump_resolved_render",
    "load_render_config",
    "plan_frames",
    "preprocess_renders",
    "render_config_from_dict",
    "render_dataset",
]
