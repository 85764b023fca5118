"""The placement search: physical sizes, rejection instead of clamping, target weights, appearance draws."""

from __future__ import annotations

import numpy as np
import pytest

from oodforge._seeding import sample_streams
from oodforge.config.schema import SynthesisConfig
from oodforge.synth.placement import label_lut
from oodforge.synth.scene import SceneCamera, SceneInfo
from oodforge.synth.search import search_placements

ROAD, SIDEWALK, VEG = 7, 8, 21


class FakePool:
    """A duck-typed pool of rectangular 'dog' masks of the given heights (width = height)."""

    def __init__(self, heights: list[int]) -> None:
        self.masks = [np.ones((h, h), dtype=bool) for h in heights]
        self.mask_areas = np.array([m.sum() for m in self.masks], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.masks)

    def mask(self, i: int) -> np.ndarray:
        return self.masks[i]

    def category(self, i: int) -> str:
        return "dog"

    def indices_by_category(self) -> dict[str, np.ndarray]:
        return {"dog": np.arange(len(self.masks))}


def _syn(**geometry: object) -> SynthesisConfig:
    return SynthesisConfig.model_validate(
        {"instances_per_image": {"min": 1, "max": 1}, "blending": {"feather_px": 0},
         "geometry": {"height_jitter": 0.0, **geometry}, "placement": {"forbidden_overlap_labels": []}}
    )  # fmt: skip


def _scene(h: int = 400, w: int = 600, horizon: float = 100.0) -> SceneInfo:
    labels = np.full((h, w), VEG, dtype=np.uint8)
    labels[150:, :] = ROAD
    return SceneInfo(labels, None, SceneCamera(horizon, 1.2, 1000.0, "standard"))


def _run(syn: SynthesisConfig, pool: FakePool, scene: SceneInfo, seed: int, targets: dict[str, int]):
    return search_placements(syn, pool, scene, 1, sample_streams(seed), targets, label_lut([]))  # type: ignore[arg-type]


def test_metric_sizes_by_hand():
    """A 0.6 m dog with its foot d rows below the horizon, camera 1.2 m high, is 0.6 * d / 1.2 px tall."""
    pool = FakePool([200])
    scene = _scene()
    checked = 0
    for seed in range(20):
        res = _run(_syn(final_area_ratio=(0.0, 1.0)), pool, scene, seed, {"road": ROAD})
        for p in res.placements:
            foot = p.y0 + p.patch_h - 1
            assert p.patch_h == round(200 * (0.6 * (foot - 100.0) / 1.2 / 200))
            assert p.real_height_m == 0.6 and p.scale <= 1.5
            checked += 1
    assert checked >= 15


def test_sizes_out_of_bounds_are_rejected_not_clamped():
    pool = FakePool([200])
    scene = _scene()
    # every physical size here is > 2 % of the frame: a clamp would shrink it, the search must refuse
    res = _run(_syn(final_area_ratio=(0.0, 0.001)), pool, scene, 0, {"road": ROAD})
    assert res.placements == [] and res.note is not None and "area" in res.note
    # a 30 px source would need more than 1.5x upscaling below row ~ 100 + 1.5 * 30 * 1.2 / 0.6 = 190
    small = FakePool([30])
    for seed in range(10):
        for p in _run(_syn(final_area_ratio=(0.0, 1.0)), small, scene, seed, {"road": ROAD}).placements:
            assert p.scale <= 1.5 and p.y0 + p.patch_h - 1 <= 190
    res = _run(_syn(final_area_ratio=(0.0, 1.0), max_upscale=0.1), small, scene, 1, {"road": ROAD})
    assert res.placements == [] and "upscale" in (res.note or "")


def test_target_label_weights_are_honoured_on_a_narrow_sidewalk():
    """A 30 px sidewalk band beside a wide road: placed labels follow the 0.7 / 0.3 weights."""
    labels = np.full((400, 600), VEG, dtype=np.uint8)
    labels[200:, 30:] = ROAD
    labels[200:, :30] = SIDEWALK
    scene = SceneInfo(labels, None, SceneCamera(100.0, 1.2, 1000.0, "standard"))
    pool = FakePool([40])
    syn = _syn(final_area_ratio=(0.0, 1.0), scale_mode="fixed", fixed_scale=0.5)
    names = []
    for seed in range(300):
        res = _run(syn, pool, scene, seed, {"road": ROAD, "sidewalk": SIDEWALK})
        names += [p.target_label for p in res.placements]
    assert len(names) >= 290
    share = names.count("sidewalk") / len(names)
    assert share == pytest.approx(0.3, abs=0.06)


def test_appearance_draws_are_recorded_and_seeded():
    pool = FakePool([120])
    scene = _scene()
    syn = _syn(final_area_ratio=(0.0, 1.0))
    a = _run(syn, pool, scene, 5, {"road": ROAD}).placements
    b = _run(syn, pool, scene, 5, {"road": ROAD}).placements
    assert a and a == b
    lo, hi = syn.blending.shadow.strength
    assert lo <= a[0].appearance.shadow_strength <= hi and a[0].appearance.motion_blur_px == 0
    off = SynthesisConfig.model_validate(
        {**syn.model_dump(), "blending": {"feather_px": 0, "shadow": {"enabled": False}, "motion_blur": {"p": 1.0}}}
    )
    c = _run(off, pool, scene, 5, {"road": ROAD}).placements
    assert c[0].appearance.shadow_strength == 0.0 and 3 <= c[0].appearance.motion_blur_px <= 9
    # the appearance stream is separate: switching steps off leaves the geometry unchanged
    assert (c[0].x0, c[0].y0, c[0].patch_w) == (a[0].x0, a[0].y0, a[0].patch_w)
