"""``synthesis.blending``: how a pasted object is made to look like part of the scene.

Each appearance step of :mod:`oodforge.synth.apply` has its own section and can be switched off.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from oodforge.config._base import Probability, Ratio, Strict, ordered_pair

__all__ = [
    "BlendingConfig",
    "MotionBlurConfig",
    "NoiseConfig",
    "PhotometricConfig",
    "ShadowConfig",
    "SharpnessConfig",
]


class PhotometricConfig(Strict):
    """``synthesis.blending.photometric``: adapt the object's colours to the scene ring around it.

    ``luminance`` (default) adapts illumination, not identity: one gain on the linear-RGB luminance
    (``(Y_ring / Y_object) ** strength``, clipped to ``[1 / max_gain, max_gain]``), optionally a mild
    per-channel white-balance gain toward the ring's chromaticity; the object keeps its own colours.
    ``lab`` / ``rgb`` move channel means (and optionally std) to the ring's (repaints the object).
    """

    space: Literal["luminance", "lab", "rgb", "none"] = "luminance"
    match_mean: bool = True
    match_std: bool = False
    #: 1 = full match, 0 = no change; intermediate values move part of the way.
    strength: Ratio = 0.5
    #: luminance: strength of the per-channel white-balance gain (0 = off).
    white_balance: Ratio = 0.0
    #: luminance: bound of the gain (and of each white-balance gain).
    max_gain: float = Field(default=2.0, ge=1.0)
    ring_px: int = Field(default=12, ge=1)
    eps: float = Field(default=1e-6, gt=0)


class SharpnessConfig(Strict):
    """``synthesis.blending.sharpness``: blur the object until its texture matches the scene ring.

    The object (never sharpened) is blurred with the smallest Gaussian sigma (up to ``max_sigma_px``) that
    brings its mean Sobel gradient inside to at most ``target_ratio`` times the ring's.
    """

    enabled: bool = True
    target_ratio: float = Field(default=1.8, gt=0)
    max_sigma_px: float = Field(default=1.5, ge=0)


class NoiseConfig(Strict):
    """``synthesis.blending.noise``: add Gaussian noise so the object's noise level equals the ring's."""

    enabled: bool = True


class MotionBlurConfig(Strict):
    """``synthesis.blending.motion_blur``: optional box blur along the image x axis."""

    p: Probability = 0.0
    length_px: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = (3, 9)

    @field_validator("length_px")
    @classmethod
    def _pair(cls, v: tuple[int, int]) -> tuple[int, int]:
        return ordered_pair(v, "range")


class ShadowConfig(Strict):
    """``synthesis.blending.shadow``: a soft contact shadow on the ground under the object's base."""

    enabled: bool = True
    #: darkening at the shadow's centre, drawn uniformly per object.
    strength: tuple[Ratio, Ratio] = (0.3, 0.5)
    #: shadow half-width relative to the footprint's half-width.
    width_ratio: float = Field(default=1.15, gt=0)

    @field_validator("strength")
    @classmethod
    def _pair(cls, v: tuple[float, float]) -> tuple[float, float]:
        return ordered_pair(v, "range")


class BlendingConfig(Strict):
    """``synthesis.blending``: how an object is made to look like part of the scene."""

    feather_px: int = Field(default=4, ge=0, le=64)
    photometric: PhotometricConfig = PhotometricConfig()
    sharpness: SharpnessConfig = SharpnessConfig()
    noise: NoiseConfig = NoiseConfig()
    motion_blur: MotionBlurConfig = MotionBlurConfig()
    shadow: ShadowConfig = ShadowConfig()
