"""`score_logits_dir`: saved logits -> float16 score maps equal to the score functions; errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oodforge.errors import InputFileError, UsageError
from oodforge.eval import score_logits_dir
from oodforge.scores import create_score, fit_sml_stats, mask_class_pixel_scores, rba_score


@pytest.fixture
def logits(tmp_path: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {f"img{k}": (3 * rng.standard_normal((5, 6, 7))).astype(np.float32) for k in range(3)}
    (tmp_path / "logits").mkdir()
    np.save(tmp_path / "logits" / "img0.npy", out["img0"])
    np.save(tmp_path / "logits" / "img1.npy", out["img1"][None])  # (1, C, H, W) is accepted
    np.savez(tmp_path / "logits" / "img2.npz", logits=out["img2"], other=np.zeros(2))
    (tmp_path / "logits" / "readme.txt").write_text("ignored")
    return out


@pytest.mark.parametrize(
    ("method", "kwargs"), [("msp", {}), ("energy", {"temperature": 2.0}), ("entropy", {}), ("maxlogit", {})]
)
def test_dense_methods_match_the_library(tmp_path: Path, logits, method: str, kwargs: dict) -> None:
    seen: list[tuple[int, int]] = []
    paths = score_logits_dir(
        method, tmp_path / "logits", tmp_path / "out", progress=lambda *a: seen.append(a), **kwargs
    )
    assert [p.name for p in paths] == ["img0.npy", "img1.npy", "img2.npy"] and seen[-1] == (3, 3)
    fn = create_score(method, **kwargs)
    for image_id, z in logits.items():
        got = np.load(tmp_path / "out" / f"{image_id}.npy")
        assert got.dtype == np.float16 and np.array_equal(got, fn(z).astype(np.float16))


def test_sml_needs_stats(tmp_path: Path, logits) -> None:
    with pytest.raises(UsageError, match="method 'sml' needs --sml-stats FILE"):
        score_logits_dir("sml", tmp_path / "logits", tmp_path / "out")
    stats = fit_sml_stats(list(logits.values()))
    stats.save(tmp_path / "sml.npz")
    score_logits_dir("sml", tmp_path / "logits", tmp_path / "out", sml_stats=tmp_path / "sml.npz", dtype=np.float32)
    got = np.load(tmp_path / "out" / "img0.npy")
    assert got.dtype == np.float32 and np.array_equal(
        got, create_score("sml", stats=stats)(logits["img0"]).astype(np.float32)
    )


def test_rba_mask_classification_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    cls, masks = rng.standard_normal((4, 6)).astype(np.float32), rng.standard_normal((4, 5, 7)).astype(np.float32)
    (tmp_path / "logits").mkdir()
    np.savez(tmp_path / "logits" / "a.npz", class_logits=cls, mask_logits=masks)
    score_logits_dir("rba", tmp_path / "logits", tmp_path / "out", class_temperature=0.5, temperature=2.0)
    ref = rba_score(mask_class_pixel_scores(cls, masks, temperature=0.5), temperature=2.0)
    assert np.array_equal(np.load(tmp_path / "out" / "a.npy"), ref.astype(np.float16))
    with pytest.raises(InputFileError, match=r"a.npz: mask-classification logits .* need method 'rba', not 'msp'"):
        score_logits_dir("msp", tmp_path / "logits", tmp_path / "out")


def test_usage_errors(tmp_path: Path, logits) -> None:
    with pytest.raises(UsageError) as e:
        score_logits_dir("maxlogits", tmp_path / "logits", tmp_path / "out")
    assert (
        str(e.value) == "unknown score method 'maxlogits'; available methods: energy, entropy, maxlogit, msp, rba, sml"
    )
    with pytest.raises(UsageError, match="--temperature does not apply to method 'maxlogit'"):
        score_logits_dir("maxlogit", tmp_path / "logits", tmp_path / "out", temperature=2.0)
    with pytest.raises(UsageError, match="--class-temperature only applies to method 'rba'"):
        score_logits_dir("msp", tmp_path / "logits", tmp_path / "out", class_temperature=2.0)
    with pytest.raises(UsageError, match="--sml-stats only applies to method 'sml'"):
        score_logits_dir("msp", tmp_path / "logits", tmp_path / "out", sml_stats=tmp_path / "x.npz")
    with pytest.raises(InputFileError, match="no logits file"):
        score_logits_dir("msp", tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written on usage errors


def test_bad_logits_files(tmp_path: Path) -> None:
    d = tmp_path / "logits"
    d.mkdir()
    np.save(d / "a.npy", np.zeros((6, 7), np.float32))
    with pytest.raises(InputFileError, match=r"a.npy: logits have shape \(6, 7\); expected \(C, H, W\)"):
        score_logits_dir("msp", d, tmp_path / "out")
    np.save(d / "a.npy", np.zeros((2, 6, 7), np.int64))
    with pytest.raises(InputFileError, match=r"a.npy: logits have dtype int64"):
        score_logits_dir("msp", d, tmp_path / "out")
    np.save(d / "a.npy", np.full((2, 6, 7), np.nan, np.float32))
    with pytest.raises(InputFileError, match=r"a.npy: Expected finite scores"):
        score_logits_dir("msp", d, tmp_path / "out")
    np.save(d / "a.npy", np.full((2, 6, 7), 1e5, np.float32))
    with pytest.raises(InputFileError, match="store float32 instead"):
        score_logits_dir("maxlogit", d, tmp_path / "out")
    np.savez(d / "a.npz", np.zeros(1))
    with pytest.raises(InputFileError, match=r"both .npy and .npz logits files exist for image id 'a'"):
        score_logits_dir("msp", d, tmp_path / "out")
