"""A certificate (证书) as a one-page landscape A4 PDF, drawn with ReportLab.

Chinese text uses ReportLab's built-in CID font STSong-Light: nothing is embedded, every PDF
viewer supplies its own Song face, so the file stays small (tens of KB) and needs no font files.
Its encoding UniGB-UCS2-H writes the text as UTF-16 code units, which text extractors (pypdf,
pdfium) map straight back to Unicode, so copy-paste and search work without a ToUnicode map.

Long values are wrapped per character (Chinese has no spaces to break at) and the rows shrink
until they fit, so nothing ever runs off the page. `invariant=1` pins the dates and file ID that
ReportLab would otherwise take from the clock: the same sheet always gives the same bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from server.adapters import qrcodes

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

PAGE_W, PAGE_H = landscape(A4)
RED = HexColor("#9E1B1B")
GOLD = HexColor("#B8862B")

# Layout in points. The QR is ~53 mm wide: a ~500-character URL needs version 17 (85 modules
# plus the quiet zone), and this gives each module ~0.55 mm, enough for a phone at arm's length.
QR_SIZE = 150
QR_X = PAGE_W - 90 - QR_SIZE
CONTENT_TOP = PAGE_H - 150
CONTENT_BOTTOM = 64
ROWS_X = 90
ROWS_RIGHT = QR_X - 36
ROW_SIZES = (16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6)  # tried in turn until the rows fit


@dataclass(frozen=True)
class CertificateSheet:
    title: str  # e.g. "职业技能等级证书", "培训合格证书"
    number: str  # certificate number, e.g. "S14042726-7KQ4M2X9HD3"
    holder_name: str
    holder_id_number: str  # already masked by the caller
    occupation: str
    level: str | None  # None for kinds without a level
    issuer: str
    issued_on: date
    verify_url: str  # encoded whole in the QR; printed only up to '#' (the rest is a long token)
    details: tuple[tuple[str, str], ...] = ()  # extra (label, value) rows
    revoked_reason: str | None = None  # set: the page is stamped "已作废" and shows the reason


def render(sheet: CertificateSheet) -> bytes:
    out = io.BytesIO()
    c = Canvas(out, pagesize=(PAGE_W, PAGE_H), invariant=1, pageCompression=1)
    c.setTitle(f"{sheet.title} {sheet.number}")
    c.setAuthor(sheet.issuer)
    c.setCreator("SkillVoucher")  # ReportLab's default says nothing about this machine either
    _frame(c)
    _title(c, sheet.title)
    _rows(c, _row_texts(sheet), revoked=sheet.revoked_reason is not None)
    _qr(c, sheet.verify_url)
    if sheet.revoked_reason is not None:
        _void_stamp(c)
    c.showPage()
    c.save()
    return out.getvalue()


def _row_texts(sheet: CertificateSheet) -> list[tuple[str, str]]:
    rows = [("持证人", sheet.holder_name), ("身份证号", sheet.holder_id_number),
            ("职业（工种）", sheet.occupation)]
    if sheet.level is not None:
        rows.append(("等级", sheet.level))
    rows += [("证书编号", sheet.number), ("发证机构", sheet.issuer),
             ("发证日期", f"{sheet.issued_on.year}年{sheet.issued_on.month}月{sheet.issued_on.day}日"),
             *sheet.details]
    if sheet.revoked_reason is not None:
        rows.append(("作废原因", sheet.revoked_reason))
    return rows


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Greedy per-character wrap; whitespace (newlines included) collapses to single spaces."""
    lines, line, used = [], "", 0.0
    for ch in " ".join(text.split()):
        w = pdfmetrics.stringWidth(ch, FONT, size)
        if line and used + w > width + 1e-6:  # float sums of widths must not break an exact fit
            lines.append(line.rstrip())
            line, used = "", 0.0
            if ch == " ":
                continue
        line += ch
        used += w
    return [*lines, line]


def _frame(c: Canvas) -> None:
    c.setStrokeColor(GOLD)
    c.setLineWidth(5)
    c.rect(26, 26, PAGE_W - 52, PAGE_H - 52)
    c.setLineWidth(1)
    c.rect(36, 36, PAGE_W - 72, PAGE_H - 72)


