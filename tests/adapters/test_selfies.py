"""Check-in selfies are checked, made upright, stripped of metadata, shrunk and hashed.

Fixtures are real images built here with Pillow: a 4000 × 3000 "phone photo" (gradients, grain,
shapes, a JPEG of ~280 KB) whose EXIF has GPS tags and an orientation, its PNG/WebP/MPO cousins,
and hand-built PNG headers for decompression bombs (complete, valid PNGs of all-black 1-bit
pixels, which compress ~1000:1 so a 30,000 × 30,000 one is ~110 KB).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import random
import struct
import warnings
import zlib

import pytest
from PIL import Image, ImageCms, ImageDraw, ImageFile, JpegImagePlugin

from server.adapters.errors import Rejected
from server.adapters.selfies import (
    KEPT_LONGEST_SIDE,
    KEPT_MAX_BYTES,
    MAX_BYTES,
    MAX_PIXELS,
    MEDIA_TYPES,
    STORED_LONGEST_SIDE,
    THUMB_LONGEST_SIDE,
    Selfie,
    SelfieRejected,
    phash_distance,
    process,
    strip_metadata,
)

RED, BLUE = (255, 0, 0), (0, 0, 255)
GPS_IFD, EXIF_IFD, ORIENTATION = 0x8825, 0x8769, 0x0112

# --- builders ---------------------------------------------------------------------------------


def scene(width: int, height: int, seed: int = 1) -> Image.Image:
    """A deterministic stand-in for a photo: lighting gradients, smooth grain, a few shapes."""
    rng = random.Random(seed)
    lighting = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize((width, height))
    vignette = Image.radial_gradient("L").resize((width, height))
    gw, gh = max(1, width // 16), max(1, height // 16)
    grain = (
        Image.frombytes("L", (gw, gh), rng.randbytes(gw * gh))
        .point(lambda v: 120 + v // 16)
        .resize((width, height), Image.Resampling.BICUBIC)
    )
    channels = [lighting, vignette, grain]
    rng.shuffle(channels)
    image = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(image)
    for _ in range(6):  # kept away from the corners, where the orientation markers go
        x0, y0 = rng.uniform(0.15, 0.6) * width, rng.uniform(0.15, 0.6) * height
        x1, y1 = x0 + rng.uniform(0.1, 0.25) * width, y0 + rng.uniform(0.1, 0.25) * height
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return image


def with_markers(image: Image.Image) -> Image.Image:
    """Red square in the stored image's top-left corner, blue in its top-right."""
    image = image.copy()
    side = min(image.size) // 6
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, side, side), fill=RED)
    draw.rectangle((image.width - 1 - side, 0, image.width - 1, side), fill=BLUE)
    return image


