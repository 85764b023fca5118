"""nn.Module twins: same values as the functions, hyper-parameters stored and validated, gradients flow."""

from __future__ import annotations

import numpy as np
import pytest

from oodforge.errors import ValueCheckError
from oodforge.scores import (
    energy_score,
    entropy_score,
    mask_class_pixel_scores,
    maxlogit_score,
    msp_score,
    rba_score,
)

torch = pytest.importorskip("torch")
modules = pytest.importorskip("oodforge.scores.modules")

CASES = [
    (modules.MSPScore(temperature=2.0), lambda x: msp_score(x, temperature=2.0)),
    (modules.MaxLogitScore(), maxlogit_score),
    (
        modules.EntropyScore(temperature=0.5, normalize=True),
        lambda x: entropy_score(x, temperature=0.5, normalize=True),
    ),
    (modules.EnergyScore(temperature=3.0), lambda x: energy_score(x, temperature=3.0)),
    (modules.RbAScore(relu=True, temperature=0.5), lambda x: rba_score(x, relu=True, temperature=0.5)),
]


@pytest.mark.parametrize(("module", "function"), CASES, ids=lambda c: type(c).__name__)
def test_module_matches_function(module, function) -> None:
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    out = module(x)
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out, function(x))
    np.testing.assert_allclose(out.numpy(), function(x.numpy()), rtol=1e-12)


@pytest.mark.parametrize(("module", "function"), CASES, ids=lambda c: type(c).__name__)
def test_gradients_flow(module, function) -> None:
    x = torch.randn(1, 4, 2, 2, dtype=torch.float64, requires_grad=True)
    module(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_rba_module_from_mask_outputs() -> None:
    cl, ml = torch.randn(2, 6, 4, dtype=torch.float64), torch.randn(2, 6, 5, 5, dtype=torch.float64)
    module = modules.RbAScore(class_temperature=0.75)
    expected = rba_score(mask_class_pixel_scores(cl, ml, temperature=0.75))
    torch.testing.assert_close(module(cl, ml), expected)


def test_repr_and_validation() -> None:
    assert "temperature=2.0" in repr(modules.EnergyScore(2.0))
    assert "normalize=True" in repr(modules.EntropyScore(normalize=True))
    assert "class_temperature=0.5" in repr(modules.RbAScore(class_temperature=0.5))
    with pytest.raises(ValueCheckError, match="`temperature`"):
        modules.MSPScore(temperature=-1.0)
    with pytest.raises(ValueCheckError, match="`class_temperature`"):
        modules.RbAScore(class_temperature=0.0)
