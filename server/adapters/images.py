"""Checking and normalising uploaded photos with Pillow.

A photo is accepted only if Pillow decodes it as one of the allowed formats within a pixel
budget (decompression bombs are refused). The stored copy is re-encoded JPEG with EXIF
orientation applied and every metadata block dropped: phones write GPS positions into EXIF.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from server.adapters.errors import Rejected

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 40_000_000  # well above a 48-MP phone photo's decoded-draft size, far below a bomb


class ImageRejected(Rejected):
    """The image was refused; see `reason`."""


@dataclass(frozen=True)
class NormalisedImage:
    data: bytes
    width: int
    height: int
    source_format: str


def normalise(raw: bytes, *, longest_side: int = 1280, quality: int = 85) -> NormalisedImage:
    """Decode, orient, shrink to `longest_side`, strip metadata; re-encode as JPEG."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            source_format = image.format or ""
            if source_format not in ALLOWED_FORMATS:
                raise ImageRejected("format")
            if image.width * image.height > MAX_PIXELS:
                raise ImageRejected("too_many_pixels")
            if source_format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that is still big enough.
                image.draft("RGB", (longest_side, longest_side))
            image.load()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError):
        raise ImageRejected("undecodable") from None
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((longest_side, longest_side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=False)  # no exif= → none written
    return NormalisedImage(out.getvalue(), image.width, image.height, source_format)
