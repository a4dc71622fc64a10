"""The check-in rules a trainee or a supervisor notices, through the API: idempotent retries, every
refusal with its own code (and no row, no file left behind), offline uploads, each flag on the
check-in that should carry it, a site typed in WGS-84, reviews, selfie links, purging, consent and
the recompute-flags command."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlparse

import jwt
import pytest
from geopy.distance import geodesic
from PIL import Image, ImageCms
from sqlalchemy import func, select

from server.domain.access import Role
from server.domain.geofence import Datum
from server.extensions import db
from server.models import AuditEvent, Checkin, ClassSession
from server.services import clock as server_clock
from tests.api.checkin_world import RADIUS_M, SITE, at_start, check_in, offset, open_class, photo
from tests.factories import login, make_staff, pdf_bytes

CHECKINS = "/api/v1/checkins"


@pytest.fixture
def world(client, ctx, clock):
    return open_class(client, clock)


# --- helpers ---------------------------------------------------------------------------------


def error(response) -> tuple[int, str | None]:
    """(status, error code); the code is None when the request succeeded."""
    return response.status_code, (response.json or {}).get("error", {}).get("code")


def rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Checkin))


def selfie_files(app) -> set[str]:
    """Every file under the storage folder's selfies/ (the folder lives as long as the test run,
    so a test compares before and after)."""
    root = Path(urlparse(app.config["STORAGE_URL"]).path) / "selfies"
    if not root.exists():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def at_end(clock, session, minutes: int) -> datetime:
    """Set the clock to `minutes` from the session's end (China time)."""
    when = datetime.combine(session.day, session.ends, tzinfo=server_clock.CHINA) + timedelta(minutes=minutes)
    clock.set(when)
    return when


def fields(**changes) -> dict:
    """A complete, honest check-in form; a value of None leaves that field out."""
    form = {"kind": "check_in", "latitude": str(SITE[0]), "longitude": str(SITE[1]), "accuracy_m": "15",
            "captured_at": server_clock.now().isoformat(), "device_id": "phone-raw",
            "idempotency_key": "raw-key-00000001", "offline": "false"}
    for name, value in changes.items():
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
    return form


_PHOTO = b"<an honest photo>"


def post(client, headers, session_id: int, form: dict, selfie: bytes | None = _PHOTO, *,
         media_type: str = "image/jpeg", filename: str = "selfie.jpg"):
    """Post a check-in form as given; `selfie=None` sends no file part at all."""
    data = dict(form)
    if selfie is not None:
        data["selfie"] = (io.BytesIO(photo(7) if selfie is _PHOTO else selfie), filename, media_type)
    return client.post(f"/api/v1/sessions/{session_id}/checkins", headers=headers, data=data,
                       content_type="multipart/form-data")


def png(size=(320, 480)) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(photo(3))).resize(size).save(out, "PNG")
    return out.getvalue()


def jpeg(size) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def bomb_png(side: int = 30_000) -> bytes:
    """A 30,000 × 30,000 one-bit PNG of zeros: about 110 KB on the wire, 900 megapixels decoded.
    (What Image.new("1", …).save(optimize=True) writes, built row by row so the test does not
    hold the 900 MB image itself.)"""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (side + 7) // 8)  # filter byte 0, then the row's bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def phone_photo(seed: int) -> bytes:
    """A selfie as phones send it: EXIF with the GPS position and an orientation, and an ICC profile."""
    image = Image.open(io.BytesIO(photo(seed)))  # 960 × 1280
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"
    exif[0x0112] = 6  # rotate 90° clockwise to show upright
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (36.0, 6.0, 46.08), 3: "E", 4: (113.0, 12.0, 27.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif.tobytes(), icc_profile=icc)
    return out.getvalue()


def other_region_supervisor(client) -> dict:
    return login(client, username=make_staff(Role.BUREAU_SUPERVISOR, region_code="141121").username)


