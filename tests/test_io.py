import numpy as np
import pytest

from oodforge._io import (
    atomic_write_bytes,
    decode_image_rgb,
    decode_label_png,
    encode_image,
    encode_png,
    sha256_bytes,
    sha256_file,
)
from oodforge.errors import SampleError


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a" / "f.bin"
    atomic_write_bytes(p, b"one")
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert [x.name for x in p.parent.iterdir()] == ["f.bin"]
    assert sha256_file(p) == sha256_bytes(b"two")


def test_png_round_trip_rgb_and_uint16():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image_rgb(encode_png(rgb)), rgb)
    ids = rng.integers(0, 70000, (9, 11)).astype(np.uint16)
    np.testing.assert_array_equal(decode_label_png(encode_png(ids), dtype=np.uint16), ids)
    jpg = decode_image_rgb(encode_image(rgb, "jpg", jpeg_quality=100))
    assert jpg.shape == rgb.shape


def test_truncated_image_is_a_sample_error():
    data = encode_png(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(SampleError, match="unreadable or truncated"):
        decode_image_rgb(data[: len(data) // 3], "x.png")
    with pytest.raises(SampleError, match="single-channel"):
        decode_label_png(data, "x.png")


def test_atomic_write_respects_umask(tmp_path) -> None:
    import os
    import stat

    from oodforge._io import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        os.umask(0o077)
        atomic_write_bytes(tmp_path / "b.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o600


def test_atomic_write_to_a_folder_is_one_usage_error(tmp_path) -> None:
    import pytest

    from oodforge._io import atomic_write_bytes
    from oodforge.errors import UsageError

    (tmp_path / "d").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        atomic_write_bytes(tmp_path / "d", b"x")
    assert (tmp_path / "d").is_dir()
