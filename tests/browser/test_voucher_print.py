"""The A6 paper voucher (兜底服务 for trainees without a smartphone) in real headless Chromium:
the QR renders square and large enough to scan, the personal data shown is masked, printing
gives one A6 page, and a screenshot of the code decodes back to the voucher's token."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from server.domain.identity import mask_id_number
from tests.factories import LEVEL, OCCUPATION, PASSWORD, make_trainee

pytestmark = pytest.mark.browser

HUGUAN = "140427"  # issues eligible applications at once
A6_POINTS = (105 / 25.4 * 72, 148 / 25.4 * 72)  # 297.64 × 419.53 pt
NUMBER = r"(-?\d+(?:\.\d+)?)"
MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*" + (NUMBER.encode() + rb"\s+") * 3 + NUMBER.encode() + rb"\s*\]")
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![s\w])")


@pytest.fixture
def printed(app, live_server, page):
    """A Huguan trainee signed in through the API, holding an issued voucher; the page carries
    their access token on every request."""
    with app.app_context():
        profile = make_trainee(region_code=HUGUAN, real_name="张小红")
        mobile, id_number = profile.user.mobile, profile.id_number
    api = live_server + "/api/v1"
    signed_in = page.request.post(f"{api}/auth/login", data={"mobile": mobile, "password": PASSWORD})
    assert signed_in.status == 200, signed_in.text()
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    applied = page.request.post(f"{api}/vouchers", headers=headers,
                                data={"occupation_code": OCCUPATION, "level": LEVEL, "programme": "puhui"})
    assert applied.status == 201, applied.text()
    voucher = applied.json()
    assert voucher["state"] == "issued"
    token = page.request.get(f"{api}/vouchers/{voucher['id']}/token", headers=headers).json()["token"]
    page.set_extra_http_headers(headers)
    response = page.goto(f"{api}/vouchers/{voucher['id']}/print")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    return {"voucher": voucher, "token": token, "id_number": id_number}


def test_the_qr_code_is_a_square_svg_of_at_least_200_css_pixels(page, printed):
    svg = page.locator(".qr svg")
    assert svg.count() == 1
    box = svg.bounding_box()
    assert box is not None
    assert box["width"] >= 200 and box["height"] >= 200, box
    assert abs(box["width"] - box["height"]) <= 2, box


def test_the_page_shows_the_serial_and_masked_personal_data_only(page, printed):
    assert page.get_by_text(printed["voucher"]["serial"], exact=True).is_visible()
    assert page.get_by_text("张**", exact=True).is_visible()
    masked = mask_id_number(printed["id_number"])
    assert page.get_by_text(masked, exact=True).is_visible()
    text = page.locator("body").inner_text()
    assert printed["id_number"] not in text and "张小红" not in text
    assert printed["id_number"] not in page.content()


def printed_pdf(page) -> bytes:
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert pdf.startswith(b"%PDF-")
    return pdf


def test_printing_gives_a_single_page(page, printed):
    assert len(PAGE_OBJECT.findall(printed_pdf(page))) == 1, "the card must fit on one page"


def test_the_printed_page_is_a6(page, printed):
    """The template asks for A6 (`@page { size: … }`); Chromium must honour it, or the card
    comes out in a corner of a Letter sheet."""
    pdf = printed_pdf(page)
    boxes = {tuple(float(n) for n in match) for match in MEDIA_BOX.findall(pdf)}
    assert boxes, "no MediaBox in the PDF"
    for x0, y0, x1, y1 in boxes:
        width, height = x1 - x0, y1 - y0
        assert abs(width - A6_POINTS[0]) < 1.5 and abs(height - A6_POINTS[1]) < 1.5, (width, height)


def test_a_screenshot_of_the_code_decodes_to_the_voucher_token(page, printed):
    shot = page.locator(".qr").screenshot()
    # QR only: the finder patterns occasionally read as a spurious linear code too.
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in codes] == [printed["token"]]
