"""The manifest record of one rendered frame (``"kind": "render"``, written by :mod:`oodforge.render.frame`).

Read-only view used by the inspect tools; unknown extra keys are ignored so that new fields added by the
renderer do not break ``verify``, ``stats`` or ``preview``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RENDER_KIND", "RENDER_OUTPUT_KEYS", "RenderModes", "RenderPose", "RenderRecord"]

RENDER_KIND = "render"
#: output keys of a rendered frame (all three single files)
RENDER_OUTPUT_KEYS = ("image", "gt_pixel", "fb_mask")


class RenderModes(BaseModel):
    """The mode values drawn for the frame (None where the mode does not apply, e.g. depth on normal frames)."""

    model_config = ConfigDict(extra="ignore")

    active: list[str] = Field(default_factory=list)
    sun_strength: float
    sun_azimuth_deg: float | None = None
    sun_elevation_deg: float | None = None
    depth_offset: float | None = None
    scale: float | None = None
    colour: str | None = None
    colour_rgb: list[float] | None = None


class RenderPose(BaseModel):
    """Where the anomaly object was placed (anomalous frames only)."""

    model_config = ConfigDict(extra="ignore")

    location: list[float]
    rotation_euler: list[float] = Field(default_factory=list)
    distance: float | None = None
    placement_tries: int | None = None


class RenderRecord(BaseModel):
    """One frame of a rendered dataset; ``split`` is the camera name."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_: int
    kind: Literal["render"]
    config_sha256: str
    split: str
    image_id: str
    camera: str
    day: int
    is_anomalous: bool
    has_anomaly: bool
    anomaly_hidden: bool
    modes: RenderModes
    pose: RenderPose | None = None
    #: the anomaly object's name (JSON key ``object``; renamed so it does not shadow the builtin)
    object_: str | None = Field(default=None, alias="object")
    pixel_count: int
    foreground_pixel_count: int | None = None
    seed: int
    outputs: dict[str, str]
    sha256: dict[str, str]
    status: Literal["ok", "failed"]
    error: str | None = None

    @classmethod
    def from_json_dict(cls, d: dict[str, object]) -> RenderRecord:
        """Parse one ``manifest.jsonl`` line (the ``schema`` key is stored as ``schema_``)."""
        d = dict(d)
        d["schema_"] = d.pop("schema", None)
        return cls.model_validate(d)
