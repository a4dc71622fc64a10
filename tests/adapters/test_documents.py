"""Uploaded class-opening documents are what their extension claims, or refused with a named reason.

Fixtures are real files built here: a hand-written PDF with a correct xref table, and DOCX/XLSX
packages zipped with the OOXML parts Word and Excel need. Bad inputs are built by builders called
inside each test, so the 50 MiB zip bomb is only compressed when its case runs.
"""

from __future__ import annotations

import hashlib
import io
import random
import zipfile

import openpyxl
import pytest
from PIL import Image

from server.adapters import documents
from server.adapters.documents import ALLOWED, MAX_BYTES, Document, DocumentRejected, inspect

MiB = 1024 * 1024

# --- fixtures ---------------------------------------------------------------------------------


def make_pdf(text: bytes = b"Teaching plan") -> bytes:
    """A one-page PDF 1.4 whose xref offsets are right, so real readers open it."""
    content = b"BT /F1 24 Tf 72 760 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # binary comment line, as writers emit
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def make_zip(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return buffer.getvalue()


RELS = "application/vnd.openxmlformats-package.relationships+xml"
OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"

DOCX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="{RELS}"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    ).encode(),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{OFFICE_DOCUMENT}" Target="word/document.xml"/>'
        "</Relationships>"
    ).encode(),
    "word/document.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>教学实施计划</w:t></w:r></w:p></w:body></w:document>"
    ).encode(),
}

XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="{RELS}"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    ).encode(),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{OFFICE_DOCUMENT}" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ).encode(),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="课程安排" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ).encode(),
    "xl/_rels/workbook.xml.rels": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        b"</Relationships>"
    ),
    "xl/worksheets/sheet1.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>第1周 理论课</t></is></c></row>'
        "</sheetData></worksheet>"
    ).encode(),
}

PDF = make_pdf()
DOCX = make_zip(DOCX_PARTS)
XLSX = make_zip(XLSX_PARTS)


def make_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="PNG")
    return out.getvalue()


def docx_with(extra: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    return make_zip({**DOCX_PARTS, **extra}, compression)


def zip_bomb() -> bytes:
    # 50 MiB of zeros deflates to about 50 KiB: a ratio near 1000, inside an otherwise real docx.
    return docx_with({"word/media/image1.png": bytes(50 * MiB)})


def too_many_entries() -> bytes:
    return docx_with({f"word/media/{i}.bin": b"" for i in range(documents.MAX_ENTRIES)})  # +3 parts


def too_much_in_total() -> bytes:
    # Each entry is exactly 1 MiB, so only the total (101 MiB) rule can catch it, not the ratio.
    return docx_with({f"customXml/item{i}.xml": bytes(MiB) for i in range(101)})


def garbled_central_directory() -> bytes:
    data = bytearray(DOCX)
    at = data.rfind(b"PK\x01\x02")
    data[at:at + 4] = b"XX\x01\x02"
    return bytes(data)


def garbled_directory_size() -> bytes:
    data = bytearray(DOCX)
    end = data.rfind(b"PK\x05\x06")
    data[end + 12:end + 16] = (len(data) * 3).to_bytes(4, "little")  # central directory's length
    return bytes(data)


def pdf_with_docx_appended() -> bytes:
    # zipfile alone would open this (it allows a prefix, like self-extracting archives).
    return PDF + DOCX


# --- accepted ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "extension"),
    [
        pytest.param(PDF, "教学实施计划.pdf", "pdf", id="pdf-chinese-name"),
        pytest.param(DOCX, "教学大纲.docx", "docx", id="docx-chinese-name"),
        pytest.param(XLSX, "课程安排表.xlsx", "xlsx", id="xlsx-chinese-name"),
        pytest.param(PDF, "PLAN.PDF", "pdf", id="upper-case-extension"),
        pytest.param(make_zip(DOCX_PARTS, zipfile.ZIP_STORED), "plan.docx", "docx", id="docx-stored"),
        pytest.param(b"\xef\xbb\xbf\r\n" + PDF, "plan.pdf", "pdf", id="pdf-with-leading-bytes"),
        pytest.param(PDF + b"\n" * 1000, "plan.pdf", "pdf", id="pdf-trailing-newlines"),
    ],
)
def test_accepts_real_documents(data, filename, extension):
    document = inspect(data, filename)
    assert document == Document(
        filename=filename,
        extension=extension,
        media_type=ALLOWED[extension],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def test_an_xlsx_written_by_openpyxl_is_accepted_and_the_hand_built_one_opens_in_it():
    workbook = openpyxl.Workbook()
    workbook.active.append(["周次", "课程内容"])
    out = io.BytesIO()
    workbook.save(out)
    assert inspect(out.getvalue(), "课程安排表.xlsx").media_type == ALLOWED["xlsx"]
    # The hand-built fixture is a workbook Excel's readers accept, not just a zip with the right names.
    sheet = openpyxl.load_workbook(io.BytesIO(XLSX)).active
    assert sheet["A1"].value == "第1周 理论课"


def test_the_pdf_header_may_follow_at_most_1024_bytes():
    assert inspect(b" " * 1024 + PDF, "plan.pdf").size == 1024 + len(PDF)
    with pytest.raises(DocumentRejected) as refused:
        inspect(b" " * 1025 + PDF, "plan.pdf")
    assert refused.value.reason == "content_mismatch"


def test_size_limit_is_inclusive_and_configurable():
    assert 10 * MiB == MAX_BYTES
    assert inspect(PDF, "plan.pdf", max_bytes=len(PDF)).size == len(PDF)
    with pytest.raises(DocumentRejected) as refused:
        inspect(PDF, "plan.pdf", max_bytes=len(PDF) - 1)
    assert refused.value.reason == "too_large"


def test_an_archive_at_the_entry_limit_is_accepted():
    data = docx_with({f"word/media/{i}.bin": b"" for i in range(documents.MAX_ENTRIES - 3)})
    assert inspect(data, "plan.docx").extension == "docx"


# --- filenames --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "cleaned"),
    [
        pytest.param("../../etc/passwd.pdf", "passwd.pdf", id="unix-traversal"),
        pytest.param("C:\\Users\\张三\\Desktop\\教学计划.pdf", "教学计划.pdf", id="windows-path"),
        pytest.param("..\\..\\教学计划.pdf", "教学计划.pdf", id="backslash-traversal"),
        pytest.param("  教学计划 2025.pdf \t\n", "教学计划 2025.pdf", id="surrounding-whitespace"),
        pytest.param("pl\x00an\x1b[31m\x7f.pdf", "plan[31m.pdf", id="control-characters"),
        pytest.param("dir/\r\nplan.pdf", "plan.pdf", id="newline-after-separator"),
        pytest.param("report\u202efdp.pdf", "reportfdp.pdf", id="right-to-left-override"),
        pytest.param("re\u0301sume\u0301.pdf", "résumé.pdf", id="decomposed-to-composed"),
        pytest.param("课" * 200 + ".PDF", "课" * 116 + ".PDF", id="long-name-keeps-extension"),
    ],
)
def test_filename_is_cleaned(filename, cleaned):
    document = inspect(PDF, filename)
    assert document.filename == cleaned
    assert len(document.filename) <= 120 and document.extension == "pdf"


