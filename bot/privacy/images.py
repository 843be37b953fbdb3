"""Photos for alerts: re-encoded from their pixels alone, so nothing hidden goes out.

A phone's photo carries where and when it was taken (EXIF GPS, time), the camera and its
serial number, editing history (XMP) and a colour profile that can narrow down the device.
:func:`strip_image` decodes the image, turns it upright (the EXIF orientation is the one tag
worth honouring), copies its pixels into a new image and saves that as a plain JPEG: no EXIF,
XMP, ICC profile or comment can survive, because none is ever copied. Only the result is kept;
the original bytes stay in memory for the length of the call.
"""

from __future__ import annotations

import io
import warnings
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_INPUT_BYTES: Final = 10 * 1024 * 1024
# A decoded image this large would take ~100 MB of memory: refuse before decoding it.
MAX_PIXELS: Final = 40_000_000
MAX_SIDE: Final = 1600
JPEG_QUALITY: Final = 85
_FORMATS: Final = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG covers MPO


class ImageRejected(ValueError):
    """Not an image this bot takes; ``reason``: ``too_large``, ``not_image``,
    ``too_many_pixels``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"image refused: {reason}")
        self.reason = reason


def strip_image(data: bytes) -> bytes:
    """``data`` (a JPEG, PNG, WebP...) as a new JPEG of its pixels only: upright, RGB, at
    most :data:`MAX_SIDE` pixels on its longest side, with no metadata at all.

    Raises :class:`ImageRejected` for more than :data:`MAX_INPUT_BYTES`, something that is not
    a readable image, or more than :data:`MAX_PIXELS` pixels (a decompression bomb).
    """
    if len(data) > MAX_INPUT_BYTES:
        raise ImageRejected("too_large")
    if not data:
        raise ImageRejected("not_image")
    try:
        with warnings.catch_warnings():
            # Pillow warns (then raises) past its own pixel limit; ours is checked first.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_FORMATS) as source:
                width, height = source.size
                if width < 1 or height < 1:
                    raise ImageRejected("not_image")
                if width * height > MAX_PIXELS:
                    raise ImageRejected("too_many_pixels")
                upright = ImageOps.exif_transpose(source)
                upright.load()
                pixels = upright.convert("RGB")
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise ImageRejected("not_image") from None
    # A new image holding nothing but the pixels: no info dict, no EXIF, no profile.
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    clean.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def hidden_data(data: bytes) -> list[str]:
    """What metadata a JPEG or PNG still carries (``exif``, ``xmp``, ``icc``, ``comment``,
    ``text``): empty for what :func:`strip_image` makes. The fake servers check with it."""
    found: list[str] = []
    if b"Exif\x00" in data:
        found.append("exif")
    if b"http://ns.adobe.com/xap" in data or b"<x:xmpmeta" in data:
        found.append("xmp")
    try:
        with Image.open(io.BytesIO(data)) as image:
            info = image.info
            if image.getexif() and "exif" not in found:
                found.append("exif")
            if info.get("icc_profile"):
                found.append("icc")
            if info.get("comment"):
                found.append("comment")
            if any(isinstance(v, str) for k, v in info.items() if k not in ("jfif_unit",)):
                found.append("text")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        found.append("unreadable")
    return found
