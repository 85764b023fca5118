"""Score registry: names, creation, helpful errors, and properties checked over every registered score."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from oodforge.errors import UsageError
from oodforge.scores import (
    SMLStats,
    _registry,
    create_score,
    energy_score,
    is_score,
    list_scores,
    register_score,
)

# Hyper-parameters needed to create each registered score, and a (confident, ambiguous) input pair:
# the ambiguous pixel must score higher. A newly registered score must be added here.
SML_STATS = SMLStats(means=np.zeros(4), stds=np.ones(4), counts=np.ones(4))
PEAKED = np.array([8.0, 0.0, 0.0, 0.0])[:, None, None]
UNIFORM = np.zeros((4, 1, 1))
CASES = {
    "msp": ({}, PEAKED, UNIFORM),
    "maxlogit": ({}, PEAKED, UNIFORM),
    "entropy": ({"normalize": True}, PEAKED, UNIFORM),
    "energy": ({"temperature": 2.0}, PEAKED, UNIFORM),
    "sml": ({"stats": SML_STATS}, PEAKED, UNIFORM),
    "rba": ({}, np.array([0.9, 0.05, 0.0, 0.0])[:, None, None], np.zeros((4, 1, 1))),
}


def test_registered_names() -> None:
    assert list_scores() == ["energy", "entropy", "maxlogit", "msp", "rba", "sml"]
    assert list_scores("*logit*") == ["maxlogit"]
    assert list_scores("e*") == ["energy", "entropy"]
    assert list_scores("nothing*") == []
    assert is_score("msp") and not is_score("MSP")


def test_every_score_has_a_case() -> None:
    assert sorted(CASES) == list_scores()


@pytest.mark.parametrize("name", list_scores())
def test_higher_is_more_anomalous(name: str) -> None:
    kwargs, confident, ambiguous = CASES[name]
    score = create_score(name, **kwargs)
    assert score(ambiguous)[0, 0] > score(confident)[0, 0]


@pytest.mark.parametrize("name", list_scores())
def test_shapes_and_batches(name: str) -> None:
    kwargs, confident, _ = CASES[name]
    score = create_score(name, **kwargs)
    x = np.random.default_rng(0).random((2, 4, 3, 5))
    out = score(x)
    assert out.shape == (2, 3, 5)
    np.testing.assert_allclose(out[1], score(x[1]), rtol=1e-12)
    assert score(confident).shape == (1, 1)


@pytest.mark.parametrize("name", list_scores())
def test_torch_kind_preserved(name: str) -> None:
    torch = pytest.importorskip("torch")
    kwargs, _, _ = CASES[name]
    score = create_score(name, **kwargs)
    x = np.random.default_rng(1).normal(size=(2, 4, 3, 3))
    out = score(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), score(x), rtol=1e-12)


def test_create_binds_keywords() -> None:
    x = np.random.default_rng(2).normal(size=(3, 2, 2))
    np.testing.assert_array_equal(create_score("energy", temperature=2.0)(x), energy_score(x, temperature=2.0))


def test_unknown_name_lists_close_matches_and_available() -> None:
    with pytest.raises(UsageError, match=r"Unknown score 'enrgy'; did you mean 'energy'.*available: energy, entropy"):
        create_score("enrgy")
    with pytest.raises(UsageError, match=r"available: energy, entropy, maxlogit, msp, rba, sml$"):
        create_score("zzz")


def test_unknown_keyword_is_named() -> None:
    with pytest.raises(
        UsageError, match=r"Unknown keyword `temp` for score `energy`; accepted keywords: `temperature`"
    ):
        create_score("energy", temp=2.0)
    with pytest.raises(UsageError, match="accepted keywords: none"):
        create_score("maxlogit", temperature=2.0)


def test_missing_required_keyword() -> None:
    with pytest.raises(UsageError, match="requires keyword `stats`"):
        create_score("sml")


def test_duplicate_registration_is_an_error() -> None:
    with pytest.raises(UsageError, match="Score `msp` is already registered"):
        register_score("msp")(lambda logits: logits)


def test_register_new_score(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_SCORES", dict(_registry._SCORES))

    @register_score("negmean")
    def negmean(logits: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
        return -scale * logits.mean(axis=-3)

    assert "negmean" in list_scores("neg*")
    assert create_score("negmean", scale=2.0)(np.ones((2, 1, 1)))[0, 0] == -2.0
    with pytest.raises(UsageError, match="first positional"):
        register_score("bad")(lambda *, logits: logits)


def test_import_does_not_import_torch() -> None:
    code = "import sys, oodforge.scores; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
