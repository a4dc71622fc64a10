"""E-vouchers through the HTTP API (SPEC §2): applying and every eligibility refusal, issuing on a
trainee's behalf, review, revocation, expiry, the signed token and its QR code, the print page,
scoped lists and the CSV/XLSX exports.

A refusal is checked for what a user notices: the status, the error code, and that nothing
changed (no voucher added or moved, no audit event written)."""

from __future__ import annotations

import csv
import gc
import io
import os
import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import unquote

import jwt
import openpyxl
import pytest
import zxingcpp
from openpyxl.worksheet import _writer as openpyxl_writer
from PIL import Image
from sqlalchemy import func, select

from server.adapters import qrcodes
from server.api import vouchers as voucher_api
from server.domain.access import OrgKind, Role
from server.domain.identity import mask_id_number, mask_name
from server.domain.vouchers import VoucherAction, VoucherState, parse_serial
from server.extensions import db
from server.models import AuditEvent, TrainingClass, Voucher
from server.services import auth
from server.services import clock as server_clock
from server.services import vouchers as voucher_service
from tests.factories import (
    LEVEL,
    OCCUPATION,
    login,
    make_org,
    make_staff,
    make_trainee,
    open_class,
)

LIN, HUGUAN = "141124", "140427"  # Lin: the bureau reviews; Huguan: issued at once
OTHER_OCCUPATION = "4-10-01-02"  # 育婴员, also has 初级
VALID_DAYS = 180
URL = "/api/v1/vouchers"


# --- helpers ------------------------------------------------------------------------------------


def apply(client, headers, **fields):
    body = {"occupation_code": OCCUPATION, "level": LEVEL, "programme": "puhui"} | fields
    return client.post(URL, headers=headers, json=body)


def applied(client, headers, **fields) -> dict:
    response = apply(client, headers, **fields)
    assert response.status_code == 201, response.json
    return response.json


def error(response) -> tuple[int, str]:
    return response.status_code, response.json["error"]["code"]


def refusals(response) -> list[str]:
    assert error(response) == (422, "NOT_ELIGIBLE"), response.json
    return sorted(r["code"] for r in response.json["error"]["details"]["refusals"])


def snapshot() -> tuple[list[tuple], int]:
    """Every voucher as the database holds it, and the number of audit events."""
    db.session.expire_all()
    rows = db.session.execute(select(
        Voucher.id, Voucher.state, Voucher.reason, Voucher.expires_on, Voucher.decided_at,
        Voucher.closed_at, Voucher.bound_class_id).order_by(Voucher.id)).all()
    return [tuple(row) for row in rows], db.session.scalar(select(func.count()).select_from(AuditEvent))


def audit_actions(voucher_id: int) -> list[tuple[str, int | None]]:
    db.session.expire_all()
    return [(e.action, e.actor_user_id) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "voucher", AuditEvent.object_id == str(voucher_id))
        .order_by(AuditEvent.seq))]


def stored(voucher_id: int) -> Voucher:
    db.session.expire_all()
    return db.session.get(Voucher, voucher_id)


def trainee(client, region: str = LIN, *, categories: list[str] | None = None, name: str = "王小明"):
    profile = make_trainee(region_code=region, categories=categories, real_name=name)
    return SimpleNamespace(profile=profile, id=profile.id, id_number=profile.id_number,
                           name=name, headers=login(client, mobile=profile.user.mobile))


def staff(client, role: Role, region: str = LIN, org=None):
    user = make_staff(role, org, region_code=region)
    return SimpleNamespace(user=user, id=user.id, headers=login(client, username=user.username))


def review(client, headers, voucher_id: int, **body):
    return client.post(f"{URL}/{voucher_id}/review", headers=headers, json=body)


def revoke(client, headers, voucher_id: int, **body):
    return client.post(f"{URL}/{voucher_id}/revoke", headers=headers, json=body)


def issued(client, person, reviewer) -> dict:
    """A Lin voucher applied for by `person` and approved by `reviewer`."""
    voucher = applied(client, person.headers)
    response = review(client, reviewer.headers, voucher["id"], approve=True)
    assert response.status_code == 200, response.json
    return response.json


def bind_directly(voucher_id: int, region: str = LIN) -> int:
    """Bind the voucher to a class (as a scan would), through the service; returns the class id."""
    voucher = stored(voucher_id)
    operator = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code=region))
    start = server_clock.today()
    klass = TrainingClass(institution_id=operator.organisation_id, region_code=voucher.region_code,
                          occupation_code=voucher.occupation_code, level=voucher.level,
                          programme=voucher.programme, state="approved", name="测试班",
                          start_date=start, end_date=start + timedelta(days=4), created_by=operator.id)
    db.session.add(klass)
    db.session.commit()
    voucher_service.bind(auth.principal_of(operator), stored(voucher_id), klass.id)
    db.session.commit()
    return klass.id


@pytest.fixture
def lin(client, ctx):
    """Lin county: a reviewer and a trainee of the six groups (普惠制 eligible)."""
    return SimpleNamespace(reviewer=staff(client, Role.BUREAU_REVIEWER, LIN), trainee=trainee(client, LIN))


# --- applying -----------------------------------------------------------------------------------


