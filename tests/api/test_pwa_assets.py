"""The trainee app's files as the server serves them (no browser): the policy and caching
headers, content types, the web app manifest and its icons, the service worker's precache list
against pwa/, the vendored libraries against their checksums, and the size budget (the app's
own JS and CSS, gzipped, under 150 KB)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from server import PWA_CSP, PWA_DIR

BUDGET = 150 * 1024  # bytes, gzipped: the app's own JS and CSS, not vendor/
SW = (PWA_DIR / "sw.js").read_text(encoding="utf-8")
SHELL = json.loads("[" + re.search(r"const SHELL = \[\s*SHELL_URL,(.*?)\];", SW, re.S).group(1)
                   .strip().rstrip(",") + "]")
IMPORT = re.compile(r'^\s*(?:import|export)\b[^"\']*?from\s+["\']([^"\']+)["\']'
                    r'|^\s*import\s+["\']([^"\']+)["\']', re.M)


def own_files() -> list[Path]:
    """The trainee app's own JS and CSS: everything under pwa/ but the vendored libraries."""
    return sorted(p for p in PWA_DIR.rglob("*") if p.suffix in (".js", ".mjs", ".css")
                  and "vendor" not in p.relative_to(PWA_DIR).parts)


def test_the_apps_own_js_and_css_gzip_to_under_150_kb():
    files = own_files()
    assert {PWA_DIR / "js" / "app.js", PWA_DIR / "sw.js", PWA_DIR / "css" / "app.css"} <= set(files)
    sizes = {p.relative_to(PWA_DIR).as_posix(): len(gzip.compress(p.read_bytes(), compresslevel=9))
             for p in files}
    total = sum(sizes.values())
    print(f"trainee app JS+CSS: {len(files)} files, {total} bytes gzipped")  # shown with pytest -s
    assert total < BUDGET, sizes


