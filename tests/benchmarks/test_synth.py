"""The reader of datasets made by ``oodforge synth`` (manifest-driven, any split)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from benchmark_fixtures import SYNTH_RAW, bands, frame_color, synth_record, write_label, write_synth

from oodforge.benchmarks import SynthDataset, open_benchmark
from oodforge.errors import DataLayoutError, InputFileError, UsageError, ValueCheckError


def test_synth_splits_ids_and_failed_records(tmp_path: Path) -> None:
    write_synth(tmp_path)
    reader = SynthDataset(tmp_path)
    assert reader.available_splits() == ("test", "val") and reader.split == "test"
    assert reader.image_ids() == ["aachen_000001_000019", "frankfurt_000000_000294"]
    assert reader.notes == ["skipped 1 failed record(s) of split 'test': bochum_000000_000313"]
    val = open_benchmark("synth", tmp_path, "val")
    assert val.image_ids() == ["lindau_000000_000019"] and val.notes == []
    with pytest.raises(UsageError, match="unknown split 'train'; valid splits: test, val"):
        SynthDataset(tmp_path, "train")


def test_synth_sample_values(tmp_path: Path) -> None:
    write_synth(tmp_path)
    sample = SynthDataset(tmp_path).load("frankfurt_000000_000294")
    assert np.array_equal(sample.label, bands(SYNTH_RAW))  # gt_pixel is already 0 / 1 / 255
    # records are written in sorted (split, image_id) order: aachen k=0, bochum k=1 (failed), frankfurt k=2
    assert np.array_equal(sample.image[3, 3], frame_color(2))
    assert sample.image_path == tmp_path / "test" / "images" / "frankfurt_000000_000294.png"
    assert sample.label_path == tmp_path / "test" / "gt_pixel" / "frankfurt_000000_000294.png"


def test_synth_other_label_values_raise(tmp_path: Path) -> None:
    write_synth(tmp_path)
    write_label(tmp_path / "test" / "gt_pixel" / "aachen_000001_000019.png", bands([0, 1, 2, 255]))
    with pytest.raises(ValueCheckError, match=r"aachen_000001_000019.png: label values 2 \(512 px\) are outside"):
        SynthDataset(tmp_path).load_label("aachen_000001_000019")


def test_synth_default_split_choice(tmp_path: Path) -> None:
    write_synth(tmp_path / "one", [("train", "a_000000_000001", "ok")])
    assert SynthDataset(tmp_path / "one").split == "train"
    write_synth(tmp_path / "two", [("train", "a_000000_000001", "ok"), ("extra", "b_000000_000001", "ok")])
    with pytest.raises(UsageError, match="choose a split of this synth dataset: extra, train"):
        SynthDataset(tmp_path / "two")
    write_synth(tmp_path / "three", [("val", "a_000000_000001", "ok"), ("train", "b_000000_000001", "ok")])
    assert SynthDataset(tmp_path / "three").split == "val"


def test_synth_wrong_root_and_bad_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError) as e:
        SynthDataset(tmp_path)
    assert str(e.value) == (
        f"{tmp_path}: no manifest.jsonl; expected the output root of `oodforge synth`: <root>/manifest.jsonl with "
        "images <root>/<split>/images/<image_id>.png and labels <root>/<split>/gt_pixel/<image_id>.png"
    )
    (tmp_path / "manifest.jsonl").write_text("{not json\n")
    with pytest.raises(InputFileError, match=r"manifest.jsonl:1: malformed manifest record"):
        SynthDataset(tmp_path)
    (tmp_path / "manifest.jsonl").write_text("")
    with pytest.raises(DataLayoutError, match="manifest holds no record"):
        SynthDataset(tmp_path)


def test_synth_split_of_only_failed_records(tmp_path: Path) -> None:
    write_synth(tmp_path, [("test", "a_000000_000001", "failed"), ("val", "b_000000_000001", "ok")])
    with pytest.raises(DataLayoutError, match="split 'test' has no record with status ok"):
        SynthDataset(tmp_path, "test")


def test_synth_missing_file_and_escaping_path(tmp_path: Path) -> None:
    write_synth(tmp_path)
    (tmp_path / "val" / "gt_pixel" / "lindau_000000_000019.png").unlink()
    with pytest.raises(DataLayoutError, match=r"1 of 1 frames of split 'val' have no label file"):
        SynthDataset(tmp_path, "val")
    rec = synth_record("val", "x_000000_000001")
    rec["outputs"] = {"image": "../outside.png", "gt_pixel": "val/gt_pixel/x.png"}
    (tmp_path / "manifest.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(DataLayoutError, match=r"output path '\.\./outside\.png' is not relative to the dataset root"):
        SynthDataset(tmp_path)
