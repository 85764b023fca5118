"""One shared log-sum-exp for msp / entropy / energy: maps bit-identical to the single-score functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oodforge.errors import UsageError
from oodforge.scores.pixel import energy_score, entropy_score, msp_score, softmax_family_scores

SINGLE = {"msp": msp_score, "entropy": entropy_score, "energy": energy_score}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.5635])
def test_bit_identical_to_single_scores(dtype: type, temperature: float) -> None:
    rng = np.random.default_rng(3)
    for shape in ((20, 24, 40), (2, 5, 8, 8)):
        x = (rng.standard_normal(shape) * 6).astype(dtype)
        x.flat[0] = 300 if dtype != np.float16 else 60  # a confident pixel
        maps = softmax_family_scores(x, ["energy", "msp", "entropy"], temperature=temperature)
        for name, fn in SINGLE.items():
            assert np.array_equal(maps[name], fn(x, temperature=temperature)), name
        xt = torch.from_numpy(x.astype(np.float32))
        maps_t = softmax_family_scores(xt, ["msp", "entropy", "energy"], temperature=temperature)
        for name, fn in SINGLE.items():
            assert torch.equal(maps_t[name], fn(xt, temperature=temperature)), name


def test_only_the_family() -> None:
    with pytest.raises(UsageError, match="maxlogit"):
        softmax_family_scores(np.zeros((2, 1, 1)), ["msp", "maxlogit"])
