"""The demo data behind `make run`: complete, valid, idempotent, and usable to sign in."""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import func, select

from server.domain.access import Role
from server.domain.eligibility import Category
from server.domain.identity import parse_id_number
from server.domain.regions import is_within
from server.extensions import db
from server.models import AuditEvent, Occupation, Organisation, TraineeProfile, User
from server.services import demo
from tests.factories import login

SLUGS = {"xinzhou": "140900", "huguan": "140427", "yangquan": "140300", "wenshui": "141121",
         "linxian": "141124"}
STAFF_ROLES = {"reviewer1": Role.BUREAU_REVIEWER, "reviewer2": Role.BUREAU_REVIEWER,
               "supervisor": Role.BUREAU_SUPERVISOR, "admin": Role.ADMIN, "finance": Role.FINANCE,
               "inst1": Role.INSTITUTION_OPERATOR, "inst2": Role.INSTITUTION_OPERATOR,
               "eval": Role.EVALUATOR}


def _counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Organisation, User, TraineeProfile, AuditEvent)}


def _region_of(home_region_code: str) -> str:
    return next(slug for slug, code in SLUGS.items() if is_within(home_region_code, code))


def test_each_region_gets_thirty_trainees_with_valid_ids_and_unique_mobiles(ctx):
    demo.load_demo()
    profiles = db.session.scalars(select(TraineeProfile)).all()
    assert len(profiles) == 5 * demo.TRAINEES_PER_REGION
    per_region = defaultdict(list)
    for profile in profiles:
        per_region[_region_of(profile.home_region_code)].append(profile)
        resident = parse_id_number(profile.id_number)
        assert (resident.birth_date, resident.sex) == (profile.birth_date, profile.sex)
        assert 1968 <= resident.birth_date.year <= 2005
        assert profile.home_region_code.startswith(resident.address_code)
        assert profile.user.role is Role.TRAINEE and profile.user.password_hash
    assert {slug: len(rows) for slug, rows in per_region.items()} == dict.fromkeys(SLUGS, 30)
    mobiles = [p.user.mobile for p in profiles]
    assert len(set(mobiles)) == len(mobiles) and all(re.match(r"^1390[1-5]\d{6}$", m) for m in mobiles)
    assert len({p.id_number for p in profiles}) == len(profiles)
    # Huguan's trainees live in its townships
    assert all(len(p.home_region_code) == 9 for p in per_region["huguan"])


def test_every_category_appears_in_every_region_and_most_trainees_have_one(ctx):
    demo.load_demo()
    per_region = defaultdict(set)
    sizes = []
    for profile in db.session.scalars(select(TraineeProfile)):
        per_region[_region_of(profile.home_region_code)].update(profile.categories)
        sizes.append(len(profile.categories))
    assert all(categories == {str(c) for c in Category} for categories in per_region.values())
    assert set(sizes) == {1, 2} and sizes.count(1) > sizes.count(2)


def test_every_staff_role_is_present_in_every_region_in_the_right_organisation(ctx):
    demo.load_demo()
    for slug, code in SLUGS.items():
        for suffix, role in STAFF_ROLES.items():
            user = db.session.scalar(select(User).where(User.username == f"{slug}.{suffix}"))
            assert user is not None and user.role is role, f"{slug}.{suffix}"
            assert user.organisation.region_code == code
    province_admin = db.session.scalar(select(User).where(User.username == "shanxi.admin"))
    assert province_admin.role is Role.ADMIN and province_admin.organisation.region_code == "140000"
    credit_codes = db.session.scalars(select(Organisation.social_credit_code).where(
        Organisation.social_credit_code.is_not(None))).all()
    assert len(credit_codes) == len(set(credit_codes)) == 5 * 3
    assert all(len(c) == 18 for c in credit_codes)


def test_loading_twice_changes_nothing(ctx):
    first = demo.load_demo()
    after_first = _counts()
    second = demo.load_demo()
    assert _counts() == after_first
    assert after_first["AuditEvent"] == 1  # one demo.seeded event, none for the no-op run
    assert first["created"] == {"organisations": 26, "staff": 41, "trainees": 150}
    assert second["created"] == {"organisations": 0, "staff": 0, "trainees": 0}
    assert "nothing created" in demo.describe(second)


def test_describe_lists_the_logins(ctx):
    text = demo.describe(demo.load_demo())
    assert demo.STAFF_PASSWORD in text and demo.TRAINEE_PASSWORD in text and "shanxi.admin" in text
    for slug in SLUGS:
        assert slug in text
    assert "13902000001" in text  # Huguan's first trainee


def test_demo_staff_and_trainee_can_sign_in(client, ctx):
    demo.load_demo()
    headers = login(client, username="huguan.reviewer1", password=demo.STAFF_PASSWORD)
    me = client.get("/api/v1/me", headers=headers).json
    assert me["user"]["username"] == "huguan.reviewer1" and me["user"]["role"] == "bureau_reviewer"
    assert me["user"]["organisation"]["region_code"] == "140427"

    mobile = demo.load_demo()["regions"][1]["first_trainee_mobile"]
    headers = login(client, mobile=mobile, password=demo.TRAINEE_PASSWORD)
    me = client.get("/api/v1/me", headers=headers).json
    assert me["user"]["role"] == "trainee" and me["trainee"]["mobile"] == mobile
    assert me["trainee"]["home_region_code"].startswith("140427")


def test_occupation_catalogue_is_filled_in(ctx):
    occupations = db.session.scalars(select(Occupation)).all()
    assert len(occupations) >= 20
    assert all(re.match(r"^\d-\d\d-\d\d-\d\d$", o.code) and o.levels for o in occupations)
    assert len({o.code for o in occupations}) == len({o.name for o in occupations}) == len(occupations)
    names = {o.name for o in occupations}
    assert {"养老护理员", "育婴员", "保育师", "中式烹调师", "电工", "焊工", "家政服务员"} <= names
