"""OutlierPaste: determinism, mask / target correctness, placement rules, DataLoader workers."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pydantic
import pytest
import torch
from torch.utils.data import DataLoader

from oodforge.learn.data import CityscapesSegmentation
from oodforge.learn.outlier_dataset import OutlierPasteDataset
from oodforge.learn.outlier_paste import OutlierPaste, OutlierPasteConfig
from oodforge.synth.apply import render_placements
from oodforge.synth.composite import covered_mask, feather_alpha
from oodforge.synth.geometry import transform_mask
from oodforge.synth.prepare import footprint_of


@pytest.fixture(scope="module")
def base(demo_world: Path) -> CityscapesSegmentation:
    """Un-augmented demo train + val frames (frames without road included)."""
    root = demo_world / "world" / "cityscapes"
    return CityscapesSegmentation(root, "val", crop_size=None, scale_range=(1.0, 1.0), hflip=False)


@pytest.fixture(scope="module")
def make(demo_world: Path):
    coco = demo_world / "world" / "coco"

    def build(**overrides) -> OutlierPaste:
        return OutlierPaste.from_coco(OutlierPasteConfig(**overrides), coco, cache_dir=demo_world / "cache")

    return build


#: train ids of the default occluder labels: pole, traffic light, traffic sign, person, rider, vehicles
OCCLUDERS = [5, 6, 7, 11, 12, 13, 14, 15, 16, 17, 18]


def _silhouettes(paste: OutlierPaste, pl):
    mask = transform_mask(paste.pool.mask(pl.pool_index), (pl.patch_w, pl.patch_h), pl.flip)
    alpha = feather_alpha(mask, paste.config.blending.feather_px)
    return alpha, covered_mask(alpha)


def visible_and_soft(paste: OutlierPaste, params, tid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Independent re-computation of the visible covered pixels (alpha >= 0.5, no nearer object) of every
    placement, and of their visible soft rim (0 < alpha < 0.5).

    Nearer: an occluder component (train ids of persons, vehicles, poles, signs) whose lowest row lies below the
    object's lowest covered row.
    """
    visible, soft = np.zeros(tid.shape, dtype=bool), np.zeros(tid.shape, dtype=bool)
    _, comp, stats, _ = cv2.connectedComponentsWithStats(np.isin(tid, OCCLUDERS).astype(np.uint8), connectivity=8)
    bottom = stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT] - 1
    for pl in params.placements:
        alpha, cov = _silhouettes(paste, pl)
        foot = pl.y0 + int(np.flatnonzero(cov.any(axis=1))[-1])
        win = (slice(pl.y0, pl.y0 + pl.patch_h), slice(pl.x0, pl.x0 + pl.patch_w))
        nearer = (comp[win] > 0) & (bottom[comp[win]] > foot)
        visible[win] |= cov & ~nearer
        soft[win] |= (alpha > 0) & (alpha < 0.5) & ~nearer
    return visible, soft & ~visible


def covered_union(paste: OutlierPaste, params, tid: np.ndarray) -> np.ndarray:
    """The visible covered pixels of every placement (see :func:`visible_and_soft`)."""
    return visible_and_soft(paste, params, tid)[0]


def test_deterministic_per_seed_epoch_index(make, base):
    paste = make(p=1.0, seed=3)
    twin = pickle.loads(pickle.dumps(paste))
    assert twin._pool is None  # the pool is reopened lazily in the new process
    image, tid = base.get_pair(0)
    a = paste(image, tid, index=0, epoch=0)
    b = twin(image, tid, index=0, epoch=0)
    for x, y in zip(a[:3], b[:3], strict=True):
        np.testing.assert_array_equal(x, y)
    assert a[3] == b[3] and a[3].placements
    changed = [
        paste(*base.get_pair(i), index=i, epoch=0)[3].placements
        != paste(*base.get_pair(i), index=i, epoch=1)[3].placements
        for i in range(4)
    ]
    assert all(changed)
    other_seed = make(p=1.0, seed=4)(image, tid, index=0, epoch=0)[3]
    assert other_seed.placements != a[3].placements


@pytest.mark.parametrize("ood_label", [None, 19])
def test_mask_and_target_exactly_on_covered_pixels(make, base, ood_label):
    paste = make(p=1.0, ood_label=ood_label, instances={"min": 2, "max": 3})
    n_placed = 0
    for i in range(len(base)):
        image, tid = base.get_pair(i)
        tid = tid.copy()
        tid[:8] = 255  # an ignore band (the demo sky is labelled)
        out_img, target, mask, params = paste(image, tid, index=i, epoch=0)
        covered, soft = visible_and_soft(paste, params, tid)
        n_placed += len(params.placements)
        assert mask.dtype == np.uint8 and target.dtype == np.uint8 and out_img.dtype == np.uint8
        np.testing.assert_array_equal(mask == 1, covered)
        np.testing.assert_array_equal(mask == 255, ((tid == 255) & ~covered) | soft)  # void, and the soft rim
        np.testing.assert_array_equal(mask == 0, (tid != 255) & ~covered & ~soft)
        assert not (covered & (tid == 255)).any()  # avoid_ignore
        assert (target[covered] == (255 if ood_label is None else ood_label)).all()
        np.testing.assert_array_equal(target[~covered], tid[~covered])
        # a re-render of the returned params gives the same outputs
        gt_base = np.where(tid == 255, 255, 0).astype(np.uint8)
        sources = [paste.source(p.pool_index) for p in params.placements]
        again = render_placements(
            image, gt_base, list(params.placements), sources, paste.config.blending,
            paste._scene(tid, params.horizon_row), footprint_ratio=paste.config.placement.footprint_ratio,
        )  # fmt: skip
        if params.placements:
            np.testing.assert_array_equal(again.image, out_img)
            np.testing.assert_array_equal(again.gt, mask)
            assert not np.array_equal(out_img, image)
        np.testing.assert_array_equal(paste.apply(image, tid, params)[0], out_img)
    assert n_placed >= len(base)