@pytest.mark.parametrize("path", ["/", "/pwa/index.html"])
def test_the_shell_carries_the_policy_and_is_revalidated(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == PWA_CSP
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = dict(part.strip().split(" ", 1) for part in PWA_CSP.split(";"))
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'" and "unsafe" not in PWA_CSP


def test_the_shell_has_no_inline_script_or_style():
    html = (PWA_DIR / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in html and " style=" not in html and re.search(r"\son[a-z]+=", html) is None


def test_the_service_worker_is_served_from_the_root_never_cached(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.decode() == SW


@pytest.mark.parametrize(("path", "mimetype"), [
    ("/pwa/manifest.webmanifest", "application/manifest+json"),
    ("/pwa/js/app.js", "text/javascript"),
    ("/pwa/vendor/qrcode-generator/qrcode.mjs", "text/javascript"),
    ("/pwa/css/app.css", "text/css"),
    ("/pwa/icons/icon-192.png", "image/png"),
])
def test_assets_have_their_content_types(client, path, mimetype):
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == mimetype
    assert response.headers["Cache-Control"] == "no-cache"


def test_a_missing_asset_is_404(client):
    assert client.get("/pwa/js/nothing-here.js").status_code == 404
    assert client.get("/pwa/../server/config.py").status_code == 404


def test_the_manifest_makes_the_app_installable(client):
    manifest = client.get("/pwa/manifest.webmanifest").get_json(force=True)
    assert manifest["name"] == "技能培训电子券" and manifest["lang"] == "zh-CN"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/") and manifest["scope"] == "/"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    sizes = {}
    for icon in manifest["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200 and icon["type"] == "image/png"
        image = Image.open(io.BytesIO(response.data))
        assert image.format == "PNG" and f"{image.width}x{image.height}" == icon["sizes"]
        sizes[icon["sizes"]] = icon
    assert {"192x192", "512x512"} <= set(sizes)


def test_the_icons_are_what_the_committed_script_draws(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_icons", PWA_DIR / "icons" / "make_icons.py")
    make_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icons)
    for size in make_icons.SIZES:
        drawn = make_icons.draw(size)
        committed = Image.open(PWA_DIR / "icons" / f"icon-{size}.png").convert("RGB")
        assert committed.size == (size, size) and list(drawn.getdata()) == list(committed.getdata())


def imports_of(path: Path) -> set[Path]:
    text = path.read_text(encoding="utf-8")
    found = {a or b for a, b in IMPORT.findall(text)}
    return {(path.parent / spec).resolve() for spec in found if spec.startswith(".")}


def test_the_precache_list_is_the_whole_shell_and_only_existing_files(client):
    # Everything the shell page links and every module app.js imports, transitively, is precached.
    html = (PWA_DIR / "index.html").read_text(encoding="utf-8")
    linked = set(re.findall(r'(?:href|src)="(/pwa/[^"]+)"', html))
    todo, modules = [PWA_DIR / "js" / "app.js"], set()
    while todo:
        module = todo.pop()
        if module not in modules:
            modules.add(module)
            todo.extend(imports_of(module))
    needed = linked | {"/pwa/" + m.relative_to(PWA_DIR.resolve()).as_posix() for m in modules}
    manifest = json.loads((PWA_DIR / "manifest.webmanifest").read_text(encoding="utf-8"))
    needed |= {icon["src"] for icon in manifest["icons"]}
    assert needed <= set(SHELL), needed - set(SHELL)
    assert len(SHELL) == len(set(SHELL))
    for url in SHELL:
        assert client.get(url).status_code == 200, url
    assert re.search(r'^const VERSION = "[^"]+";$', SW, re.M)
    assert "await cache.addAll(" in SW  # install waits for the whole list


def test_the_vendored_files_match_their_checksums_and_manifest():
    vendor = PWA_DIR / "vendor"
    listed = {}
    for line in (vendor / "CHECKSUMS").read_text(encoding="utf-8").splitlines():
        digest, rel = line.split("  ", 1)
        listed[rel] = digest
    assert listed
    for rel, digest in listed.items():
        assert hashlib.sha256((vendor / rel).read_bytes()).hexdigest() == digest, rel
    on_disk = {p.relative_to(vendor).as_posix() for p in vendor.rglob("*")
               if p.is_file() and p.parent != vendor}
    assert on_disk == set(listed)  # nothing vendored by hand
    for package in json.loads((vendor / "manifest.json").read_text(encoding="utf-8")):
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]+=*", package["integrity"])
        assert f"{package['name']}/LICENSE" in listed
        assert all(f"{package['name']}/{name}" in listed for name in package["files"])


def test_every_refusal_code_the_app_meets_has_a_chinese_message():
    text = (PWA_DIR / "js" / "messages.zh.js").read_text(encoding="utf-8")
    mapped = set(re.findall(r"^\s+([A-Z_]+): \"", text, re.M))
    for code in ("INVALID_CREDENTIALS", "INVALID_SMS_CODE", "ACCOUNT_LOCKED", "TOKEN_INVALID", "RATE_LIMITED",
                 "VOUCHER_HAS_NO_QR", "VOUCHER_NOT_FOUND", "CHECKIN_DUPLICATE", "FACE_CONSENT_REQUIRED",
                 "POSITION_UNCERTAIN", "INVALID_IDEMPOTENCY_KEY", "SELFIE_TOO_LARGE", "OFFLINE"):
        assert code in mapped, code
    assert all(code in mapped for code in checkin_refusal_codes()), checkin_refusal_codes() - mapped


def checkin_refusal_codes() -> set[str]:
    """Every refusal the check-in API can send (the service, its rules, the geofence, the selfie
    table): the check-in screen shows each in Chinese."""
    server = PWA_DIR.parent / "server"
    codes = set()
    for rel in ("services/checkins.py", "domain/checkins.py", "domain/geofence.py", "api/checkins.py"):
        text = (server / rel).read_text(encoding="utf-8")
        codes |= set(re.findall(r'code\s*=\s*"([A-Z][A-Z_]+)"', text))
        codes |= set(re.findall(r'\("(SELFIE_[A-Z_]+)", "', text))
    # Not met by a trainee's check-in: staff-only actions (reviews, e-voucher sign-ins, purges).
    staff = {"CLASS_NOT_FOUND", "VOUCHER_NOT_IN_CLASS", "VOUCHER_UNAVAILABLE", "VOUCHER_SIGNIN_DUPLICATE",
             "INVALID_DECISION", "CHECKIN_ALREADY_REVIEWED", "SELFIE_PURGED", "LINK_INVALID", "LINK_EXPIRED"}
    return codes - staff
    assert all(re.search(r"[\u4e00-\u9fff]", m) for m in re.findall(r': "([^"]+)"', text))


def test_every_mapped_code_is_one_the_server_can_send():
    """No typo in the map: each code is one the server raises (or the app's own OFFLINE and
    SERVER_ERROR), so a renamed refusal shows up here."""
    server = PWA_DIR.parent / "server"
    sent = set()
    for path in server.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        sent |= set(re.findall(r'code\s*=\s*"([A-Z][A-Z_]+)"', text))
        if path.name == "errors.py":
            sent |= set(re.findall(r'\("([A-Z][A-Z_]+)", "', text))
        # The selfie refusals are a table of (code, message) pairs, and one default pair.
        sent |= set(re.findall(r'\("(SELFIE_[A-Z_]+)", "', text))
    text = (PWA_DIR / "js" / "messages.zh.js").read_text(encoding="utf-8")
    mapped = set(re.findall(r"^\s+([A-Z_]+): \"", text, re.M))
    assert mapped - sent == {"OFFLINE", "SERVER_ERROR"}
