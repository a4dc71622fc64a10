"""QR images really encode the token: the PNG is decoded back with zxing-cpp (the reader the
institution scanner's polyfill is built on); the SVG is checked for well-formedness."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import zxingcpp
from PIL import Image

from server.adapters import qrcodes

TOKEN = "eyJhbGciOiJFZERTQSIsImtpZCI6IjBhMWIyYzNkIiwidHlwIjoidm91Y2hlciJ9." + "x" * 130


def test_the_png_decodes_back_to_the_exact_token():
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(qrcodes.png(TOKEN))))
    assert [(r.format, r.text) for r in results] == [(zxingcpp.BarcodeFormat.QRCode, TOKEN)]


def test_png_is_a_square_black_and_white_image_of_the_expected_grid():
    version = qrcodes.version_for(TOKEN)
    assert version <= 10
    image = Image.open(io.BytesIO(qrcodes.png(TOKEN, box_size=6)))
    modules = 17 + 4 * version + 2 * 4  # the symbol plus a four-module quiet zone each side
    assert image.format == "PNG" and image.size == (modules * 6, modules * 6)
    assert set(image.convert("L").getdata()) <= {0, 255}
    # The quiet zone is white and the top-left finder pattern starts black.
    assert image.convert("L").getpixel((2, 2)) == 255
    assert image.convert("L").getpixel((4 * 6 + 1, 4 * 6 + 1)) == 0


def test_svg_is_well_formed_with_a_path():
    root = ET.fromstring(qrcodes.svg(TOKEN))
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("path") for el in root.iter())