def test_p_zero_leaves_inputs_unchanged(make, base):
    paste = make(p=0.0)
    for i in range(3):
        image, tid = base.get_pair(i)
        out_img, target, mask, params = paste(image, tid, index=i, epoch=0)
        assert not params.pasted and params.planned == 0 and params.placements == ()
        np.testing.assert_array_equal(out_img, image)
        np.testing.assert_array_equal(target, tid)
        np.testing.assert_array_equal(mask, np.where(tid == 255, 255, 0))


def test_paste_probability_is_drawn_per_sample(make, base):
    paste = make(p=0.5)
    tid = base.get_pair(0)[1]
    pasted = [paste.sample_params(tid, index=0, epoch=e).pasted for e in range(40)]
    assert 5 < sum(pasted) < 35


def test_road_only_placement_respects_coverage(make, base):
    paste = make(p=1.0, placement={"target_labels": {"road": 1.0}, "min_target_coverage": 0.9})
    checked = 0
    for i in range(len(base)):
        image, tid = base.get_pair(i)
        params = paste(image, tid, index=i, epoch=0)[3]
        for pl in params.placements:
            _, cov = _silhouettes(paste, pl)
            foot, _ = footprint_of(cov, paste.config.placement.footprint_ratio)
            on = tid[pl.y0 : pl.y0 + pl.patch_h, pl.x0 : pl.x0 + pl.patch_w][foot]
            assert np.count_nonzero(on == 0) / on.size >= 0.9  # the object stands on road
            assert pl.target_label == "road" and pl.coverage >= 0.9
            checked += 1
        if not (tid == 0).any():
            assert params.placements == ()
    assert checked > 0


def test_forbidden_labels_and_metric_mode(make, base):
    forbidden = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]
    paste = make(p=1.0, geometry={"scale_mode": "metric"}, placement={"forbidden_overlap_labels": forbidden})
    placed = 0
    for i in range(len(base)):
        image, tid = base.get_pair(i)
        _, _, _, params = paste(image, tid, index=i, epoch=0)
        cov = covered_union(paste, params, tid)
        assert not np.isin(tid[cov], [11, 12, 13, 14, 15, 16, 17, 18]).any()
        placed += len(params.placements)
    assert placed > 0


def test_config_is_strict():
    with pytest.raises(pydantic.ValidationError, match="extra"):
        OutlierPasteConfig(probability=0.3)
    with pytest.raises(pydantic.ValidationError, match="no train id"):
        OutlierPasteConfig(placement={"target_labels": {"parking": 1.0}})
    with pytest.raises(pydantic.ValidationError):
        OutlierPasteConfig(p=1.5)
    cfg = OutlierPasteConfig.model_validate({"p": 0.2, "instances": {"min": 1, "max": 1}, "ood_label": 19})
    assert cfg.synthesis().placement == cfg.placement


def test_bad_inputs_raise(make, base):
    paste = make()
    image, tid = base.get_pair(0)
    with pytest.raises(ValueError, match="uint8"):
        paste(image, tid.astype(np.int64), index=0, epoch=0)
    with pytest.raises(ValueError, match="expected"):
        paste(image[:-1], tid, index=0, epoch=0)


def test_dataset_wrapper_tensors_and_workers(make, demo_world):
    root = demo_world / "world" / "cityscapes"
    seg = CityscapesSegmentation(root, "train", crop_size=(128, 256), scale_range=(0.75, 1.5), seed=1)
    ds = OutlierPasteDataset(seg, make(p=1.0, seed=2))
    item = ds[0]
    assert item["image"].shape == (3, 128, 256) and item["image"].dtype == torch.float32
    assert item["target"].dtype == torch.int64 and item["outlier_mask"].dtype == torch.uint8
    assert set(torch.unique(item["outlier_mask"]).tolist()) <= {0, 1, 255}

    def batches(workers: int) -> list[list[dict[str, torch.Tensor]]]:
        loader = DataLoader(ds, batch_size=2, num_workers=workers, persistent_workers=workers > 0)
        out = []
        for epoch in range(2):
            ds.set_epoch(epoch)
            out.append(list(loader))
        return out

    serial, parallel = batches(0), batches(2)
    for epoch in range(2):
        for a, b in zip(serial[epoch], parallel[epoch], strict=True):
            for key in ("image", "target", "outlier_mask"):
                torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert any(not torch.equal(a["outlier_mask"], b["outlier_mask"]) for a, b in zip(*serial, strict=True))
    assert seg.epoch == 1  # set_epoch reaches the base


def test_dataset_wrapper_accepts_pairs_and_dicts(make, base):
    pairs = [base.get_pair(i) for i in range(2)]
    dicts = [{"image": im, "train_ids": t} for im, t in pairs]
    paste = make(p=1.0)
    a, b = OutlierPasteDataset(pairs, paste), OutlierPasteDataset(dicts, paste, mean=(0, 0, 0), std=(1, 1, 1))
    a.set_epoch(3)
    b.set_epoch(3)
    for i in range(2):
        x, y = a[i], b[i]
        torch.testing.assert_close(x["outlier_mask"], y["outlier_mask"])
        expected = paste(*pairs[i], index=i, epoch=3)
        np.testing.assert_allclose(y["image"].permute(1, 2, 0).numpy() * 255, expected[0], atol=1e-3)
        np.testing.assert_array_equal(x["target"].numpy(), expected[1])
    with pytest.raises(ValueError, match="expected 'image'"):
        OutlierPasteDataset([{"rgb": pairs[0][0]}], paste)[0]