def phone_exif(orientation: int | None = None) -> Image.Exif:
    """EXIF as a phone writes it: make, model, time, exposure and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"
    exif[0x0110] = "Redmi 9A"
    exif[0x0132] = "2026:03:02 07:58:12"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD).update({0x829A: 0.01, 0x8827: 200, 0x9003: "2026:03:02 07:58:12"})
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (37.0, 51.0, 44.8), 3: "E", 4: (112.0, 33.0, 12.1)})
    return exif


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@functools.cache
def phone_photo() -> bytes:
    """4000 × 3000 as the sensor stored it, shown 3000 × 4000 (orientation 6), with GPS, ICC, XMP,
    a comment: everything that must not survive."""
    return encode(
        with_markers(scene(4000, 3000)),
        "JPEG",
        quality=55,
        exif=phone_exif(orientation=6),
        icc_profile=srgb_profile(),
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>',
        comment=b"Shot on Redmi 9A",
    )


def png_of_zeros(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG of black pixels, compressed without ever holding its pixels."""
    row = bytes(1 + (width + 7) // 8)  # filter type 0, then the packed bits
    compressor = zlib.compressobj(9)
    rows_at_once = max(1, 1_000_000 // len(row))
    idat = (
        b"".join(
            compressor.compress(row * min(rows_at_once, height - top))
            for top in range(0, height, rows_at_once)
        )
        + compressor.flush()
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_markers(data: bytes) -> list[int]:
    """The marker codes of a JPEG's segments, from SOI up to the start of the scan."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while True:
        assert data[at] == 0xFF, f"no marker at {at}"
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def is_colour(pixel, colour) -> bool:
    return all(abs(a - b) < 60 for a, b in zip(pixel[:3], colour, strict=True))


def corners(image: Image.Image) -> dict[str, tuple[int, ...]]:
    """The colour a little way into each corner."""
    w, h = image.size
    dx, dy = max(1, w // 20), max(1, h // 20)
    return {
        "TL": image.getpixel((dx, dy)),
        "TR": image.getpixel((w - 1 - dx, dy)),
        "BL": image.getpixel((dx, h - 1 - dy)),
        "BR": image.getpixel((w - 1 - dx, h - 1 - dy)),
    }


def assert_clean_jpeg(data: bytes) -> None:
    """A baseline JPEG with no metadata: no APP1 (EXIF, XMP), APP2 (ICC, MPF), other APPn, COM."""
    markers = jpeg_markers(data)
    assert [hex(m) for m in markers if 0xE1 <= m <= 0xEF or m == 0xFE] == []
    assert 0xC0 in markers and 0xC2 not in markers  # baseline, not progressive
    image = opened(data)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert not image.getexif()
    for key in ("exif", "icc_profile", "xmp", "comment", "progressive", "progression"):
        assert key not in image.info


class Decoded(Exception):
    """Raised by the spied `load`: the pixels were about to be decoded."""


@pytest.fixture
def no_decoding(monkeypatch):
    """Make any pixel decoding fail loudly, and record that it was attempted."""
    calls = []

    def refuse(self):
        calls.append(self)
        raise Decoded

    monkeypatch.setattr(Image.Image, "load", refuse)
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    return calls


def reason_of(raw: bytes, declared: str | None = None) -> str:
    with pytest.raises(SelfieRejected) as refused:
        process(raw, declared)
    return refused.value.reason


# --- the phone photo --------------------------------------------------------------------------


def test_a_phone_photo_comes_out_upright_shrunk_and_without_metadata():
    raw = phone_photo()
    source = Image.open(io.BytesIO(raw))
    assert source.size == (4000, 3000) and 200_000 < len(raw) < 400_000
    assert source.getexif().get_ifd(GPS_IFD) and "icc_profile" in source.info  # there was GPS

    selfie = process(raw, "image/jpeg")

    assert isinstance(selfie, Selfie) and selfie.source_format == "JPEG"
    assert (selfie.width, selfie.height) == (960, 1280)  # portrait: orientation 6 applied
    assert selfie.data[:3] == b"\xff\xd8\xff"
    assert_clean_jpeg(selfie.data)
    stored = opened(selfie.data)
    assert stored.size == (960, 1280)
    assert GPS_IFD not in stored.getexif() and not stored.getexif().get_ifd(GPS_IFD)
    # The sensor's top-left (red) is the viewer's top-right after a quarter turn clockwise.
    seen = corners(stored)
    assert is_colour(seen["TR"], RED) and is_colour(seen["BR"], BLUE)
    assert not any(is_colour(seen[c], RED) or is_colour(seen[c], BLUE) for c in ("TL", "BL"))


def test_the_thumbnail_is_a_clean_jpeg_of_the_upright_photo():
    selfie = process(phone_photo(), "image/jpeg")
    assert selfie.thumbnail[:2] == b"\xff\xd8"
    assert_clean_jpeg(selfie.thumbnail)
    thumb = opened(selfie.thumbnail)
    assert thumb.size == (120, THUMB_LONGEST_SIDE)
    assert is_colour(corners(thumb)["TR"], RED)


def test_a_jpeg_is_decoded_in_draft_mode_at_no_less_than_the_stored_size(monkeypatch):
    drafts = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        drafts.append((mode, size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    selfie = process(phone_photo(), "image/jpeg")

    [(mode, requested, decoded)] = drafts
    assert mode == "RGB"
    assert max(requested) >= STORED_LONGEST_SIDE
    assert decoded == (2000, 1500)  # libjpeg scaled by 1/2: 1/4 would be under 1280
    assert max(selfie.width, selfie.height) == STORED_LONGEST_SIDE


def test_the_selfie_record_is_immutable():
    selfie = process(encode(scene(200, 150), "JPEG"), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        selfie.phash = "0" * 16


# --- orientation ------------------------------------------------------------------------------

# Where the stored image's top-left (red) and top-right (blue) corners are seen once the EXIF
# orientation is applied, and whether width and height swap (TIFF/EXIF 2.3, tag 0x0112).
ORIENTATIONS = {
    1: ("TL", "TR", False),  # as stored
    2: ("TR", "TL", False),  # mirrored left-right
    3: ("BR", "BL", False),  # turned 180°
    4: ("BL", "BR", False),  # mirrored top-bottom
    5: ("TL", "BL", True),  # mirrored along the main diagonal
    6: ("TR", "BR", True),  # turned 90° clockwise
    7: ("BR", "TR", True),  # mirrored along the other diagonal
    8: ("BL", "TL", True),  # turned 90° anticlockwise
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_each_exif_orientation_is_applied(orientation):
    raw = encode(with_markers(scene(400, 300)), "JPEG", quality=90, exif=phone_exif(orientation))
    red_at, blue_at, swapped = ORIENTATIONS[orientation]

    selfie = process(raw, "image/jpeg")

    assert (selfie.width, selfie.height) == ((300, 400) if swapped else (400, 300))
    seen = corners(opened(selfie.data))
    assert is_colour(seen[red_at], RED), seen
    assert is_colour(seen[blue_at], BLUE), seen
    assert sum(is_colour(colour, RED) or is_colour(colour, BLUE) for colour in seen.values()) == 2


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_the_orientation_in_png_and_webp_exif_is_applied_too(fmt):
    image = with_markers(scene(1600, 1200))
    raw = encode(
        image, fmt, exif=phone_exif(orientation=8).tobytes(), **({"quality": 90} if fmt == "WEBP" else {})
    )

    selfie = process(raw, f"image/{fmt.lower()}")

    assert selfie.source_format == fmt
    assert (selfie.width, selfie.height) == (960, 1280)
    seen = corners(opened(selfie.data))
    assert is_colour(seen["BL"], RED) and is_colour(seen["TL"], BLUE)
    assert_clean_jpeg(selfie.data)


def test_unreadable_exif_leaves_the_picture_as_stored():
    raw = encode(with_markers(scene(400, 300)), "JPEG", exif=b"Exif\x00\x00not a tiff header at all")
    selfie = process(raw, "image/jpeg")
    assert (selfie.width, selfie.height) == (400, 300)
    assert is_colour(corners(opened(selfie.data))["TL"], RED)
    assert_clean_jpeg(selfie.data)


# --- formats and colour modes -----------------------------------------------------------------


def test_png_with_alpha_is_put_on_white():
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))  # transparent black
    ImageDraw.Draw(image).rectangle((100, 50, 200, 150), fill=(0, 0, 255, 255))
    selfie = process(encode(image, "PNG"), "image/png")

    assert selfie.source_format == "PNG"
    out = opened(selfie.data)
    assert out.mode == "RGB" and out.size == (300, 200)
    assert is_colour(out.getpixel((10, 10)), (255, 255, 255))
    assert is_colour(out.getpixel((150, 100)), BLUE)
    assert_clean_jpeg(selfie.data)


def test_palette_png_with_and_without_a_transparent_colour():
    image = Image.new("P", (200, 200), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))
    ImageDraw.Draw(image).rectangle((50, 50, 150, 150), fill=1)

    opaque = opened(process(encode(image, "PNG"), "image/png").data)
    assert is_colour(opaque.getpixel((10, 10)), (0, 0, 0)) and is_colour(opaque.getpixel((100, 100)), RED)

    see_through = opened(process(encode(image, "PNG", transparency=0), "image/png").data)
    assert is_colour(see_through.getpixel((10, 10)), (255, 255, 255))
    assert is_colour(see_through.getpixel((100, 100)), RED)


def test_webp_lossy_and_with_alpha():
    photo = process(encode(scene(1600, 1200), "WEBP", quality=80), "image/webp")
    assert photo.source_format == "WEBP" and (photo.width, photo.height) == (1280, 960)
    assert_clean_jpeg(photo.data)

    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((50, 25, 150, 75), fill=(255, 0, 0, 255))
    alpha = opened(process(encode(image, "WEBP", lossless=True), "image/webp").data)
    assert is_colour(alpha.getpixel((5, 5)), (255, 255, 255)) and is_colour(alpha.getpixel((100, 50)), RED)


@pytest.mark.parametrize(
    ("build", "fmt", "expected"),
    [
        (lambda: Image.new("LA", (100, 100), (0, 0)), "PNG", (255, 255, 255)),  # transparent → white
        (lambda: Image.new("L", (100, 100), 128), "PNG", (128, 128, 128)),
        (lambda: Image.new("1", (100, 100), 1), "PNG", (255, 255, 255)),
        (lambda: Image.new("I;16", (100, 100), 128 * 256), "PNG", (128, 128, 128)),  # 16-bit grey
        (lambda: Image.new("L", (100, 100), 128), "JPEG", (128, 128, 128)),  # greyscale JPEG
        (lambda: Image.new("RGB", (100, 100), RED).convert("CMYK"), "JPEG", RED),  # print shop JPEG
        (lambda: Image.new("RGB", (100, 100), BLUE), "WEBP", BLUE),
    ],
    ids=["LA-png", "L-png", "1-png", "I16-png", "L-jpeg", "CMYK-jpeg", "RGB-webp"],
)
def test_every_colour_mode_becomes_rgb(build, fmt, expected):
    selfie = process(encode(build(), fmt), None)
    out = opened(selfie.data)
    assert out.mode == "RGB"
    assert is_colour(out.getpixel((50, 50)), expected), out.getpixel((50, 50))


def test_a_multi_picture_jpeg_counts_as_jpeg():
    """Android's Ultra HDR and dual-camera photos are MPO files: a JPEG plus more pictures."""
    raw = encode(scene(800, 600), "MPO", save_all=True, append_images=[scene(400, 300, seed=2)])
    assert Image.open(io.BytesIO(raw)).format == "MPO"

    selfie = process(raw, "image/jpeg")

    assert selfie.source_format == "JPEG" and (selfie.width, selfie.height) == (800, 600)
    assert_clean_jpeg(selfie.data)  # the MPF index (APP2) is gone with the rest


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_an_undeclared_type_accepts_the_three_formats(fmt):
    selfie = process(encode(scene(300, 200), fmt), None)
    assert selfie.source_format == fmt


@pytest.mark.parametrize("declared", ["image/jpeg", "IMAGE/JPEG", "image/jpeg; charset=binary", ""])
def test_the_declared_type_is_read_leniently(declared):
    assert process(encode(scene(300, 200), "JPEG"), declared).source_format == "JPEG"


def test_small_photos_are_not_enlarged_and_sizes_follow_the_longest_side():
    small = process(encode(scene(800, 600), "JPEG"), "image/jpeg")
    assert (small.width, small.height) == (800, 600)
    assert opened(small.thumbnail).size == (160, 120)

    tall = process(encode(scene(1000, 3000), "JPEG"), "image/jpeg")
    assert (tall.width, tall.height) == (427, 1280)
    assert opened(tall.thumbnail).size == (53, 160)


def test_a_file_of_exactly_max_bytes_is_accepted():
    raw = encode(scene(300, 200), "JPEG")
    padded = raw + bytes(MAX_BYTES - len(raw))  # trailing bytes after EOI, as some phones write
    assert process(padded, "image/jpeg").source_format == "JPEG"


# --- what the app sends is kept as sent -------------------------------------------------------


def app_selfie(**params) -> bytes:
    """1080 × 1440, upright, as a phone's share sheet or our app sends it, with a phone's EXIF
    (GPS, orientation 1), an ICC profile, XMP and a comment still in it."""
    params = {"quality": 80, "exif": phone_exif(orientation=1), "icc_profile": srgb_profile(),
              "xmp": b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>',
              "comment": b"Shot on Redmi 9A", **params}
    return encode(with_markers(scene(1080, 1440, seed=5)), "JPEG", **params)


def pixels(data: bytes) -> bytes:
    return opened(data).tobytes()


def metadata_markers(data: bytes) -> list[int]:
    return [m for m in jpeg_markers(data) if 0xE1 <= m <= 0xEF or m == 0xFE]


def test_an_upright_app_sized_jpeg_is_kept_pixel_for_pixel_without_its_metadata():
    raw = app_selfie()
    assert metadata_markers(raw)  # EXIF, ICC, XMP, comment were there

    selfie = process(raw, "image/jpeg")

    assert selfie.kept_as_sent and (selfie.width, selfie.height) == (1080, 1440)
    assert pixels(selfie.data) == pixels(raw)  # not re-encoded: the very pixels sent
    assert metadata_markers(selfie.data) == [] and len(selfie.data) < len(raw)
    stored = opened(selfie.data)
    assert not stored.getexif() and not {"exif", "icc_profile", "xmp", "comment"} & set(stored.info)
    assert_clean_jpeg(selfie.thumbnail)
    assert opened(selfie.thumbnail).size == (120, 160)
    assert is_colour(corners(opened(selfie.thumbnail))["TL"], RED)


def test_a_kept_jpeg_is_decoded_at_one_eighth_scale(monkeypatch):
    drafts = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        drafts.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    process(app_selfie(), "image/jpeg")
    assert drafts == [(135, 180)]


@pytest.mark.parametrize(
    "params",
    [{"progressive": True}, {"restart_marker_blocks": 4}, {"subsampling": 0}, {"optimize": True}],
    ids=["progressive", "restart-markers", "4:4:4", "optimised-huffman"],
)
def test_every_kind_of_jpeg_coding_survives_the_cut_unchanged(params):
    raw = app_selfie(**params)
    selfie = process(raw, "image/jpeg")
    assert selfie.kept_as_sent and pixels(selfie.data) == pixels(raw)
    assert metadata_markers(selfie.data) == []


def test_bytes_after_the_picture_are_cut_off():
    """Vendors append blocks after the end of the picture (Samsung's SEFT, a second MPO picture)."""
    raw = app_selfie(exif=b"", icc_profile=None, xmp=b"", comment=b"")
    selfie = process(raw + b"SEFH\x00GPS 37.86,112.55SEFT", "image/jpeg")
    assert selfie.kept_as_sent and selfie.data == strip_metadata(raw)
    assert selfie.data.endswith(b"\xff\xd9") and b"GPS" not in selfie.data


def test_a_jfif_header_is_kept_bare_and_dropped_with_a_thumbnail_in_it():
    raw = app_selfie()
    at = raw.index(b"\xff\xe0")
    bare = raw[at : at + 18]
    assert bare[4:9] == b"JFIF\x00" and bare[2:4] == b"\x00\x10"
    assert strip_metadata(raw).startswith(b"\xff\xd8" + bare)
    with_thumbnail = bare[:2] + (16 + 3 * 4).to_bytes(2, "big") + bare[4:16] + b"\x02\x02" + bytes(12)
    assert b"JFIF" not in strip_metadata(raw[:at] + with_thumbnail + raw[at + 18 :])


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda r: r[:2] + b"\x00\x00" + r[2:], "bytes where a marker belongs"),
        (lambda r: r[:2] + b"\xff\xe1\xff\xff" + r[2:], "a segment longer than the file"),
        (lambda r: r[:2] + b"\xff\xe1\x00\x01" + r[2:], "a length under two"),
        (lambda r: r[:2] + b"\xff\xd0" + r[2:], "a restart marker outside the scan"),
        (lambda r: r[: r.rindex(b"\xff\xd9")], "no end of image"),
        (lambda r: b"\x89PNG" + r, "not a JPEG"),
    ],
)
def test_a_structure_the_standard_does_not_describe_is_not_cut(damage, why):
    assert strip_metadata(damage(app_selfie())) is None, why


