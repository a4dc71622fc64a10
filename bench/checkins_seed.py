"""Seeding for bench/checkins.py: phone-like selfies, classes with a session in progress now,
and a county full of past check-ins.

Classes are opened through the API with the WSGI test client (created, documents uploaded,
submitted, approved by huguan.reviewer1), as bench/scans.py does, and every voucher is scanned
by huguan.inst1 through `services.scans.scan`; all with the app's clock
(`app.extensions["clock"]`, as the tests' `clock` fixture sets it) held at a moment eight days
before the class starts, so Huguan's week of notice is met. The clock is released afterwards:
a live gunicorn, which has no clock override, then sees the session of today in progress.
"""

from __future__ import annotations

import io
import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import numpy as np
from common import add_trainees, analyse, file_and_approve, id_number  # bench/common.py, beside this script
from flask import Flask
from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import insert, select

from server.adapters import access_tokens
from server.domain.checkins import Flag
from server.extensions import db
from server.models import Checkin, ClassSession, TraineeProfile, User, Voucher
from server.services import auth, clock, demo
from server.services import checkins as checkin_service
from server.services import scans as scan_service
from server.services import vouchers as voucher_service

OCCUPATION, LEVEL = "4-10-01-05", "初级"  # 养老护理员, in the shipped catalogue
SITE = (36.1128, 113.2075)  # WGS-84, typed in as such
RADIUS_M = 200
TOKEN_MINUTES = 240

# --- selfies -----------------------------------------------------------------------------------

SELFIE_SIZE = (1080, 1440)  # a phone camera shot as a PWA uploads it (portrait, 3:4)
SELFIE_QUALITY = 85  # with the noise below: ~150 KB, as a phone's JPEG of this size


