"""Offline outlier exposure data: a synthesized split as (image, target, outlier mask), as OutlierPaste makes them."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from _helpers import demo_config_dict
from oodforge._io import read_image_rgb, read_label_png
from oodforge.errors import ConfigError, DataLayoutError, SampleError
from oodforge.export.scene_targets import outlier_exposure_targets, scene_train_ids
from oodforge.learn.data import CityscapesSegmentation
from oodforge.learn.outlier_paste import OutlierPaste, OutlierPasteConfig
from oodforge.learn.synth_data import SynthSegmentation
from oodforge.learn.train_config import load_train_config
from oodforge.synth.runner import synthesize_dataset


@pytest.fixture(scope="module")
def dataset(demo_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo config's dataset of the small demo world: train (half with objects), val (clean), test."""
    tmp = tmp_path_factory.mktemp("offline")
    data = copy.deepcopy(demo_config_dict())
    data["sources"]["cityscapes"]["root"] = str(demo_world / "world" / "cityscapes")
    data["sources"]["coco"]["root"] = str(demo_world / "world" / "coco")
    data["sources"]["coco"]["cache_dir"] = str(demo_world / "cache")
    data["dataset"]["output_root"] = str(tmp / "ds")
    data["splits"]["train"] = {"source": "train", "part": [0.0, 1.0], "clean_ratio": 0.0, "synth_ratio": 1.0}
    (tmp / "c.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert not synthesize_dataset(tmp / "c.yaml", workers=1).failed
    return tmp / "ds"


def _cs(demo_world: Path) -> Path:
    return demo_world / "world" / "cityscapes"


def test_targets_are_the_scene_labels_with_the_composite_gt(dataset: Path, demo_world: Path) -> None:
    ds = SynthSegmentation(dataset, "train", _cs(demo_world), crop_size=None, scale_range=(1, 1), hflip=False)
    lut_ds = CityscapesSegmentation(_cs(demo_world), "train", crop_size=None, scale_range=(1, 1), hflip=False)
    covered = 0
    for i, rec in enumerate(ds.records):
        image, target, mask = ds.load(i)
        gt = read_label_png(dataset / str(rec.outputs["gt_pixel"]), np.uint8)
        scene = lut_ds.load_train_ids(lut_ds.image_ids.index(rec.image_id))
        np.testing.assert_array_equal(image, read_image_rgb(dataset / str(rec.outputs["image"])))
        np.testing.assert_array_equal(mask, gt)
        np.testing.assert_array_equal(target[gt == 1], 255)  # covered pixels: ignored by the CE
        np.testing.assert_array_equal(target[gt != 1], scene[gt != 1])
        covered += int((gt == 1).sum())
    assert covered > 0 and len(ds) == 6


def test_same_targets_as_outlier_paste_for_the_same_composite(demo_world: Path) -> None:
    """What OutlierPaste returns on the fly == outlier_exposure_targets(scene, its outlier mask)."""
    base = CityscapesSegmentation(_cs(demo_world), "val", crop_size=None, scale_range=(1, 1), hflip=False)
    for ood in (None, 19):
        cfg = OutlierPasteConfig(p=1.0, ood_label=ood, instances={"min": 1, "max": 3})  # type: ignore[arg-type]
        paste = OutlierPaste.from_coco(cfg, demo_world / "world" / "coco", cache_dir=demo_world / "cache")
        for i in range(4):
            image, tid = base.get_pair(i)
            _, target, mask, _ = paste(image, tid, index=i, epoch=0)
            again = outlier_exposure_targets(tid, mask, ood)
            np.testing.assert_array_equal(again[0], target)
            np.testing.assert_array_equal(again[1], mask)


def test_augmentation_moves_image_target_and_mask_together(dataset: Path, demo_world: Path) -> None:
    ds = SynthSegmentation(dataset, "train", _cs(demo_world), crop_size=(64, 128), scale_range=(0.5, 1.0), seed=3)
    for i in range(len(ds)):
        covered = int((ds.load(i)[2] == 1).sum())
        image_a, target_a, mask_a = ds.get_sample(i)
        assert (mask_a == 1).sum() <= covered * 1.05 + 4  # scaled down (<= 1x) and cropped: never more outlier
        assert image_a.shape == (64, 128, 3) and target_a.shape == mask_a.shape == (64, 128)
        assert (target_a[mask_a == 1] == 255).all()  # the covered pixels stay aligned with the target
        assert set(np.unique(mask_a)) <= {0, 1, 255}
        again = ds.get_sample(i)
        for x, y in zip(again, (image_a, target_a, mask_a), strict=True):
            np.testing.assert_array_equal(x, y)  # a pure function of (seed, epoch, index)
    first = [ds.get_sample(i)[0] for i in range(len(ds))]
    ds.set_epoch(1)  # a new epoch draws new crops
    assert any(not np.array_equal(ds.get_sample(i)[0], first[i]) for i in range(len(ds)))


def test_tensors_through_a_dataloader(dataset: Path, demo_world: Path) -> None:
    ds = SynthSegmentation(dataset, "train", _cs(demo_world), crop_size=(64, 128), scale_range=(0.5, 0.75))
    batch = next(iter(DataLoader(ds, batch_size=2, num_workers=0)))
    assert batch["image"].shape == (2, 3, 64, 128) and batch["image"].dtype == torch.float32
    assert batch["target"].dtype == torch.int64 and batch["outlier_mask"].dtype == torch.uint8


def test_bad_inputs_are_one_line(dataset: Path, demo_world: Path, tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match=r"split 'nope' has no finished image; the dataset's splits: test, tr"):
        SynthSegmentation(dataset, "nope", _cs(demo_world))
    with pytest.raises(DataLayoutError, match="manifest"):
        SynthSegmentation(tmp_path, "train", _cs(demo_world))
    ds = SynthSegmentation(dataset, "train", tmp_path / "elsewhere")  # the wrong Cityscapes root
    with pytest.raises(SampleError, match="labelIds"):
        ds.load(0)
    with pytest.raises(SampleError, match="GT value 7"):
        outlier_exposure_targets(np.zeros((2, 2), np.uint8), np.full((2, 2), 7, np.uint8), where="x")
    with pytest.raises(SampleError, match="2x2, its GT 3x2"):
        outlier_exposure_targets(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), where="x")
    good = SynthSegmentation(dataset, "train", _cs(demo_world))
    rec = good.records[0]
    assert scene_train_ids(_cs(demo_world), rec.source_split, rec.image_id).shape == good.load(0)[1].shape


def test_config_takes_paste_or_offline(tmp_path: Path) -> None:
    base = {"task": "oe", "output_dir": "run", "data": {"cityscapes_root": "cs"}, "optim": {"max_steps": 1}}
    cases = {
        "neither": (base, "needs a 'paste' section .* or an 'offline' section"),
        "both": ({**base, "paste": {"coco_root": "c"}, "offline": {"dataset": "d"}}, "not both"),
    }
    for name, (cfg, match) in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        with pytest.raises(ConfigError, match=match):
            load_train_config(path)
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump({**base, "offline": {"dataset": "d", "ood_label": 19}}))
    cfg = load_train_config(path)
    assert cfg.offline is not None and cfg.offline.dataset == str(tmp_path / "d") and cfg.offline.ood_label == 19