def _title(c: Canvas, title: str) -> None:
    size, spacing, max_width = 34.0, 6.0, PAGE_W - 180
    width = pdfmetrics.stringWidth(title, FONT, size) + spacing * (len(title) - 1)
    if width > max_width:
        size, spacing = size * max_width / width, spacing * max_width / width
        width = max_width
    # STSong-Light has one weight: fill and stroke the glyphs (render mode 2) to embolden it.
    c.setFillColor(RED)
    c.setStrokeColor(RED)
    c.setLineWidth(size / 40)
    c.setFont(FONT, size)
    c.drawString((PAGE_W - width) / 2, PAGE_H - 100, title, mode=2, charSpace=spacing)
    c.setLineWidth(0.8)
    c.line(PAGE_W / 2 - 120, PAGE_H - 118, PAGE_W / 2 + 120, PAGE_H - 118)


def _layout(rows: list[tuple[str, str]], size: float) -> tuple[float, list[tuple[list[str], list[str]]]]:
    """The label column's width and each row's wrapped (label lines, value lines), at font `size`."""
    block = ROWS_RIGHT - ROWS_X
    label_w = min(max(pdfmetrics.stringWidth(f"{label}：", FONT, size) for label, _ in rows),
                  block * 0.35) + size * 0.5
    wrapped = [(_wrap(f"{label}：", size, label_w - size * 0.5), _wrap(value, size, block - label_w))
               for label, value in rows]
    return label_w, wrapped


def _rows(c: Canvas, rows: list[tuple[str, str]], *, revoked: bool) -> None:
    available = CONTENT_TOP - CONTENT_BOTTOM
    for size in ROW_SIZES:
        leading, gap = size * 1.45, size * 0.7
        label_w, wrapped = _layout(rows, size)
        height = sum(max(len(a), len(b)) * leading + gap for a, b in wrapped) - gap
        if height <= available:
            break  # else the smallest size is used; values that long are not certificate data
    c.setFont(FONT, size)
    y = CONTENT_TOP - size
    for i, (label_lines, value_lines) in enumerate(wrapped):
        # The reason a certificate was voided is the last row, in red.
        c.setFillColor(RED if revoked and i == len(wrapped) - 1 else HexColor("#222222"))
        for j, line in enumerate(label_lines):
            c.drawString(ROWS_X, y - j * leading, line)
        for j, line in enumerate(value_lines):
            c.drawString(ROWS_X + label_w, y - j * leading, line)
        y -= max(len(label_lines), len(value_lines)) * leading + gap


def _qr(c: Canvas, verify_url: str) -> None:
    # box_size 4 rather than 1: viewers that smooth scaled-up images still get crisp module edges.
    image = ImageReader(io.BytesIO(qrcodes.png(verify_url, box_size=4)))
    y = CONTENT_TOP - QR_SIZE
    c.drawImage(image, QR_X, y, QR_SIZE, QR_SIZE)
    centre = QR_X + QR_SIZE / 2
    c.setFillColor(HexColor("#222222"))
    c.setFont(FONT, 10.5)
    c.drawCentredString(centre, y - 14, "扫码验证证书真伪")
    c.setFont(FONT, 8)
    for i, line in enumerate(_wrap_url(verify_url.split("#", 1)[0], 8, QR_SIZE + 40)):
        c.drawCentredString(centre, y - 28 - i * 10, line)


def _wrap_url(url: str, size: float, width: float) -> list[str]:
    """Break after a '/' where possible, so the certificate number is not split across lines."""
    lines = [""]
    for part in re.split(r"(?<=/)", url):
        if lines[-1] and pdfmetrics.stringWidth(lines[-1] + part, FONT, size) > width:
            lines.append("")
        lines[-1] += part
    return [piece for line in lines for piece in _wrap(line, size, width)]


def _void_stamp(c: Canvas) -> None:
    """A red rubber-stamp box over the rows, translucent so the rows stay legible beneath it.

    Upright, not slanted: text extractors (pypdf among them) skip text at odd angles, and the
    stamp must survive copy-paste and search as well as the eye."""
    size, spacing = 64, 14
    width = pdfmetrics.stringWidth("已作废", FONT, size) + spacing * 2
    cx, cy = (ROWS_X + ROWS_RIGHT) / 2, (CONTENT_TOP + CONTENT_BOTTOM) / 2
    c.saveState()
    # The alpha goes with the colour: setting a Color resets the alpha to the Color's own (1).
    c.setFillColor(RED, alpha=0.7)
    c.setStrokeColor(RED, alpha=0.7)
    c.setLineWidth(5)
    c.roundRect(cx - width / 2 - 28, cy - size / 2 - 22, width + 56, size + 44, 10)
    c.setLineWidth(1.5)
    c.roundRect(cx - width / 2 - 20, cy - size / 2 - 14, width + 40, size + 28, 6)
    c.setFont(FONT, size)
    c.drawString(cx - width / 2, cy - size * 0.36, "已作废", mode=2, charSpace=spacing)
    c.restoreState()
