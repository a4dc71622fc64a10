"""Voucher token sign and verify rates and QR render time (the 8 am scan queue's costs).

    .venv/bin/python bench/tokens.py

Ed25519 via pyjwt + cryptography; QR at error-correction level M via qrcode + Pillow.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.adapters import qrcodes
from server.adapters.signing import KeyRing

ROUNDS = 2000


def timed(fn, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def main() -> None:
    ring = KeyRing(Path(tempfile.mkdtemp()) / "keys").ensure()
    exp = int(time.time()) + 400 * 86400
    token = ring.sign({"v": 9_999_999_999, "exp": exp}, "voucher")
    rows = [
        ("sign a voucher token", timed(lambda: ring.sign({"v": 123456, "exp": exp}, "voucher"), ROUNDS)),
        ("verify a voucher token", timed(lambda: ring.verify(token, "voucher"), ROUNDS)),
        ("render QR PNG (box 6)", timed(lambda: qrcodes.png(token), 200)),
        ("render QR SVG", timed(lambda: qrcodes.svg(token), 200)),
    ]
    print(f"token length {len(token)} chars, QR version {qrcodes.version_for(token)} at level M")
    print(f"{'operation':<28} {'median µs':>10} {'per second':>11}")
    for label, samples in rows:
        median = statistics.median(samples)
        print(f"{label:<28} {median:>10.1f} {1e6 / median:>11.0f}")


if __name__ == "__main__":
    main()
