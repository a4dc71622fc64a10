"""A class in session for the check-in tests: Huguan, an approved class whose site was typed
from a Chinese web map, trainees scanned in, the clock at a session's start."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta
from types import SimpleNamespace

from geopy.distance import geodesic
from PIL import Image

from server.domain.access import Role
from server.domain.geofence import Datum, from_wgs84
from server.extensions import db
from server.models import ClassSession, Voucher
from server.services import auth, clock
from server.services import vouchers as voucher_service
from tests.factories import class_body, login, make_org, make_staff, make_trainee, upload_documents

# The real spot of the training site (WGS-84), in Huguan's county town.
SITE = (36.1128, 113.2075)
RADIUS_M = 200
FILED_AT = datetime(2026, 3, 2, 8, 0, tzinfo=clock.CHINA)  # a Monday
START = FILED_AT.date() + timedelta(days=8)  # Huguan asks for a week's notice (001 三(一))


def photo(seed: int, size: tuple[int, int] = (960, 1280)) -> bytes:
    """A phone-like JPEG: coloured blocks (distinct per seed, so perceptual hashes differ)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (16, 16))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(256)])
    image = image.resize(size, Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def offset(metres: float, bearing: float = 0.0) -> tuple[float, float]:
    point = geodesic(meters=metres).destination(SITE, bearing)
    return point.latitude, point.longitude


def open_class(client, clock_fixture, *, trainees: int = 3, datum: Datum = Datum.GCJ02,
               region_code: str = "140427"):
    """File, approve and scan a class; leave the clock at the first session's start."""
    clock_fixture.set(FILED_AT)
    reviewer = make_staff(Role.BUREAU_REVIEWER, region_code=region_code)
    supervisor = make_staff(Role.BUREAU_SUPERVISOR, reviewer.organisation, region_code=region_code)
    institution = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code=region_code))
    people = [make_trainee(region_code, real_name=f"学员{n}") for n in range(trainees)]
    vouchers = []
    for person in people:
        voucher = voucher_service.apply(auth.principal_of(person.user), voucher_service.ApplicationInput(
            occupation_code="4-10-01-05", level="初级", programme="puhui", region_code=region_code))
        if voucher.state == "applied":
            voucher_service.review(auth.principal_of(reviewer), voucher.id, True)
        vouchers.append(voucher)
    headers = SimpleNamespace(reviewer=login(client, username=reviewer.username),
                              supervisor=login(client, username=supervisor.username),
                              institution=login(client, username=institution.username),
                              trainees=[login(client, mobile=p.user.mobile) for p in people])
    body = class_body(START, [p.id_number for p in people], region_code=region_code)
    typed = from_wgs84(*SITE, datum)  # as the institution copied it from Amap or Baidu
    body["site"] = {"address": "壶关县龙泉镇职教中心", "latitude": typed[0], "longitude": typed[1],
                    "radius_m": RADIUS_M, "datum": str(datum)}
    created = client.post("/api/v1/classes", headers=headers.institution, json=body)
    assert created.status_code == 201, created.json
    class_id = created.json["id"]
    upload_documents(client, headers.institution, class_id)
    assert client.post(f"/api/v1/classes/{class_id}/submit", headers=headers.institution).status_code == 200
    approved = client.post(f"/api/v1/classes/{class_id}/review", headers=headers.reviewer,
                           json={"approve": True})
    assert approved.status_code == 200, approved.json
    for voucher in vouchers:
        token = voucher_service.token(db.session.get(Voucher, voucher.id))
        scanned = client.post(f"/api/v1/classes/{class_id}/scans", headers=headers.institution,
                              json={"token": token})
        assert scanned.status_code == 200, scanned.json
    sessions = db.session.query(ClassSession).filter_by(class_id=class_id).order_by(
        ClassSession.day, ClassSession.starts).all()
    at_start(clock_fixture, sessions[0])
    for trainee_headers in headers.trainees:
        assert client.put("/api/v1/me/face-consent", headers=trainee_headers,
                          json={"give": True}).status_code == 200
    return SimpleNamespace(class_id=class_id, sessions=sessions, people=people, headers=headers,
                           vouchers=[db.session.get(Voucher, v.id) for v in vouchers])


def at_start(clock_fixture, session, minutes: int = -5) -> datetime:
    """Set the clock to `minutes` from the session's start (China time); returns it."""
    when = (datetime.combine(session.day, session.starts, tzinfo=clock.CHINA)
            + timedelta(minutes=minutes))
    clock_fixture.set(when)
    return when


def check_in(client, headers, session_id: int, *, position=SITE, accuracy=15.0, key=None,
             selfie: bytes | None = None, seed: int = 1, device: str = "device-1", captured=None,
             offline: bool = False, kind: str = "check_in", media_type: str = "image/jpeg",
             filename: str = "selfie.jpg"):
    fields = {"kind": kind, "latitude": str(position[0]), "longitude": str(position[1]),
              "accuracy_m": str(accuracy), "captured_at": (captured or clock.now()).isoformat(),
              "device_id": device, "idempotency_key": key or f"key-{session_id}-{seed}-{device}-{kind}",
              "offline": "true" if offline else "false"}
    data = dict(fields)
    data["selfie"] = (io.BytesIO(photo(seed) if selfie is None else selfie), filename, media_type)
    return client.post(f"/api/v1/sessions/{session_id}/checkins", headers=headers, data=data,
                       content_type="multipart/form-data")

