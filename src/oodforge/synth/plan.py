"""Step 2 of the chain: the random draws of one image, from its injected generators.

Everything random about an image is drawn here (and only here): clean or synthetic and how many
objects (``decision`` stream), which COCO instance (``instances``), flip and height jitter
(``geometry``), the target label of each planned object and its anchor pixels (``placement``), and
the per-object appearance parameters (``appearance``: shadow strength, noise seed, motion blur).
The steps after it are pure functions of these draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oodforge.config.schema import BlendingConfig, SynthesisConfig
from oodforge.sources.coco_pool import CocoPool

__all__ = ["AppearanceDraw", "InstanceChooser", "TargetChooser", "draw_appearance", "plan_counts"]


def plan_counts(syn: SynthesisConfig, synth_ratio: float, rng: np.random.Generator) -> tuple[bool, int]:
    """Draw (is_synth, planned object count) from the ``decision`` stream."""
    is_synth = bool(rng.random() < synth_ratio)
    has = bool(rng.random() < syn.p_has_anomaly)
    count = int(rng.integers(syn.instances_per_image.min, syn.instances_per_image.max + 1))
    return is_synth, (count if is_synth and has else 0)


class InstanceChooser:
    """Draws pool indices: uniformly per instance, or a category uniformly then an instance of it."""

    def __init__(self, pool: CocoPool, mode: str) -> None:
        self.mode = mode
        self.n = len(pool)
        groups = pool.indices_by_category()
        self.groups = [groups[name] for name in sorted(groups)]

    def __call__(self, rng: np.random.Generator) -> int:
        """Draw one pool index."""
        if self.mode == "instance":
            return int(rng.integers(self.n))
        group = self.groups[int(rng.integers(len(self.groups)))]
        return int(group[int(rng.integers(len(group)))])


class TargetChooser:
    """The target label of a planned object (by weight, among labels present) and anchor pixels on it.

    The label is drawn **once per planned object** and every location tried for it lies on that label,
    so the labels of placed objects follow the configured weights wherever the frame offers them all.
    """

    def __init__(self, label_ids: np.ndarray, target_ids: dict[str, int], weights: dict[str, float]) -> None:
        flat = label_ids.ravel()
        self.width = int(label_ids.shape[1])
        self.pixels = {name: np.flatnonzero(flat == lid) for name, lid in target_ids.items()}
        self.names = [n for n in target_ids if self.pixels[n].size > 0]
        probs = np.array([weights[n] for n in self.names], dtype=np.float64)
        self.probs = probs / probs.sum() if self.names else probs

    def label(self, rng: np.random.Generator) -> str:
        """Draw a target label name (requires at least one present label)."""
        if len(self.names) == 1:
            return self.names[0]
        return self.names[int(rng.choice(len(self.names), p=self.probs))]

    def anchor(self, name: str, rng: np.random.Generator) -> tuple[int, int]:
        """A pixel ``(row, col)`` of label ``name``, uniformly."""
        px = self.pixels[name]
        row, col = divmod(int(px[int(rng.integers(px.size))]), self.width)
        return row, col


@dataclass(frozen=True)
class AppearanceDraw:
    """The random part of an object's appearance (the rest is computed from the scene around it).

    Attributes:
        shadow_strength: darkening at the contact shadow's centre (0 = no shadow).
        noise_seed: seed of the object's noise field.
        motion_blur_px: length of the horizontal motion blur (0 = none).
    """

    shadow_strength: float
    noise_seed: int
    motion_blur_px: int


def draw_appearance(cfg: BlendingConfig, rng: np.random.Generator) -> AppearanceDraw:
    """Draw one object's appearance parameters from the ``appearance`` stream (always 4 draws)."""
    lo, hi = cfg.shadow.strength
    strength = float(rng.uniform(lo, hi))
    seed = int(rng.integers(0, 2**63 - 1))
    blur = bool(rng.random() < cfg.motion_blur.p)
    length = int(rng.integers(cfg.motion_blur.length_px[0], cfg.motion_blur.length_px[1] + 1))
    return AppearanceDraw(
        shadow_strength=round(strength, 6) if cfg.shadow.enabled else 0.0,
        noise_seed=seed,
        motion_blur_px=length if blur else 0,
    )
