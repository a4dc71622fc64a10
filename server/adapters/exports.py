"""Spreadsheet exports (CSV and XLSX) of tabular lists, with Chinese column headers.

Bureau staff open these in Excel, so both formats are shaped for it:
- CSV is UTF-8 with a BOM (without it Excel on Chinese Windows guesses GBK and shows mojibake),
  CRLF line endings, and a leading `'` on text that Excel would otherwise run as a formula
  (OWASP "CSV injection").
- XLSX is written by openpyxl in write-only mode, so rows stream to a temporary file instead of
  being held as a worksheet in memory; `rows` may be a generator and is never materialised here.

Times are shown in Asia/Shanghai: the models hold aware UTC datetimes, and Excel has no time zones.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from urllib.parse import quote
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
KINDS = frozenset({"text", "int", "date", "datetime", "money"})

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MONEY_FORMAT = "#,##0.00"

# Leading characters that make Excel (or LibreOffice) treat a CSV field as a formula.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_CENT = Decimal("0.01")
_SHEET_TITLE_MAX = 31
_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")
_CELL_TEXT_MAX = 32_767  # Excel's limit per cell; longer text makes Excel "repair" the file
_HEADER_FONT = Font(bold=True)


@dataclass(frozen=True)
class Column:
    header: str  # Chinese header, e.g. "券号"
    width: int = 14  # XLSX column width in characters
    kind: str = "text"  # "text" | "int" | "date" | "datetime" | "money"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; expected one of {sorted(KINDS)}")


# ---------------------------------------------------------------------------------------------
# Value conversion shared by both formats


def _is_number(value: object) -> bool:
    # bool is an int subclass but is not a quantity.
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _local(value: datetime) -> datetime:
    """Aware datetime -> naive Asia/Shanghai wall time. Naive input is refused, not guessed at."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to an export; pass an aware (UTC) datetime")
    return value.astimezone(LOCAL_TZ).replace(tzinfo=None)


def _as_date(value: object) -> object:
    # A datetime in a date column shows the Shanghai calendar day, not the UTC one.
    if isinstance(value, datetime):
        return _local(value).date() if value.tzinfo is not None else value.date()
    return value


def _money(value: int | float | Decimal) -> Decimal:
    # str() first so a float like 0.1 is rounded as written, not as its binary expansion.
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _check_row(row: Sequence[object], columns: list[Column], index: int) -> None:
    if len(row) != len(columns):
        raise ValueError(f"row {index} has {len(row)} values for {len(columns)} columns")


def _check_columns(columns: list[Column]) -> None:
    if not columns:
        raise ValueError("an export needs at least one column")


# ---------------------------------------------------------------------------------------------
# CSV


def _csv_field(value: object, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    if kind == "date":
        value = _as_date(value)
        if isinstance(value, date):
            return value.isoformat()
    elif kind == "datetime":
        if isinstance(value, datetime):
            return _local(value).strftime("%Y-%m-%d %H:%M")
        if isinstance(value, date):
            return value.isoformat()
    elif kind == "money" and _is_number(value):
        return str(_money(value))
    if _is_number(value):
        return str(value)  # a real number cannot carry a formula: -5 stays -5
    text = str(value)
    if text.startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


def csv_bytes(columns: list[Column], rows: Iterable[Sequence[object]]) -> bytes:
    """The rows as Excel-friendly CSV: UTF-8 BOM, CRLF, header row first."""
    _check_columns(columns)
    buffer = io.BytesIO()
    # utf-8-sig writes the BOM once; newline="" lets the csv module own the CRLF line endings.
    text = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow([column.header for column in columns])
    for index, row in enumerate(rows):
        _check_row(row, columns, index)
        writer.writerow([_csv_field(value, column.kind) for value, column in zip(row, columns, strict=True)])
    text.flush()
    text.detach()  # keep the BytesIO open after the wrapper goes away
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# XLSX


def _clean_text(text: str) -> str:
    # openpyxl raises IllegalCharacterError on control characters XML cannot carry; drop them.
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:_CELL_TEXT_MAX]


def _sheet_title(title: str) -> str:
    cleaned = _SHEET_TITLE_BAD.sub("", _clean_text(title)).strip().strip("'")
    return cleaned[:_SHEET_TITLE_MAX].strip() or "Sheet1"


def _text_cell(sheet, value: object) -> object:
    text = _clean_text(str(value))
    if not text.startswith("="):
        return text
    # openpyxl turns any str starting with "=" into a formula; force it back to a string.
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    return cell


def _formatted_cell(sheet, value: object, number_format: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = number_format
    return cell


def _xlsx_cell(sheet, value: object, kind: str) -> object:
    """A plain value where openpyxl's default is right, a WriteOnlyCell where it is not."""
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    if kind == "date":
        value = _as_date(value)
        if isinstance(value, date):
            return _formatted_cell(sheet, value, DATE_FORMAT)
    elif kind == "datetime":
        if isinstance(value, datetime):
            return _formatted_cell(sheet, _local(value), DATETIME_FORMAT)
        if isinstance(value, date):
            return _formatted_cell(sheet, value, DATE_FORMAT)
    elif kind == "money" and _is_number(value):
        return _formatted_cell(sheet, value, MONEY_FORMAT)
    elif kind == "int" and _is_number(value):
        return value
    # Text columns hold text even for numeric values (ids, phone numbers must not become 1.3E+10).
    return _text_cell(sheet, value)


def _discard(sheet) -> None:
    """A failed export must not leave its rows (personal data) in openpyxl's temporary file."""
    writer = getattr(sheet, "_writer", None)
    for step in (getattr(sheet, "_rows", None), writer):
        if step is not None:
            with contextlib.suppress(Exception):
                step.close()
    if writer is not None and isinstance(writer.out, str):
        with contextlib.suppress(Exception):
            writer.cleanup()


def xlsx_bytes(title: str, columns: list[Column], rows: Iterable[Sequence[object]]) -> bytes:
    """The rows as one XLSX sheet: bold frozen header, column widths, auto filter, typed cells."""
    _check_columns(columns)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(title))
    # Widths and the frozen pane go at the top of the sheet XML: set them before the first row.
    for number, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    sheet.freeze_panes = "A2"

    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=_clean_text(column.header))
        cell.font = _HEADER_FONT
        if column.header.startswith("="):
            cell.data_type = "s"
        header.append(cell)
    sheet.append(header)

    count = 0
    try:
        for index, row in enumerate(rows):
            _check_row(row, columns, index)
            sheet.append([_xlsx_cell(sheet, value, column.kind)
                          for value, column in zip(row, columns, strict=True)])
            count += 1
    except BaseException:
        _discard(sheet)
        raise

    # The filter is written after the rows, so it can span the whole table once its length is known.
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# HTTP


def _ascii_part(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_text).strip("_")


def _ascii_fallback(filename: str) -> str:
    """A plain-ASCII stand-in for clients that ignore filename* (no quotes, slashes or CR/LF)."""
    stem, extension = os.path.splitext(filename)
    # An all-Chinese name leaves nothing readable: keep at least a generic stem and the extension.
    ascii_stem = _ascii_part(stem) or "export"
    ascii_extension = _ascii_part(extension)
    return ascii_stem + (f".{ascii_extension}" if ascii_extension else "")


def content_disposition(filename: str) -> str:
    """RFC 6266 attachment header with an ASCII fallback and the RFC 5987 UTF-8 name."""
    fallback = _ascii_fallback(filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
