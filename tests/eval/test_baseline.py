"""The RX colour baseline: odd-coloured patches score high, deterministic, files for `oodforge eval`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.eval import evaluate, rx_score, score_dataset_images


def _street(seed: int = 0) -> np.ndarray:
    """A noisy grey road with a greenish top band (96 x 128 RGB uint8)."""
    rng = np.random.default_rng(seed)
    img = np.empty((96, 128, 3), np.float64)
    img[:] = (110, 110, 115)
    img[:30] = (70, 130, 60)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_pasted_odd_patch_scores_higher_than_background() -> None:
    img = _street()
    img[60:76, 40:60] = (200, 40, 160)  # a magenta object on the road
    s = rx_score(img)
    assert s.dtype == np.float32 and s.shape == (96, 128) and np.all(s >= 0)
    patch, background = s[62:74, 42:58], np.delete(s, np.s_[55:81], axis=0)
    assert patch.min() > np.percentile(background, 99.5)
    assert np.median(patch) > 3 * np.median(background)


def test_larger_patch_does_not_hide_itself() -> None:
    """The reweighted covariance keeps a patch of 6.5 % of the image far above the background."""
    img = _street(1)
    img[40:60, 20:60] = (30, 60, 220)
    s = rx_score(img, blur_sigma=0)
    assert np.median(s[42:58, 22:58]) > 3 * np.percentile(s[85:, :], 99)


def test_deterministic_seeded_and_validated() -> None:
    img = _street(2)
    assert np.array_equal(rx_score(img, seed=4, max_samples=500), rx_score(img, seed=4, max_samples=500))
    assert not np.array_equal(rx_score(img, seed=4, max_samples=500), rx_score(img, seed=5, max_samples=500))
    flat = np.full((8, 8, 3), 128, np.uint8)
    assert np.all(np.isfinite(rx_score(flat))) and float(rx_score(flat).max()) == 0.0
    with pytest.raises(ShapeError, match="RGB uint8"):
        rx_score(img[..., 0])
    with pytest.raises(ValueCheckError, match="max_samples"):
        rx_score(img, max_samples=1)


def test_score_dataset_images_then_evaluate(tmp_path: Path) -> None:
    from eval_fixtures import IDS, bf, make_synth

    root = tmp_path / "ds"
    labels = {}
    for k, image_id in enumerate(IDS):
        labels[image_id] = np.zeros((32, 64), np.uint8)
        labels[image_id][10:20, 10 + 5 * k : 22 + 5 * k] = 1
    make_synth(root, labels)
    images = []
    for k, image_id in enumerate(IDS):
        img = _street(k)[:32, :64].copy()
        img[labels[image_id] == 1] = (250, 20, 20)
        bf.write_image(root / "test" / "images" / f"{image_id}.png", img)
        images.append((image_id, img))
    done: list[int] = []
    paths = score_dataset_images(iter(images), tmp_path / "scores", progress=done.append)
    assert [p.name for p in paths] == [f"{i}.npy" for i in IDS] and done == [1, 2, 3]
    assert np.load(paths[0]).dtype == np.float16
    rep = evaluate("synth", root, tmp_path / "scores")
    assert rep.pixel.auroc > 0.99 and rep.pixel.ap > 0.95