def test_a_malformed_structure_pillow_still_reads_is_re_encoded_instead():
    raw = app_selfie()
    damaged = raw[:2] + b"\xff\xd0" + raw[2:]  # a stray restart marker libjpeg skips
    selfie = process(damaged, "image/jpeg")
    assert not selfie.kept_as_sent
    assert_clean_jpeg(selfie.data)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (lambda: encode(scene(1080, 1440), "JPEG", exif=phone_exif(orientation=6)), "must be turned"),
        (lambda: encode(scene(1200, KEPT_LONGEST_SIDE + 1), "JPEG"), "longer than kept"),
        (lambda: encode(scene(1080, 1440), "JPEG", quality=100, subsampling=0), "more bytes than kept"),
        (lambda: encode(scene(1080, 1440).convert("CMYK"), "JPEG"), "CMYK"),
        (lambda: encode(scene(1080, 1440).convert("L"), "JPEG"), "greyscale"),
        (lambda: encode(scene(1080, 1440), "PNG"), "not a JPEG"),
    ],
)
def test_anything_else_is_normalised(raw, why):
    upload = raw()
    selfie = process(upload, None)
    assert not selfie.kept_as_sent, why
    assert max(selfie.width, selfie.height) <= STORED_LONGEST_SIDE
    assert_clean_jpeg(selfie.data)