@cache
def _grain() -> tuple[np.ndarray, ...]:
    """Two fields of sensor-like grain (Gaussian noise, slightly blurred, as after demosaicing),
    larger than a photo so each photo takes its own crop."""
    rng = np.random.default_rng(2026)
    width, height = SELFIE_SIZE
    fields = []
    for _ in range(2):
        noise = rng.normal(0.0, 8.0, (height + 200, width + 200, 3))
        blurred = Image.fromarray(np.clip(noise + 128, 0, 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(0.8))
        fields.append(np.asarray(blurred).astype(np.int16) - 128)
    return tuple(fields)


def selfie(seed: int, size: tuple[int, int] = SELFIE_SIZE) -> bytes:
    """A distinct phone-like JPEG per seed: a smooth coloured background with objects and a
    face-coloured oval (so perceptual hashes differ by 20+ bits between seeds), camera grain,
    and the EXIF a phone writes (orientation, make, model, time). At most SELFIE_SIZE."""
    rng = random.Random(seed)
    width, height = size
    w, h = width // 8, height // 8
    small = Image.new("RGB", (6, 8))
    small.putdata([tuple(rng.randrange(40, 230) for _ in range(3)) for _ in range(48)])
    scene = small.resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(scene)
    for _ in range(8):
        x, y = rng.randrange(w), rng.randrange(h)
        draw.rectangle([x, y, x + rng.randrange(6, 50), y + rng.randrange(6, 50)],
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    cx, cy = w // 2 + rng.randrange(-12, 12), h // 2 + rng.randrange(-18, 6)
    draw.ellipse([cx - 29, cy - 38, cx + 29, cy + 38],
                 fill=(rng.randrange(190, 240), rng.randrange(150, 190), rng.randrange(120, 160)))
    scene = scene.filter(ImageFilter.GaussianBlur(0.6)).resize(size, Image.Resampling.BICUBIC)
    grain = _grain()[seed % 2]
    x, y = rng.randrange(200), rng.randrange(200)
    pixels = np.asarray(scene).astype(np.int16) + grain[y:y + height, x:x + width]
    exif = Image.Exif()
    exif[0x0112] = 1  # Orientation
    exif[0x010F], exif[0x0110] = "Xiaomi", "Redmi Note 12"
    exif[0x0132] = "2026:11:23 08:25:00"
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
        out, "JPEG", quality=SELFIE_QUALITY, exif=exif)
    return out.getvalue()


# --- opening classes through the API (under a past clock) --------------------------------------


def class_body(sessions: list[tuple[date, time, time]], roster: list[str]) -> dict:
    days = [day for day, _, _ in sessions]
    return {
        "occupation_code": OCCUPATION, "level": LEVEL, "programme": "puhui", "region_code": "140427",
        "name": "养老护理员初级培训班",
        "start_date": min(days).isoformat(), "end_date": max(days).isoformat(),
        "sessions": [{"day": day.isoformat(), "starts": starts.strftime("%H:%M"),
                      "ends": ends.strftime("%H:%M"), "kind": "theory" if starts.hour < 12 else "practice"}
                     for day, starts, ends in sessions],
        "site": {"address": "壶关县龙泉镇职教中心", "latitude": SITE[0], "longitude": SITE[1],
                 "radius_m": RADIUS_M},
        "teachers": [{"name": "李老师", "id_number": id_number(5, year=1980),
                      "certificate_no": "GZ-2023-0001"}],
        "assessment_plan": "结业前理论与实操考核，由评价机构组织",
        "roster": roster,
    }


def _login(client, body: dict) -> dict:
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.get_json()
    return {"Authorization": "Bearer " + response.json["access_token"]}


@dataclass(frozen=True)
class Opened:
    class_id: int
    sessions: list[int]  # in timetable order
    trainees: list[tuple[int, int]]  # (user id, trainee id), in roster order


def open_classes(app: Flask, mobile_prefix: str, class_size: int, classes: int,
                 sessions: list[tuple[date, time, time]], consent: bool) -> list[Opened]:
    """`classes` classes of `class_size` new Huguan trainees each, on the same timetable: the
    trainees apply (Huguan issues at once), huguan.inst1 files each class, huguan.reviewer1
    approves it, huguan.inst1 scans every voucher; with `consent`, every trainee consents to
    selfie check-ins. All under a clock eight days before the first session."""
    filed_at = datetime.combine(min(day for day, _, _ in sessions) - timedelta(days=8), time(9, 0),
                                tzinfo=clock.CHINA)
    app.extensions["clock"] = lambda: filed_at
    try:
        client = app.test_client()
        with app.app_context():
            users = add_trainees(mobile_prefix, classes * class_size)
            people = []
            for user in users:
                principal = auth.principal_of(user)
                voucher = voucher_service.apply(principal, voucher_service.ApplicationInput(
                    occupation_code=OCCUPATION, level=LEVEL, programme="puhui", region_code="140427"))
                assert voucher.state == "issued", voucher.state
                people.append((user.id, principal.trainee_id, voucher.id))
            numbers = dict(db.session.execute(select(TraineeProfile.id, TraineeProfile.id_number).where(
                TraineeProfile.id.in_([t for _, t, _ in people]))).tuples().all())
        institution = _login(client, {"username": "huguan.inst1", "password": demo.STAFF_PASSWORD})
        reviewer = _login(client, {"username": "huguan.reviewer1", "password": demo.STAFF_PASSWORD})
        opened = []
        for k in range(classes):
            members = people[k * class_size:(k + 1) * class_size]
            body = class_body(sessions, [numbers[t] for _, t, _ in members])
            class_id = file_and_approve(client, institution, reviewer, body)
            with app.app_context():
                operator = auth.principal_of(db.session.scalar(select(User).where(
                    User.username == "huguan.inst1")))
                for n, (_, _, voucher_id) in enumerate(members):
                    token = voucher_service.token(db.session.get(Voucher, voucher_id))
                    result = scan_service.scan(operator, class_id, token, request_id=f"seed-{class_id}-{n}",
                                               device_id="scanner-1", render_error=lambda e: (422, {}),
                                               render_voucher=lambda v: {"id": v.id})
                    assert result.status == 200, result.body
                session_ids = list(db.session.scalars(select(ClassSession.id).where(
                    ClassSession.class_id == class_id).order_by(ClassSession.day, ClassSession.starts)))
            opened.append(Opened(class_id, session_ids, [(u, t) for u, t, _ in members]))
        if consent:
            with app.app_context():
                for user in db.session.scalars(select(User).where(User.mobile.like(mobile_prefix + "%"))):
                    checkin_service.consent(auth.principal_of(user), True)
        with app.app_context():
            analyse()
    finally:
        app.extensions.pop("clock", None)
    return opened


def session_now(lead_minutes: int = 25, hours: int = 2) -> tuple[date, time, time]:
    """A session (China time) whose check-in window, from 30 minutes before its start to 15
    after (Huguan's policy), is open now and for at least 15 more minutes: it starts
    `lead_minutes` from now, or late in the evening at 23:29 at the latest, and from 23:30 on
    at midnight, on the next day (a session cannot cross midnight)."""
    now = datetime.now(clock.CHINA).replace(second=0, microsecond=0)
    starts = now + timedelta(minutes=lead_minutes)
    latest = datetime.combine(now.date(), time(23, 29), tzinfo=clock.CHINA)
    if starts > latest:
        starts = latest if now < latest else datetime.combine(now.date() + timedelta(days=1), time(0, 0),
                                                                tzinfo=clock.CHINA)
    last = datetime.combine(starts.date(), time(23, 59), tzinfo=clock.CHINA)
    ends = min(last, starts + timedelta(hours=hours))
    return starts.date(), starts.time(), ends.time()


def mint_tokens(app: Flask, user_ids: list[int]) -> dict[int, str]:
    """Access tokens as sign-in issues them, without an argon2 verify per trainee."""
    with app.app_context():
        rows = db.session.execute(select(User.id, User.role, User.token_version)
                                  .where(User.id.in_(user_ids))).tuples().all()
        secret = app.config["SECRET_KEY"]
        return {uid: access_tokens.issue(secret, user_id=uid, role=str(role), version=version,
                                         minutes=TOKEN_MINUTES) for uid, role, version in rows}


# --- a county of past check-ins (bulk insert) --------------------------------------------------

FLAG_MIX = [  # (share of check-ins, flags): about 6 % flagged, as a supervisor would see
    (0.025, [Flag.POOR_ACCURACY]), (0.015, [Flag.UNCERTAIN_POSITION]), (0.01, [Flag.OUTSIDE_FENCE]),
    (0.005, [Flag.CLOCK_SKEW]), (0.003, [Flag.SHARED_DEVICE]), (0.002, [Flag.LATE_SUBMISSION]),
]
ABSENT = 0.04  # share of trainee × session cells with no check-in


def past_timetable(days: int, last_day: date) -> list[tuple[date, time, time]]:
    """Two sessions a day (08:30–11:30, 14:00–17:00) on `days` days ending `last_day`."""
    first = last_day - timedelta(days=days - 1)
    return [(first + timedelta(days=n), starts, ends) for n in range(days)
            for starts, ends in ((time(8, 30), time(11, 30)), (time(14, 0), time(17, 0)))]


def insert_checkins(app: Flask, opened: list[Opened], rng: random.Random) -> int:
    """A check-in for ~96 % of every class's trainee × session cells, bulk-inserted, with the
    flags and reviews of a real county (fake selfie keys: nothing reads the files)."""
    total = 0
    with app.app_context():
        voucher_of = dict(db.session.execute(select(Voucher.trainee_id, Voucher.id).where(
            Voucher.bound_class_id.in_([o.class_id for o in opened]))).tuples().all())
        supervisor = db.session.scalar(select(User.id).where(User.username == "huguan.supervisor"))
        for o in opened:
            sessions = db.session.execute(select(ClassSession.id, ClassSession.day, ClassSession.starts)
                                          .where(ClassSession.class_id == o.class_id)).tuples().all()
            rows = []
            for session_id, day, starts in sessions:
                opens = datetime.combine(day, starts, tzinfo=clock.CHINA)
                for n, (_, trainee_id) in enumerate(o.trainees):
                    if rng.random() < ABSENT:
                        continue
                    received = opens - timedelta(seconds=rng.randrange(-300, 1500))
                    flags, pick = [], rng.random()
                    for share, these in FLAG_MIX:
                        if pick < share:
                            flags = [str(f) for f in these]
                            break
                        pick -= share
                    review = "none"
                    if flags and rng.random() < 0.5:
                        review = "accepted" if rng.random() < 0.8 else "rejected"
                    stem = f"selfies/{o.class_id}/{session_id}/{secrets.token_hex(16)}"
                    rows.append({
                        "session_id": session_id, "class_id": o.class_id, "region_code": "140427",
                        "trainee_id": trainee_id, "voucher_id": voucher_of[trainee_id], "kind": "check_in",
                        "received_at": received, "counted_at": received,
                        "captured_at": received - timedelta(seconds=rng.randrange(1, 20)),
                        "offline": Flag.LATE_SUBMISSION in flags, "device_id": f"phone-{trainee_id}",
                        "latitude": SITE[0] + rng.uniform(-3e-4, 3e-4),
                        "longitude": SITE[1] + rng.uniform(-3e-4, 3e-4),
                        "accuracy_m": rng.uniform(120, 300) if Flag.POOR_ACCURACY in flags
                        else rng.uniform(5, 40),
                        "distance_m": rng.uniform(250, 900) if Flag.OUTSIDE_FENCE in flags
                        else rng.uniform(0, 60),
                        "placement": "outside" if Flag.OUTSIDE_FENCE in flags
                        else "uncertain" if Flag.UNCERTAIN_POSITION in flags else "inside",
                        "flags": flags, "flagged": bool(flags), "selfie_key": f"{stem}.jpg",
                        "thumbnail_key": f"{stem}.thumb.jpg", "phash": f"{rng.getrandbits(64):016x}",
                        "idempotency_key": f"seed-{session_id}-{n}-{secrets.token_hex(4)}",
                        "body_sha256": secrets.token_hex(32), "review": review,
                        "review_reason": None if review == "none" else "视频核实",
                        "reviewed_by": None if review == "none" else supervisor,
                        "reviewed_at": None if review == "none" else received + timedelta(hours=6),
                    })
            for start in range(0, len(rows), 5000):
                db.session.execute(insert(Checkin), rows[start:start + 5000])
            db.session.commit()
            total += len(rows)
        analyse()
    return total
