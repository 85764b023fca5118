"""`evaluate` on tiny synth datasets: reference values (sklearn, metric functions), curves, errors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from eval_fixtures import FAILED_ID, IDS, bf, make_synth, random_scores, write_scores
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from oodforge.errors import DataLayoutError, InputFileError, UsageError
from oodforge.eval import evaluate
from oodforge.metrics import component_metrics, pixel_metrics


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "ds"
    return root, make_synth(root)


def test_perfect_scores(dataset, tmp_path: Path) -> None:
    root, labels = dataset
    scores = write_scores(tmp_path / "s", {i: (lab == 1).astype(np.float16) for i, lab in labels.items()})
    calls: list[tuple[str, int, int]] = []
    rep = evaluate("synth", root, scores, progress=lambda *a: calls.append(a))
    r = rep.pixel
    assert (r.ap, r.auroc, r.fpr95, r.best_f1) == (1.0, 1.0, 0.0, 1.0)
    assert r.num_positives == 3 * 600 and r.num_negatives == sum(int((lab == 0).sum()) for lab in labels.values())
    assert rep.benchmark == "synth" and rep.split == "test" and rep.protocol == "fishyscapes" and rep.n_images == 3
    c = rep.components
    assert c is not None and rep.component_track == "anomaly"
    assert (c.siou_gt, c.ppv, c.f1_mean, c.num_gt, c.num_pred) == (1.0, 1.0, 1.0, 3, 3)
    assert calls[-1] == ("component metrics", 3, 3) and ("pixel metrics", 3, 3) in calls
    assert rep.notes[0] == f"skipped 1 failed record(s) of split 'test': {FAILED_ID}"


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_fishyscapes_equals_sklearn_on_pooled_valid_pixels(dataset, tmp_path: Path, dtype: type) -> None:
    root, labels = dataset
    scores = random_scores(labels, seed=3, dtype=dtype)
    rep = evaluate("synth", root, write_scores(tmp_path / "s", scores), components=False)
    y = np.concatenate([labels[i].ravel() for i in IDS])
    s = np.concatenate([scores[i].ravel() for i in IDS]).astype(np.float64)
    valid = y <= 1
    y, s = y[valid], s[valid]
    assert rep.pixel.ap == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert rep.pixel.auroc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert rep.pixel.fpr95 == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)
    prec, rec, _ = precision_recall_curve(y, s)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-300)
    assert rep.pixel.best_f1 == pytest.approx(f1.max(), abs=1e-12)
    assert rep.components is None and rep.component_threshold is None


def test_smiyc_protocol_and_components_match_the_metric_functions(dataset, tmp_path: Path) -> None:
    root, labels = dataset
    scores = random_scores(labels, seed=5, dtype=np.float16)
    rep = evaluate("synth", root, write_scores(tmp_path / "s", scores), protocol="smiyc")
    s = np.stack([scores[i] for i in IDS])
    y = np.stack([labels[i] for i in IDS])
    ref = pixel_metrics(s, y, "smiyc")
    assert rep.pixel == ref and rep.protocol == "smiyc"
    comp = component_metrics(s, y, "anomaly", threshold=ref.best_f1_threshold)
    assert rep.components == comp and rep.component_threshold == ref.best_f1_threshold
    # the exact protocol predicts score >= threshold
    exact = evaluate("synth", root, tmp_path / "s")
    mask = s.astype(np.float32) >= np.float32(exact.pixel.best_f1_threshold)
    assert exact.components == component_metrics(mask, y, "anomaly")


def test_curves_histogram_and_json(dataset, tmp_path: Path) -> None:
    root, labels = dataset
    scores = random_scores(labels, seed=1)
    rep = evaluate("synth", root, write_scores(tmp_path / "s", scores), histogram_bins=20)
    c = rep.curves
    assert c.recall[0] == 0 and c.recall[-1] == 1 and c.fpr[-1] == 1 and np.all(np.diff(c.recall) >= 0)
    assert len(c.thresholds) == len(c.precision) == len(c.fpr) <= 501
    h = rep.histogram
    assert (
        len(h.edges) == 21 and h.anomaly.sum() == rep.pixel.num_positives and h.normal.sum() == rep.pixel.num_negatives
    )
    valid = np.concatenate([scores[i][labels[i] <= 1] for i in IDS])
    assert h.edges[0] == valid.min() and h.edges[-1] == valid.max()
    ref_pos, _ = np.histogram(np.concatenate([scores[i][labels[i] == 1] for i in IDS]), h.edges)
    assert np.array_equal(h.anomaly, ref_pos)  # scores on a 1/64 grid: float16 rounding is exact
    d = rep.to_dict()
    text = json.dumps(d, allow_nan=False)  # strict JSON: inf threshold of the first curve point -> null
    assert d["curves"]["thresholds"][0] is None and json.loads(text)["pixel"]["ap"] == rep.pixel.ap
    assert set(rep.to_dict(include_curves=False)) == set(d) - {"curves", "histogram"}


def test_no_anomaly_pixel_is_a_usage_error(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    labels = make_synth(
        root,
        {i: np.where(np.arange(32)[:, None] < 28, 0, 255).astype(np.uint8) * np.ones((1, 64), np.uint8) for i in IDS},
    )
    scores = write_scores(tmp_path / "s", random_scores(labels))
    with pytest.raises(UsageError) as e:
        evaluate("synth", root, scores)
    assert str(e.value).startswith("synth (split 'test'): no anomaly pixel (label 1) in its 3 image(s) (0 anomaly")
    make_synth(root, {i: np.ones((32, 64), np.uint8) for i in IDS})
    with pytest.raises(UsageError, match="no normal pixel"):
        evaluate("synth", root, scores)


def test_label_outside_encoding(dataset, tmp_path: Path) -> None:
    root, labels = dataset
    scores = write_scores(tmp_path / "s", random_scores(labels))
    bad = labels[IDS[1]].copy()
    bad[0, 0] = 7
    bf.write_label(root / "test" / "gt_pixel" / f"{IDS[1]}.png", bad)
    with pytest.raises(InputFileError, match=rf"{IDS[1]}.png: label values 7 \(1 px\) are outside"):
        evaluate("synth", root, scores)


def test_argument_errors(dataset, tmp_path: Path) -> None:
    root, labels = dataset
    scores = write_scores(tmp_path / "s", random_scores(labels))
    with pytest.raises(
        UsageError, match="unknown protocol 'smiyc2023'; valid protocols: fishyscapes, smiyc, smiyc2021"
    ):
        evaluate("synth", root, scores, protocol="smiyc2023")
    with pytest.raises(UsageError, match="Unknown benchmark 'synht'; did you mean 'synth'"):
        evaluate("synht", root, scores)
    with pytest.raises(DataLayoutError, match=r"no manifest.jsonl"):
        evaluate("synth", tmp_path, scores)
    ra = bf.write_road_anomaly(tmp_path / "ra")
    with pytest.raises(UsageError, match="road_anomaly has no component metrics"):
        evaluate("road_anomaly", ra, scores, components=True)


def test_other_benchmark_and_missing_scores(tmp_path: Path) -> None:
    root = bf.write_road_anomaly_21(tmp_path / "ra21")
    scores = tmp_path / "s"
    label = bf.expected_label(bf.SMIYC_RAW, {0: 0, 1: 1, 255: 255, 7: 255})
    write_scores(scores, {bf.RA21_FIDS[0]: label.astype(np.float32)})
    with pytest.raises(InputFileError) as e:
        evaluate("road_anomaly_21", root, scores)
    assert "road0002.npy: missing (and 1 other image id of road_anomaly_21" in str(e.value)
    write_scores(scores, {fid: label.astype(np.float32) for fid in bf.RA21_FIDS})
    rep = evaluate("road_anomaly_21", root, scores, components=False)
    assert rep.protocol == "smiyc" and rep.pixel.ap == 1.0 and rep.n_images == 3


def test_smiyc_scores_beyond_float16_name_the_file(dataset, tmp_path: Path) -> None:
    root, labels = dataset
    scores = random_scores(labels, seed=4)  # float32 maps
    scores[IDS[1]][3, 3] = 7.1e4  # a normal pixel
    d = write_scores(tmp_path / "s", scores)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw numpy overflow warning on the way
        with pytest.raises(InputFileError) as e:
            evaluate("synth", root, d, protocol="smiyc")
        rep = evaluate("synth", root, d)  # fishyscapes keeps float32: fine
    assert str(e.value) == (
        f"{d / (IDS[1] + '.npy')}: scores up to 7.1e+04 exceed float16's maximum 65504; the smiyc protocol stores "
        "float16 scores: rescale them or use --protocol fishyscapes"
    )
    assert rep.pixel.num_positives == 1800 and rep.components is not None


def test_component_pass_float16_rule_equals_the_float32_comparison() -> None:
    """The exact (`fishyscapes`) rule on float16 maps: `s16 > t16` equals `float32(s) >= threshold` everywhere."""
    from oodforge.eval._eval_steps import ComponentPass

    every = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    every = every[np.isfinite(every)].reshape(1, -1)
    some = every[0, ::997].astype(np.float32)
    thresholds = [0.0, -0.0, 1e-9, -1e-9, 6e-8, 65504.0, 70000.0, -70000.0, 0.1, -0.1, 1 / 3]
    thresholds += [float(v) for v in some] + [float(np.nextafter(v, np.float32(np.inf))) for v in some]
    for t in thresholds:
        comp = ComponentPass("obstacle", "fishyscapes", t)
        want = every.astype(np.float32) >= np.float32(t)
        assert np.array_equal(comp._at_least(every), want), t
