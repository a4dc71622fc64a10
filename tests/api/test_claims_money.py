"""Finance's re-review and payment of a noticed claim (财政复核 · 拨付), the write-off of its vouchers
in the same transaction (兑现 · 核销), racing payments, and recoveries (追回; 002 第十七条).

The Lin class of claim_world: 95,000 fen = 500 元 (trainee 0, 5 days × 100 元) + 450 元 (trainee 1,
4.5 days); trainee 2 was left off the roster. Noticed on Sunday 15 March 2026, the notice runs
16–20 March; finance may pay from the 21st."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.domain.access import OrgKind, Role
from server.extensions import db
from server.models import AuditEvent, Claim, Disbursement, SubsidyGrant, Voucher
from server.services import audit
from server.services import clock as server_clock
from tests.api.claim_world import (
    HUGUAN,
    after_notice,
    count,
    error,
    finished_class,
    get_claim,
    headers_for,
    noticed_claim,
    pay,
    race,
    snapshot,
)
from tests.factories import make_org, make_staff


@pytest.fixture
def world(api, ctx, clock):
    w = finished_class(api, clock)
    w.claim = noticed_claim(api, w)
    return w


def disburse(api, headers, claim_id: int, **body):
    return api.post(f"/api/v1/claims/{claim_id}/disbursement", headers=headers, json=body)


def recover(api, headers, claim_id: int, amount_fen, reason="核实为虚假培训，追回补贴"):
    return api.post(f"/api/v1/claims/{claim_id}/recoveries", headers=headers,
                    json={"amount_fen": amount_fen, "reason": reason})


def events(action: str) -> list[int]:
    """The ids of the objects audited with `action`."""
    return sorted(int(e) for e in db.session.scalars(
        select(AuditEvent.object_id).where(AuditEvent.action == action)))


# --- paying -----------------------------------------------------------------------------------


def test_finance_pays_the_total_after_the_notice_and_the_vouchers_are_written_off(api, world, clock):
    w, claim = world, world.claim
    today = server_clock.today()
    good = {"amount_fen": 95000, "paid_on": today.isoformat(), "reference": "LX-2026-001"}
    before = snapshot()
    early = disburse(api, w.finance, claim["id"], **good)
    assert error(early) == (409, "CLAIM_STATE_CONFLICT")  # the notice is still running
    assert snapshot() == before

    day = after_notice(clock, claim)
    good["paid_on"] = day.isoformat()
    other_finance = headers_for(make_staff(Role.FINANCE, make_org(OrgKind.FINANCE_BUREAU,
                                                                  region_code=HUGUAN)))
    before = snapshot()
    for change, code in (({"amount_fen": 95001}, "AMOUNT_MISMATCH"),
                         ({"amount_fen": 94999}, "AMOUNT_MISMATCH"),
                         ({"amount_fen": 0}, "INVALID_AMOUNT"), ({"amount_fen": -95000}, "INVALID_AMOUNT"),
                         ({"paid_on": (day + timedelta(days=1)).isoformat()}, "PAID_ON_IN_FUTURE"),
                         ({"reference": None}, "REFERENCE_REQUIRED"),
                         ({"reference": "   "}, "REFERENCE_REQUIRED"),
                         ({"reference": "X" * 65}, "TEXT_TOO_LONG")):
        refused = disburse(api, w.finance, claim["id"], **(good | change))
        assert error(refused) == (422, code), (change, refused.json)
    assert error(disburse(api, other_finance, claim["id"], **good)) == (404, "CLAIM_NOT_FOUND")
    for headers in (w.headers.reviewer, w.headers.institution, w.headers.supervisor):
        assert error(disburse(api, headers, claim["id"], **good)) == (403, "FORBIDDEN")
    assert snapshot() == before
    assert get_claim(api, w.finance, claim["id"])["state"] == "in_notice"  # a refusal moved nothing

    paid = disburse(api, w.finance, claim["id"], **(good | {"reference": "  LX-2026-001 "}))
    assert paid.status_code == 201, paid.json
    assert paid.json["state"] == "paid" and paid.json["paid_at"] is not None
    assert {k: paid.json["disbursement"][k] for k in ("amount_fen", "paid_on", "reference")} == {
        "amount_fen": 95000, "paid_on": day.isoformat(), "reference": "LX-2026-001"}
    # Redeemed and written off in the payment's own transaction: one instant for all three.
    db.session.expire_all()
    claim_row = db.session.get(Claim, claim["id"])
    vouchers = {v.trainee_id: v for v in db.session.scalars(select(Voucher))}
    for n in (0, 1):
        voucher = vouchers[w.trainee_ids[n]]
        assert voucher.state == "written_off"
        assert voucher.redeemed_at == voucher.written_off_at == claim_row.paid_at
    assert vouchers[w.trainee_ids[2]].state == "bound" and vouchers[w.trainee_ids[2]].redeemed_at is None
    grants = db.session.execute(select(SubsidyGrant.voucher_id, SubsidyGrant.item, SubsidyGrant.amount_fen,
                                       SubsidyGrant.year).order_by(SubsidyGrant.id)).tuples().all()
    assert grants == [(w.voucher_ids[0], "training", 50000, 2026),
                      (w.voucher_ids[1], "training", 45000, 2026)]
    paid_vouchers = sorted(w.voucher_ids[:2])
    assert events("voucher.redeem") == events("voucher.write_off") == paid_vouchers

    before = snapshot()
    again = disburse(api, w.finance, claim["id"], **good)
    assert error(again) == (409, "CLAIM_STATE_CONFLICT")
    assert snapshot() == before


def test_a_voucher_revoked_after_filing_stops_the_whole_payment(api, world, clock):
    """Trainee 1's voucher is revoked while the claim is noticed: it can no longer be written off,
    so nothing is paid, no line granted, no other voucher moved; finance returns the claim."""
    w, claim = world, world.claim
    revoked = api.post(f"/api/v1/vouchers/{w.voucher_ids[1]}/revoke", headers=w.headers.reviewer,
                       json={"reason": "查实为他人代训"})
    assert revoked.status_code == 200, revoked.json
    after_notice(clock, claim)
    before = snapshot()
    refused = pay(api, w, claim)
    assert error(refused) == (409, "ILLEGAL_VOUCHER_TRANSITION"), refused.json
    assert snapshot() == before
    returned = api.post(f"/api/v1/claims/{claim['id']}/return", headers=w.finance,
                        json={"reason": "学员1 电子券已作废，请重新核算"})
    assert returned.status_code == 200 and returned.json["state"] == "returned", returned.json
    resubmitted = api.post(f"/api/v1/claims/{claim['id']}/resubmit", headers=w.headers.institution)
    assert resubmitted.status_code == 200 and resubmitted.json["total_fen"] == 50000


def test_finance_returns_a_claim_at_its_re_review_once_the_notice_has_ended(api, world, clock):
    """The notice's last day has passed; whether or not the daily end-notices command has run,
    the claim is finance's to pay or return (and no longer the reviewers' to return)."""
    w, claim = world, world.claim
    url = f"/api/v1/claims/{claim['id']}/return"
    assert error(api.post(url, headers=w.finance, json={"reason": "公示中"})) == (409, "CLAIM_STATE_CONFLICT")
    after_notice(clock, claim)
    before = snapshot()
    assert error(api.post(url, headers=w.finance, json={"reason": " "})) == (422, "REASON_REQUIRED")
    assert error(api.post(url, headers=w.headers.reviewer, json={"reason": "已过公示"})) == (403, "FORBIDDEN")
    assert snapshot() == before
    returned = api.post(url, headers=w.finance, json={"reason": "复审发现结业花名册缺少签字"})
    assert returned.status_code == 200, returned.json
    assert returned.json["state"] == "returned"
    assert returned.json["returned_reason"] == "复审发现结业花名册缺少签字"


# --- racing payments --------------------------------------------------------------------------


@pytest.mark.parametrize("ended_by_command", [False, True])
def test_two_racing_disbursements_pay_once(app, api, world, clock, ended_by_command):
    """Finance posts the payment twice at once (a double click, two clerks): exactly one 201 and
    one 409, one disbursement, each voucher redeemed and written off once, each line granted
    once. With the notice ended by the command both race from `noticed`; without, both first end
    it themselves. On SQLite the write lock serialises them; on PostgreSQL the conditional
    UPDATE of the claim makes the second wait for the first and then find it paid."""
    w, claim = world, world.claim
    day = after_notice(clock, claim)
    if ended_by_command:
        assert app.test_cli_runner().invoke(args=["end-notices"]).exit_code == 0
    db.session.commit()  # hold no transaction: SQLite's writers would queue behind it
    body = {"amount_fen": claim["total_fen"], "paid_on": day.isoformat(), "reference": "LX-2026-009"}
    def disburse(client):
        return client.post(f"/api/v1/claims/{claim['id']}/disbursement", headers=w.finance, json=body)

    results = race(app, disburse, disburse)
    assert sorted(results, key=str) == [(201, None), (409, "CLAIM_STATE_CONFLICT")], results
    db.session.expire_all()
    assert count(Disbursement) == 1
    assert db.session.scalar(select(Claim.state)) == "paid"
    assert sorted(db.session.scalars(select(SubsidyGrant.voucher_id))) == sorted(w.voucher_ids[:2])
    assert events("voucher.redeem") == events("voucher.write_off") == sorted(w.voucher_ids[:2])
    assert events("claim.disbursed") == [claim["id"]]
    problem, _, _ = audit.verify()
    assert problem is None


# --- recoveries (追回) ------------------------------------------------------------------------


def test_recoveries_only_of_a_paid_claim_never_more_than_was_paid_and_cumulative(api, world, clock):
    w, claim = world, world.claim
    before = snapshot()
    assert error(recover(api, w.finance, claim["id"], 1000)) == (409, "CLAIM_NOT_PAID")
    assert snapshot() == before
    after_notice(clock, claim)
    assert pay(api, w, claim).status_code == 201
    url = f"/api/v1/claims/{claim['id']}/recoveries"
    before = snapshot()
    for amount, reason, code in ((0, "x", "INVALID_AMOUNT"), (95001, "多报", "RECOVERY_EXCEEDS_PAID"),
                                 (1000, "  ", "REASON_REQUIRED")):
        assert error(recover(api, w.finance, claim["id"], amount, reason)) == (422, code)
    for headers in (w.headers.institution, w.headers.supervisor):
        refused = api.post(url, headers=headers, json={"amount_fen": 1000, "reason": "x"})
        assert error(refused) == (403, "FORBIDDEN")
    outside = headers_for(make_staff(Role.BUREAU_REVIEWER, region_code=HUGUAN))
    assert snapshot()["audit"] == before["audit"]
    assert error(recover(api, outside, claim["id"], 1000)) == (404, "CLAIM_NOT_FOUND")

    first = recover(api, w.finance, claim["id"], 45000, "学员1 代签到，追回其补贴")
    assert first.status_code == 201, first.json
    assert first.json["recovered_fen"] == 45000 and first.json["state"] == "paid"
    # What is left to recover is what was paid less what was recovered: 50,000 fen.
    more = recover(api, w.headers.reviewer, claim["id"], 50001)
    assert error(more) == (422, "RECOVERY_EXCEEDS_PAID")
    assert more.json["error"]["details"] == {"amount_fen": 50001, "paid_fen": 95000,
                                             "already_recovered_fen": 45000}
    rest = recover(api, w.headers.reviewer, claim["id"], 50000, "整班虚假培训")
    assert rest.status_code == 201 and rest.json["recovered_fen"] == 95000
    assert [(r["amount_fen"], r["reason"]) for r in rest.json["recoveries"]] == [
        (45000, "学员1 代签到，追回其补贴"), (50000, "整班虚假培训")]
    assert error(recover(api, w.finance, claim["id"], 1)) == (422, "RECOVERY_EXCEEDS_PAID")


def test_a_voucher_with_two_paid_lines_is_written_off_once(api, ctx, clock):
    """Lin pays 脱贫劳动力 a living allowance of 15 元 a day beside the training (004 二(三)): two
    ledger rows for one voucher, one write-off."""
    w = finished_class(api, clock, categories=["poverty_alleviated"])
    claim = noticed_claim(api, w)
    lines = {(ln["trainee_id"], ln["item"]): ln["amount_fen"] for ln in claim["lines"]}
    t0, t1, t2 = w.trainee_ids
    # Trainee 0: 5 days × 100 元 + 5 days × 15 元; trainee 1: 4.5 days × (100 + 15) 元; trainee 2: 0.
    assert lines == {(t0, "training"): 50000, (t0, "living_allowance"): 7500,
                     (t1, "training"): 45000, (t1, "living_allowance"): 6750,
                     (t2, "training"): 0, (t2, "living_allowance"): 0}
    assert claim["total_fen"] == 50000 + 7500 + 45000 + 6750
    after_notice(clock, claim)
    paid = pay(api, w, claim)
    assert paid.status_code == 201, paid.json
    grants = db.session.execute(select(SubsidyGrant.voucher_id, SubsidyGrant.item)
                                .order_by(SubsidyGrant.voucher_id, SubsidyGrant.item)).tuples().all()
    v0, v1 = sorted(w.voucher_ids[:2])
    assert grants == [(v0, "living_allowance"), (v0, "training"), (v1, "living_allowance"), (v1, "training")]
    assert events("voucher.redeem") == events("voucher.write_off") == [v0, v1]
