"""QR codes for voucher and certificate tokens, as PNG (phones, print) and SVG (print pages).

Error correction M: survives a scuffed printout or a cracked phone screen while keeping the
code small enough for cheap cameras (a voucher token fits version 10).
"""

from __future__ import annotations

import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.svg import SvgPathImage


def _code(data: str, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code


def version_for(data: str) -> int:
    return _code(data, 1).version


def png(data: str, box_size: int = 6) -> bytes:
    out = io.BytesIO()
    _code(data, box_size).make_image(fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()


def svg(data: str) -> bytes:
    out = io.BytesIO()
    _code(data, 10).make_image(image_factory=SvgPathImage).save(out)
    return out.getvalue()