# --- refused ----------------------------------------------------------------------------------


def case(builder, filename: str, reason: str, case_id: str):
    return pytest.param(builder, filename, reason, id=case_id)


@pytest.mark.parametrize(
    ("build", "filename", "reason"),
    [
        case(lambda: b"", "plan.pdf", "empty", "empty"),
        case(lambda: b"", "plan.exe", "empty", "empty-before-extension"),
        # Extension
        case(lambda: PDF, "plan", "unsupported_extension", "no-extension"),
        case(lambda: PDF, "plan.doc", "unsupported_extension", "doc"),
        case(lambda: XLSX, "plan.xls", "unsupported_extension", "xls"),
        case(lambda: PDF, "plan.exe", "unsupported_extension", "exe"),
        case(lambda: PDF, "plan.pdf.exe", "unsupported_extension", "double-extension"),
        case(lambda: PDF, "plan.pdf.", "unsupported_extension", "trailing-dot"),
        case(lambda: PDF, ".pdf", "unsupported_extension", "extension-only"),
        case(lambda: PDF, "", "unsupported_extension", "empty-name"),
        case(lambda: PDF, " \t\x00\u202e", "unsupported_extension", "nothing-left-after-cleaning"),
        case(lambda: PDF, "uploads/plan.pdf/", "unsupported_extension", "directory-only"),
        # Content is another type than the extension says
        case(lambda: DOCX, "plan.xlsx", "content_mismatch", "docx-as-xlsx"),
        case(lambda: XLSX, "plan.docx", "content_mismatch", "xlsx-as-docx"),
        case(lambda: PDF, "plan.docx", "content_mismatch", "pdf-as-docx"),
        case(lambda: PDF, "plan.xlsx", "content_mismatch", "pdf-as-xlsx"),
        case(lambda: DOCX, "plan.pdf", "content_mismatch", "docx-as-pdf"),
        case(lambda: XLSX, "plan.pdf", "content_mismatch", "xlsx-as-pdf"),
        case(make_png, "plan.pdf", "content_mismatch", "png-as-pdf"),
        case(make_png, "plan.docx", "content_mismatch", "png-as-docx"),
        case(make_png, "plan.xlsx", "content_mismatch", "png-as-xlsx"),
        case(lambda: "教学计划".encode() * 10, "plan.pdf", "content_mismatch", "text-as-pdf"),
        case(lambda: b"%PDF", "plan.pdf", "content_mismatch", "incomplete-pdf-header"),
        case(lambda: make_zip({"plan.pdf": PDF}, zipfile.ZIP_STORED), "plan.pdf", "content_mismatch",
                "zip-holding-stored-pdf-as-pdf"),
        case(lambda: make_zip({"a.txt": b"hello"}), "plan.docx", "content_mismatch", "plain-zip-as-docx"),
        case(lambda: make_zip({"a.txt": b"hello"}), "plan.xlsx", "content_mismatch", "plain-zip-as-xlsx"),
        case(lambda: make_zip({}), "plan.docx", "content_mismatch", "empty-zip"),
        case(lambda: make_zip({"word/document.xml": DOCX_PARTS["word/document.xml"]}), "plan.docx",
                "content_mismatch", "docx-without-content-types"),
        case(pdf_with_docx_appended, "plan.docx", "content_mismatch", "pdf-with-docx-appended"),
        # Looks right but is damaged
        case(lambda: PDF[:-200], "plan.pdf", "corrupt", "pdf-truncated"),
        case(lambda: PDF + b"x" * 2048, "plan.pdf", "corrupt", "pdf-eof-marker-too-early"),
        case(lambda: DOCX[: len(DOCX) // 2], "plan.docx", "corrupt", "docx-truncated-half"),
        case(lambda: XLSX[:-1], "plan.xlsx", "corrupt", "xlsx-truncated-one-byte"),
        case(lambda: b"PK\x03\x04" + bytes(100), "plan.docx", "corrupt", "zip-header-only"),
        case(garbled_central_directory, "plan.docx", "corrupt", "garbled-central-directory"),
        case(garbled_directory_size, "plan.docx", "corrupt", "garbled-directory-size"),
        # Zip bombs and path traversal
        case(zip_bomb, "plan.docx", "unsafe_archive", "zip-bomb-ratio"),
        case(too_many_entries, "plan.docx", "unsafe_archive", "too-many-entries"),
        case(too_much_in_total, "plan.docx", "unsafe_archive", "too-much-uncompressed-in-total"),
        case(lambda: docx_with({"../evil.xml": b"x"}), "plan.docx", "unsafe_archive", "dot-dot"),
        case(lambda: docx_with({"word/../../evil.xml": b"x"}), "plan.docx", "unsafe_archive",
                "dot-dot-inside"),
        case(lambda: docx_with({"..\\evil.xml": b"x"}), "plan.docx", "unsafe_archive",
                "dot-dot-backslash"),
        case(lambda: docx_with({"/etc/cron.d/evil": b"x"}), "plan.docx", "unsafe_archive", "absolute"),
        case(lambda: docx_with({"\\evil.xml": b"x"}), "plan.docx", "unsafe_archive",
                "absolute-backslash"),
        case(lambda: docx_with({"C:/evil.xml": b"x"}), "plan.docx", "unsafe_archive", "drive-letter"),
    ],
)
def test_refuses_with_reason(build, filename, reason):
    with pytest.raises(DocumentRejected) as refused:
        inspect(build(), filename)
    assert refused.value.reason == reason


def test_too_large_is_checked_before_the_name_and_the_content():
    with pytest.raises(DocumentRejected) as refused:
        inspect(b"x" * 11, "plan.exe", max_bytes=10)
    assert refused.value.reason == "too_large"


def test_dots_inside_a_part_name_are_not_traversal():
    assert inspect(docx_with({"word/media/a..b.png": b"x"}), "plan.docx").extension == "docx"


def test_archives_are_judged_without_reading_any_member(monkeypatch):
    bomb = zip_bomb()  # built first: writing a zip goes through ZipFile.open too

    def no_reading(*args, **kwargs):
        raise AssertionError("a member was read")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    monkeypatch.setattr(zipfile.ZipFile, "extract", no_reading)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", no_reading)
    assert inspect(DOCX, "plan.docx").extension == "docx"
    with pytest.raises(DocumentRejected) as refused:
        inspect(bomb, "plan.docx")
    assert refused.value.reason == "unsafe_archive"


@pytest.mark.parametrize("original", [pytest.param(DOCX, id="docx"), pytest.param(XLSX, id="xlsx")])
def test_damaged_archives_never_escape_as_other_errors(original):
    # Whatever bytes are cut or flipped, the only outcomes are a Document or a named refusal.
    extension = "docx" if original is DOCX else "xlsx"
    rng = random.Random(20250601)
    samples = [original[:cut] for cut in range(1, len(original), 7)]
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        samples.append(bytes(data))
    for data in samples:
        try:
            inspect(data, f"plan.{extension}")
        except DocumentRejected as refused:
            assert refused.reason in {"corrupt", "content_mismatch", "unsafe_archive"}
