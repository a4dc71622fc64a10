"""Checking uploaded class-opening documents (teaching plan, syllabus, course schedule).

An upload is accepted only if its bytes are what its extension claims: a PDF has the PDF header
and an end-of-file marker; a DOCX or XLSX is a ZIP holding the OOXML parts of that kind. Archives
are judged from their central directory alone (nothing is decompressed or extracted), and ones
that would expand into far more than they weigh (zip bombs) or name paths outside their root are
refused. The client's filename is reduced to a safe display name; storage keys must not use it.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import unicodedata
import zipfile
from dataclasses import dataclass

from server.adapters.errors import Rejected

MAX_BYTES = 10 * 1024 * 1024  # 10 MiB default limit
ALLOWED = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_FILENAME_CHARS = 120

# PDF readers tolerate some bytes before the header; Adobe's implementation notes allow 1024.
PDF_HEADER = b"%PDF-"
PDF_HEADER_WINDOW = 1024
PDF_EOF = b"%%EOF"
PDF_EOF_WINDOW = 2 * 1024

# Zip-bomb limits. Real teaching plans hold a few dozen parts and expand to a few MiB.
MAX_ENTRIES = 2000
MAX_TOTAL_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 200
RATIO_APPLIES_ABOVE = 1024 * 1024  # small XML parts of repetitive markup legitimately compress hard

ZIP_LOCAL_HEADER = b"PK\x03\x04"
ZIP_CENTRAL_HEADER = b"PK\x01\x02"

# The part that makes an OPC package a Word document or an Excel workbook.
MAIN_PARTS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
CONTENT_TYPES_PART = "[Content_Types].xml"

# Cc: C0/C1 controls; Cf: format chars such as U+202E (right-to-left override, used to disguise
# "gpj.exe" as "exe.jpg") and zero-width spaces; Zl/Zp: line/paragraph separators; Cs: lone
# surrogates, which cannot be encoded as UTF-8 for the database or a Content-Disposition header.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_DRIVE = re.compile(r"^[A-Za-z]:")
# What zipfile raises on a damaged central directory; NotImplementedError is for the "version
# needed to extract" field, which a flipped byte can push past what zipfile supports.
_UNREADABLE_ZIP = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error,
                   NotImplementedError)


class DocumentRejected(Rejected):
    """The document was refused. `reason` is one of "empty", "too_large",
    "unsupported_extension", "content_mismatch", "corrupt", "unsafe_archive"."""


@dataclass(frozen=True)
class Document:
    filename: str  # cleaned display name: basename only, at most 120 characters, extension kept
    extension: str  # "pdf" | "docx" | "xlsx"
    media_type: str
    size: int
    sha256: str  # hex


def inspect(data: bytes, filename: str, *, max_bytes: int = MAX_BYTES) -> Document:
    """Check an upload against its claimed type and describe it; raise DocumentRejected if not."""
    if not data:
        raise DocumentRejected("empty")
    if len(data) > max_bytes:
        raise DocumentRejected("too_large")
    name, extension = _split_name(_clean_filename(filename))
    if extension == "pdf":
        _check_pdf(data)
    else:
        _check_ooxml(data, extension)
    return Document(
        filename=_shorten(name, extension),
        extension=extension,
        media_type=ALLOWED[extension],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _clean_filename(filename: str) -> str:
    """The client's name reduced to a base name without control characters (may be empty)."""
    name = unicodedata.normalize("NFC", filename or "")  # macOS sends decomposed (NFD) names
    # Drop controls before splitting, so "dir/\n" cannot hide a separator behind a newline.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    # Browsers on Windows (old IE/Edge) send the full client path; either separator may appear.
    return re.split(r"[/\\]", name)[-1].strip()


def _split_name(name: str) -> tuple[str, str]:
    stem, dot, extension = name.rpartition(".")
    # Only the last suffix counts, so "plan.pdf.exe" is an .exe; ".pdf" alone has no name at all.
    if not dot or not stem.strip() or extension.lower() not in ALLOWED:
        raise DocumentRejected("unsupported_extension")
    return name, extension.lower()


def _shorten(name: str, extension: str) -> str:
    if len(name) <= MAX_FILENAME_CHARS:
        return name
    suffix = name[-(len(extension) + 1):]  # the extension as the client spelled it, with its dot
    return name[: MAX_FILENAME_CHARS - len(suffix)].rstrip() + suffix


def _check_pdf(data: bytes) -> None:
    header_at = data.find(PDF_HEADER, 0, PDF_HEADER_WINDOW + len(PDF_HEADER))
    # The leading-garbage allowance must not let a ZIP that stores a PDF pass as a PDF.
    if header_at < 0 or (header_at > 0 and data.startswith(ZIP_LOCAL_HEADER)):
        raise DocumentRejected("content_mismatch")
    if PDF_EOF not in data[-PDF_EOF_WINDOW:]:
        raise DocumentRejected("corrupt")  # truncated upload, most likely


def _check_ooxml(data: bytes, extension: str) -> None:
    # OOXML files always begin with a local file header; zipfile would also accept an archive
    # appended to something else (a PDF, an .exe), which is not what the extension claims.
    if not data.startswith(ZIP_LOCAL_HEADER):
        raise DocumentRejected("content_mismatch")
    # zipfile builds an object per central-directory entry before we can count them, so bound
    # the count first: every entry it parses starts with this signature at its own offset.
    if data.count(ZIP_CENTRAL_HEADER) > MAX_ENTRIES:
        raise DocumentRejected("unsafe_archive")
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        raise DocumentRejected("corrupt")  # starts like a ZIP but has no end record: truncated
    try:
        # Opening reads only the end record and the central directory; no member is read.
        with zipfile.ZipFile(buffer) as archive:
            entries = archive.infolist()
    except _UNREADABLE_ZIP:
        raise DocumentRejected("corrupt") from None
    _check_archive_safety(entries)
    # OPC part names compare case-insensitively (ECMA-376 Part 2, Open Packaging Conventions).
    names = {entry.filename.lower() for entry in entries}
    if CONTENT_TYPES_PART.lower() not in names or MAIN_PARTS[extension] not in names:
        raise DocumentRejected("content_mismatch")


def _check_archive_safety(entries: list[zipfile.ZipInfo]) -> None:
    """Refuse archives whose declared sizes or names would be dangerous to expand later."""
    if len(entries) > MAX_ENTRIES:
        raise DocumentRejected("unsafe_archive")
    if sum(entry.file_size for entry in entries) > MAX_TOTAL_UNCOMPRESSED:
        raise DocumentRejected("unsafe_archive")
    for entry in entries:
        if entry.file_size > RATIO_APPLIES_ABOVE and entry.file_size > MAX_RATIO * entry.compress_size:
            raise DocumentRejected("unsafe_archive")
        if _escapes_root(entry.filename):
            raise DocumentRejected("unsafe_archive")


def _escapes_root(name: str) -> bool:
    # Checked with both separators: Windows tools treat "\" as one, and "C:" as a drive.
    return name.startswith(("/", "\\")) or bool(_DRIVE.match(name)) or ".." in re.split(r"[/\\]", name)
