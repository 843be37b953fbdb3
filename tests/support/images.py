"""Test images that carry what phones put in photos: EXIF GPS and camera, XMP, an ICC profile."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageCms, PngImagePlugin

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    b'xmp:CreatorTool="SecretPhone 12"/></rdf:RDF></x:xmpmeta>'
)
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def tagged_jpeg(
    size: tuple[int, int] = (64, 48), *, orientation: int = 1, noisy: bool = False
) -> bytes:
    """A JPEG with EXIF (GPS position, camera make and model, orientation), XMP and ICC.
    ``noisy``: random pixels, which compress badly, so the file is as large as a phone's."""
    if noisy:
        pixels = random.Random(7).randbytes(size[0] * size[1] * 3)
        image = Image.frombytes("RGB", size, pixels)
    else:
        image = Image.new("RGB", size, (200, 40, 40))
        image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = "Model X-1"  # Model
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (49.0, 16.0, 30.0), 3: "W", 4: (123.0, 7.0, 12.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, icc_profile=icc, xmp=XMP, comment=b"home")
    return out.getvalue()


def texted_png(size: tuple[int, int] = (40, 30)) -> bytes:
    """A PNG with text chunks (a description and a location note)."""
    image = Image.new("RGBA", size, (10, 200, 10, 128))
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", "taken at 12 Secret Street")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()