def test_the_byte_limit_for_keeping_is_what_its_name_says():
    raw = encode(scene(1080, 1440), "JPEG", quality=100, subsampling=0)
    assert len(raw) > KEPT_MAX_BYTES


def test_an_orientation_said_only_in_xmp_is_applied():
    """Pillow reads tiff:Orientation from XMP when there is no EXIF; the picture is turned."""
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/>'
           b"</rdf:RDF></x:xmpmeta>")
    selfie = process(encode(scene(1440, 1080), "JPEG", xmp=xmp), "image/jpeg")
    assert not selfie.kept_as_sent and (selfie.width, selfie.height) == (960, 1280)


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_a_kept_size_upload_cut_short_is_still_corrupt(keep):
    raw = app_selfie()
    assert reason_of(raw[: int(len(raw) * keep)], "image/jpeg") == "corrupt"


# --- refusals ---------------------------------------------------------------------------------

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def test_empty():
    assert reason_of(b"", "image/jpeg") == "empty"


def test_too_large_is_refused_before_anything_is_read(monkeypatch):
    raw = encode(scene(300, 200), "JPEG")
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: pytest.fail("opened"))
    assert reason_of(raw + bytes(6 * 1024 * 1024), "image/jpeg") == "too_large"
    assert reason_of(raw + bytes(MAX_BYTES + 1 - len(raw)), None) == "too_large"


