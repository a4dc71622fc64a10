"""Vendor the trainee app's few third-party files from the npm registry, pinned and checksummed.

    python pwa/vendor/fetch.py          # fetch (or re-fetch) every package in PACKAGES
    python pwa/vendor/fetch.py --check  # only verify the committed files against CHECKSUMS

For each pinned package: `npm view <name>@<version> dist.tarball dist.integrity` gives the
registry's tarball and its sha512; the tarball is downloaded, its sha512 compared with the
integrity string, and only the files listed (plus the package's licence) are extracted into
pwa/vendor/<name>/. CHECKSUMS (sha256 of every vendored file, `sha256sum -c` format) and
manifest.json (name, version, npm spec, integrity, files) are rewritten. The results are
committed, so running the app needs no npm; never copy a vendored file by hand.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (version, {file in the package: name in pwa/vendor/<name>/})
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    # QR renderer for the voucher screen (MIT, Kazuhiko Arase): an ES module, default export.
    "qrcode-generator": ("2.0.4", {"dist/qrcode.mjs": "qrcode.mjs"}),
}
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license", "license.md")

MIT_TEXT = """MIT License

{copyright}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def npm_view(spec: str) -> dict:
    out = subprocess.run(["npm", "view", spec, "dist.tarball", "dist.integrity", "license", "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def verify_integrity(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"unsupported integrity {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"integrity mismatch: registry says {expected}, tarball is {actual}")


def licence_text(members: dict[str, bytes], package_json: dict, main_file: bytes) -> tuple[str, str]:
    """The package's own licence file; failing that (qrcode-generator ships none), the MIT text
    with the copyright line from the file's own header, when package.json says MIT."""
    for name in LICENCE_NAMES:
        if f"package/{name}" in members:
            return members[f"package/{name}"].decode(), name
    if package_json.get("license") != "MIT":
        raise SystemExit(f"no licence file and licence {package_json.get('license')!r} is not MIT")
    copyright_lines = [line.strip("/ \t") for line in main_file.decode().splitlines()[:40]
                       if "Copyright" in line]
    if not copyright_lines:
        raise SystemExit("no licence file and no copyright line in the file's header")
    note = ("(The npm package ships no licence file; this text is the MIT licence named in its\n"
            "package.json, with the copyright line from the vendored file's header.)\n\n")
    return note + MIT_TEXT.format(copyright=copyright_lines[0]), "package.json + file header"


def fetch(name: str, version: str, files: dict[str, str]) -> dict:
    info = npm_view(f"{name}@{version}")
    tarball, integrity = info["dist.tarball"], info["dist.integrity"]
    with urllib.request.urlopen(tarball, timeout=60) as response:  # the URL npm gave for this version
        data = response.read()
    verify_integrity(data, integrity)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    package_json = json.loads(members["package/package.json"])
    if package_json.get("version") != version:
        raise SystemExit(f"{name}: tarball is version {package_json.get('version')}, expected {version}")
    target = HERE / name
    target.mkdir(exist_ok=True)
    written = []
    for source, dest in files.items():
        (target / dest).write_bytes(members[f"package/{source}"])
        written.append(dest)
    text, licence_source = licence_text(members, package_json, members[f"package/{next(iter(files))}"])
    (target / "LICENSE").write_text(text, encoding="utf-8")
    written.append("LICENSE")
    return {"name": name, "version": version, "license": package_json.get("license"),
            "spec": f"{name}@{version}", "integrity": integrity, "licence_from": licence_source,
            "files": {dest: source for source, dest in files.items()}}


def vendored_files() -> list[Path]:
    return sorted(p for name in PACKAGES for p in (HERE / name).iterdir() if p.is_file())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check() -> int:
    expected = {}
    for line in (HERE / "CHECKSUMS").read_text().splitlines():
        digest, _, rel = line.partition("  ")
        expected[rel] = digest
    actual = {p.relative_to(HERE).as_posix(): sha256(p) for p in vendored_files()}
    if expected != actual:
        print("vendored files differ from CHECKSUMS: run pwa/vendor/fetch.py", file=sys.stderr)
        return 1
    print(f"{len(actual)} vendored files match CHECKSUMS")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the files against CHECKSUMS")
    if parser.parse_args().check:
        return check()
    manifest = [fetch(name, version, files) for name, (version, files) in sorted(PACKAGES.items())]
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    lines = [f"{sha256(p)}  {p.relative_to(HERE).as_posix()}" for p in vendored_files()]
    (HERE / "CHECKSUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
