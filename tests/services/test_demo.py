"""The demo data behind `make run`: complete, valid, idempotent, and usable to sign in."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import func, select

from server.domain.access import Role
from server.domain.classes import ClassState, DocumentKind, VersionState
from server.domain.eligibility import SIX_GROUPS, Category
from server.domain.identity import parse_id_number
from server.domain.regions import is_within, prefix_of
from server.domain.vouchers import VoucherState
from server.extensions import db
from server.models import (
    AuditEvent,
    ClassDocument,
    ClassVersion,
    Occupation,
    Organisation,
    RosterEntry,
    TraineeProfile,
    TrainingClass,
    User,
    Voucher,
    VoucherScan,
)
from server.services import audit, demo, policies
from server.services import classes as class_service
from server.services import clock as server_clock
from server.services import vouchers as voucher_service
from server.services.auth import principal_of
from tests.factories import login

SLUGS = {"xinzhou": "140900", "huguan": "140427", "yangquan": "140300", "wenshui": "141121",
         "linxian": "141124"}
STAFF_ROLES = {"reviewer1": Role.BUREAU_REVIEWER, "reviewer2": Role.BUREAU_REVIEWER,
               "supervisor": Role.BUREAU_SUPERVISOR, "admin": Role.ADMIN, "finance": Role.FINANCE,
               "inst1": Role.INSTITUTION_OPERATOR, "inst2": Role.INSTITUTION_OPERATOR,
               "eval": Role.EVALUATOR}


# What each region's trainees 21-30 hold after a load (the categories they were drawn with
# decide the programme; Huguan issues at once, so nothing there waits for review or is rejected;
# only Xinzhou and Yangquan leave an application waiting, so Lin's and Wenshui's reviewers have
# none: the voucher walk expects their lists to hold only its own).
VOUCHERS = {
    "xinzhou": {"applied": 1, "issued": 3, "bound": 3, "rejected": 1, "revoked": 1},
    "huguan": {"issued": 5, "bound": 4, "revoked": 1},
    "yangquan": {"applied": 1, "issued": 3, "bound": 3, "rejected": 1, "revoked": 1},
    "wenshui": {"issued": 5, "bound": 3, "rejected": 1, "revoked": 1},
    "linxian": {"issued": 5, "bound": 3, "rejected": 1, "revoked": 1, "trained": 6},  # 6: demo_claims
}
# The approved class of each region's inst1: roster size, vouchers bound (scanned in).
ROSTERS = {"xinzhou": (6, 3), "huguan": (7, 4), "yangquan": (6, 3), "wenshui": (6, 3), "linxian": (5, 3)}


def _counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Organisation, User, TraineeProfile, Voucher, TrainingClass, ClassVersion,
                          ClassDocument, RosterEntry, VoucherScan, AuditEvent)}


def _states(slug: str) -> dict[str, int]:
    return dict(Counter(str(state) for state in db.session.scalars(
        select(Voucher.state).where(Voucher.region_code.like(prefix_of(SLUGS[slug]) + "%")))))


def _principal(username: str):
    return principal_of(db.session.scalar(select(User).where(User.username == username)))


def _trainee_number(voucher: Voucher) -> int:
    return int(voucher.trainee.user.mobile[-6:])


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
    assert _counts() == after_first  # no voucher, class, document, scan or audit event more
    assert first["created"] == {"organisations": 26, "staff": 41, "trainees": 150, "vouchers": 48,
                                "classes": 5, "past_classes": 2}
    assert second["created"] == dict.fromkeys(first["created"], 0)
    assert "nothing created" in demo.describe(second)
    # One demo.seeded event for the people; the rest are the services' own, none for the no-op run.
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "demo.seeded")) == 1
    assert [r["vouchers"] for r in second["regions"]] == [r["vouchers"] for r in first["regions"]]


def test_loading_again_long_after_changes_nothing(ctx, clock):
    """A class that has ended and vouchers past their expiry are left as they are."""
    demo.load_demo()
    before = _counts()
    clock.set(server_clock.now() + timedelta(days=400))
    assert demo.load_demo()["created"] == {"organisations": 0, "staff": 0, "trainees": 0, "vouchers": 0,
                                           "classes": 0, "past_classes": 0}
    assert _counts() == before


def test_each_region_has_vouchers_in_every_state_its_policy_allows(ctx):
    summary = demo.load_demo()
    for slug in SLUGS:
        assert _states(slug) == VOUCHERS[slug], slug
    assert {r["slug"]: r["vouchers"] for r in summary["regions"]} == {
        slug: dict(sorted(states.items())) for slug, states in VOUCHERS.items()}
    for voucher in db.session.scalars(select(Voucher)):
        # 21-30 everywhere; Lin's 11-20 took demo_claims.py's past classes.
        low = 11 if voucher.region_code == SLUGS["linxian"] else 21
        assert low <= _trainee_number(voucher) <= 30
        # Applied by the trainee; decided by the region's reviewer1 unless its policy issues at once.
        assert voucher.applied_by == voucher.trainee.user_id
        reviewer = _principal(f"{_slug_of(voucher.region_code)}.reviewer1").user_id
        if voucher.state is not VoucherState.APPLIED:
            auto = policies.for_region(voucher.region_code).vouchers.auto_issue.value
            assert voucher.decided_by == (None if auto else reviewer)
        if voucher.state is VoucherState.REJECTED:
            assert voucher.reason == demo.REJECT_REASON
        if voucher.state is VoucherState.REVOKED:
            assert voucher.reason == demo.REVOKE_REASON and voucher.closed_by == reviewer
    # Every programme appears, each only for trainees its categories admit (the services decided).
    programmes = {str(v.programme) for v in db.session.scalars(select(Voucher))}
    assert programmes == {"puhui", "startup", "enterprise", "order", "project"}


def _slug_of(region_code: str) -> str:
    return next(slug for slug, code in SLUGS.items() if code == region_code)


def test_the_voucher_walk_finds_clean_trainees_and_empty_review_lists(ctx):
    """tests/api/test_voucher_walk.py and the README's walk apply as the region's first
    普惠制-eligible trainee and expect Lin's and Wenshui's reviewers to have nothing else."""
    demo.load_demo()
    holders = {_trainee_number(v) for v in db.session.scalars(select(Voucher))}
    assert holders and min(holders) >= 11  # trainees 1-10 hold nothing (Lin's 11-20: demo_claims)
    for index, slug in enumerate(SLUGS, 1):
        profiles = db.session.scalars(select(TraineeProfile).join(User).where(
            User.mobile.like(f"1390{index}%")).order_by(User.mobile))
        first = next(p for p in profiles if set(p.categories) & {str(c) for c in SIX_GROUPS})
        assert int(first.user.mobile[-6:]) <= 10, slug
    readme_trainee = db.session.scalar(select(User).where(User.mobile == "13905000001")).trainee
    assert set(readme_trainee.categories) & {str(c) for c in SIX_GROUPS}
    for slug in ("linxian", "wenshui"):
        reviewer = _principal(f"{slug}.reviewer1")
        assert voucher_service.list_vouchers(reviewer, voucher_service.VoucherFilter(state="applied"))[1] == 0
        assert class_service.list_classes(reviewer, class_service.ClassFilter(pending_review=True))[1] == 0
    assert db.session.scalar(select(func.count()).select_from(ClassVersion).where(
        ClassVersion.state != VersionState.APPROVED)) == 0


def test_each_region_has_an_approved_class_with_documents_and_a_half_scanned_roster(ctx):
    summary = demo.load_demo()
    today = server_clock.today()
    for slug, code in SLUGS.items():
        operator = _principal(f"{slug}.inst1")
        classes = db.session.scalars(select(TrainingClass).where(
            TrainingClass.region_code == code,
            TrainingClass.institution_id == operator.organisation_id)).all()
        assert len(classes) == 1, slug
        klass = classes[0]
        assert (klass.institution_id, klass.name, klass.state) == (
            operator.organisation_id, demo.CLASS_NAME, ClassState.APPROVED)
        assert (klass.occupation_code, klass.level, str(klass.programme)) == ("4-10-01-05", "初级", "puhui")
        lead = int(policies.for_region(code).class_opening.lead_days_for(klass.programme).value)
        assert klass.start_date == today + timedelta(days=lead + 1)
        version = class_service.current_version(klass)
        assert version.decided_by == _principal(f"{slug}.reviewer1").user_id

        documents = class_service.documents_of(klass)
        assert {(d.kind, d.filename.rsplit(".", 1)[1]) for d in documents} == {
            (DocumentKind.TEACHING_PLAN, "pdf"), (DocumentKind.SYLLABUS, "docx"),
            (DocumentKind.COURSE_SCHEDULE, "xlsx")}
        for document in documents:
            _, data = class_service.document(operator, klass.id, document.id)
            assert len(data) == document.size
            assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF") \
                if document.kind is DocumentKind.TEACHING_PLAN else data.startswith(b"PK\x03\x04")

        roster = class_service.roster(klass)
        bound = [v for _, _, v in roster if v.state is VoucherState.BOUND]
        assert (len(roster), len(bound)) == ROSTERS[slug], slug
        assert all(v.bound_class_id == klass.id for v in bound)
        assert all(v.state is VoucherState.ISSUED for _, _, v in roster if v not in bound)
        scans = db.session.scalars(select(VoucherScan).where(VoucherScan.class_id == klass.id)).all()
        assert sorted(s.voucher_id for s in scans) == sorted(v.id for v in bound)
        assert {(s.outcome, s.status, s.device_id) for s in scans} == {("BOUND", 200, demo.SCAN_DEVICE)}
        # The region's other issued 养老护理员 vouchers: none are left off the roster.
        matching = db.session.scalars(select(Voucher).where(
            Voucher.region_code == code, Voucher.occupation_code == "4-10-01-05",
            Voucher.state.in_([VoucherState.ISSUED, VoucherState.BOUND]))).all()
        assert {v.id for v in matching} == {v.id for _, _, v in roster}
    assert [(r["class_roster"], r["class_scanned"]) for r in summary["regions"]] == list(ROSTERS.values())
    assert [r["classes"] for r in summary["regions"]] == [{"approved": 1}] * 4 + [
        {"approved": 1, "finished": 2}]


def test_the_audit_chain_records_the_demo_and_verifies(ctx):
    demo.load_demo()
    demo.load_demo()
    problem, count, _ = audit.verify()
    assert problem is None
    assert count == db.session.scalar(select(func.count()).select_from(AuditEvent))
    actions = Counter(db.session.scalars(select(AuditEvent.action)))
    # Lin's two past classes (demo_claims.py) add 6 vouchers, 2 classes with 3 opening and 2
    # completion documents each, and one claim approved twice.
    assert actions["voucher.applied"] == 48 + 6 and actions["voucher.bind"] == 16 + 6
    assert actions["voucher.reject"] == 4 and actions["voucher.revoke"] == 5
    assert actions["class.created"] == actions["class.submitted"] == actions["class.approved"] == 5 + 2
    assert actions["class.document_uploaded"] == 15 + 10
    assert actions["claim.filed"] == 1 and actions["claim.approved"] == 2
    assert actions["claim.notice_ended"] == 1


def test_describe_lists_the_logins(ctx):
    text = demo.describe(demo.load_demo())
    assert demo.STAFF_PASSWORD in text and demo.TRAINEE_PASSWORD in text and "shanxi.admin" in text
    for slug in SLUGS:
        assert slug in text
    assert "13902000001" in text  # Huguan's first trainee
    assert "48 vouchers, 5 classes" in text and demo.CLASS_NAME in text
    assert ("xinzhou    vouchers 1 applied, 3 issued, 3 bound, 1 rejected, 1 revoked; classes 1 approved; "
            "roster 3 of 6 scanned") in text
    assert "huguan     vouchers 5 issued, 4 bound, 1 revoked;" in text


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


def test_lin_has_a_claim_ready_for_payment_and_a_finished_class_ready_to_claim(ctx):
    """demo_claims.py: linxian.inst2's 第二期 claim passed its notice, so finance can pay it (its
    vouchers are written off); 第三期 is finished with nothing claimed."""
    from server.models import Claim
    from server.services import claims, disbursements

    demo.load_demo()
    claim = db.session.scalars(select(Claim)).one()
    assert claim.state == "noticed" and claim.total_fen > 0
    paid = disbursements.disburse(_principal("linxian.finance"), claim.id, claim.total_fen,
                                  server_clock.today(), "LX-DEMO-001")
    assert paid.amount_fen == claim.total_fen
    assert {v.state for v in db.session.scalars(select(Voucher).where(
        Voucher.bound_class_id == claim.class_id))} == {VoucherState.WRITTEN_OFF}
    third = db.session.scalar(select(TrainingClass).where(TrainingClass.name.like("%第三期%")))
    assert third.state == ClassState.FINISHED
    preview = claims.preview(_principal("linxian.inst2"), third.id)
    assert preview.total_fen > 0 and all(line.amount_fen > 0 for line in preview.lines
                                         if line.item == "training")
