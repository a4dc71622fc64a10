"""Builders for test data. They write models directly (not through services), so a test
of a service sees only what that service did."""

from __future__ import annotations

import itertools
from datetime import date

from server.adapters.passwords import hash_password
from server.domain.access import OrgKind, Role
from server.domain.identity import check_character
from server.extensions import db
from server.models import Organisation, TraineeProfile, User
from server.services.demo import docx_document, pdf_document, xlsx_document

PASSWORD = "Passw0rd!"
_HASH = None
_counter = itertools.count(1)


def _password_hash() -> str:
    global _HASH
    if _HASH is None:  # argon2 is deliberately slow: hash once per run
        _HASH = hash_password(PASSWORD)
    return _HASH


def make_id_number(address_code: str = "140427", birth: date = date(1990, 1, 1),
                   sequence: int | None = None) -> str:
    """A valid GB 11643 number (synthetic)."""
    seq = sequence if sequence is not None else next(_counter) % 1000
    first17 = f"{address_code}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)


def make_org(kind: OrgKind = OrgKind.TRAINING_INSTITUTION, region_code: str = "140427",
             name: str | None = None, social_credit_code: str | None = None) -> Organisation:
    n = next(_counter)
    org = Organisation(name=name or f"测试机构{n}", kind=kind, region_code=region_code,
                       social_credit_code=social_credit_code)
    db.session.add(org)
    db.session.commit()
    return org


ROLE_ORG = {
    Role.INSTITUTION_OPERATOR: OrgKind.TRAINING_INSTITUTION,
    Role.EVALUATOR: OrgKind.EVALUATION_INSTITUTION,
    Role.BUREAU_REVIEWER: OrgKind.BUREAU,
    Role.BUREAU_SUPERVISOR: OrgKind.BUREAU,
    Role.FINANCE: OrgKind.FINANCE_BUREAU,
    Role.ADMIN: OrgKind.BUREAU,
}


def make_staff(role: Role, org: Organisation | None = None, *, region_code: str = "140427",
               username: str | None = None, password_hash: str | None = None) -> User:
    org = org or make_org(ROLE_ORG[role], region_code)
    user = User(username=username or f"user{next(_counter)}", display_name="测试用户", role=role,
                organisation_id=org.id, password_hash=password_hash or _password_hash())
    db.session.add(user)
    db.session.commit()
    return user


def make_trainee(region_code: str = "140427", *, mobile: str | None = None,
                 real_name: str = "王小明", categories: list[str] | None = None,
                 id_number: str | None = None, with_password: bool = True) -> TraineeProfile:
    n = next(_counter)
    user = User(mobile=mobile or f"139{n:08d}", display_name=real_name, role=Role.TRAINEE,
                password_hash=_password_hash() if with_password else None)
    number = id_number or make_id_number(region_code[:6], sequence=n % 1000)
    profile = TraineeProfile(user=user, real_name=real_name, id_number=number,
                             birth_date=date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
                             sex="M" if int(number[16]) % 2 else "F", home_region_code=region_code,
                             categories=categories or ["rural_migrant"])
    db.session.add_all([user, profile])
    db.session.commit()
    return profile


def login(client, *, username: str | None = None, mobile: str | None = None,
          password: str = PASSWORD) -> dict:
    """Sign in through the API and return the Authorization header."""
    body = {"password": password} | ({"username": username} if username else {"mobile": mobile})
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


# --- vouchers and classes -----------------------------------------------------------------

OCCUPATION, LEVEL = "4-10-01-05", "初级"  # 养老护理员, in the shipped catalogue


def pdf_bytes() -> bytes:
    return pdf_document("Teaching plan")


def docx_bytes() -> bytes:
    return docx_document(["教学大纲"])


def xlsx_bytes() -> bytes:
    return xlsx_document([["周次", "课程内容"]])


DOCUMENTS = {"teaching_plan": ("教学实施计划.pdf", pdf_bytes), "syllabus": ("教学大纲.docx", docx_bytes),
             "course_schedule": ("课程安排表.xlsx", xlsx_bytes)}


def class_body(start: date, roster: list[str], *, region_code: str = "140427", days: int = 5,
               programme: str = "puhui", occupation: str = OCCUPATION, level: str = LEVEL) -> dict:
    """A complete opening application (documents are uploaded separately)."""
    from datetime import timedelta

    sessions = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).isoformat()
        sessions += [{"day": day, "starts": "08:30", "ends": "11:30", "kind": "theory"},
                     {"day": day, "starts": "14:00", "ends": "17:00", "kind": "practice"}]
    return {
        "occupation_code": occupation, "level": level, "programme": programme, "region_code": region_code,
        "name": "养老护理员初级培训班", "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(), "sessions": sessions,
        "site": {"address": "壶关县龙泉镇职教中心", "latitude": 36.1128, "longitude": 113.2075,
                 "radius_m": 200},
        "teachers": [{"name": "李老师", "id_number": make_id_number("140427", date(1980, 5, 5)),
                      "certificate_no": "GZ-2023-0001"}],
        "assessment_plan": "结业前理论与实操考核，由评价机构组织",
        "roster": roster,
    }


def upload_documents(client, headers, class_id: int) -> None:
    for kind, (filename, build) in DOCUMENTS.items():
        response = client.put(f"/api/v1/classes/{class_id}/documents/{kind}",
                              query_string={"filename": filename}, data=build(), headers=headers,
                              content_type="application/octet-stream")
        assert response.status_code == 201, response.get_json()


def open_class(client, institution_headers, reviewer_headers, roster, *, region_code="140427") -> int:
    """File, document, submit and approve a class starting in 8 days (past every region's lead
    time but Wenshui's order-type), with `roster`'s ID numbers; returns its id."""
    from datetime import timedelta

    from server.services import clock

    start = clock.today() + timedelta(days=8)
    created = client.post("/api/v1/classes", headers=institution_headers,
                          json=class_body(start, roster, region_code=region_code))
    assert created.status_code == 201, created.json
    class_id = created.json["id"]
    upload_documents(client, institution_headers, class_id)
    submitted = client.post(f"/api/v1/classes/{class_id}/submit", headers=institution_headers)
    assert submitted.status_code == 200, submitted.json
    approved = client.post(f"/api/v1/classes/{class_id}/review", headers=reviewer_headers,
                           json={"approve": True})
    assert approved.status_code == 200, approved.json
    return class_id
