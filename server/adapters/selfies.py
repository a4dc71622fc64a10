"""Check-in selfies: checked, normalised and hashed with Pillow, on the check-in request path.

A selfie is accepted only if Pillow identifies it as the declared format (JPEG, PNG or WebP), its
header promises at most MAX_PIXELS pixels (read before anything is decoded, so decompression bombs
cost nothing) and it decodes completely. The cheap work only, since it runs inside a check-in.

What the app sends (a JPEG the phone has already shrunk, upright, at most KEPT_LONGEST_SIDE and
KEPT_MAX_BYTES) is kept as sent, with no re-encoding (`_kept_as_sent`):
- libjpeg decodes it at 1/8 scale (draft mode), which still reads every byte of the entropy-coded
  data, so a truncated or garbled upload is refused as it would be at full size, at a tenth of
  the cost; the thumbnail and the perceptual hash come from that small image;
- the stored copy is the upload's own bytes with every metadata segment cut out (`strip_metadata`:
  APP1–APP15 and COM, an APP0 that carries a thumbnail, anything after the end of the first
  picture): the pixels are exactly those sent, and no second lossy encoding blurs the evidence.

Anything else (a full-size camera photo, one that needs turning, PNG, WebP, CMYK) is normalised:
- decoded once; a JPEG is decoded by libjpeg at 1/2, 1/4 or 1/8 scale whenever that still leaves
  the longest side at least STORED_LONGEST_SIDE;
- shrunk with bilinear filtering (Pillow's filters widen their support when they shrink, so it
  is antialiased); the EXIF orientation is applied to the shrunk image, which is cheaper;
- the thumbnail is shrunk from the stored copy, and the perceptual hash is computed on it
  (imagehash shrinks to 32 × 32 anyway).

A selfie is personal data under the face-recognition rules, and phones write GPS positions into
EXIF: the stored copy and the thumbnail carry no EXIF, ICC profile, XMP or comment at all. The
hash lets a later check-in be compared with earlier ones (`phash_distance`).

No global Pillow setting is read as a promise or changed:
- a truncated upload (a check-in over a weak link) is refused however ImageFile.LOAD_TRUNCATED_IMAGES
  is set: the bytes are read through a stream that raises once the decoder asks for data past the
  end. Pixel data that is garbled but complete is refused when Pillow's decoder reports an error,
  which it does only while that flag is False (its default; nothing in this project sets it);
- Image.MAX_IMAGE_PIXELS is left alone. Our own, lower limit is checked on the header; above
  Pillow's, Image.open raises DecompressionBombError or warns DecompressionBombWarning, and the
  warning is turned into a refusal inside `warnings.catch_warnings`, held under a lock because
  that context manager swaps the process-wide filter list (gunicorn runs threads).
Android's multi-picture JPEGs (Ultra HDR gain maps, depth maps), which Pillow calls "MPO", count
as JPEG; only their first picture is read.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import struct
import threading
import warnings
from dataclasses import dataclass

import imagehash
import scipy.fftpack  # noqa: F401  (imagehash.phash imports it at its first call: pay that at start-up)
from PIL import Image, ImageOps, UnidentifiedImageError

from server.adapters.errors import Rejected

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # from the header; a 12-MP photo is far below, a 48-MP full-size one above
STORED_LONGEST_SIDE = 1280  # the normalised copy kept as evidence
# An upright JPEG within both limits is kept as sent: the app sends ≤ 1280 px; a phone's own
# "reduced size" share is 1080 × 1440 or 1200 × 1600 at 150–400 KB.
KEPT_LONGEST_SIDE = 1600
KEPT_MAX_BYTES = 600 * 1024
THUMB_LONGEST_SIDE = 160
MIN_SHORTER_SIDE = 64
MEDIA_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
JPEG_QUALITY = 80

# Formats Pillow may try when identifying an upload: the accepted three, and the image formats
# people plausibly send instead (refused as "type_mismatch"). Not every plugin Pillow has: a
# header parser that is never run on untrusted bytes cannot misread them.
_IDENTIFIED = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # and RIFF....WEBP, see _looks_allowed

# Errors Pillow raises from a header or pixel data it cannot make sense of.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    ZeroDivisionError,
    struct.error,
)
_HEX = re.compile(r"[0-9a-fA-F]+")
_OPEN_LOCK = threading.Lock()


class SelfieRejected(Rejected):
    """The selfie was refused; `reason` is one of: "empty", "too_large", "not_an_image",
    "type_mismatch", "too_many_pixels", "corrupt", "too_small"."""


@dataclass(frozen=True)
class Selfie:
    data: bytes  # JPEG, upright, no metadata; longest side ≤ KEPT_LONGEST_SIDE (re-encoded: ≤ STORED_…)
    thumbnail: bytes  # JPEG, longest side ≤ THUMB_LONGEST_SIDE
    width: int  # of `data`
    height: int
    phash: str  # 16 hex digits: the 64-bit perceptual hash of the upright image
    source_format: str  # "JPEG" | "PNG" | "WEBP"
    kept_as_sent: bool = False  # `data` is the upload's own pixels (metadata cut out), not re-encoded


def process(raw: bytes, declared_media_type: str | None) -> Selfie:
    """Check an uploaded selfie and return its normalised copy, thumbnail and perceptual hash.

    `declared_media_type` is the type the client sent (e.g. the multipart part's Content-Type);
    None (or empty) accepts any of the three formats. Raises SelfieRejected.
    """
    if not raw:
        raise SelfieRejected("empty")
    if len(raw) > MAX_BYTES:
        raise SelfieRejected("too_large")
    stream = _StrictStream(raw)
    with _open(stream, raw) as image:
        source_format = "JPEG" if image.format == "MPO" else (image.format or "")
        if source_format not in MEDIA_TYPES.values() or not _declared_matches(
            declared_media_type, source_format
        ):
            raise SelfieRejected("type_mismatch")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise SelfieRejected("too_many_pixels")
        if min(width, height) < MIN_SHORTER_SIDE:
            raise SelfieRejected("too_small")
        if _can_keep(image, raw):
            kept = strip_metadata(raw)
            if kept is not None:
                return _kept_as_sent(image, stream, kept)
        _decode(image, stream, STORED_LONGEST_SIDE if source_format == "JPEG" else None)
        stored = _normalise(image)  # may be `image` itself: encode before it is closed
        thumb = _shrink(stored, THUMB_LONGEST_SIDE)
        return Selfie(
            data=_jpeg(stored),
            thumbnail=_jpeg(thumb),
            width=stored.width,
            height=stored.height,
            phash=str(imagehash.phash(thumb)),
            source_format=source_format,
        )


def phash_distance(a: str, b: str) -> int:
    """The Hamming distance between two hex hashes of the same length (0 = same picture)."""
    if len(a) != len(b) or not _HEX.fullmatch(a) or not _HEX.fullmatch(b):
        raise ValueError("phash_distance needs two hex strings of the same length")
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --- reading ----------------------------------------------------------------------------------


class _ReadPastEnd(Exception):
    """The decoder wanted more bytes than the upload has: it is truncated."""


class _StrictStream(io.BytesIO):
    """The upload's bytes; once `strict`, a read at the end raises instead of returning b"".

    Pillow's decoders ask for more data only when what they have is not a complete image, and
    with LOAD_TRUNCATED_IMAGES set Pillow would take the b"" as a licence to finish quietly.
    """

    strict = False

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if self.strict and not data and size != 0:
            raise _ReadPastEnd
        return data


def _open(stream: _StrictStream, raw: bytes) -> Image.Image:
    """Identify the upload from its header, refusing bombs before a pixel is decoded."""
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(stream, formats=_identified_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SelfieRejected("too_many_pixels") from None
    except UnidentifiedImageError:
        raise SelfieRejected("corrupt" if _looks_allowed(raw) else "not_an_image") from None
    except _DECODE_ERRORS:  # a plugin accepted the signature, then failed on the header
        raise SelfieRejected("corrupt") from None


@functools.cache
def _identified_formats() -> tuple[str, ...]:
    known = set(Image.registered_extensions().values())  # loads Pillow's plugins once
    return tuple(name for name in _IDENTIFIED if name in known)


def _looks_allowed(raw: bytes) -> bool:
    """Whether the upload starts like a JPEG, PNG or WebP (then a failure to open is damage)."""
    return raw.startswith(_SIGNATURES) or (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP")


# What cheap phones and WebViews really send: "image/jpg" for JPEG, and a generic type that
# declares nothing (the bytes decide then).
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_UNDECLARED = {"", "application/octet-stream"}


def _declared_matches(declared: str | None, source_format: str) -> bool:
    media_type = (declared or "").split(";", 1)[0].strip().lower()
    media_type = _ALIASES.get(media_type, media_type)
    return media_type in _UNDECLARED or MEDIA_TYPES.get(media_type) == source_format


def _decode(image: Image.Image, stream: _StrictStream, draft_side: int | None) -> None:
    """Decode every byte of the upload (a JPEG scaled by libjpeg so its longest side stays at
    least `draft_side`, when given); a truncated or damaged one is "corrupt"."""
    if draft_side is not None:
        image.draft("RGB", _draft_box(*image.size, draft_side))
    stream.strict = True
    try:
        image.load()
    except (*_DECODE_ERRORS, _ReadPastEnd):
        raise SelfieRejected("corrupt") from None


def _draft_box(width: int, height: int, side: int) -> tuple[int, int]:
    """The size to ask libjpeg for: the image's shape with its longest side `side`.

    Pillow picks the largest scale (1/2, 1/4, 1/8) that keeps both sides at least this box's, so
    the decoded longest side stays ≥ `side` (or the whole image, if smaller).
    """
    if width >= height:
        return side, max(1, height * side // width)
    return max(1, width * side // height), side


# --- kept as sent ----------------------------------------------------------------------------


def _can_keep(image: Image.Image, raw: bytes) -> bool:
    """An upright 8-bit colour JPEG within the kept limits (MPO: its first picture)."""
    if image.format not in ("JPEG", "MPO") or image.mode != "RGB":
        return False
    if max(image.size) > KEPT_LONGEST_SIDE or len(raw) > KEPT_MAX_BYTES:
        return False
    try:
        orientation = image.getexif().get(_ORIENTATION, 1)  # EXIF, else XMP tiff:Orientation
    except _DECODE_ERRORS:  # unreadable EXIF: the normalising path decides, as it always has
        return False
    return orientation in (1, None)


def _kept_as_sent(image: Image.Image, stream: _StrictStream, kept: bytes) -> Selfie:
    """Check the upload decodes completely (at 1/8 scale) and take its thumbnail from there."""
    width, height = image.size
    _decode(image, stream, THUMB_LONGEST_SIDE)
    thumb = _shrink(image, THUMB_LONGEST_SIDE)
    thumb.info.clear()
    return Selfie(data=kept, thumbnail=_jpeg(thumb), width=width, height=height,
                  phash=str(imagehash.phash(thumb)), source_format="JPEG", kept_as_sent=True)


# Markers (JPEG, ITU T.81 table B.1) cut out of a kept upload: APP1–APP15 (EXIF, XMP, ICC,
# MPF, vendors' blocks) and COM. APP0 stays when it is a bare JFIF header; APP14 when it is
# Adobe's, four bytes that say how to read the colour channels.
_APP0, _APP14, _COM, _SOS, _EOI = 0xE0, 0xEE, 0xFE, 0xDA, 0xD9
_JFIF_WITHOUT_THUMBNAIL = 16  # segment length: "JFIF\0", version, units, densities, 0 × 0
# In entropy-coded data a 0xFF byte is followed by 0x00 (a stuffed byte) or a restart marker;
# anything else (bar fill bytes, 0xFF) is the next marker.
_NEXT_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")
_ORIENTATION = 0x0112


def strip_metadata(jpeg: bytes) -> bytes | None:
    """The JPEG without its metadata segments and trailing bytes, every other byte unchanged;
    None if its marker structure is not what ITU T.81 describes (then it is re-encoded)."""
    if not jpeg.startswith(b"\xff\xd8"):
        return None
    parts, at, end = [b"\xff\xd8"], 2, len(jpeg)
    while at + 1 < end:
        if jpeg[at] != 0xFF:
            return None
        marker = jpeg[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == _EOI:
            parts.append(b"\xff\xd9")
            return b"".join(parts)  # what follows (an MPO's second picture, a vendor trailer) goes
        if 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01, 0xD8):
            return None  # a restart marker, stuffing or SOI outside entropy-coded data
        if at + 4 > end:
            return None
        length = int.from_bytes(jpeg[at + 2 : at + 4], "big")
        segment_end = at + 2 + length
        if length < 2 or segment_end > end:
            return None
        if _keeps(marker, jpeg[at + 4 : segment_end]):
            parts.append(jpeg[at:segment_end])
        at = segment_end
        if marker == _SOS:  # the entropy-coded data runs to the next marker
            found = _NEXT_MARKER.search(jpeg, at)
            if found is None:
                return None
            parts.append(jpeg[at : found.start()])
            at = found.start()
    return None


def _keeps(marker: int, payload: bytes) -> bool:
    if marker == _APP0:
        return payload.startswith(b"JFIF\0") and len(payload) + 2 == _JFIF_WITHOUT_THUMBNAIL
    if marker == _APP14:
        return payload.startswith(b"Adobe") and len(payload) == 12  # "Adobe", version, 2 flags, transform
    return not (0xE1 <= marker <= 0xEF or marker == _COM)


# --- normalising ------------------------------------------------------------------------------


def _normalise(image: Image.Image) -> Image.Image:
    """Decoded image → upright RGB, longest side ≤ STORED_LONGEST_SIDE, transparency on white."""
    if image.mode.startswith("I"):  # 16-bit greyscale PNG: scale to 8 bits instead of clipping
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.has_transparency_data:  # RGBA, LA, PA, or P / L / RGB with a transparent colour
        image = image.convert("RGBA")
    elif image.mode != "RGB":  # L, 1, P, CMYK, YCbCr …
        image = image.convert("RGB")
    image = _shrink(image, STORED_LONGEST_SIDE)  # keeps `info`, so the EXIF orientation too
    with contextlib.suppress(*_DECODE_ERRORS):  # unreadable EXIF (cheap phones write some): as stored
        ImageOps.exif_transpose(image, in_place=True)
    if image.mode == "RGBA":
        on_white = Image.new("RGB", image.size, (255, 255, 255))
        on_white.paste(image, mask=image.getchannel("A"))
        image = on_white
    image.info.clear()  # drop EXIF, ICC, XMP, comments: the JPEG writer would carry some over
    return image


def _shrink(image: Image.Image, longest_side: int) -> Image.Image:
    """Shrink (never enlarge) so the longest side is `longest_side`."""
    width, height = image.size
    if max(width, height) <= longest_side:
        return image
    scale = longest_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return out.getvalue()
