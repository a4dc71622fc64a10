"""Random serial bodies with a check character, for voucher serials and certificate numbers.

Crockford base 32 leaves out I, L, O and U, which are misread on paper; the random part comes
from `secrets` (never `random`); the check character (Luhn mod N) catches every single
mistyped character and most adjacent swaps before a lookup reaches the database.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans("OIL", "011")  # the letters people type for the digits they saw


def check_character(body: str) -> str:
    n, total, factor = len(ALPHABET), 0, 2
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[-total % n]


def new_body(length: int) -> str:
    """`length` random characters and their check character."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return body + check_character(body)


def normalised(raw: str) -> str:
    """Upper case, surrounding space gone, O/I/L read as 0/1/1."""
    return (raw or "").strip().upper().translate(_READ_AS)


def is_valid_body(body: str, length: int) -> bool:
    """`length` characters of the alphabet followed by their right check character."""
    return (len(body) == length + 1 and all(c in ALPHABET for c in body)
            and check_character(body[:-1]) == body[-1])
