"""The trainee app's check-in (pwa/js/screens/checkin.js, pwa/js/queue.js) in real headless
Chromium on an emulated phone (360×740, touch, zh-CN), with a fake front camera (a Y4M file the
test writes from a Pillow image) and an emulated position: consent first, the distance to the
site, the selfie shrunk on the phone, the check-in sent, queued offline and sent once when the
network is back, a refusal in Chinese. Each journey ends on what the server stored.

The class is built with the API tests' helpers (tests/api/checkin_world.py), which leave the
app's clock five minutes before its first session; the phone's clock is fixed at the same instant
(Playwright's clock), so both sides agree whatever the real time of day.
"""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import delete, select

from server.extensions import db
from server.models import Checkin, ClassSession, ClassSite, FaceConsent
from server.services import clock as app_clock
from tests.api.checkin_world import offset, open_class
from tests.browser.conftest import CHROMIUM
from tests.browser.test_pwa_trainee import CSP_LISTENER, PHONE, sign_in_with_password

pytestmark = pytest.mark.browser

CAMERA_SIZE = (1920, 1440)  # larger than the app sends: it must shrink the photo to 1280 px
QUEUE_JS = "/pwa/js/queue.js"


def write_y4m(path, size=CAMERA_SIZE) -> None:
    """A one-frame Y4M (text header, then the raw I420 planes) of coloured blocks and a face-ish
    disc: Chromium's fake camera loops it."""
    image = Image.new("RGB", (8, 6))
    image.putdata([((x * 37) % 256, (y * 53) % 256, ((x + y) * 29) % 256)
                   for y in range(6) for x in range(8)])
    image = image.resize(size, Image.Resampling.BILINEAR)
    y, u, v = image.convert("YCbCr").split()
    half = (size[0] // 2, size[1] // 2)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F30:1 Ip A1:1 C420jpeg\n".encode())
        out.write(b"FRAME\n" + y.tobytes() + u.resize(half).tobytes() + v.resize(half).tobytes())


@pytest.fixture(scope="module")
def camera_browser(browser, tmp_path_factory):
    """Chromium with a fake camera that shows the Y4M, and media permission prompts answered."""
    video = tmp_path_factory.mktemp("camera") / "selfie.y4m"
    write_y4m(video)
    launched = browser.browser_type.launch(executable_path=str(CHROMIUM), headless=True, args=[
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def world(app, client, clock, live_server):
    """One Huguan trainee scanned into an approved class, five minutes before its first session
    (the app's clock, which the phone's will share); no face consent yet (the phone asks)."""
    with app.app_context():
        built = open_class(client, clock, trainees=1)
        db.session.execute(delete(FaceConsent))
        site = db.session.scalars(select(ClassSite).where(ClassSite.class_id == built.class_id)).one()
        found = SimpleNamespace(base=live_server, session_id=built.sessions[0].id,
                                trainee_id=built.people[0].id, mobile=built.people[0].user.mobile,
                                site=(site.fence_latitude, site.fence_longitude), radius_m=site.radius_m,
                                now=app.extensions["clock"]())
        db.session.commit()
    return found


def phone_at(camera_browser, position, accuracy=15.0):
    context = camera_browser.new_context(**PHONE, permissions=["geolocation", "camera"],
                                         geolocation={"latitude": position[0], "longitude": position[1],
                                                      "accuracy": accuracy})
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    return page


@pytest.fixture
def phone_factory(camera_browser, world):
    pages = []

    def make(position, accuracy=15.0):
        page = phone_at(camera_browser, position, accuracy)
        page.clock.set_fixed_time(world.now)  # the phone's clock is the server's
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.context.close()


# --- helpers ------------------------------------------------------------------------------------

def checkins_of(app, trainee_id: int) -> list[Checkin]:
    with app.app_context():
        rows = list(db.session.scalars(select(Checkin).where(Checkin.trainee_id == trainee_id)))
        db.session.expunge_all()
        return rows


def session_card(page, w):
    return page.locator(f'li.session[data-session-id="{w.session_id}"]')


def open_checkin(page, w) -> None:
    sign_in_with_password(page, w)
    session_card(page, w).locator("button.open-checkin").tap()
    expect(page.locator(".checkin")).to_have_attribute("data-state", "consent")


def give_consent(page) -> None:
    consent = page.locator("#consent")
    expect(consent).to_contain_text("按当地政策保存，一般为两年")
    expect(consent).to_contain_text("扫您的电子券签到")  # the non-face alternative
    page.locator("#consent-give").tap()
    expect(page.locator(".checkin")).to_have_attribute("data-state", "ready")


def take_selfie(page) -> None:
    expect(page.locator("#capture")).to_be_enabled()
    page.wait_for_function("() => document.getElementById('camera').videoWidth > 0")
    page.locator("#capture").tap()
    expect(page.locator("#selfie-preview")).to_be_visible()
    page.wait_for_function("() => document.getElementById('selfie-preview').naturalWidth > 0")
    expect(page.locator("#send-checkin")).to_be_enabled()


def queued(page) -> list[dict]:
    return page.evaluate(f"""async () => (await (await import("{QUEUE_JS}")).all())
      .map((i) => ({{key: i.key, fields: i.fields, bytes: i.photo.size}}))""")


# --- 1. consent, then a check-in at the site with the camera -----------------------------------

def test_consent_then_a_check_in_at_the_site_is_stored_with_a_shrunk_selfie(app, world, phone_factory):
    phone = phone_factory(world.site)
    open_checkin(phone, world)
    give_consent(phone)
    position = phone.locator("#position")
    expect(position).to_have_attribute("data-placement", "inside")
    expect(position).to_contain_text("距培训场地约")
    expect(position).to_contain_text("定位精度约 15 米")
    expect(position).to_contain_text("在培训场地内")
    take_selfie(phone)
    scroll_width, inner_width = phone.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    assert scroll_width <= inner_width

    # What the phone will send: its own JPEG, shrunk from the camera's 1920 × 1440.
    sent_size = tuple(phone.evaluate("() => { const i = document.getElementById('selfie-preview');"
                                     " return [i.naturalWidth, i.naturalHeight]; }"))
    assert max(sent_size) == 1280, sent_size
    assert int(phone.locator("#selfie-preview").get_attribute("data-bytes")) < 600 * 1024
    with phone.expect_response(lambda r: r.url.endswith(f"/sessions/{world.session_id}/checkins")) as answer:
        phone.locator("#send-checkin").tap()
    assert answer.value.status == 201
    request = answer.value.request
    assert "multipart/form-data" in request.headers["content-type"]
    screen = phone.locator(".checkin")
    expect(screen).to_have_attribute("data-state", "done")
    expect(screen).to_contain_text("已打卡（在培训场地内）")

    rows = checkins_of(app, world.trainee_id)
    assert len(rows) == 1
    row = rows[0]
    assert (row.placement, row.offline, str(row.kind)) == ("inside", False, "check_in")
    assert row.accuracy_m == 15.0 and len(row.idempotency_key) == 32
    with app.app_context():
        stored = Image.open(io.BytesIO(app.extensions["store"].get(row.selfie_key)))
        assert stored.format == "JPEG" and stored.size == sent_size  # kept as sent (the fast path)
        consent = db.session.get(FaceConsent, world.trainee_id)
        assert consent is not None and consent.given_at is not None and consent.withdrawn_at is None
        db.session.rollback()
    assert queued(phone) == []

    # 我的打卡记录: the server's record with its thumbnail.
    phone.goto(world.base + "/#/history")
    item = phone.locator(f'li.checkin-row[data-checkin-id="{row.id}"]')
    expect(item).to_contain_text("已打卡")
    expect(item).to_contain_text("场地内")
    phone.wait_for_function("() => { const i = document.querySelector('li.checkin-row img.thumb');"
                            " return i && !i.hidden && i.complete && i.naturalWidth > 0; }")
    assert phone.evaluate("() => window.__csp") == []
    assert phone.console_errors == []


# --- 2. offline: queued as 待上传, sent once when the network is back ---------------------------

def test_offline_the_check_in_is_queued_and_reaches_the_server_exactly_once(app, world, phone_factory):
    phone = phone_factory(world.site)
    open_checkin(phone, world)
    phone.reload()  # now served by the service worker (which lets /api/ through untouched)
    phone.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(phone.locator(".checkin")).to_have_attribute("data-state", "consent")
    give_consent(phone)
    expect(phone.locator("#position")).to_have_attribute("data-placement", "inside")
    take_selfie(phone)

    phone.context.set_offline(True)
    phone.locator("#send-checkin").tap()
    screen = phone.locator(".checkin")
    expect(screen).to_have_attribute("data-state", "pending")
    expect(screen).to_contain_text("待上传")
    assert checkins_of(app, world.trainee_id) == []
    [item] = queued(phone)
    assert item["fields"]["offline"] == "true" and len(item["key"]) == 32 and item["bytes"] > 1000
    assert item["fields"]["captured_at"][-6:] == "+08:00"  # the phone's time, with its offset
    phone.evaluate(f"""async () => {{ window.__kept = (await (await import("{QUEUE_JS}")).all())[0]; }}""")

    # Home, still offline: the session shows the queued check-in.
    phone.locator("button.back").tap()
    expect(session_card(phone, world).locator(".checkin-state")).to_have_text("待上传")

    # Back online: the `online` event sends it; the badge turns to 已打卡.
    phone.context.set_offline(False)
    expect(session_card(phone, world).locator(".checkin-state")).to_have_text("已打卡", timeout=15_000)
    rows = checkins_of(app, world.trainee_id)
    assert len(rows) == 1
    assert rows[0].offline is True and rows[0].idempotency_key == item["key"]
    assert queued(phone) == []

    # The same item sent again (as after a lost answer): the server replays, no second record.
    outcome = phone.evaluate(f"""async () => {{
      const q = await import("{QUEUE_JS}");
      await q.put(window.__kept);
      return q.flush({{force: true}});
    }}""")
    assert outcome[item["key"]]["state"] == "done" and outcome[item["key"]]["replayed"] is True
    assert len(checkins_of(app, world.trainee_id)) == 1
    assert queued(phone) == []
    assert phone.evaluate("() => window.__csp") == []


FLUSH_JS = f"""async () => Object.values(await (await import("{QUEUE_JS}")).flush({{force: true}}))"""


def test_a_network_failure_or_a_5xx_keeps_the_check_in_queued_until_a_retry_sends_it(app, world,
                                                                                       phone_factory):
    """The page's own fetch failing (not the emulated offline mode), then the server failing:
    kept both times, then sent by the queue's retry when the app starts again."""
    phone = phone_factory(world.site)
    open_checkin(phone, world)
    give_consent(phone)
    take_selfie(phone)
    route = f"**/api/v1/sessions/{world.session_id}/checkins"
    phone.route(route, lambda r: r.abort())
    phone.locator("#send-checkin").tap()
    expect(phone.locator(".checkin")).to_have_attribute("data-state", "pending")
    assert checkins_of(app, world.trainee_id) == []
    assert len(queued(phone)) == 1

    phone.unroute(route)
    phone.route(route, lambda r: r.fulfill(status=503, content_type="application/json",
                                           body='{"error": {"code": "SERVER_ERROR", "message": "x"}}'))
    [outcome] = phone.evaluate(FLUSH_JS)
    assert (outcome["state"], outcome["code"]) == ("pending", "SERVER_ERROR")
    [item] = queued(phone)
    assert checkins_of(app, world.trainee_id) == []

    phone.unroute(route)
    phone.reload()  # the app starts again and flushes its queue
    expect(phone.locator(".checkin")).to_have_attribute("data-state", "done", timeout=15_000)
    [row] = checkins_of(app, world.trainee_id)
    assert row.idempotency_key == item["key"] and row.offline is True
    assert queued(phone) == []


def test_an_answer_lost_after_the_server_stored_the_check_in_makes_no_second_record(app, world,
                                                                                     phone_factory):
    """The first attempt reaches the server, but its answer never reaches the phone: the retry
    (now marked offline, so another body under the same key) is told IDEMPOTENCY_KEY_REUSED,
    which the queue knows means its own check-in is recorded."""
    phone = phone_factory(world.site)
    open_checkin(phone, world)
    give_consent(phone)
    take_selfie(phone)
    route = f"**/api/v1/sessions/{world.session_id}/checkins"

    def deliver_then_drop(r):
        r.fetch()  # the server records it…
        r.abort()  # …and the phone hears nothing

    phone.route(route, deliver_then_drop)
    phone.locator("#send-checkin").tap()
    expect(phone.locator(".checkin")).to_have_attribute("data-state", "pending")
    [row] = checkins_of(app, world.trainee_id)
    assert row.offline is False

    phone.unroute(route)
    [outcome] = phone.evaluate(FLUSH_JS)
    assert outcome["state"] == "done"
    expect(phone.locator(".checkin")).to_have_attribute("data-state", "done")
    assert [r.id for r in checkins_of(app, world.trainee_id)] == [row.id]
    assert queued(phone) == []


# --- 3. refusals in Chinese ---------------------------------------------------------------------

def test_a_refused_check_in_shows_its_chinese_message_and_leaves_the_queue(app, world, phone_factory):
    far = offset(900, 90)
    phone = phone_factory(far, accuracy=800)
    open_checkin(phone, world)

    # Refusing consent: told to ask for the institution's e-voucher sign-in.
    phone.locator("#consent-refuse").tap()
    expect(phone.locator("#consent-declined")).to_contain_text("扫电子券为您签到")
    phone.locator("#consent-declined button").tap()
    give_consent(phone)

    position = phone.locator("#position")
    expect(position).to_contain_text("定位精度约 800 米")
    expect(position).to_contain_text("定位精度较差")
    take_selfie(phone)
    phone.locator("#send-checkin").tap()
    screen = phone.locator(".checkin")
    expect(screen).to_have_attribute("data-state", "refused")
    expect(phone.locator("#checkin-status")).to_contain_text("定位不够准确，请到开阔处稍后重试")
    assert checkins_of(app, world.trainee_id) == []
    assert queued(phone) == []  # a definitive refusal leaves the queue

    # Far outside with a good fix: recorded, flagged, and said so.
    phone.context.set_geolocation({"latitude": far[0], "longitude": far[1], "accuracy": 20})
    phone.locator("#locate").tap()
    expect(position).to_have_attribute("data-placement", "outside")
    expect(position).to_contain_text("在培训场地外")
    phone.locator("#send-checkin").tap()
    expect(screen).to_have_attribute("data-state", "done")
    expect(screen).to_contain_text("在培训场地外")
    [row] = checkins_of(app, world.trainee_id)
    assert row.placement == "outside" and "outside_fence" in row.flags

    # A second check-in at the same session: refused, in Chinese.
    phone.evaluate("(id) => { const k = 'skillvoucher.checkin-results';"
                   " const r = JSON.parse(localStorage.getItem(k)); delete r[id];"
                   " localStorage.setItem(k, JSON.stringify(r)); }", str(world.session_id))
    phone.reload()
    expect(screen).to_have_attribute("data-state", "ready")
    take_selfie(phone)
    phone.locator("#send-checkin").tap()
    expect(screen).to_have_attribute("data-state", "refused")
    expect(phone.locator("#checkin-status")).to_contain_text("本课时已打过卡")
    assert len(checkins_of(app, world.trainee_id)) == 1


def test_too_early_is_refused_with_the_time_the_window_opens(app, world, phone_factory):
    with app.app_context():
        session = db.session.get(ClassSession, world.session_id)
        later = world.now.astimezone(app_clock.CHINA) + timedelta(minutes=150)  # the same morning
        session.starts, session.ends = later.time().replace(second=0), (later + timedelta(hours=1)).time()
        db.session.commit()
        opens = (later - timedelta(minutes=30)).strftime("%H:%M")
    phone = phone_factory(world.site)
    open_checkin(phone, world)
    give_consent(phone)
    take_selfie(phone)
    phone.locator("#send-checkin").tap()
    expect(phone.locator(".checkin")).to_have_attribute("data-state", "refused")
    expect(phone.locator("#checkin-status")).to_have_text(f"还没到打卡时间，{opens} 起可以打卡")
    assert checkins_of(app, world.trainee_id) == []
    assert queued(phone) == []