@pytest.mark.parametrize(
    "raw",
    [PDF, b"Hello, this is a text file pretending to be a selfie.\n", random.Random(7).randbytes(4096)],
    ids=["pdf", "text", "random"],
)
@pytest.mark.parametrize("declared", ["image/jpeg", None])
def test_not_an_image(raw, declared):
    assert reason_of(raw, declared) == "not_an_image"


@pytest.mark.parametrize(
    ("fmt", "declared"),
    [
        ("PNG", "image/jpeg"),
        ("JPEG", "image/png"),
        ("WEBP", "image/jpeg"),
        ("JPEG", "image/webp"),
        ("JPEG", "image/gif"),  # a type we do not take, even if the bytes are fine
        ("JPEG", "application/pdf"),
        ("PNG", "image/jpg"),  # the alias phones send still means JPEG
        ("GIF", "image/gif"),
        ("GIF", None),
        ("BMP", None),
        ("TIFF", None),
        ("BMP", "image/jpeg"),
    ],
)
def test_type_mismatch(fmt, declared):
    assert reason_of(encode(scene(300, 200).convert("RGB"), fmt), declared) == "type_mismatch"


@pytest.mark.parametrize(
    ("width", "height"),
    [(30_000, 30_000), (12_000, 10_000), (8_000, 5_001)],
    ids=["beyond-pillows-error-limit", "in-pillows-warning-band", "just-over-ours"],
)
def test_too_many_pixels_is_refused_from_the_header_without_decoding(no_decoding, width, height):
    assert width * height > MAX_PIXELS
    raw = png_of_zeros(width, height)
    assert len(raw) < 200_000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert reason_of(raw, "image/png") == "too_many_pixels"
        assert reason_of(raw, None) == "too_many_pixels"
    assert no_decoding == []
    assert caught == []  # Pillow's DecompressionBombWarning did not get out


