"""Cheap integrity check of a source image without decoding its pixels.

A clean record copies the Cityscapes image byte for byte, so nothing else would ever notice a
truncated, corrupt or wrong-size source. :func:`check_source_image` reads the PNG ``IHDR`` (or the
JPEG ``SOFn`` segment) for width, height, channels and bit depth, and for a PNG walks every chunk,
checking its CRC and that the file ends with ``IEND`` (about 1 ms for a 2 MB Cityscapes frame, against
about 50 ms for a full decode). A JPEG must end with its ``EOI`` marker.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from oodforge.errors import SampleError

__all__ = ["ImageHeader", "check_source_image", "read_image_header"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
#: PNG colour type -> (channels, name)
_PNG_COLOUR = {0: (1, "grey"), 2: (3, "RGB"), 3: (1, "palette"), 4: (2, "grey+alpha"), 6: (4, "RGBA")}
#: JPEG start-of-frame markers (0xC4 DHT, 0xC8 JPG and 0xCC DAC share the range but are not frames)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: JPEG markers without a length field
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])
_EXPECTED = "expected an intact 8-bit RGB PNG or JPEG image"


@dataclass(frozen=True)
class ImageHeader:
    """What the header of an image file says about its pixels.

    Attributes:
        format: ``png`` or ``jpeg``.
        width: columns.
        height: rows.
        channels: samples per pixel (a palette PNG counts 1).
        bit_depth: bits per sample.
        kind: colour model as written in the file (``RGB``, ``grey``, ``palette``, ``RGBA``, ...).
    """

    format: str
    width: int
    height: int
    channels: int
    bit_depth: int
    kind: str

    @property
    def describe(self) -> str:
        """E.g. ``16-bit RGBA PNG``."""
        return f"{self.bit_depth}-bit {self.kind} {self.format.upper()}"


def _png_header(data: bytes, path: Path | str) -> ImageHeader:
    view = memoryview(data)
    n = len(data)
    if n < 33 or bytes(view[12:16]) != b"IHDR":
        raise SampleError(f"{path}: PNG without a complete IHDR chunk ({n} bytes); {_EXPECTED}")
    width, height = int.from_bytes(view[16:20]), int.from_bytes(view[20:24])
    bit_depth, colour = data[24], data[25]
    channels, kind = _PNG_COLOUR.get(colour, (0, f"colour type {colour}"))
    pos, seen_idat = 8, False
    while True:
        if pos + 12 > n:
            raise SampleError(f"{path}: truncated PNG ({n} bytes, it ends before its IEND chunk); {_EXPECTED}")
        length = int.from_bytes(view[pos : pos + 4])
        ctype = bytes(view[pos + 4 : pos + 8])
        name = ctype.decode("ascii") if ctype.isalpha() else repr(ctype)
        end = pos + 12 + length
        if end > n:
            raise SampleError(f"{path}: truncated PNG ({n} bytes, chunk {name} at byte {pos} needs {end}); {_EXPECTED}")
        if zlib.crc32(view[pos + 4 : pos + 8 + length]) != int.from_bytes(view[end - 4 : end]):
            raise SampleError(f"{path}: corrupt PNG (chunk {name} at byte {pos} fails its CRC); {_EXPECTED}")
        seen_idat |= ctype == b"IDAT"
        pos = end
        if ctype == b"IEND":
            break
    if not seen_idat:
        raise SampleError(f"{path}: PNG without image data (no IDAT chunk); {_EXPECTED}")
    return ImageHeader("png", width, height, channels, bit_depth, kind)


def _jpeg_header(data: bytes, path: Path | str) -> ImageHeader:
    n = len(data)
    pos = 2
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF and pos + 10 <= n:
            precision, channels = data[pos + 4], data[pos + 9]
            height, width = int.from_bytes(data[pos + 5 : pos + 7]), int.from_bytes(data[pos + 7 : pos + 9])
            kind = {1: "grey", 3: "RGB", 4: "CMYK"}.get(channels, f"{channels}-component")
            if not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
                raise SampleError(f"{path}: truncated JPEG ({n} bytes, no end-of-image marker); {_EXPECTED}")
            return ImageHeader("jpeg", width, height, channels, precision, kind)
        pos += 2 + length
    raise SampleError(f"{path}: JPEG without a frame header ({n} bytes, truncated or corrupt); {_EXPECTED}")


def read_image_header(data: bytes, path: Path | str = "<bytes>") -> ImageHeader:
    """Parse and check the container of a PNG or JPEG file (no pixel decoding).

    Raises:
        SampleError: not a PNG or JPEG, truncated, a PNG chunk with a bad CRC, or no image data.
    """
    if data.startswith(PNG_SIGNATURE):
        return _png_header(data, path)
    if data.startswith(JPEG_SOI):
        return _jpeg_header(data, path)
    raise SampleError(f"{path}: not a PNG or JPEG file ({len(data)} bytes, starts with {data[:8]!r}); {_EXPECTED}")


def check_source_image(data: bytes, path: Path | str, label_shape: tuple[int, ...], label_path: Path | str) -> None:
    """Refuse a source image that is damaged, not 8-bit RGB, or not the size of its label image.

    Args:
        data: the image file's bytes.
        path: the image file (for the message).
        label_shape: ``(H, W)`` of the decoded label image.
        label_path: the label file (for the message).

    Raises:
        SampleError: one line naming the file, what was found and what was expected.
    """
    head = read_image_header(data, path)
    if head.channels != 3 or head.bit_depth != 8:
        raise SampleError(f"{path}: image is a {head.describe}; expected 8-bit RGB (3 channels)")
    if (head.height, head.width) != tuple(label_shape[:2]):
        raise SampleError(
            f"{path}: image is {head.width}x{head.height} but its labels {label_path} are "
            f"{label_shape[1]}x{label_shape[0]}; expected the same size"
        )