def test_a_lin_trainee_applies_and_waits_for_review(client, lin):
    response = apply(client, lin.trainee.headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["state"] == "applied" and body["state_label"] == "待审核"
    assert (body["occupation_code"], body["occupation_name"]) == (OCCUPATION, "养老护理员")
    assert body["level"] == LEVEL
    assert (body["programme"], body["programme_label"]) == ("puhui", "普惠制培训")
    assert body["region_code"] == LIN and body["year"] == server_clock.today().year
    assert body["expires_on"] is None and body["decided_at"] is None and body["reason"] is None
    assert sorted(body["allowed_actions"]) == ["issue", "reject"]
    assert body["trainee"]["id"] == lin.trainee.id
    assert body["trainee"]["id_number"] == mask_id_number(lin.trainee.id_number)
    region, serial = parse_serial(body["serial"])  # a well-formed serial with a valid check character
    assert (region, serial) == (LIN, body["serial"])
    voucher = stored(body["id"])
    assert voucher.applied_by == lin.trainee.profile.user_id and voucher.decided_by is None
    assert audit_actions(body["id"]) == [("voucher.applied", lin.trainee.profile.user_id)]


def test_a_category_outside_the_programme_is_refused(client, lin):
    worker = trainee(client, LIN, categories=["enterprise_employee"])
    before = snapshot()
    response = apply(client, worker.headers, programme="puhui")
    assert refusals(response) == ["CATEGORY_NOT_ELIGIBLE"]
    refusal = response.json["error"]["details"]["refusals"][0]
    assert refusal["clause"] and "普惠制培训" in refusal["message"]
    assert snapshot() == before


def test_a_second_puhui_voucher_in_a_year_is_refused_even_for_another_occupation(client, lin):
    applied(client, lin.trainee.headers)
    before = snapshot()
    response = apply(client, lin.trainee.headers, occupation_code=OTHER_OCCUPATION, level="初级")
    assert refusals(response) == ["YEARLY_LIMIT"]
    assert snapshot() == before


def test_order_and_project_share_one_yearly_subsidy(client, lin):
    applied(client, lin.trainee.headers, programme="order")
    before = snapshot()
    response = apply(client, lin.trainee.headers, programme="project", occupation_code=OTHER_OCCUPATION)
    assert refusals(response) == ["YEARLY_LIMIT"]
    assert snapshot() == before
    # 普惠制 is a separate yearly subsidy: another occupation passes.
    assert applied(client, lin.trainee.headers, occupation_code=OTHER_OCCUPATION)["state"] == "applied"


def test_an_open_voucher_of_the_same_occupation_is_refused(client, lin):
    applied(client, lin.trainee.headers, programme="puhui")
    before = snapshot()
    # Another programme (its own yearly subsidy), same occupation: only the open voucher stands in the way.
    response = apply(client, lin.trainee.headers, programme="order")
    assert refusals(response) == ["OPEN_VOUCHER_SAME_OCCUPATION"]
    # The same programme again breaks both rules, and both are named.
    again = apply(client, lin.trainee.headers, programme="puhui", level="中级")
    assert refusals(again) == ["OPEN_VOUCHER_SAME_OCCUPATION", "YEARLY_LIMIT"]
    assert snapshot() == before


def test_enterprise_training_of_an_occupation_and_level_is_once_a_year(client, lin):
    worker = trainee(client, LIN, categories=["enterprise_employee"])
    first = applied(client, worker.headers, programme="enterprise")
    # While the first is open, a repeat breaks two rules.
    before = snapshot()
    assert refusals(apply(client, worker.headers, programme="enterprise")) == [
        "ENTERPRISE_REPEAT", "OPEN_VOUCHER_SAME_OCCUPATION"]
    assert snapshot() == before
    # Trained (no longer open, still counted): the repeat is the only refusal.
    assert review(client, lin.reviewer.headers, first["id"], approve=True).status_code == 200
    bind_directly(first["id"])
    voucher_service.advance(None, stored(first["id"]), VoucherAction.COMPLETE)
    db.session.commit()
    before = snapshot()
    assert refusals(apply(client, worker.headers, programme="enterprise")) == ["ENTERPRISE_REPEAT"]
    assert snapshot() == before
    # Another level of the same occupation is another training.
    assert applied(client, worker.headers, programme="enterprise", level="中级")["state"] == "applied"


def test_a_revoked_enterprise_voucher_does_not_count(client, lin):
    worker = trainee(client, LIN, categories=["enterprise_employee"])
    voucher = applied(client, worker.headers, programme="enterprise")
    assert review(client, lin.reviewer.headers, voucher["id"], approve=True).status_code == 200
    assert revoke(client, lin.reviewer.headers, voucher["id"], reason="材料造假").status_code == 200
    again = apply(client, worker.headers, programme="enterprise")
    assert again.status_code == 201, again.json


def test_a_rejected_application_does_not_count(client, lin):
    first = applied(client, lin.trainee.headers)
    rejected = review(client, lin.reviewer.headers, first["id"], approve=False, reason="材料不全")
    assert rejected.status_code == 200
    again = apply(client, lin.trainee.headers)
    assert again.status_code == 201, again.json
    assert again.json["id"] != first["id"]


def test_the_yearly_limit_starts_again_in_a_new_year(client, lin, clock):
    clock.set(datetime(2024, 12, 31, 15, 0, tzinfo=UTC))  # 23:00 on 31 December in China
    assert applied(client, lin.trainee.headers)["year"] == 2024
    refused = apply(client, lin.trainee.headers, occupation_code=OTHER_OCCUPATION)
    assert refusals(refused) == ["YEARLY_LIMIT"]
    clock.set(datetime(2024, 12, 31, 16, 0, tzinfo=UTC))  # midnight in China: 2025
    later = apply(client, lin.trainee.headers, occupation_code=OTHER_OCCUPATION)
    assert later.status_code == 201, later.json
    assert later.json["year"] == 2025


@pytest.mark.parametrize("fields,status,code", [
    ({"occupation_code": "9-99-99-99"}, 422, "UNKNOWN_OCCUPATION"),
    ({"level": "特级"}, 422, "INVALID_LEVEL"),
    ({"programme": "evening"}, 422, "INVALID_PROGRAMME"),
    ({"region_code": "140499"}, 422, "UNKNOWN_REGION"),
    ({"region_code": "14x"}, 422, "UNKNOWN_REGION"),
    ({"region_code": "140427100"}, 422, "INVALID_REGION_LEVEL"),  # a township (龙泉镇)
    ({"region_code": "140000"}, 422, "INVALID_REGION_LEVEL"),  # the province
    ({"colour": "red"}, 422, "VALIDATION_FAILED"),
    ({"programme": None}, 422, "VALIDATION_FAILED"),
])
def test_bad_applications_are_refused_and_change_nothing(client, lin, fields, status, code):
    before = snapshot()
    response = apply(client, lin.trainee.headers, **fields)
    assert error(response) == (status, code), response.json
    assert snapshot() == before


def test_bad_application_details_name_the_problem(client, lin):
    level = apply(client, lin.trainee.headers, level="特级").json["error"]["details"]
    assert level["level"] == "特级" and "初级" in level["allowed"]
    programme = apply(client, lin.trainee.headers, programme="evening").json["error"]["details"]
    assert set(programme["allowed"]) == {"puhui", "order", "project", "enterprise", "startup", "apprentice"}
    extra = apply(client, lin.trainee.headers, colour="red").json["error"]["details"]
    assert [f["field"] for f in extra["fields"]] == ["colour"]


@pytest.mark.parametrize("role", [Role.INSTITUTION_OPERATOR, Role.BUREAU_SUPERVISOR, Role.FINANCE])
def test_only_trainees_and_reviewers_apply(client, lin, role):
    other = staff(client, role, LIN)
    before = snapshot()
    response = apply(client, other.headers, trainee_id=lin.trainee.id)
    assert error(response) == (403, "FORBIDDEN")
    assert snapshot() == before


def test_a_trainee_naming_another_trainee_still_applies_for_themself(client, lin):
    other = trainee(client, LIN, name="李四")
    response = apply(client, lin.trainee.headers, trainee_id=other.id)
    assert response.status_code == 201, response.json
    assert response.json["trainee"]["id"] == lin.trainee.id
    assert client.get(URL, headers=other.headers).json["items"] == []


def test_applying_needs_a_signed_in_user(client, lin):
    assert error(apply(client, {})) == (401, "NOT_AUTHENTICATED")


def test_huguan_issues_an_eligible_application_at_once(client, ctx, clock):
    clock.set(datetime(2025, 3, 1, 2, 0, tzinfo=UTC))
    person = trainee(client, HUGUAN)
    response = apply(client, person.headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["state"] == "issued" and body["region_code"] == HUGUAN
    assert body["expires_on"] == (date(2025, 3, 1) + timedelta(days=VALID_DAYS)).isoformat()
    voucher = stored(body["id"])
    assert voucher.decided_by is None and voucher.decided_at is not None  # issued by the policy, not a person
    assert audit_actions(body["id"]) == [("voucher.applied", person.profile.user_id), ("voucher.issue", None)]


def test_huguan_still_refuses_ineligible_applications(client, ctx):
    person = trainee(client, HUGUAN)
    applied(client, person.headers)
    before = snapshot()
    assert refusals(apply(client, person.headers, programme="order")) == ["OPEN_VOUCHER_SAME_OCCUPATION"]
    assert snapshot() == before


# --- issuing on a trainee's behalf (兜底服务) ---------------------------------------------------


def test_a_reviewer_issues_on_a_trainees_behalf(client, lin):
    response = apply(client, lin.reviewer.headers, trainee_id=lin.trainee.id)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["state"] == "issued" and body["region_code"] == LIN
    assert body["trainee"]["id"] == lin.trainee.id
    assert body["trainee"]["id_number"] == lin.trainee.id_number  # the bureau sees the full number
    voucher = stored(body["id"])
    assert voucher.applied_by == lin.reviewer.id and voucher.decided_by == lin.reviewer.id
    assert audit_actions(body["id"]) == [("voucher.applied", lin.reviewer.id),
                                         ("voucher.issue", lin.reviewer.id)]
    # The trainee sees it among their own.
    mine = client.get(URL, headers=lin.trainee.headers).json
    assert [v["id"] for v in mine["items"]] == [body["id"]]


def test_issuing_on_behalf_still_checks_eligibility(client, lin):
    applied(client, lin.trainee.headers)
    before = snapshot()
    response = apply(client, lin.reviewer.headers, trainee_id=lin.trainee.id,
                     occupation_code=OTHER_OCCUPATION)
    assert refusals(response) == ["YEARLY_LIMIT"]
    assert snapshot() == before


def test_a_reviewer_cannot_issue_for_a_trainee_of_another_region(client, lin):
    outsider = trainee(client, HUGUAN)
    before = snapshot()
    response = apply(client, lin.reviewer.headers, trainee_id=outsider.id)
    assert error(response) == (404, "NOT_FOUND")
    missing = apply(client, lin.reviewer.headers, trainee_id=999_999)
    assert error(missing) == (404, "NOT_FOUND")  # an unknown id reads the same
    assert snapshot() == before


def test_a_reviewer_cannot_issue_a_voucher_of_another_region(client, lin):
    before = snapshot()
    response = apply(client, lin.reviewer.headers, trainee_id=lin.trainee.id, region_code=HUGUAN)
    assert error(response) == (403, "FORBIDDEN")
    assert response.json["error"]["details"] == {"region_code": HUGUAN}
    assert snapshot() == before


def test_issuing_on_behalf_names_the_trainee(client, lin):
    before = snapshot()
    response = apply(client, lin.reviewer.headers)
    assert error(response) == (422, "VALIDATION_FAILED")
    assert response.json["error"]["details"] == {"field": "trainee_id"}
    assert snapshot() == before


# --- review -------------------------------------------------------------------------------------


def test_approving_issues_the_voucher_for_the_policy_validity(client, lin, clock):
    clock.set(datetime(2025, 3, 1, 20, 0, tzinfo=UTC))  # already 2 March in China
    voucher = applied(client, lin.trainee.headers)
    response = review(client, lin.reviewer.headers, voucher["id"], approve=True)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["state"] == "issued" and body["state_label"] == "已发券"
    assert body["expires_on"] == (date(2025, 3, 2) + timedelta(days=VALID_DAYS)).isoformat() == "2025-08-29"
    assert datetime.fromisoformat(body["decided_at"]) == datetime(2025, 3, 1, 20, 0, tzinfo=UTC)
    assert sorted(body["allowed_actions"]) == ["bind", "expire", "revoke"]
    assert stored(voucher["id"]).decided_by == lin.reviewer.id
    assert audit_actions(voucher["id"])[-1] == ("voucher.issue", lin.reviewer.id)


@pytest.mark.parametrize("body", [{"approve": False}, {"approve": False, "reason": "   "},
                                  {"approve": False, "reason": ""}])
def test_rejecting_needs_a_reason(client, lin, body):
    voucher = applied(client, lin.trainee.headers)
    before = snapshot()
    response = review(client, lin.reviewer.headers, voucher["id"], **body)
    assert error(response) == (422, "REASON_REQUIRED")
    assert snapshot() == before
    assert client.get(f"{URL}/{voucher['id']}", headers=lin.trainee.headers).json["state"] == "applied"


def test_a_rejection_and_its_reason_are_shown_to_the_trainee(client, lin):
    voucher = applied(client, lin.trainee.headers)
    response = review(client, lin.reviewer.headers, voucher["id"], approve=False,
                      reason="  户籍信息与身份证不符 ")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "rejected" and response.json["reason"] == "户籍信息与身份证不符"
    mine = client.get(f"{URL}/{voucher['id']}", headers=lin.trainee.headers).json
    assert (mine["state"], mine["state_label"]) == ("rejected", "未通过")
    assert mine["reason"] == "户籍信息与身份证不符"
    assert mine["allowed_actions"] == [] and mine["expires_on"] is None
    assert audit_actions(voucher["id"])[-1] == ("voucher.reject", lin.reviewer.id)


@pytest.mark.parametrize("body", [{"approve": True}, {"approve": False, "reason": "重复审核"},
                                  {"approve": False}])
def test_a_decided_voucher_cannot_be_reviewed_again(client, lin, body):
    voucher = issued(client, lin.trainee, lin.reviewer)
    before = snapshot()
    response = review(client, lin.reviewer.headers, voucher["id"], **body)
    assert error(response) == (409, "ILLEGAL_VOUCHER_TRANSITION")
    assert response.json["error"]["details"]["state"] == "issued"
    assert snapshot() == before


def test_a_reviewer_of_another_region_cannot_see_or_review_it(client, lin):
    voucher = applied(client, lin.trainee.headers)
    huguan = staff(client, Role.BUREAU_REVIEWER, HUGUAN)
    before = snapshot()
    response = review(client, huguan.headers, voucher["id"], approve=True)
    assert error(response) == (404, "VOUCHER_NOT_FOUND")
    assert error(client.get(f"{URL}/{voucher['id']}", headers=huguan.headers)) == (404, "VOUCHER_NOT_FOUND")
    assert error(review(client, lin.reviewer.headers, 999_999, approve=True)) == (404, "VOUCHER_NOT_FOUND")
    assert snapshot() == before


def test_a_trainee_cannot_review_their_own_application(client, lin):
    voucher = applied(client, lin.trainee.headers)
    before = snapshot()
    response = review(client, lin.trainee.headers, voucher["id"], approve=True)
    assert error(response) == (403, "FORBIDDEN")
    assert snapshot() == before


def test_a_city_reviewer_reviews_the_applications_of_its_counties(client, lin):
    city = staff(client, Role.BUREAU_REVIEWER, "141100")  # 吕梁市
    voucher = applied(client, lin.trainee.headers)
    response = review(client, city.headers, voucher["id"], approve=True)
    assert response.status_code == 200 and response.json["state"] == "issued"


# --- revocation ---------------------------------------------------------------------------------


def test_revoking_an_issued_voucher_keeps_the_reason(client, lin):
    voucher = issued(client, lin.trainee, lin.reviewer)
    response = revoke(client, lin.reviewer.headers, voucher["id"], reason="冒名申领")
    assert response.status_code == 200, response.json
    assert (response.json["state"], response.json["state_label"]) == ("revoked", "已作废")
    assert response.json["reason"] == "冒名申领" and response.json["allowed_actions"] == []
    assert client.get(f"{URL}/{voucher['id']}", headers=lin.trainee.headers).json["reason"] == "冒名申领"
    row = stored(voucher["id"])
    assert row.closed_by == lin.reviewer.id and row.closed_at is not None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "voucher.revoke")).one()
    assert event.after["reason"] == "冒名申领" and event.before["state"] == "issued"
    # A revoked voucher has no QR code any more.
    assert error(client.get(f"{URL}/{voucher['id']}/token", headers=lin.trainee.headers)) == (
        422, "VOUCHER_HAS_NO_QR")