def test_the_bomb_builder_makes_real_pngs():
    small = opened(png_of_zeros(100, 80))
    assert (small.format, small.mode, small.size) == ("PNG", "1", (100, 80))
    assert small.getextrema() == (0, 0)


def test_the_pixel_limit_is_inclusive(no_decoding):
    # 8000 × 5000 is exactly MAX_PIXELS: it passes the header checks and goes on to be decoded.
    with pytest.raises(Decoded):
        process(png_of_zeros(8_000, 5_000), "image/png")


def test_bomb_handling_leaves_pillow_and_the_warning_filters_as_they_were():
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    for raw in (png_of_zeros(30_000, 30_000), png_of_zeros(12_000, 10_000), b"", PDF):
        with pytest.raises(SelfieRejected):
            process(raw, None)
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters)) == before


@pytest.mark.parametrize("load_truncated_images", [False, True])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_upload_is_corrupt_whatever_pillow_is_told(monkeypatch, fmt, load_truncated_images):
    """A check-in over a weak 3G link can lose the end of the upload."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", load_truncated_images)
    raw = encode(scene(800, 600), fmt)
    for keep in (0.6, 0.95):
        assert reason_of(raw[: int(len(raw) * keep)], None) == "corrupt"
    assert reason_of(raw[:-2] if fmt == "JPEG" else raw[:-12], None) == "corrupt"  # just the EOI / IEND gone


@pytest.mark.parametrize(
    ("fmt", "keep"), [("JPEG", 20), ("JPEG", 120), ("PNG", 20), ("PNG", 30), ("WEBP", 20)]
)
def test_a_header_cut_short_is_corrupt_not_a_non_image(fmt, keep):
    """It starts like one of the three formats, so it was one before it got cut."""
    assert reason_of(encode(scene(300, 200), fmt)[:keep], None) == "corrupt"


def test_garbled_pixel_data_is_corrupt():
    raw = bytearray(encode(scene(400, 300), "PNG"))
    start = raw.index(b"IDAT") + 4 + 100
    raw[start : start + 200] = random.Random(3).randbytes(200)
    assert reason_of(bytes(raw), "image/png") == "corrupt"


@pytest.mark.parametrize(("width", "height"), [(32, 32), (63, 1000), (1000, 63)])
def test_too_small(width, height):
    assert reason_of(encode(scene(width, height), "JPEG"), "image/jpeg") == "too_small"


def test_sixty_four_pixels_is_enough():
    assert process(encode(scene(64, 64), "PNG"), None).width == 64


# --- perceptual hash --------------------------------------------------------------------------


def test_the_phash_is_64_bits_in_hex_and_repeatable():
    raw = encode(scene(1200, 900), "JPEG")
    first, second = process(raw, None).phash, process(raw, None).phash
    assert first == second
    assert len(first) == 16 and set(first) <= set("0123456789abcdef")


def test_the_same_photo_re_encoded_and_resized_is_a_near_duplicate():
    original = process(phone_photo(), "image/jpeg")
    sensor = Image.open(io.BytesIO(phone_photo()))
    for quality, width in ((35, 1500), (90, 2400), (50, 800)):
        copy = sensor.resize((width, width * 3 // 4))
        raw = encode(copy, "JPEG", quality=quality, exif=phone_exif(orientation=6))
        assert phash_distance(original.phash, process(raw, "image/jpeg").phash) <= 6


def test_the_phash_is_of_the_upright_picture():
    """The same selfie rotated by the phone (orientation 6) or already upright: one hash."""
    upright = scene(900, 1200)
    as_stored = upright.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 turns back
    stored_hash = process(encode(as_stored, "JPEG", exif=phone_exif(orientation=6)), None).phash
    upright_hash = process(encode(upright, "JPEG"), None).phash
    assert phash_distance(stored_hash, upright_hash) <= 6
    assert phash_distance(stored_hash, process(encode(as_stored, "JPEG"), None).phash) >= 20


def test_two_different_photos_are_far_apart():
    first = process(encode(scene(1600, 1200, seed=1), "JPEG"), None).phash
    second = process(encode(scene(1600, 1200, seed=2), "JPEG"), None).phash
    assert phash_distance(first, second) >= 20


def test_phash_distance():
    assert phash_distance("0" * 16, "0" * 16) == 0
    assert phash_distance("0" * 16, "f" * 16) == 64
    assert phash_distance("8000000000000001", "0000000000000000") == 2
    assert phash_distance("ABCDEF0123456789", "abcdef0123456789") == 0
    assert phash_distance("00ff", "0f0f") == phash_distance("0f0f", "00ff") == 8
    for bad in (("0" * 16, "0" * 15), ("g" * 16, "0" * 16), ("", ""), ("0x" + "0" * 14, "0" * 16)):
        with pytest.raises(ValueError):
            phash_distance(*bad)


def test_selfies_module_constants():
    assert MEDIA_TYPES == {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
    assert (MAX_BYTES, MAX_PIXELS) == (5 * 1024 * 1024, 40_000_000)
    assert (STORED_LONGEST_SIDE, THUMB_LONGEST_SIDE) == (1280, 160)
    assert (KEPT_LONGEST_SIDE, KEPT_MAX_BYTES) == (1600, 600 * 1024)
    assert issubclass(SelfieRejected, Rejected)


@pytest.mark.parametrize("declared", ["image/jpg", "image/pjpeg", "application/octet-stream", ""])
def test_the_types_cheap_phones_send_for_a_jpeg_are_accepted(declared):
    """Android WebViews send `image/jpg`, some upload libraries `application/octet-stream`:
    a real JPEG is accepted under either, as under no type at all."""
    assert process(encode(scene(300, 200).convert("RGB"), "JPEG"), declared).source_format == "JPEG"
