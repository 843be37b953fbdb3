"""Alert photos: re-encoded from pixels only, refused when not images or too big."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bot.privacy.images import (
    MAX_INPUT_BYTES,
    MAX_SIDE,
    ImageRejected,
    hidden_data,
    strip_image,
)
from tests.support.images import tagged_jpeg, texted_png

_MARKERS = (b"Exif", b"http://ns.adobe.com/xap", b"<x:xmpmeta", b"SecretCam", b"ICC_PROFILE")


def test_a_phone_jpeg_loses_gps_exif_xmp_icc_and_comment() -> None:
    original = tagged_jpeg()
    assert set(hidden_data(original)) >= {"exif", "xmp", "icc", "comment"}
    out = strip_image(original)
    for marker in _MARKERS:
        assert marker not in out
    with Image.open(io.BytesIO(out)) as image:
        assert image.format == "JPEG"
        assert image.mode == "RGB"
        assert not image.getexif()
        assert "icc_profile" not in image.info
        assert "xmp" not in image.info
        assert "comment" not in image.info
    assert hidden_data(out) == []


def test_orientation_is_applied_before_it_is_dropped() -> None:
    # Orientation 6: the camera was turned; the picture must come out upright (taller).
    out = strip_image(tagged_jpeg((64, 48), orientation=6))
    with Image.open(io.BytesIO(out)) as image:
        assert image.size == (48, 64)
        assert not image.getexif()


def test_a_png_with_text_chunks_becomes_a_bare_jpeg() -> None:
    out = strip_image(texted_png())
    assert b"Secret Street" not in out
    with Image.open(io.BytesIO(out)) as image:
        assert image.format == "JPEG"
        assert not any(isinstance(v, str) for v in image.info.values())


def test_a_large_photo_is_scaled_down() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 1000), (1, 2, 3)).save(buffer, format="PNG")
    with Image.open(io.BytesIO(strip_image(buffer.getvalue()))) as image:
        assert image.size == (MAX_SIDE, 400)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\xff\xd8\xff\xe0garbage"])
def test_garbage_is_refused_clearly(data: bytes) -> None:
    with pytest.raises(ImageRejected) as caught:
        strip_image(data)
    assert caught.value.reason == "not_image"


def test_too_many_bytes_are_refused_before_decoding() -> None:
    with pytest.raises(ImageRejected) as caught:
        strip_image(b"\x00" * (MAX_INPUT_BYTES + 1))
    assert caught.value.reason == "too_large"


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims huge dimensions (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00"))


def test_huge_dimensions_are_refused_without_decoding() -> None:
    with pytest.raises(ImageRejected) as caught:
        strip_image(_png_header_only(30_000, 30_000))
    assert caught.value.reason == "too_many_pixels"
