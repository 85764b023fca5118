"""The label table copy must match cityscapesScripts exactly."""

from __future__ import annotations

import numpy as np
import pytest

from oodforge.errors import ConfigError
from oodforge.sources.cityscapes_labels import (
    LABELS,
    TRAIN_ID_NAMES,
    id2label,
    label_id_to_train_id_lut,
    label_ids_for_names,
    name2label,
)

cs_labels = pytest.importorskip("cityscapesscripts.helpers.labels")


def test_labels_match_cityscapesscripts_field_by_field() -> None:
    ref = cs_labels.labels
    assert len(LABELS) == len(ref)
    for ours, theirs in zip(LABELS, ref, strict=True):
        assert ours.name == theirs.name
        assert ours.id == theirs.id
        assert ours.train_id == theirs.trainId
        assert ours.category == theirs.category
        assert ours.category_id == theirs.categoryId
        assert ours.has_instances == theirs.hasInstances
        assert ours.ignore_in_eval == theirs.ignoreInEval
        assert tuple(ours.color) == tuple(theirs.color)


def test_lut_matches_train_ids() -> None:
    lut = label_id_to_train_id_lut()
    assert lut.shape == (256,)
    assert lut.dtype == np.uint8
    expected = np.full(256, 255, dtype=np.uint8)
    for lab in cs_labels.labels:
        if lab.id >= 0:
            expected[lab.id] = lab.trainId if 0 <= lab.trainId < 255 else 255
    np.testing.assert_array_equal(lut, expected)


def test_train_id_names_and_lookups() -> None:
    assert len(TRAIN_ID_NAMES) == 19
    for tid, name in enumerate(TRAIN_ID_NAMES):
        assert cs_labels.trainId2label[tid].name == name
    assert name2label["road"].id == 7
    assert id2label[26].name == "car"


def test_label_ids_for_names_suggests_closest() -> None:
    assert label_ids_for_names(["road", "sidewalk"], "k") == [7, 8]
    with pytest.raises(ConfigError, match=r"did you mean 'traffic light'") as info:
        label_ids_for_names(["traffic_light"], "synthesis.placement.target_labels")
    assert "synthesis.placement.target_labels" in str(info.value)
    assert "\n" not in str(info.value)
