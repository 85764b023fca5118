"""Cityscapes training data: aligned augmentation, determinism, class counts, balanced sampler."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from oodforge._io import encode_png, read_label_png
from oodforge.learn._transforms import IMAGENET_MEAN, IMAGENET_STD, apply_augment, sample_augment
from oodforge.learn.data import CityscapesSegmentation, class_balanced_sampler, class_pixel_counts, image_weights
from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut

LUT = label_id_to_train_id_lut()
#: label ids used by the synthetic frames: road, sidewalk, building, vegetation, sky, car, unlabeled (void)
IDS = np.array([7, 8, 11, 21, 23, 26, 0], dtype=np.uint8)


def colour_of(train_ids: np.ndarray) -> np.ndarray:
    """The RGB colour that encodes a train id (void and padding: black)."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[:19] = np.stack([np.arange(19) * 12 + 20, 250 - np.arange(19) * 9, (np.arange(19) * 37) % 200 + 30], 1)
    return table[train_ids]


def write_frames(root: Path, n: int, size=(160, 96), rare_in: int | None = None) -> None:
    """n frames of random 16 px label blocks whose image encodes their train id (+ labelTrainIds files)."""
    rng = np.random.default_rng(0)
    w, h = size
    for k in range(n):
        stem = f"aachen_{k:06d}_000019"
        blocks = rng.choice(IDS[:-1] if k != 0 else IDS, size=(h // 16, w // 16))
        if rare_in is not None:
            blocks[blocks == 26] = 7
            if k == rare_in:
                blocks[1, 1] = 26
        label_ids = np.kron(blocks, np.ones((16, 16), dtype=np.uint8)).astype(np.uint8)
        image = colour_of(LUT[label_ids])
        img_dir, gt_dir = root / "leftImg8bit/train/aachen", root / "gtFine/train/aachen"
        img_dir.mkdir(parents=True, exist_ok=True)
        gt_dir.mkdir(parents=True, exist_ok=True)
        (img_dir / f"{stem}_leftImg8bit.png").write_bytes(encode_png(image))
        (gt_dir / f"{stem}_gtFine_labelIds.png").write_bytes(encode_png(label_ids))
        (gt_dir / f"{stem}_gtFine_labelTrainIds.png").write_bytes(encode_png(LUT[label_ids]))


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cs")
    write_frames(root, 4)
    return root


def interior(labels: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood holds one label (bilinear image values are exact there).

    The crop's outer ring is excluded: its neighbours outside the crop are unknown.
    """
    lo = cv2.erode(labels, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    hi = cv2.dilate(labels, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    inner = lo == hi
    inner[[0, -1], :] = inner[:, [0, -1]] = False
    return inner


def test_scale_crop_flip_keep_image_and_labels_aligned(frames):
    ds = CityscapesSegmentation(frames, "train", crop_size=(96, 128), scale_range=(0.5, 2.0), seed=5)
    flips, pads, scales = set(), 0, set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            image, labels = ds.get_pair(i)
            assert image.shape == (96, 128, 3) and labels.shape == (96, 128)
            params = ds.sample_params(i, (96, 160))
            flips.add(params.flip)
            scales.add(params.scaled_hw)
            pads += int(params.scaled_hw[0] < 96 or params.scaled_hw[1] < 128)
            inner = interior(labels)
            assert inner.mean() > 0.5
            np.testing.assert_array_equal(image[inner], colour_of(labels)[inner])
            assert (labels[image.sum(2) == 0] == 255).all()
    assert flips == {False, True} and pads > 0 and len(scales) > 10


def test_apply_augment_pads_with_zero_and_ignore():
    image = np.full((10, 20, 3), 9, np.uint8)
    labels = np.full((10, 20), 3, np.uint8)
    rng = np.random.default_rng(0)
    params = sample_augment(rng, (10, 20), crop_size=(16, 24), scale_range=(1.0, 1.0), hflip=False)
    img, lab = apply_augment(image, labels, params)
    assert params.crop_yx == (0, 0) and img.shape == (16, 24, 3)
    assert (lab[10:] == 255).all() and (lab[:, 20:] == 255).all() and (img[10:] == 0).all()
    assert (lab[:10, :20] == 3).all() and (img[:10, :20] == 9).all()


def test_deterministic_per_seed_epoch_index(frames):
    a = CityscapesSegmentation(frames, "train", crop_size=(64, 64), seed=1)
    b = CityscapesSegmentation(frames, "train", crop_size=(64, 64), seed=1)
    for x, y in zip(a.get_pair(2), b.get_pair(2), strict=True):
        np.testing.assert_array_equal(x, y)
    p0 = a.sample_params(2, (96, 160))
    a.set_epoch(1)
    assert a.sample_params(2, (96, 160)) != p0 and a.sample_params(2, (96, 160), epoch=0) == p0
    assert CityscapesSegmentation(frames, "train", seed=2).sample_params(2, (96, 160), epoch=0) != p0


def test_getitem_tensors_and_identity_without_augmentation(frames):
    ds = CityscapesSegmentation(frames, "train", crop_size=None, scale_range=(1.0, 1.0), hflip=False)
    image, train_ids = ds.get_pair(1)
    raw_labels = read_label_png(frames / "gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png")
    np.testing.assert_array_equal(train_ids, LUT[raw_labels])
    item = ds[1]
    assert item["image"].shape == (3, 96, 160) and item["image"].dtype == torch.float32
    assert item["target"].dtype == torch.int64
    back = item["image"] * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    torch.testing.assert_close(back.permute(1, 2, 0) * 255, torch.from_numpy(image).float(), rtol=0, atol=1e-3)
    torch.testing.assert_close(item["target"], torch.from_numpy(train_ids).long())
    trainid_ds = CityscapesSegmentation(
        frames, "train", crop_size=None, scale_range=(1, 1), label_source="labelTrainIds"
    )
    np.testing.assert_array_equal(trainid_ds.load_train_ids(1), train_ids)


def test_invalid_arguments(frames):
    with pytest.raises(ValueError, match="crop_size"):
        CityscapesSegmentation(frames, "train", crop_size=(0, 10))
    with pytest.raises(ValueError, match="scale_range"):
        CityscapesSegmentation(frames, "train", scale_range=(2.0, 1.0))


def test_class_pixel_counts_dataset_and_paths(frames):
    ds = CityscapesSegmentation(frames, "train")
    seen = []
    counts = class_pixel_counts(ds, progress=lambda d, t: seen.append((d, t)))
    assert counts.shape == (4, 19) and counts.dtype == np.int64 and seen[-1] == (4, 4)
    labels = LUT[read_label_png(ds.label_path(0))]
    np.testing.assert_array_equal(counts[0], np.bincount(labels[labels < 19], minlength=19))
    assert counts[0].sum() < labels.size  # void pixels are not counted
    np.testing.assert_array_equal(class_pixel_counts([ds.label_path(i) for i in range(4)]), counts)


def test_sampler_favours_images_with_rare_classes(tmp_path):
    write_frames(tmp_path, 5, rare_in=3)
    ds = CityscapesSegmentation(tmp_path, "train")
    sampler = class_balanced_sampler(ds, num_samples=2000, seed=0)
    weights = sampler.weights.numpy()
    assert np.argmax(weights) == 3 and weights[3] > 1.3 * np.delete(weights, 3).max()
    assert abs(weights.sum() - 1.0) < 1e-9
    draws = np.bincount(list(sampler), minlength=5)
    assert np.argmax(draws) == 3
    again = class_balanced_sampler(class_pixel_counts(ds), num_samples=2000, seed=0)
    assert list(again) == list(class_balanced_sampler(ds, num_samples=2000, seed=0))
    assert list(class_balanced_sampler(ds, num_samples=50, seed=1)) != list(again)[:50]


def test_image_weights_hand_computed():
    counts = np.array([[90, 0], [90, 10], [0, 0]])
    w = image_weights(counts, power=1.0)
    f = counts.sum(0) / counts.sum()
    expected = np.array([1 / f[0], 1 / f[0] + 1 / f[1], 0.0])
    np.testing.assert_allclose(w, expected / expected.sum())
    with pytest.raises(ValueError):
        image_weights(np.zeros((2, 3)))