def audit_actions(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


# --- idempotency, duplicates, sign-out ----------------------------------------------------------


def test_a_retry_with_the_same_key_and_body_replays_the_first_answer(client, app, world, clock):
    trainee, session = world.headers.trainees[0], world.sessions[0]
    before = selfie_files(app)
    captured = server_clock.now()
    first = check_in(client, trainee, session.id, key="retry-key-0001", seed=11, captured=captured)
    assert first.status_code == 201, first.json
    assert "Idempotent-Replayed" not in first.headers
    stored = selfie_files(app) - before
    assert len(stored) == 2  # the selfie and its thumbnail

    again = check_in(client, trainee, session.id, key="retry-key-0001", seed=11, captured=captured)
    assert again.status_code == 200, again.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert rows() == 1 and selfie_files(app) - before == stored

    # The phone got no answer and retried after the window closed: still the first answer.
    at_start(clock, session, minutes=40)
    late = check_in(client, trainee, session.id, key="retry-key-0001", seed=11, captured=captured)
    assert late.status_code == 200 and late.json["id"] == first.json["id"]
    assert rows() == 1


def test_the_same_key_with_another_body_is_refused(client, app, world):
    trainee, session = world.headers.trainees[0], world.sessions[0]
    first = check_in(client, trainee, session.id, key="retry-key-0002", seed=12)
    assert first.status_code == 201
    before = selfie_files(app)
    for changed in ({"accuracy": 16.0}, {"seed": 13}, {"position": offset(10)}, {"device": "device-2"}):
        response = check_in(client, trainee, session.id, key="retry-key-0002", **({"seed": 12} | changed))
        assert error(response) == (409, "IDEMPOTENCY_KEY_REUSED"), changed
    assert rows() == 1 and selfie_files(app) == before


def test_the_same_key_and_body_at_another_session_is_not_a_replay(client, world, clock):
    """A key names one request, and a request includes the session it is sent to: replaying the
    morning's check-in as the answer to an afternoon check-in would tell the trainee they checked
    in when nothing was recorded for the afternoon."""
    trainee = world.headers.trainees[0]
    morning, afternoon = world.sessions[0], world.sessions[1]
    captured = server_clock.now()
    first = check_in(client, trainee, morning.id, key="same-key-both", seed=14, captured=captured)
    assert first.status_code == 201
    at_start(clock, afternoon)
    response = check_in(client, trainee, afternoon.id, key="same-key-both", seed=14, captured=captured)
    assert response.json.get("session_id") != morning.id, "the morning's check-in answered the afternoon's"
    assert error(response) == (409, "IDEMPOTENCY_KEY_REUSED")


def test_a_second_check_in_at_a_session_is_a_duplicate(client, app, world):
    trainee, session = world.headers.trainees[0], world.sessions[0]
    assert check_in(client, trainee, session.id, key="first-key-001", seed=15).status_code == 201
    before = selfie_files(app)
    response = check_in(client, trainee, session.id, key="second-key-01", seed=16)
    assert error(response) == (409, "CHECKIN_DUPLICATE")
    assert rows() == 1 and selfie_files(app) == before


def test_a_sign_out_is_its_own_record_in_its_own_window(client, world, clock):
    trainee, session = world.headers.trainees[0], world.sessions[0]  # 08:30–11:30
    checked = check_in(client, trainee, session.id, seed=17)
    assert checked.status_code == 201 and checked.json["kind"] == "check_in"

    at_end(clock, session, -11)
    early = check_in(client, trainee, session.id, seed=18, kind="sign_out")
    assert error(early) == (422, "CHECKIN_OUTSIDE_WINDOW")
    assert early.json["error"]["details"]["reason"] == "early"
    at_end(clock, session, 31)
    late = check_in(client, trainee, session.id, seed=18, kind="sign_out", key="sign-out-late")
    assert error(late) == (422, "CHECKIN_OUTSIDE_WINDOW")
    assert late.json["error"]["details"]["reason"] == "late"
    assert rows() == 1

    at_end(clock, session, -10)
    signed = check_in(client, trainee, session.id, seed=18, kind="sign_out", key="sign-out-ok1")
    assert signed.status_code == 201, signed.json
    assert signed.json["kind"] == "sign_out" and signed.json["id"] != checked.json["id"]
    assert signed.json["session_id"] == session.id and signed.json["flags"] == []
    again = check_in(client, trainee, session.id, seed=19, kind="sign_out", key="sign-out-ok2")
    assert error(again) == (409, "CHECKIN_DUPLICATE")
    assert rows() == 2

    # The end of the session is far outside the check-in window.
    other = world.headers.trainees[1]
    refused = check_in(client, other, session.id, seed=20, device="device-b")
    assert error(refused) == (422, "CHECKIN_OUTSIDE_WINDOW")
    # …and the sign-out window stays open until 30 minutes after the end.
    at_end(clock, session, 30)
    assert check_in(client, other, session.id, seed=20, device="device-b", kind="sign_out").status_code == 201


# --- bad input: its own code, no row, no file ---------------------------------------------------

FIELD_REFUSALS = [
    ({"latitude": "nan"}, "INVALID_COORDINATES"),
    ({"latitude": "inf"}, "INVALID_COORDINATES"),
    ({"latitude": "-inf"}, "INVALID_COORDINATES"),
    ({"latitude": "91"}, "INVALID_COORDINATES"),
    ({"latitude": "-91"}, "INVALID_COORDINATES"),
    ({"longitude": "181"}, "INVALID_COORDINATES"),
    ({"longitude": "abc"}, "INVALID_COORDINATES"),
    ({"latitude": None}, "INVALID_COORDINATES"),
    ({"longitude": None}, "INVALID_COORDINATES"),
    ({"latitude": ""}, "INVALID_COORDINATES"),
    ({"latitude": "0", "longitude": "0"}, "INVALID_COORDINATES"),
    ({"accuracy_m": "-1"}, "INVALID_ACCURACY"),
    ({"accuracy_m": "nan"}, "INVALID_ACCURACY"),
    ({"accuracy_m": "inf"}, "INVALID_ACCURACY"),
    ({"accuracy_m": None}, "INVALID_ACCURACY"),
    ({"accuracy_m": "600"}, "ACCURACY_TOO_POOR"),
    ({"accuracy_m": "500.5"}, "ACCURACY_TOO_POOR"),
    ({"captured_at": "yesterday"}, "INVALID_CLIENT_TIME"),
    ({"captured_at": None}, "INVALID_CLIENT_TIME"),
    ({"captured_at": "2026-03-10T08:25:00"}, "INVALID_CLIENT_TIME"),  # no time zone
    ({"device_id": None}, "INVALID_DEVICE_ID"),
    ({"device_id": ""}, "INVALID_DEVICE_ID"),
    ({"idempotency_key": "short"}, "INVALID_IDEMPOTENCY_KEY"),
    ({"idempotency_key": "k" * 65}, "INVALID_IDEMPOTENCY_KEY"),
    ({"idempotency_key": None}, "INVALID_IDEMPOTENCY_KEY"),
    ({"kind": "lunch"}, "INVALID_CHECKIN_KIND"),
]


@pytest.mark.parametrize("changes,code", FIELD_REFUSALS,
                         ids=[f"{code}-{'-'.join(f'{k}={v}' for k, v in c.items())}"[:60]
                              for c, code in FIELD_REFUSALS])
def test_bad_fields_are_refused_with_their_own_code(client, app, world, changes, code):
    before = selfie_files(app)
    response = post(client, world.headers.trainees[0], world.sessions[0].id, fields(**changes))
    assert error(response) == (422, code), response.json
    assert rows() == 0 and selfie_files(app) == before


def test_the_accuracy_limit_itself_is_accepted(client, world):
    response = post(client, world.headers.trainees[0], world.sessions[0].id, fields(accuracy_m="500"))
    assert response.status_code == 201, response.json
    # The 500 m circle around the site is wider than the 200 m fence: uncertain, and poor.
    assert response.json["flags"] == ["uncertain_position", "poor_accuracy"]


def test_a_blank_device_id_is_refused(client, app, world):
    """A device id of spaces is stored blank, and a blank id ties no check-ins together: two
    trainees on one phone sending spaces would never be flagged shared_device."""
    before = selfie_files(app)
    response = post(client, world.headers.trainees[0], world.sessions[0].id, fields(device_id="   "))
    assert error(response) == (422, "INVALID_DEVICE_ID"), response.json
    assert rows() == 0 and selfie_files(app) == before


SELFIE_REFUSALS = [
    ("empty", b"", "image/jpeg", "selfie.jpg", 422, "SELFIE_MISSING"),
    ("pdf-renamed", pdf_bytes(), "image/jpeg", "selfie.jpg", 422, "SELFIE_NOT_AN_IMAGE"),
    ("png-as-jpeg", png(), "image/jpeg", "selfie.jpg", 422, "SELFIE_TYPE_MISMATCH"),
    ("truncated", photo(8)[:4000], "image/jpeg", "selfie.jpg", 422, "SELFIE_CORRUPT"),
    ("tiny", jpeg((48, 48)), "image/jpeg", "selfie.jpg", 422, "SELFIE_TOO_SMALL"),
    ("bomb", bomb_png(), "image/png", "selfie.png", 422, "SELFIE_TOO_MANY_PIXELS"),
    ("6mb", b"\xff\xd8\xff\xe0" + bytes(6 * 1024 * 1024), "image/jpeg", "selfie.jpg", 413,
     "SELFIE_TOO_LARGE"),
    ("13mb-body", b"\xff\xd8\xff\xe0" + bytes(13 * 1024 * 1024), "image/jpeg", "selfie.jpg", 413,
     "PAYLOAD_TOO_LARGE"),
]


@pytest.mark.parametrize("name,data,media_type,filename,status,code", SELFIE_REFUSALS,
                         ids=[case[0] for case in SELFIE_REFUSALS])
def test_bad_selfies_are_refused_with_their_own_code(client, app, world, name, data, media_type, filename,
                                                     status, code):
    before = selfie_files(app)
    response = post(client, world.headers.trainees[0], world.sessions[0].id, fields(), data,
                    media_type=media_type, filename=filename)
    assert error(response) == (status, code), response.json
    assert rows() == 0 and selfie_files(app) == before


def test_no_selfie_at_all_is_refused(client, app, world):
    before = selfie_files(app)
    response = post(client, world.headers.trainees[0], world.sessions[0].id, fields(), None)
    assert error(response) == (422, "SELFIE_MISSING")
    assert rows() == 0 and selfie_files(app) == before


def test_a_png_or_an_undeclared_type_is_accepted_by_its_content(client, world):
    response = post(client, world.headers.trainees[0], world.sessions[0].id, fields(), png(),
                    media_type="image/png", filename="selfie.png")
    assert response.status_code == 201, response.json
    response = post(client, world.headers.trainees[1], world.sessions[0].id,
                    fields(device_id="phone-2", idempotency_key="raw-key-00000002",
                           latitude=str(offset(8)[0]), longitude=str(offset(8)[1])),
                    photo(9), media_type="application/octet-stream", filename="blob")
    assert response.status_code == 201, response.json


def test_a_session_of_another_class_is_refused(client, app, ctx, clock):
    ours = open_class(client, clock, trainees=1)
    theirs = open_class(client, clock, trainees=1)
    before = selfie_files(app)
    response = check_in(client, ours.headers.trainees[0], theirs.sessions[0].id)
    assert error(response) == (403, "CHECKIN_NOT_IN_CLASS")
    assert rows() == 0 and selfie_files(app) == before


def test_an_unknown_session_is_not_found(client, app, world):
    before = selfie_files(app)
    response = check_in(client, world.headers.trainees[0], world.sessions[-1].id + 1000)
    assert error(response) == (404, "SESSION_NOT_FOUND")
    assert rows() == 0 and selfie_files(app) == before


@pytest.mark.parametrize("minutes,reason", [(-31, "early"), (16, "late"), (-120, "early"), (90, "late")])
def test_outside_the_check_in_window_is_refused(client, app, world, clock, minutes, reason):
    session = world.sessions[0]
    at_start(clock, session, minutes)
    before = selfie_files(app)
    response = check_in(client, world.headers.trainees[0], session.id)
    assert error(response) == (422, "CHECKIN_OUTSIDE_WINDOW")
    details = response.json["error"]["details"]
    starts = datetime.combine(session.day, session.starts, tzinfo=server_clock.CHINA)
    assert details["reason"] == reason
    assert datetime.fromisoformat(details["opens"]) == starts - timedelta(minutes=30)
    assert datetime.fromisoformat(details["closes"]) == starts + timedelta(minutes=15)
    assert rows() == 0 and selfie_files(app) == before


@pytest.mark.parametrize("minutes", [-30, 15])
def test_the_window_includes_both_ends(client, world, clock, minutes):
    at_start(clock, world.sessions[0], minutes)
    response = check_in(client, world.headers.trainees[0], world.sessions[0].id)
    assert response.status_code == 201, response.json


def test_a_revoked_voucher_cannot_check_in(client, app, world):
    voucher = world.vouchers[0]
    revoked = client.post(f"/api/v1/vouchers/{voucher.id}/revoke", headers=world.headers.reviewer,
                          json={"reason": "冒名参训，经查属实"})
    assert revoked.status_code == 200 and revoked.json["state"] == "revoked", revoked.json
    before = selfie_files(app)
    response = check_in(client, world.headers.trainees[0], world.sessions[0].id)
    assert error(response) == (409, "CHECKIN_VOUCHER_REVOKED")
    assert rows() == 0 and selfie_files(app) == before


def test_without_consent_there_is_no_selfie_check_in(client, app, world):
    trainee = world.headers.trainees[0]
    assert client.put("/api/v1/me/face-consent", headers=trainee, json={"give": False}).status_code == 200
    before = selfie_files(app)
    response = check_in(client, trainee, world.sessions[0].id)
    assert error(response) == (409, "FACE_CONSENT_REQUIRED")
    assert rows() == 0 and selfie_files(app) == before
    assert client.put("/api/v1/me/face-consent", headers=trainee, json={"give": True}).status_code == 200
    assert check_in(client, trainee, world.sessions[0].id).status_code == 201


def test_staff_cannot_check_in(client, app, world):
    before = selfie_files(app)
    for headers in (world.headers.institution, world.headers.supervisor):
        response = check_in(client, headers, world.sessions[0].id)
        assert response.status_code == 403, response.json
    assert rows() == 0 and selfie_files(app) == before


# --- offline uploads ------------------------------------------------------------------------


def test_an_offline_check_in_uploaded_after_the_window_counts_when_it_was_taken(client, world, clock):
    session = world.sessions[0]  # window 08:00–08:45
    captured = at_start(clock, session, 5)  # 08:35, no signal in the classroom
    received = at_start(clock, session, 15 + 120)  # two hours after the window closed
    response = check_in(client, world.headers.trainees[0], session.id, captured=captured, offline=True)
    assert response.status_code == 201, response.json
    body = response.json
    assert datetime.fromisoformat(body["counted_at"]) == captured
    assert datetime.fromisoformat(body["captured_at"]) == captured
    assert datetime.fromisoformat(body["received_at"]) == received
    assert body["offline"] is True
    assert body["flags"] == ["late_submission"] and body["flag_labels"] == ["离线缓存后迟到上传"]


@pytest.mark.parametrize("hours,accepted", [(12, True), (13, False)])
def test_an_offline_check_in_must_arrive_within_twelve_hours(client, world, clock, hours, accepted):
    session = world.sessions[0]
    captured = at_start(clock, session, 5)
    clock.set(captured + timedelta(hours=hours))
    response = check_in(client, world.headers.trainees[0], session.id, captured=captured, offline=True)
    if accepted:
        assert response.status_code == 201, response.json
    else:
        assert error(response) == (422, "CHECKIN_OUTSIDE_WINDOW")
        assert response.json["error"]["details"]["reason"] == "offline_too_long"
        assert rows() == 0


def test_an_online_check_in_after_the_window_is_refused_whatever_the_phone_says(client, world, clock):
    session = world.sessions[0]
    captured = at_start(clock, session, 5)
    at_start(clock, session, 15 + 120)
    response = check_in(client, world.headers.trainees[0], session.id, captured=captured, offline=False)
    assert error(response) == (422, "CHECKIN_OUTSIDE_WINDOW")
    assert response.json["error"]["details"]["reason"] == "late"
    assert rows() == 0


def test_an_offline_check_in_taken_outside_the_window_is_refused(client, world, clock):
    session = world.sessions[0]
    captured = at_start(clock, session, 40)  # taken after the window closed
    at_start(clock, session, 60)
    response = check_in(client, world.headers.trainees[0], session.id, captured=captured, offline=True)
    assert error(response) == (422, "CHECKIN_OUTSIDE_WINDOW")
    assert response.json["error"]["details"]["reason"] == "captured_outside_window"


# --- flags ------------------------------------------------------------------------------------


def test_a_clean_check_in_carries_no_flag(client, world):
    response = check_in(client, world.headers.trainees[0], world.sessions[0].id, position=offset(20, 10),
                        accuracy=10, seed=41)
    assert response.status_code == 201, response.json
    assert response.json["placement"] == "inside"
    assert response.json["flags"] == [] and response.json["flag_labels"] == []
    assert response.json["review"] == "none" and response.json["has_selfie"] is True


@pytest.mark.parametrize("metres,accuracy,placement,flags,labels", [
    (1000, 15, "outside", ["outside_fence"], ["不在培训场地范围内"]),
    (195, 15, "uncertain", ["uncertain_position"], ["定位精度圈跨越场地边界"]),
    (0, 150, "inside", ["poor_accuracy"], ["定位精度差"]),
    (0, 100, "inside", [], []),  # the flag starts above 100 m
])
def test_position_flags(client, world, metres, accuracy, placement, flags, labels):
    response = check_in(client, world.headers.trainees[0], world.sessions[0].id, position=offset(metres, 45),
                        accuracy=accuracy)
    assert response.status_code == 201, response.json  # recorded as evidence, not refused
    body = response.json
    assert body["placement"] == placement and abs(body["distance_m"] - metres) < 2
    assert body["flags"] == flags and body["flag_labels"] == labels
    assert rows() == 1


@pytest.mark.parametrize("phone_minutes,flagged", [(-10, True), (10, True), (-4, False)])
def test_a_phone_clock_off_by_more_than_five_minutes_is_flagged(client, world, phone_minutes, flagged):
    captured = server_clock.now() + timedelta(minutes=phone_minutes)
    response = check_in(client, world.headers.trainees[0], world.sessions[0].id, captured=captured)
    assert response.status_code == 201, response.json
    assert response.json["flags"] == (["clock_skew"] if flagged else [])
    if flagged:
        assert response.json["flag_labels"] == ["手机时间与服务器相差超过 5 分钟"]


def test_one_phone_for_two_trainees_is_flagged_on_the_second(client, world):
    session = world.sessions[0].id
    first = check_in(client, world.headers.trainees[0], session, device="shared-phone", seed=61,
                     position=offset(5, 0))
    second = check_in(client, world.headers.trainees[1], session, device="shared-phone", seed=62,
                      position=offset(5, 90))
    assert first.json["flags"] == []
    assert second.json["flags"] == ["shared_device"]
    assert second.json["flag_labels"] == ["同一设备在同一课时为多人打卡"]


def test_the_same_photo_for_two_trainees_is_flagged(client, world):
    session = world.sessions[0].id
    first = check_in(client, world.headers.trainees[0], session, device="phone-a", seed=71,
                     position=offset(5, 0))
    second = check_in(client, world.headers.trainees[1], session, device="phone-b", seed=71,
                      position=offset(5, 90))
    assert first.json["flags"] == []
    assert second.json["flags"] == ["duplicate_selfie"]
    assert second.json["flag_labels"] == ["自拍与他人的几乎相同"]


def test_a_trainee_reusing_an_earlier_photo_is_flagged(client, world, clock):
    trainee = world.headers.trainees[0]
    morning = check_in(client, trainee, world.sessions[0].id, seed=81)
    at_start(clock, world.sessions[1])
    afternoon = check_in(client, trainee, world.sessions[1].id, seed=81)
    assert morning.json["flags"] == []
    assert afternoon.status_code == 201 and afternoon.json["flags"] == ["reused_selfie"]
    assert afternoon.json["flag_labels"] == ["自拍与本人以前的几乎相同"]


@pytest.mark.parametrize("place,position,impossible", [
    ("taiyuan", (37.87, 112.55), False),  # ~205 km in 5.5 h: 37 km/h
    ("beijing", (39.9, 116.4), False),  # ~505 km in 5.5 h: 92 km/h, a fast road but possible
    ("guangzhou", (23.13, 113.26), True),  # ~1,440 km in 5.5 h: 262 km/h
])
def test_impossible_travel_between_sessions(client, world, clock, place, position, impossible):
    trainee = world.headers.trainees[0]
    morning = check_in(client, trainee, world.sessions[0].id, seed=91)  # 08:25 at the site
    at_start(clock, world.sessions[1])  # 13:55
    afternoon = check_in(client, trainee, world.sessions[1].id, seed=92, position=position)
    assert morning.json["flags"] == [] and afternoon.status_code == 201, afternoon.json
    km_per_hour = geodesic(SITE, position).km / 5.5
    assert (km_per_hour > 120) is impossible
    expected = ["outside_fence", "impossible_travel"] if impossible else ["outside_fence"]
    assert afternoon.json["flags"] == expected
    if impossible:
        assert afternoon.json["flag_labels"][-1] == "两次打卡之间移动速度不可能"


def test_three_trainees_at_exactly_the_same_coordinates_are_flagged(client, world):
    session = world.sessions[0].id
    spot = offset(50, 30)
    answers = [check_in(client, world.headers.trainees[n], session, position=spot, device=f"phone-{n}",
                        seed=100 + n) for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.json["flags"] for a in answers] == [[], [], ["crowded_coordinates"]]
    assert answers[2].json["flag_labels"] == ["多名学员坐标完全相同"]


# --- the site's datum ---------------------------------------------------------------------------


def test_a_site_typed_in_wgs84_works_too(client, ctx, clock):
    world = open_class(client, clock, trainees=2, datum=Datum.WGS84)
    inside = check_in(client, world.headers.trainees[0], world.sessions[0].id, position=offset(150, 200),
                      device="phone-a", seed=111)
    assert inside.status_code == 201 and inside.json["placement"] == "inside"
    assert abs(inside.json["distance_m"] - 150) < 2
    outside = check_in(client, world.headers.trainees[1], world.sessions[0].id, position=offset(600, 200),
                       device="phone-b", seed=112)
    assert outside.json["placement"] == "outside" and outside.json["flags"] == ["outside_fence"]


@pytest.mark.parametrize("datum", list(Datum))
def test_the_class_detail_shows_the_datum_the_site_was_typed_in(client, ctx, clock, datum):
    world = open_class(client, clock, trainees=1, datum=datum)
    detail = client.get(f"/api/v1/classes/{world.class_id}", headers=world.headers.institution)
    assert detail.status_code == 200
    site = detail.json["current"]["proposal"]["site"]
    assert site["datum"] == str(datum) and site["radius_m"] == RADIUS_M
    if datum is Datum.WGS84:
        assert (site["latitude"], site["longitude"]) == SITE
    else:  # as typed from the Chinese map, hundreds of metres from the WGS-84 spot
        assert geodesic(SITE, (site["latitude"], site["longitude"])).meters > 400
    bureau = client.get(f"/api/v1/classes/{world.class_id}", headers=world.headers.supervisor)
    assert bureau.json["current"]["proposal"]["site"]["datum"] == str(datum)


# --- reviews --------------------------------------------------------------------------------


def flagged_checkin(client, world, n: int = 0) -> dict:
    response = check_in(client, world.headers.trainees[n], world.sessions[0].id, position=offset(1000, 45),
                        device=f"phone-{n}", seed=120 + n)
    assert response.status_code == 201 and response.json["flags"] == ["outside_fence"]
    return response.json


def test_a_supervisor_accepts_a_flagged_check_in_once(client, world):
    checkin = flagged_checkin(client, world)
    url = f"{CHECKINS}/{checkin['id']}/review"
    accepted = client.post(url, headers=world.headers.supervisor,
                           json={"decision": "accepted", "reason": "  电话核实：在实训楼另一侧上课  "})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["review"] == "accepted"
    assert accepted.json["review_reason"] == "电话核实：在实训楼另一侧上课"
    assert accepted.json["flags"] == ["outside_fence"]  # the flag stays as evidence
    events = audit_actions("checkin.accepted")
    assert len(events) == 1
    assert events[0].object_type == "checkin" and events[0].object_id == str(checkin["id"])
    assert events[0].region_code == "140427" and events[0].after["reason"] == "电话核实：在实训楼另一侧上课"

    again = client.post(url, headers=world.headers.supervisor,
                        json={"decision": "rejected", "reason": "改判"})
    assert error(again) == (409, "CHECKIN_ALREADY_REVIEWED")
    shown = client.get(f"{CHECKINS}/{checkin['id']}", headers=world.headers.trainees[0])
    assert shown.json["review"] == "accepted"
    assert audit_actions("checkin.rejected") == []


def test_a_supervisor_rejects_a_flagged_check_in(client, world):
    checkin = flagged_checkin(client, world)
    rejected = client.post(f"{CHECKINS}/{checkin['id']}/review", headers=world.headers.reviewer,
                           json={"decision": "rejected", "reason": "人不在场，他人代打卡"})
    assert rejected.status_code == 200 and rejected.json["review"] == "rejected"
    assert len(audit_actions("checkin.rejected")) == 1


def test_a_clean_check_in_needs_no_review(client, world):
    clean = check_in(client, world.headers.trainees[0], world.sessions[0].id, seed=130)
    response = client.post(f"{CHECKINS}/{clean.json['id']}/review", headers=world.headers.supervisor,
                           json={"decision": "accepted", "reason": "无"})
    assert error(response) == (422, "CHECKIN_NOT_FLAGGED")


@pytest.mark.parametrize("body,code", [
    ({"decision": "accepted"}, "VALIDATION_FAILED"),
    ({"decision": "accepted", "reason": "   "}, "REASON_REQUIRED"),
    ({"decision": "maybe", "reason": "不确定"}, "VALIDATION_FAILED"),
    ({"decision": "none", "reason": "撤销"}, "VALIDATION_FAILED"),
])
def test_a_review_needs_a_decision_and_a_reason(client, world, body, code):
    checkin = flagged_checkin(client, world)
    response = client.post(f"{CHECKINS}/{checkin['id']}/review", headers=world.headers.supervisor, json=body)
    assert error(response) == (422, code)
    shown = client.get(f"{CHECKINS}/{checkin['id']}", headers=world.headers.supervisor)
    assert shown.json["review"] == "none"
    assert audit_actions("checkin.accepted") == []


def test_only_bureau_staff_of_the_region_review(client, world):
    checkin = flagged_checkin(client, world)
    url = f"{CHECKINS}/{checkin['id']}/review"
    body = {"decision": "accepted", "reason": "已核实"}
    assert client.post(url, headers=world.headers.institution, json=body).status_code == 403
    assert client.post(url, headers=world.headers.trainees[0], json=body).status_code == 403
    outsider = client.post(url, headers=other_region_supervisor(client), json=body)
    assert error(outsider) == (404, "CHECKIN_NOT_FOUND")
    shown = client.get(f"{CHECKINS}/{checkin['id']}", headers=world.headers.supervisor)
    assert shown.json["review"] == "none"


# --- selfie links -----------------------------------------------------------------------------


def link(client, headers, checkin_id: int, **query):
    return client.get(f"{CHECKINS}/{checkin_id}/selfie", headers=headers, query_string=query)


def test_the_trainee_and_the_supervisor_get_a_short_lived_link_to_a_clean_jpeg(client, world):
    sent = phone_photo(140)
    checkin = check_in(client, world.headers.trainees[0], world.sessions[0].id, selfie=sent)
    assert checkin.status_code == 201, checkin.json
    for headers in (world.headers.trainees[0], world.headers.supervisor, world.headers.reviewer):
        response = link(client, headers, checkin.json["id"])
        assert response.status_code == 200, response.json
        assert set(response.json) == {"url", "expires_at"}
        assert response.json["url"].startswith("/api/v1/media/")
        expires = datetime.fromisoformat(response.json["expires_at"])
        assert expires == server_clock.now() + timedelta(minutes=5)

        fetched = client.get(response.json["url"])
        assert fetched.status_code == 200
        assert fetched.headers["Content-Type"] == "image/jpeg"
        assert fetched.data.startswith(b"\xff\xd8")
        image = Image.open(io.BytesIO(fetched.data))
        assert image.format == "JPEG"
        assert len(image.getexif()) == 0, dict(image.getexif())  # no GPS, no phone model
        assert "icc_profile" not in image.info and "exif" not in image.info
        assert image.size == (1280, 960)  # turned upright by the EXIF orientation
    assert b"Xiaomi" not in fetched.data

    thumb_link = link(client, world.headers.supervisor, checkin.json["id"], size="thumbnail")
    thumb = client.get(thumb_link.json["url"])
    assert thumb.status_code == 200 and thumb.data.startswith(b"\xff\xd8")
    assert len(thumb.data) < len(fetched.data)
    small = Image.open(io.BytesIO(thumb.data))
    assert max(small.size) <= 160 and len(small.getexif()) == 0


def test_a_selfie_link_expires_after_five_minutes_of_the_app_clock(client, world, clock):
    checkin = check_in(client, world.headers.trainees[0], world.sessions[0].id, seed=141)
    issued = server_clock.now()
    url = link(client, world.headers.supervisor, checkin.json["id"]).json["url"]
    clock.set(issued + timedelta(minutes=4))
    assert client.get(url).status_code == 200
    clock.set(issued + timedelta(minutes=6))
    assert error(client.get(url)) == (404, "LINK_EXPIRED")


def test_a_tampered_or_foreign_media_token_opens_nothing(client, app, world):
    checkin = check_in(client, world.headers.trainees[0], world.sessions[0].id, seed=142)
    url = link(client, world.headers.supervisor, checkin.json["id"]).json["url"]
    token = url.rsplit("/", 1)[1]
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    swapped = "A" if signature[middle] != "A" else "B"
    forged_signature = signature[:middle] + swapped + signature[middle + 1:]
    claims = jwt.decode(token, options={"verify_signature": False})
    row = db.session.get(Checkin, checkin.json["id"])
    secret = app.config["SECRET_KEY"]
    exp = claims["exp"]
    forged = [
        f"{header}.{payload}.{forged_signature}",
        f"{header}.{jwt.encode({'k': row.thumbnail_key, 'exp': exp}, 'x' * 64).split('.')[1]}.{signature}",
        jwt.encode({"k": row.selfie_key, "exp": exp}, secret, algorithm="HS256"),  # not typed as media
        jwt.encode({"k": row.selfie_key, "exp": exp}, "another-secret-" * 4, algorithm="HS256",
                   headers={"typ": "media"}),
        jwt.encode({"k": row.selfie_key}, secret, algorithm="HS256", headers={"typ": "media"}),  # no expiry
        jwt.encode({"k": "selfies/nothing-here.jpg", "exp": exp}, secret, algorithm="HS256",
                   headers={"typ": "media"}),
        "not-a-token",
    ]
    for token_text in forged:
        response = client.get(f"/api/v1/media/{token_text}")
        assert error(response) == (404, "LINK_INVALID"), token_text
    assert client.get(url).status_code == 200


def test_selfie_links_only_for_the_trainee_and_the_regions_bureau(client, world):
    checkin = check_in(client, world.headers.trainees[0], world.sessions[0].id, seed=143)
    checkin_id = checkin.json["id"]
    assert link(client, world.headers.institution, checkin_id).status_code == 403
    finance = login(client, username=make_staff(Role.FINANCE, region_code="140427").username)
    assert link(client, finance, checkin_id).status_code == 403
    assert error(link(client, other_region_supervisor(client), checkin_id)) == (404, "CHECKIN_NOT_FOUND")
    assert error(link(client, world.headers.trainees[1], checkin_id)) == (404, "CHECKIN_NOT_FOUND")


# --- purging ----------------------------------------------------------------------------------


def test_selfies_are_purged_after_the_evidence_period_and_the_rows_kept(client, app, world, clock):
    trainee = world.headers.trainees[0]
    before = selfie_files(app)
    old = check_in(client, trainee, world.sessions[0].id, seed=150)  # day 1
    old_files = selfie_files(app) - before
    at_start(clock, world.sessions[4])  # day 3
    recent = check_in(client, trainee, world.sessions[4].id, seed=151)
    recent_files = selfie_files(app) - before - old_files
    assert old.status_code == recent.status_code == 201
    assert len(old_files) == len(recent_files) == 2

    clock.set(datetime.combine(world.sessions[0].day + timedelta(days=731), time(3, 0),
                               tzinfo=server_clock.CHINA))
    result = app.test_cli_runner().invoke(args=["purge-selfies"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "purged 1 selfie(s)"

    assert not (old_files & selfie_files(app))  # 731 days old: gone
    assert recent_files <= selfie_files(app)  # 729 days old: kept
    kept = client.get(f"{CHECKINS}/{old.json['id']}", headers=world.headers.supervisor)
    assert kept.status_code == 200
    assert kept.json["has_selfie"] is False
    assert kept.json["placement"] == old.json["placement"]
    assert kept.json["counted_at"] == old.json["counted_at"]
    assert error(link(client, world.headers.supervisor, old.json["id"])) == (404, "SELFIE_PURGED")
    assert error(link(client, trainee, old.json["id"])) == (404, "SELFIE_PURGED")
    assert link(client, world.headers.supervisor, recent.json["id"]).status_code == 200
    assert client.get(f"{CHECKINS}/{recent.json['id']}", headers=trainee).json["has_selfie"] is True
    events = audit_actions("checkin.selfies_purged")
    assert len(events) == 1 and events[0].after["count"] == 1 and events[0].object_id == "140427"

    again = app.test_cli_runner().invoke(args=["purge-selfies"])
    assert again.output.strip() == "purged 0 selfie(s)"


# --- consent ----------------------------------------------------------------------------------


def test_consent_is_given_and_withdrawn_and_both_are_audited(client, ctx, clock):
    world = open_class(client, clock, trainees=1)  # gives consent for the trainee
    trainee, person = world.headers.trainees[0], world.people[0]
    withdrawn = client.put("/api/v1/me/face-consent", headers=trainee, json={"give": False})
    assert withdrawn.status_code == 200
    assert withdrawn.json["given"] is False and withdrawn.json["text_version"] == "2026-11"
    given = client.put("/api/v1/me/face-consent", headers=trainee, json={"give": True})
    assert given.status_code == 200
    assert given.json["given"] is True and given.json["text_version"] == "2026-11"
    assert datetime.fromisoformat(given.json["given_at"]) == server_clock.now()

    gave = audit_actions("trainee.face_consent_given")
    took_back = audit_actions("trainee.face_consent_withdrawn")
    assert len(gave) == 2 and len(took_back) == 1  # open_class gave it once already
    assert {e.object_id for e in gave + took_back} == {str(person.id)}
    assert took_back[0].seq < gave[-1].seq

    assert client.put("/api/v1/me/face-consent", headers=world.headers.institution,
                      json={"give": True}).status_code == 403
    bad = client.put("/api/v1/me/face-consent", headers=trainee, json={"give": "maybe"})
    assert bad.status_code == 422


# --- recompute-flags ------------------------------------------------------------------------


def test_recompute_flags_flags_both_trainees_sharing_a_phone(client, app, world):
    session = world.sessions[0].id
    first = check_in(client, world.headers.trainees[0], session, device="shared-phone", seed=161,
                     position=offset(5, 0))
    second = check_in(client, world.headers.trainees[1], session, device="shared-phone", seed=162,
                      position=offset(5, 90))
    honest = check_in(client, world.headers.trainees[2], session, device="own-phone", seed=163,
                      position=offset(5, 180))
    assert [first.json["flags"], second.json["flags"], honest.json["flags"]] == [[], ["shared_device"], []]

    result = app.test_cli_runner().invoke(args=["recompute-flags", str(world.class_id)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 check-in(s) changed"
    shown = [client.get(f"{CHECKINS}/{c.json['id']}", headers=world.headers.supervisor).json
             for c in (first, second, honest)]
    assert [s["flags"] for s in shown] == [["shared_device"], ["shared_device"], []]
    assert shown[0]["flag_labels"] == ["同一设备在同一课时为多人打卡"]
    assert len(audit_actions("class.flags_recomputed")) == 1
    # Nothing more to change the second time.
    assert app.test_cli_runner().invoke(args=["recompute-flags", str(world.class_id)]).output.strip() == (
        "0 check-in(s) changed")


def test_an_amendment_keeps_sessions_with_check_ins_and_may_not_drop_them(client, ctx, clock):
    """Approving a changed timetable keeps the sessions check-ins point at; dropping one that
    already has check-ins is refused with its own code, and nothing changes."""
    world = open_class(client, clock, trainees=1)
    first = world.sessions[0]
    assert check_in(client, world.headers.trainees[0], first.id).status_code == 201
    detail = client.get(f"/api/v1/classes/{world.class_id}", headers=world.headers.reviewer).json
    sessions = detail["current"]["proposal"]["sessions"]

    def amend(new_sessions, name):
        response = client.patch(f"/api/v1/classes/{world.class_id}/draft", headers=world.headers.institution,
                                json={"sessions": new_sessions, "name": name})
        assert response.status_code == 200, response.json
        assert client.post(f"/api/v1/classes/{world.class_id}/submit",
                           headers=world.headers.institution).status_code == 200
        return client.post(f"/api/v1/classes/{world.class_id}/review", headers=world.headers.reviewer,
                           json={"approve": True})

    dropped = amend(sessions[1:], "养老护理员初级培训班（调整）")
    assert (dropped.status_code, dropped.json["error"]["code"]) == (409, "SESSION_HAS_CHECKINS")
    db.session.expire_all()
    assert db.session.get(ClassSession, first.id) is not None
    # The refused version stays submitted; reject it, then amend keeping the session.
    client.post(f"/api/v1/classes/{world.class_id}/review", headers=world.headers.reviewer,
                json={"approve": False, "reason": "不能删除已上课的课时"})
    kept = amend(sessions, "养老护理员初级培训班（更名）")
    assert kept.status_code == 200, kept.json
    assert kept.json["name"] == "养老护理员初级培训班（更名）"
    assert db.session.get(ClassSession, first.id) is not None
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 1