def test_a_bound_voucher_can_still_be_revoked(client, lin):
    voucher = issued(client, lin.trainee, lin.reviewer)
    bind_directly(voucher["id"])
    response = revoke(client, lin.reviewer.headers, voucher["id"], reason="培训期间发现冒名顶替")
    assert response.status_code == 200 and response.json["state"] == "revoked"


@pytest.mark.parametrize("body,code", [({}, "VALIDATION_FAILED"), ({"reason": "  "}, "REASON_REQUIRED"),
                                       ({"reason": None}, "VALIDATION_FAILED")])
def test_revoking_needs_a_reason(client, lin, body, code):
    voucher = issued(client, lin.trainee, lin.reviewer)
    before = snapshot()
    assert error(revoke(client, lin.reviewer.headers, voucher["id"], **body)) == (422, code)
    assert snapshot() == before


def test_only_issued_bound_or_trained_vouchers_can_be_revoked(client, lin):
    rejected = applied(client, lin.trainee.headers)
    review(client, lin.reviewer.headers, rejected["id"], approve=False, reason="材料不全")
    pending = applied(client, lin.trainee.headers)
    before = snapshot()
    for voucher_id, state in ((rejected["id"], "rejected"), (pending["id"], "applied")):
        response = revoke(client, lin.reviewer.headers, voucher_id, reason="作废")
        assert error(response) == (409, "ILLEGAL_VOUCHER_TRANSITION")
        assert response.json["error"]["details"] == {"state": state, "action": "revoke"}
    assert snapshot() == before


