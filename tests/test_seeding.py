import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from oodforge._seeding import STREAMS, image_seed, sample_streams, stable_uint64, stable_unit


def test_known_values_are_stable():
    # pinned: a change here silently changes every dataset
    assert stable_uint64("a", 1) == int.from_bytes(__import__("hashlib").sha256(b"a::1").digest()[:8], "big")
    assert image_seed(32323232, "train", "aachen_000000_000019") == stable_uint64(
        32323232, "train", "aachen_000000_000019"
    )


def test_streams_are_independent_and_reproducible():
    a, b = sample_streams(5), sample_streams(5)
    draws = {k: a[k].random(4) for k in STREAMS}
    for k in STREAMS:
        np.testing.assert_array_equal(draws[k], b[k].random(4))
    values = [tuple(v) for v in draws.values()]
    assert len(set(values)) == len(STREAMS)


@given(st.text(min_size=1, max_size=30))
def test_stable_unit_in_range(s):
    u = stable_unit("part", s)
    assert 0.0 <= u < 1.0
    assert u == stable_unit("part", s)
