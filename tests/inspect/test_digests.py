"""Compact sets used by verify: exact answers on realistic inputs, duplicates found sorted or not."""

from __future__ import annotations

from oodforge.inspect._digests import DigestSet
from oodforge.inspect._verify_common import OrderCheck


def test_digest_set_membership() -> None:
    s = DigestSet()
    paths = [f"train/images/aachen_{i:06d}_000019.png" for i in range(5000)]
    s.update(paths[::2])
    assert all(p in s for p in paths[::2])
    assert not any(p in s for p in paths[1::2])
    s.add(paths[1])  # adding after a question re-sorts
    assert paths[1] in s and len(s) == 2501


def test_order_check_sorted_and_unsorted_duplicates() -> None:
    sorted_keys = [("test", "a"), ("test", "b"), ("test", "b"), ("val", "a")]
    check = OrderCheck()
    for k in sorted_keys:
        check.add(k)
    assert check.problems == ["test/b: duplicate manifest record"]
    check = OrderCheck()
    for k in [("test", "a"), ("test", "c"), ("test", "b"), ("test", "a"), ("test", "d"), ("test", "c")]:
        check.add(k)
    assert check.problems == [
        "test/b: manifest out of order (after test/c)",
        "test/a: duplicate manifest record",
        "test/c: duplicate manifest record",
    ]
