"""Certificates are checked the way people meet them: the text is read back with pypdf (copy-paste,
search, screen readers), the page is rasterised with pdfium (Chrome's PDF engine) and its QR code
scanned with zxing-cpp, and pdfium's character boxes show that long values stay on the page.

The font is not embedded, so where the system has no Chinese font (as where these were written)
pdfium draws no Chinese glyphs; the QR code is an image and the character boxes come from the
PDF's own width table, so no assertion depends on one."""

from __future__ import annotations

import dataclasses
import getpass
import io
import re
import socket
from datetime import date

import pypdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp

from server.adapters.certificate_pdf import CertificateSheet, render

# A real-sized verify URL: the page address, then a signed token (~430 characters) after '#'.
TOKEN = "eyJhbGciOiJFZERTQSIsImtpZCI6IjBhMWIyYzNkIiwidHlwIjoiY2VydCJ9." + "Zm9vYmFy" * 44 + ".c2ln"
VERIFY_PAGE = "https://pxbt.rlsbj.example.gov.cn/certificates/verify/S14042726-7KQ4M2X9HD3"
SHEET = CertificateSheet(
    title="职业技能等级证书",
    number="S14042726-7KQ4M2X9HD3",
    holder_name="王小明",
    holder_id_number="1404**********1234",
    occupation="养老护理员",
    level="初级",
    issuer="长治市人力资源和社会保障局",
    issued_on=date(2026, 9, 20),
    verify_url=f"{VERIFY_PAGE}#{TOKEN}",
    details=(("培训机构", "长治市第一职业培训学校"), ("培训项目", "养老护理员（初级）"),
             ("培训时间", "2026-09-01 至 2026-09-20")),
)
PARAGRAPH = "本项目按照国家职业技能标准组织理论与实操培训，考核合格。"
LONG_SHEET = dataclasses.replace(
    SHEET,
    title="培训合格证书",
    level=None,
    issuer="山西省长治市潞州区人力资源和社会保障局职业能力建设科暨职业技能鉴定指导中心与长治职业技术学院"
           "联合培训评价基地（第二分中心）",
    # No two wrapped lines alike: pdfium's text layer drops a line that repeats one above it.
    details=tuple((f"补充说明{n}", (PARAGRAPH * 4)[i:i + 3 * len(PARAGRAPH)])
                  for i, n in enumerate("一二三四五六")),
)
REVOKED = dataclasses.replace(SHEET, revoked_reason="持证人提供虚假材料，经核查予以撤销")


def _text(pdf: bytes) -> str:
    """The page's text as pypdf extracts it, whitespace removed (wrapping puts line breaks in)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def _rows(sheet: CertificateSheet) -> list[str]:
    return [re.sub(r"\s+", "", f"{label}：{value}") for label, value in (
        ("持证人", sheet.holder_name), ("身份证号", sheet.holder_id_number),
        ("职业（工种）", sheet.occupation), ("证书编号", sheet.number), ("发证机构", sheet.issuer),
        ("发证日期", "2026年9月20日"), *sheet.details)]


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render(SHEET)


@pytest.fixture(scope="module")
def page_image(pdf):
    # Scale 2 is 144 dpi, a phone photo's worth: each QR module is ~3 pixels.
    return pdfium.PdfDocument(pdf)[0].render(scale=2).to_pil()


def test_one_page_whose_text_reads_back_as_chinese(pdf):
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    text = _text(pdf)
    assert text.startswith("职业技能等级证书")
    for row in [*_rows(SHEET), "等级：初级"]:
        assert row in text
    assert "扫码验证证书真伪" in text and VERIFY_PAGE in text
    assert TOKEN[:20] not in text  # the token is in the QR code only
    assert "已作废" not in text and "作废原因" not in text


def test_metadata_names_the_certificate_and_not_this_machine(pdf):
    info = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    assert info.title == "职业技能等级证书 S14042726-7KQ4M2X9HD3"
    assert info.author == SHEET.issuer
    assert not {socket.gethostname(), getpass.getuser()} & {v for v in info.values() if isinstance(v, str)}


def test_the_printed_qr_code_scans_to_the_verify_url(page_image):
    results = zxingcpp.read_barcodes(page_image)
    assert [(r.format, r.text) for r in results] == [(zxingcpp.BarcodeFormat.QRCode, SHEET.verify_url)]


def test_the_rendered_page_is_not_blank(page_image):
    grey = page_image.convert("L")
    dark = sum(grey.histogram()[:128]) / (grey.width * grey.height)
    assert grey.getextrema() == (0, 255) and 0.02 < dark < 0.5


def _red_pixels(pdf: bytes) -> int:
    image = pdfium.PdfDocument(pdf)[0].render(scale=1).to_pil().convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 150 and g < 120 and b < 120)


def test_a_revoked_certificate_is_stamped_and_says_why(pdf):
    revoked = render(REVOKED)
    text = _text(revoked)
    assert "已作废" in text
    assert "作废原因：持证人提供虚假材料，经核查予以撤销" in text
    assert all(row in text for row in _rows(REVOKED))  # the stamp covers nothing up
    # The stamp is big and red: its frame alone is thousands of pixels at 72 dpi (the title's
    # red rule is a couple of hundred).
    assert _red_pixels(revoked) > _red_pixels(pdf) + 2000


def test_long_values_wrap_or_shrink_onto_the_one_page():
    pdf = render(LONG_SHEET)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    text = _text(pdf)
    for row in _rows(LONG_SHEET):
        assert row in text
    assert "等级：" not in text  # no level, no row (the title's 等级 aside: this title has none)

    # Every character lies inside the frame and none under the QR code. pdfium's text must hold
    # every row too, or a line it dropped would escape the box check.
    page = pdfium.PdfDocument(pdf)[0]
    width, height = page.get_size()
    textpage = page.get_textpage()
    assert all(row in re.sub(r"\s+", "", textpage.get_text_range()) for row in _rows(LONG_SHEET))
    (qr,) = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])
    qr_left, qr_bottom, qr_right, qr_top = qr.get_bounds()
    for i in range(textpage.count_chars()):
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        assert left >= 36 and right <= width - 36 and bottom >= 36 and top <= height - 36
        assert right <= qr_left or left >= qr_right or top <= qr_bottom or bottom >= qr_top


def test_the_same_sheet_gives_the_same_bytes(pdf):
    assert render(SHEET) == pdf
    assert render(REVOKED) == render(REVOKED)