def test_trainees_and_other_regions_cannot_revoke(client, lin):
    voucher = issued(client, lin.trainee, lin.reviewer)
    huguan = staff(client, Role.BUREAU_REVIEWER, HUGUAN)
    before = snapshot()
    assert error(revoke(client, lin.trainee.headers, voucher["id"], reason="不想要了")) == (403, "FORBIDDEN")
    assert error(revoke(client, huguan.headers, voucher["id"], reason="作废")) == (404, "VOUCHER_NOT_FOUND")
    assert snapshot() == before


# --- expiry -------------------------------------------------------------------------------------


def expire(app) -> str:
    result = app.test_cli_runner().invoke(args=["expire-vouchers"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_issued_vouchers_expire_the_day_after_their_last_day(app, client, lin, clock):
    clock.set(datetime(2025, 3, 1, 2, 0, tzinfo=UTC))
    voucher = issued(client, lin.trainee, lin.reviewer)
    assert voucher["expires_on"] == "2025-08-28"
    # The last day, up to its last minute in China, it is still good.
    clock.set(datetime(2025, 8, 28, 15, 59, tzinfo=UTC))
    assert expire(app) == "expired 0 voucher(s)"
    assert stored(voucher["id"]).state is VoucherState.ISSUED
    # Midnight in China: expired.
    clock.set(datetime(2025, 8, 28, 16, 0, tzinfo=UTC))
    assert expire(app) == f"expired 1 voucher(s): {voucher['serial']}"
    row = stored(voucher["id"])
    assert row.state is VoucherState.EXPIRED and row.closed_at == datetime(2025, 8, 28, 16, 0, tzinfo=UTC)
    assert audit_actions(voucher["id"])[-1] == ("voucher.expire", None)
    mine = client.get(f"{URL}/{voucher['id']}", headers=lin.trainee.headers).json
    assert (mine["state"], mine["state_label"]) == ("expired", "已过期")
    # Running again finds nothing more.
    assert expire(app) == "expired 0 voucher(s)"


def test_expiry_leaves_bound_applied_and_fresh_vouchers_alone(app, client, lin, clock):
    clock.set(datetime(2025, 3, 1, 2, 0, tzinfo=UTC))
    bound = issued(client, lin.trainee, lin.reviewer)
    bind_directly(bound["id"])
    other = trainee(client, LIN, name="李二")
    pending = applied(client, other.headers)
    old = issued(client, trainee(client, LIN, name="赵三"), lin.reviewer)
    clock.set(datetime(2025, 8, 1, 2, 0, tzinfo=UTC))
    fresh = issued(client, trainee(client, LIN, name="钱四"), lin.reviewer)
    clock.set(datetime(2025, 12, 31, 2, 0, tzinfo=UTC))  # past the first three's last day only
    assert expire(app) == f"expired 1 voucher(s): {old['serial']}"
    states = {v: str(stored(v).state) for v in (bound["id"], pending["id"], old["id"], fresh["id"])}
    assert states == {bound["id"]: "bound", pending["id"]: "applied", old["id"]: "expired",
                      fresh["id"]: "issued"}
    # Much later, still: a bound voucher's class decides its fate.
    clock.set(datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    assert expire(app) == f"expired 1 voucher(s): {fresh['serial']}"
    assert stored(bound["id"]).state is VoucherState.BOUND


# --- token and QR code --------------------------------------------------------------------------


@pytest.fixture
def holder(client, ctx):
    """A Huguan trainee holding an issued voucher."""
    person = trainee(client, HUGUAN, name="张小红")
    voucher = applied(client, person.headers)
    assert voucher["state"] == "issued"
    return SimpleNamespace(person=person, voucher=voucher, url=f"{URL}/{voucher['id']}")


def test_the_token_is_a_small_eddsa_voucher_token_of_a_published_key(client, holder):
    response = client.get(f"{holder.url}/token", headers=holder.person.headers)
    assert response.status_code == 200, response.json
    token = response.json["token"]
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["typ"]) == ("EdDSA", "voucher")
    assert header["kid"] == response.json["kid"]
    jwks = client.get("/.well-known/jwks.json").json
    published = {key["kid"]: key for key in jwks["keys"]}
    assert header["kid"] in published
    claims = jwt.decode(token, jwt.PyJWK(published[header["kid"]]).key, algorithms=["EdDSA"])
    assert set(claims) == {"v", "exp"} and claims["v"] == holder.voucher["id"]
    # Valid to the end of the last day, China time.
    last_day = date.fromisoformat(holder.voucher["expires_on"])
    assert claims["exp"] == int(server_clock.end_of_day(last_day).timestamp())
    assert datetime.fromisoformat(response.json["expires_at"]).timestamp() == claims["exp"]
    assert qrcodes.version_for(token) <= 10
    # Deterministic: asking again gives the same token.
    assert client.get(f"{holder.url}/token", headers=holder.person.headers).json["token"] == token


def test_the_png_qr_code_decodes_to_the_token(client, holder):
    token = client.get(f"{holder.url}/token", headers=holder.person.headers).json["token"]
    response = client.get(f"{holder.url}/qr.png", headers=holder.person.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert "private" in response.headers["Cache-Control"]
    # QR only: the finder patterns occasionally read as a spurious linear code too.
    image = Image.open(io.BytesIO(response.data))
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [c.text for c in codes] == [token]


def test_the_svg_qr_code_is_svg(client, holder):
    response = client.get(f"{holder.url}/qr.svg", headers=holder.person.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in response.data


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_the_qr_etag_repeats_and_revalidates(client, holder, fmt):
    first = client.get(f"{holder.url}/qr.{fmt}", headers=holder.person.headers)
    second = client.get(f"{holder.url}/qr.{fmt}", headers=holder.person.headers)
    assert first.headers["ETag"] and first.headers["ETag"] == second.headers["ETag"]
    cached = client.get(f"{holder.url}/qr.{fmt}", headers=holder.person.headers | {
        "If-None-Match": first.headers["ETag"]})
    assert cached.status_code == 304 and cached.data == b""
    assert cached.headers["ETag"] == first.headers["ETag"]
    stale = client.get(f"{holder.url}/qr.{fmt}", headers=holder.person.headers | {"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.data == first.data


def test_a_revoked_vouchers_cached_qr_code_is_not_revalidated(client, holder):
    first = client.get(f"{holder.url}/qr.png", headers=holder.person.headers)
    reviewer = staff(client, Role.BUREAU_REVIEWER, HUGUAN)
    assert revoke(client, reviewer.headers, holder.voucher["id"], reason="冒名申领").status_code == 200
    again = client.get(f"{holder.url}/qr.png", headers=holder.person.headers | {
        "If-None-Match": first.headers["ETag"]})
    assert error(again) == (422, "VOUCHER_HAS_NO_QR")


def test_png_and_svg_have_different_etags(client, holder):
    png = client.get(f"{holder.url}/qr.png", headers=holder.person.headers)
    svg = client.get(f"{holder.url}/qr.svg", headers=holder.person.headers)
    assert png.headers["ETag"] != svg.headers["ETag"]


def test_an_unknown_qr_format_is_404(client, holder):
    response = client.get(f"{holder.url}/qr.gif", headers=holder.person.headers)
    assert error(response) == (404, "UNSUPPORTED_FORMAT")
    assert sorted(response.json["error"]["details"]["allowed"]) == ["png", "svg"]


def test_an_application_has_no_qr_code(client, lin):
    voucher = applied(client, lin.trainee.headers)
    for path in ("token", "qr.png", "qr.svg", "print"):
        response = client.get(f"{URL}/{voucher['id']}/{path}", headers=lin.trainee.headers)
        assert error(response) == (422, "VOUCHER_HAS_NO_QR"), path
        assert response.json["error"]["details"] == {"state": "applied"}


def test_another_trainee_cannot_get_the_qr_code(client, holder):
    other = trainee(client, HUGUAN, name="李四")
    for path in ("token", "qr.png", "qr.svg", "print"):
        assert error(client.get(f"{holder.url}/{path}", headers=other.headers)) == (404, "VOUCHER_NOT_FOUND")
    assert client.get(f"{holder.url}/token").status_code == 401


def test_the_print_page_shows_the_serial_and_masked_personal_data(client, holder):
    response = client.get(f"{holder.url}/print", headers=holder.person.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    assert holder.voucher["serial"] in html
    assert mask_name("张小红") == "张**" and "张**" in html and "张小红" not in html
    assert mask_id_number(holder.person.id_number) in html and holder.person.id_number not in html
    assert "<svg" in html and "<?xml" not in html
    assert holder.voucher["expires_on"] in html and "养老护理员" in html


def test_the_bureau_can_print_for_a_trainee_without_a_phone(client, holder):
    reviewer = staff(client, Role.BUREAU_REVIEWER, HUGUAN)
    response = client.get(f"{holder.url}/print", headers=reviewer.headers)
    assert response.status_code == 200
    assert holder.person.id_number not in response.get_data(as_text=True)  # masked on paper, whoever prints


# --- lists and scope ----------------------------------------------------------------------------


@pytest.fixture
def spread(client, ctx):
    """Vouchers in Lin (two trainees) and Huguan, in several states."""
    reviewer = staff(client, Role.BUREAU_REVIEWER, LIN)
    ming = trainee(client, LIN, name="王小明")
    hong = trainee(client, LIN, name="刘小红")
    hu = trainee(client, HUGUAN, name="王大壶")
    v = SimpleNamespace()
    v.ming_puhui = issued(client, ming, reviewer)
    v.ming_order = applied(client, ming.headers, programme="order", occupation_code=OTHER_OCCUPATION)
    v.hong_puhui = applied(client, hong.headers, occupation_code=OTHER_OCCUPATION)
    v.hu_puhui = applied(client, hu.headers)  # Huguan: issued at once
    return SimpleNamespace(reviewer=reviewer, ming=ming, hong=hong, hu=hu, v=v)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def test_a_trainee_sees_only_their_own_vouchers(client, spread):
    v = spread.v
    assert ids(client.get(URL, headers=spread.ming.headers)) == [v.ming_order["id"], v.ming_puhui["id"]]
    assert ids(client.get(URL, headers=spread.hong.headers)) == [v.hong_puhui["id"]]
    assert error(client.get(f"{URL}/{v.hong_puhui['id']}", headers=spread.ming.headers)) == (
        404, "VOUCHER_NOT_FOUND")
    # A filter cannot widen the scope.
    widened = client.get(URL, headers=spread.ming.headers, query_string={"trainee_id": spread.hong.id})
    assert ids(widened) == []


def test_a_reviewer_sees_the_vouchers_of_their_region_only(client, spread):
    v = spread.v
    lin_ids = [v.hong_puhui["id"], v.ming_order["id"], v.ming_puhui["id"]]
    response = client.get(URL, headers=spread.reviewer.headers)
    assert ids(response) == lin_ids and response.json["total"] == 3
    huguan = staff(client, Role.BUREAU_REVIEWER, HUGUAN)
    assert ids(client.get(URL, headers=huguan.headers)) == [v.hu_puhui["id"]]
    city = staff(client, Role.BUREAU_SUPERVISOR, "141100")  # 吕梁市: Lin is one of its counties
    assert ids(client.get(URL, headers=city.headers)) == lin_ids
    assert error(client.get(f"{URL}/{v.hu_puhui['id']}", headers=spread.reviewer.headers)) == (
        404, "VOUCHER_NOT_FOUND")


def test_list_filters(client, spread):
    v, headers = spread.v, spread.reviewer.headers

    def listed(**query) -> list[int]:
        return ids(client.get(URL, headers=headers, query_string=query))

    serial = v.ming_puhui["serial"]
    assert listed(serial=serial) == [v.ming_puhui["id"]]
    assert listed(serial=serial[-6:].lower()) == [v.ming_puhui["id"]]  # part of it, any case
    assert listed(serial=LIN + "-") == [v.hong_puhui["id"], v.ming_order["id"], v.ming_puhui["id"]]
    assert listed(state="issued") == [v.ming_puhui["id"]]
    assert listed(state="applied") == [v.hong_puhui["id"], v.ming_order["id"]]
    assert listed(state="bound") == []
    assert listed(occupation_code=OTHER_OCCUPATION) == [v.hong_puhui["id"], v.ming_order["id"]]
    assert listed(programme="order") == [v.ming_order["id"]]
    assert listed(programme="puhui") == [v.hong_puhui["id"], v.ming_puhui["id"]]
    assert listed(q="小明") == [v.ming_order["id"], v.ming_puhui["id"]]
    assert listed(q="小红") == [v.hong_puhui["id"]]
    assert listed(q="王大壶") == []  # Huguan's trainee: out of scope
    assert listed(trainee_id=spread.hong.id) == [v.hong_puhui["id"]]
    assert listed(state="applied", programme="puhui") == [v.hong_puhui["id"]]
    page = client.get(URL, headers=headers, query_string={"limit": 2, "offset": 2}).json
    assert [item["id"] for item in page["items"]] == [v.ming_puhui["id"]] and page["total"] == 3


def test_the_institution_filter_lists_vouchers_bound_to_its_classes(client, spread):
    class_id = bind_directly(spread.v.ming_puhui["id"])
    institution_id = db.session.get(TrainingClass, class_id).institution_id
    headers = spread.reviewer.headers
    listed = ids(client.get(URL, headers=headers, query_string={"institution_id": institution_id}))
    assert listed == [spread.v.ming_puhui["id"]]
    other = make_org(OrgKind.TRAINING_INSTITUTION, LIN)
    assert ids(client.get(URL, headers=headers, query_string={"institution_id": other.id})) == []


def test_bad_list_filters_are_refused(client, spread):
    headers = spread.reviewer.headers
    response = client.get(URL, headers=headers, query_string={"state": "lost"})
    assert error(response) == (422, "INVALID_STATE")
    assert "issued" in response.json["error"]["details"]["allowed"]
    for query, code in (({"programme": "x"}, "INVALID_PROGRAMME"), ({"colour": "red"}, "VALIDATION_FAILED"),
                        ({"limit": 0}, "VALIDATION_FAILED"), ({"region": "14x"}, "VALIDATION_FAILED")):
        assert error(client.get(URL, headers=headers, query_string=query)) == (422, code), query


def test_id_numbers_are_full_for_the_bureau_and_masked_for_others(client, spread):
    voucher_id = spread.v.ming_puhui["id"]
    full = client.get(f"{URL}/{voucher_id}", headers=spread.reviewer.headers).json["trainee"]
    assert full == {"id": spread.ming.id, "real_name": "王小明", "id_number": spread.ming.id_number}
    own = client.get(f"{URL}/{voucher_id}", headers=spread.ming.headers).json["trainee"]
    assert own["id_number"] == mask_id_number(spread.ming.id_number) != spread.ming.id_number
    for item in client.get(URL, headers=spread.reviewer.headers).json["items"]:
        assert "*" not in item["trainee"]["id_number"]
    for item in client.get(URL, headers=spread.ming.headers).json["items"]:
        assert item["trainee"]["id_number"] == mask_id_number(spread.ming.id_number)


def test_an_institution_sees_a_voucher_only_once_its_holder_is_on_its_roster(client, spread):
    institution = staff(client, Role.INSTITUTION_OPERATOR, LIN, make_org(OrgKind.TRAINING_INSTITUTION, LIN))
    other = staff(client, Role.INSTITUTION_OPERATOR, LIN, make_org(OrgKind.TRAINING_INSTITUTION, LIN))
    voucher_id = spread.v.ming_puhui["id"]
    assert ids(client.get(URL, headers=institution.headers)) == []
    assert error(client.get(f"{URL}/{voucher_id}", headers=institution.headers)) == (404, "VOUCHER_NOT_FOUND")
    open_class(client, institution.headers, spread.reviewer.headers, [spread.ming.id_number],
               region_code=LIN)
    listed = client.get(URL, headers=institution.headers).json["items"]
    assert [item["id"] for item in listed] == [voucher_id]  # not the trainee's other voucher
    assert listed[0]["trainee"]["id_number"] == mask_id_number(spread.ming.id_number)
    assert client.get(f"{URL}/{voucher_id}", headers=institution.headers).status_code == 200
    assert ids(client.get(URL, headers=other.headers)) == []
    # An institution cannot review what it sees.
    assert error(review(client, institution.headers, voucher_id, approve=True)) == (403, "FORBIDDEN")


# --- exports ------------------------------------------------------------------------------------

HEADERS = ["券号", "状态", "姓名", "身份证号码", "工种", "等级", "培训类型", "发券地区", "年度", "有效期至",
           "申领时间", "验券班级", "验券时间", "原因"]


def csv_rows(response) -> list[list[str]]:
    assert response.data.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM Excel needs
    text = response.data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline="")))


def xlsx_rows(response) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def attachment_name(response) -> str:
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    match = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert match, disposition
    return unquote(match.group(1))


def listed_rows(client, headers, **query) -> list[list[str]]:
    """The list endpoint's view of the same vouchers, as export rows (oldest first)."""
    items = client.get(URL, headers=headers, query_string=query | {"limit": 500}).json["items"]
    return [[v["serial"], v["state_label"], v["trainee"]["real_name"], v["trainee"]["id_number"],
             v["occupation_name"], v["level"], v["programme_label"], v["region_code"]]
            for v in reversed(items)]


def test_the_csv_export_matches_the_list(client, spread):
    headers = spread.reviewer.headers
    response = client.get(f"{URL}/export.csv", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r"电子券-\d{8}\.csv", attachment_name(response))
    assert "no-store" in response.headers["Cache-Control"]
    rows = csv_rows(response)
    assert rows[0] == HEADERS
    assert [row[:8] for row in rows[1:]] == listed_rows(client, headers)
    ming = next(row for row in rows[1:] if row[0] == spread.v.ming_puhui["serial"])
    assert ming[3] == spread.ming.id_number  # the bureau's export has full numbers
    assert ming[8] == str(server_clock.today().year) and ming[9] == spread.v.ming_puhui["expires_on"]


def test_the_xlsx_export_matches_the_list(client, spread):
    headers = spread.reviewer.headers
    response = client.get(f"{URL}/export.xlsx", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert re.fullmatch(r"电子券-\d{8}\.xlsx", attachment_name(response))
    rows = xlsx_rows(response)
    assert rows[0] == HEADERS
    assert [[str(c) for c in row[:8]] for row in rows[1:]] == listed_rows(client, headers)
    ming = next(row for row in rows[1:] if row[0] == spread.v.ming_puhui["serial"])
    assert ming[8] == server_clock.today().year
    assert ming[9].date().isoformat() == spread.v.ming_puhui["expires_on"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_apply_the_filters(client, spread, fmt):
    headers = spread.reviewer.headers
    response = client.get(f"{URL}/export.{fmt}", headers=headers, query_string={"state": "applied"})
    rows = csv_rows(response) if fmt == "csv" else xlsx_rows(response)
    assert [row[0] for row in rows[1:]] == [spread.v.ming_order["serial"], spread.v.hong_puhui["serial"]]
    named = client.get(f"{URL}/export.{fmt}", headers=headers, query_string={"q": "小红"})
    rows = csv_rows(named) if fmt == "csv" else xlsx_rows(named)
    assert [row[0] for row in rows[1:]] == [spread.v.hong_puhui["serial"]]


def test_a_bad_filter_refuses_the_csv_export(client, spread):
    bad = client.get(f"{URL}/export.csv", headers=spread.reviewer.headers, query_string={"state": "lost"})
    assert error(bad) == (422, "INVALID_STATE")


def test_a_refused_xlsx_export_leaves_no_temporary_file_behind(client, spread):
    """The filter is only checked once the workbook is being written (the rows are a generator):
    the refusal must not leave openpyxl's temporary sheet file on disk for the life of the worker."""
    def leftovers() -> set[str]:
        return {path for path in openpyxl_writer.ALL_TEMP_FILES if os.path.exists(path)}

    headers = spread.reviewer.headers
    before = leftovers()
    assert client.get(f"{URL}/export.xlsx", headers=headers).status_code == 200
    assert leftovers() == before  # a successful export cleans up after itself
    bad = client.get(f"{URL}/export.xlsx", headers=headers, query_string={"state": "lost"})
    assert error(bad) == (422, "INVALID_STATE")
    gc.collect()
    assert leftovers() == before


def test_export_times_and_file_name_use_the_date_in_china(client, spread, clock, monkeypatch):
    """At 07:30 on 2 March in Shanxi (23:30 on 1 March UTC) a voucher applied for then shows that
    time, and the file is named for 2 March."""
    instant = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return instant.astimezone(tz) if tz else instant.replace(tzinfo=None)

    clock.set(instant)
    monkeypatch.setattr(voucher_api, "datetime", Frozen)
    late = trainee(client, LIN, name="孙早起")
    voucher = applied(client, late.headers)
    response = client.get(f"{URL}/export.csv", headers=spread.reviewer.headers, query_string={"q": "孙早起"})
    rows = csv_rows(response)
    assert [(row[0], row[10]) for row in rows[1:]] == [(voucher["serial"], "2025-03-02 07:30")]
    assert attachment_name(response) == "电子券-20250302.csv"


def test_exported_reasons_cannot_run_as_formulas(client, spread):
    headers = spread.reviewer.headers
    formula = '=HYPERLINK("http://evil.example","点此")'
    assert revoke(client, headers, spread.v.ming_puhui["id"], reason=formula).status_code == 200
    rows = csv_rows(client.get(f"{URL}/export.csv", headers=headers, query_string={"state": "revoked"}))
    assert rows[1][13] == "'" + formula
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"{URL}/export.xlsx", headers=headers,
                                                        query_string={"state": "revoked"}).data))
    cell = book.worksheets[0].cell(row=2, column=14)
    assert cell.value == formula and cell.data_type == "s"


def test_an_institution_exports_only_what_it_sees_with_masked_numbers(client, spread):
    institution = staff(client, Role.INSTITUTION_OPERATOR, LIN, make_org(OrgKind.TRAINING_INSTITUTION, LIN))
    assert csv_rows(client.get(f"{URL}/export.csv", headers=institution.headers)) == [HEADERS]
    open_class(client, institution.headers, spread.reviewer.headers, [spread.ming.id_number],
               region_code=LIN)
    rows = csv_rows(client.get(f"{URL}/export.csv", headers=institution.headers))
    assert [(row[0], row[3]) for row in rows[1:]] == [
        (spread.v.ming_puhui["serial"], mask_id_number(spread.ming.id_number))]


def test_trainees_cannot_export(client, spread):
    for fmt in ("csv", "xlsx"):
        assert error(client.get(f"{URL}/export.{fmt}", headers=spread.ming.headers)) == (403, "FORBIDDEN")


def test_an_unknown_export_format_is_404(client, spread):
    response = client.get(f"{URL}/export.pdf", headers=spread.reviewer.headers)
    assert error(response) == (404, "UNSUPPORTED_FORMAT")


@pytest.mark.parametrize("params", [{"serial": "%"}, {"serial": "_"}, {"q": "%"}, {"q": "_"}])
def test_search_wildcards_are_matched_literally(client, lin, params):
    """`%` and `_` typed into the search box are characters, not SQL wildcards."""
    issued(client, lin.trainee, lin.reviewer)
    response = client.get(URL, headers=lin.reviewer.headers, query_string=params)
    assert response.status_code == 200 and response.json["total"] == 0
