"""Order-preserving float16 keys and key histograms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodforge.errors import ValueCheckError
from oodforge.metrics._f16 import check_finite_hist, float16_keys, histogram_by_code, key_values16, key_values32


def test_keys_sort_like_values() -> None:
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    values = bits.view(np.float16)
    finite = np.isfinite(values) | np.isinf(values)
    keys = float16_keys(values[finite]).astype(np.int64)
    order = np.argsort(keys)
    v = values[finite][order].astype(np.float64)
    assert (np.diff(v) >= 0).all()
    assert len(np.unique(keys)) == finite.sum()


@settings(max_examples=100, deadline=None)
@given(a=st.floats(width=16, allow_nan=False), b=st.floats(width=16, allow_nan=False))
def test_key_order_property(a: float, b: float) -> None:
    ka, kb = (int(k) for k in float16_keys(np.array([a, b], np.float16)))
    if a < b:
        assert ka < kb
    elif a > b:
        assert ka > kb
    else:
        assert ka == kb or {ka, kb} == {0x7FFF, 0x8000}  # -0.0 and +0.0


def test_key_value_tables_invert_keys() -> None:
    x = np.array([-65504, -1.5, -0.0, 0.0, 1e-7, 0.5, 1.0, 65504], np.float16)
    keys = float16_keys(x)
    np.testing.assert_array_equal(key_values16()[keys], x)
    np.testing.assert_array_equal(key_values32()[keys], x.astype(np.float32))
    with pytest.raises(ValueError, match="read-only"):
        key_values16()[0] = 1


def test_histogram_by_code_folds_negative_zero_and_drops_void() -> None:
    x = np.array([-0.0, 0.0, 0.5, 0.5, 1.0], np.float16)
    codes = np.array([0, 0, 1, 2, 1], np.uint8)
    hist = histogram_by_code(float16_keys(x), codes)
    assert hist.shape == (2, 65536)
    assert hist[0, float16_keys(np.float16(0.0))] == 2
    assert hist[0, 0x7FFF] == 0
    assert hist[1].sum() == 2 and hist.sum() == 4


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_hist(bad: float) -> None:
    x = np.array([0.1, bad], np.float16)
    hist = histogram_by_code(float16_keys(x), np.zeros(2, np.uint8))
    with pytest.raises(ValueCheckError, match="1 NaN or inf"):
        check_finite_hist(hist)
    check_finite_hist(histogram_by_code(float16_keys(x[:1]), np.zeros(1, np.uint8)))
