"""CSV and XLSX exports are read back the way Excel users get them: the CSV with the csv module
after the BOM, the XLSX with openpyxl's normal (not write-only) reader."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import unquote

import openpyxl
import pytest

from server.adapters.exports import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    Column,
    content_disposition,
    csv_bytes,
    xlsx_bytes,
)

COLUMNS = [
    Column("券号", width=22),
    Column("人数", kind="int"),
    Column("开班日期", kind="date"),
    Column("签到时间", width=18, kind="datetime"),
    Column("补贴金额", kind="money"),
]
SIGNED_IN = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 00:30 the next day in Shanghai


def sample_rows():
    """A generator, as the services will pass: the adapter must not need a list."""
    yield ("SV-2026-0001", 12, date(2026, 11, 23), SIGNED_IN, Decimal("1500"))
    yield ("=1+1", -5, None, None, Decimal("-3.456"))
    yield ("@SUM(A1)", 0, date(2026, 1, 2), datetime(2026, 1, 1, 23, 59, tzinfo=UTC), 7)
    yield ("+86 138", None, None, None, None)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def read_xlsx(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_has_bom_crlf_and_chinese_headers_first():
    data = csv_bytes(COLUMNS, sample_rows())
    assert data.startswith("\ufeff券号,人数".encode())
    assert data.count(b"\r\n") == 5 and b"\n" not in data.replace(b"\r\n", b"")
    assert read_csv(data)[0] == ["券号", "人数", "开班日期", "签到时间", "补贴金额"]


def test_csv_values_dates_shanghai_times_and_money():
    rows = read_csv(csv_bytes(COLUMNS, sample_rows()))
    assert rows[1] == ["SV-2026-0001", "12", "2026-11-23", "2026-11-24 00:30", "1500.00"]
    assert rows[3][2:] == ["2026-01-02", "2026-01-02 07:59", "7.00"]
    assert rows[4] == ["'+86 138", "", "", "", ""]


def test_csv_guards_formulas_in_text_but_not_real_negative_numbers():
    rows = read_csv(csv_bytes(COLUMNS, sample_rows()))
    assert rows[2] == ["'=1+1", "-5", "", "", "-3.46"]
    assert rows[3][0] == "'@SUM(A1)"
    guarded = read_csv(csv_bytes([Column("备注")], [["-2+3"], ["\tx"], ["\rx"], ["a=b"], [-7]]))
    assert [row[0] for row in guarded[1:]] == ["'-2+3", "'\tx", "'\rx", "a=b", "-7"]


def test_csv_rejects_naive_datetimes_and_wrong_row_lengths():
    with pytest.raises(ValueError, match="naive"):
        csv_bytes([Column("时间", kind="datetime")], [[datetime(2026, 1, 1, 8, 0)]])
    with pytest.raises(ValueError, match="row 0"):
        csv_bytes(COLUMNS, [["only one"]])


def test_unknown_column_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        Column("金额", kind="currency")


# --- XLSX ---------------------------------------------------------------------------------------


def test_xlsx_sheet_layout_title_bold_frozen_header_widths_filter():
    sheet = read_xlsx(xlsx_bytes("电子券清单[2026/11]: 全部*?", COLUMNS, sample_rows()))
    assert sheet.title == "电子券清单202611 全部"
    assert [cell.value for cell in sheet[1]] == ["券号", "人数", "开班日期", "签到时间", "补贴金额"]
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:E5"
    assert sheet.column_dimensions["A"].width == 22
    assert sheet.column_dimensions["B"].width == 14


def test_xlsx_long_sheet_title_is_cut_to_31_characters():
    sheet = read_xlsx(xlsx_bytes("培训班" * 20, COLUMNS, []))
    assert sheet.title == ("培训班" * 20)[:31]
    assert sheet.auto_filter.ref == "A1:E1"  # only the header when there are no rows


def test_xlsx_typed_cells_dates_times_money_ints():
    sheet = read_xlsx(xlsx_bytes("清单", COLUMNS, sample_rows()))
    number, count, start, signed, amount = sheet[2]
    assert number.value == "SV-2026-0001"
    assert count.value == 12 and count.data_type == "n"
    assert isinstance(start.value, datetime) and start.value == datetime(2026, 11, 23)
    assert start.number_format == "yyyy-mm-dd"
    # Shanghai wall time, stored naive: Excel has no time zones.
    assert signed.value == datetime(2026, 11, 24, 0, 30) and signed.value.tzinfo is None
    assert signed.number_format == "yyyy-mm-dd hh:mm"
    assert amount.value == 1500 and amount.number_format == "#,##0.00"
    assert sheet["B3"].value == -5 and sheet["B3"].data_type == "n"
    assert sheet["C3"].value is None


def test_xlsx_text_starting_with_equals_stays_text_not_a_formula():
    data = xlsx_bytes("清单", COLUMNS, sample_rows())
    sheet = read_xlsx(data)
    assert sheet["A3"].value == "=1+1" and sheet["A3"].data_type == "s"
    assert sheet["A4"].value == "@SUM(A1)"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


def test_xlsx_cleans_characters_illegal_in_xml():
    sheet = read_xlsx(xlsx_bytes("清单\x07", [Column("备注\x00")], [["坏\x01字\x1f符"]]))
    assert sheet.title == "清单"
    assert sheet["A1"].value == "备注"
    assert sheet["A2"].value == "坏字符"


def test_xlsx_text_column_keeps_numbers_as_text():
    # Phone numbers and ids must not turn into 1.38E+10 in a text column.
    sheet = read_xlsx(xlsx_bytes("清单", [Column("手机号")], [[13812345678]]))
    assert sheet["A2"].value == "13812345678" and sheet["A2"].data_type == "s"


def test_xlsx_streams_a_20000_row_generator():
    consumed = 0

    def many_rows():
        nonlocal consumed
        for i in range(20_000):
            consumed += 1
            yield (f"SV-{i:06d}", i, date(2026, 1, 1), SIGNED_IN, Decimal(i) / 100)

    data = xlsx_bytes("大清单", COLUMNS, many_rows())
    assert consumed == 20_000
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 20_001
    last = rows[-1]
    assert last[:2] == ("SV-019999", 19_999)
    assert last[4] == pytest.approx(199.99)


def test_csv_streams_a_20000_row_generator():
    data = csv_bytes(COLUMNS, ((f"SV-{i}", i, None, None, i) for i in range(20_000)))
    rows = read_csv(data)
    assert len(rows) == 20_001 and rows[-1] == ["SV-19999", "19999", "", "", "19999.00"]


# --- HTTP headers -------------------------------------------------------------------------------


def test_content_disposition_has_ascii_fallback_and_utf8_filename():
    header = content_disposition("电子券清单.xlsx")
    assert header.isascii()
    assert header == (
        "attachment; filename=\"export.xlsx\"; "
        "filename*=UTF-8''%E7%94%B5%E5%AD%90%E5%88%B8%E6%B8%85%E5%8D%95.xlsx"
    )
    assert unquote(header.split("UTF-8''", 1)[1]) == "电子券清单.xlsx"


def test_content_disposition_keeps_ascii_parts_and_drops_unsafe_characters():
    header = content_disposition('2026年11月 "班级"\r\n清单.csv')
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback == "202611.csv"
    assert content_disposition("report v2.xlsx").startswith('attachment; filename="report_v2.xlsx"; ')
    assert "\r" not in header and "\n" not in header
    assert unquote(header.split("UTF-8''", 1)[1]) == '2026年11月 "班级"\r\n清单.csv'


def test_media_types():
    assert CSV_MEDIA_TYPE == "text/csv; charset=utf-8"
    assert XLSX_MEDIA_TYPE == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
