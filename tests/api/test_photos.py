"""Enrolment photos: only real images, stored without metadata, shown only to who may see them."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from server.domain.access import OrgKind, Role
from server.extensions import db
from server.models import TraineeProfile
from tests.factories import login, make_org, make_staff, make_trainee

GPS_TAG = 0x8825
ORIENTATION_TAG = 0x0112


def _jpeg_with_gps_rotated(width=400, height=200) -> bytes:
    """A landscape JPEG whose EXIF says 'rotate 90°' and carries a GPS block, as phones write."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    exif[GPS_TAG] = {1: "N", 2: (37.0, 52.0, 0.0), 3: "E", 4: (113.0, 13.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def people(client, ctx):
    bureau = make_org(OrgKind.BUREAU, "140427")
    trainee = make_trainee("140427")
    return {
        "trainee": trainee,
        "reviewer": login(client, username=make_staff(Role.BUREAU_REVIEWER, bureau).username),
        "finance": login(client, username=make_staff(Role.FINANCE, region_code="140427").username),
        "self": login(client, mobile=trainee.user.mobile),
        "other": login(client, mobile=make_trainee("140427").user.mobile),
    }


def test_a_photo_is_stored_upright_and_without_exif(client, people):
    trainee = people["trainee"]
    put = client.put(f"/api/v1/trainees/{trainee.id}/photo", data=_jpeg_with_gps_rotated(),
                     headers=people["reviewer"], content_type="image/jpeg")
    assert put.status_code == 200, put.json
    assert put.json["has_photo"] is True
    got = client.get(f"/api/v1/trainees/{trainee.id}/photo", headers=people["reviewer"])
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    stored = Image.open(io.BytesIO(got.data))
    assert stored.size == (200, 400)  # the orientation was applied
    assert len(stored.getexif()) == 0 and "exif" not in stored.info
    assert got.headers["Cache-Control"] == "private, no-store"


def test_a_trainee_may_upload_and_see_their_own_photo_only(client, people):
    trainee = people["trainee"]
    own = client.put(f"/api/v1/trainees/{trainee.id}/photo", data=_jpeg_with_gps_rotated(),
                     headers=people["self"], content_type="image/jpeg")
    assert own.status_code == 200
    assert client.get(f"/api/v1/trainees/{trainee.id}/photo", headers=people["self"]).status_code == 200
    assert client.get(f"/api/v1/trainees/{trainee.id}/photo", headers=people["other"]).status_code == 404
    finance = client.get(f"/api/v1/trainees/{trainee.id}/photo", headers=people["finance"])
    assert finance.status_code == 403


def _png_bomb() -> bytes:
    """A tiny file that claims to be 20000 × 20000 pixels."""
    image = Image.new("1", (20000, 20000))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


@pytest.mark.parametrize("payload, status, code", [
    (b"%PDF-1.4 not an image", 422, "INVALID_IMAGE"),
    (b"GIF89a" + b"\x00" * 100, 422, "INVALID_IMAGE"),
    (_png_bomb(), 422, "INVALID_IMAGE"),
    (b"\xff\xd8" + b"\x00" * (6 * 1024 * 1024), 413, "PAYLOAD_TOO_LARGE"),
])
def test_bad_uploads_are_refused_and_change_nothing(client, people, payload, status, code):
    trainee = people["trainee"]
    response = client.put(f"/api/v1/trainees/{trainee.id}/photo", data=payload,
                          headers=people["reviewer"], content_type="application/octet-stream")
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert db.session.get(TraineeProfile, trainee.id).photo_key is None
