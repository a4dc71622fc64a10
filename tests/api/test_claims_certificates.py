"""Certificate subsidies (技能评价补贴 / 取证补贴) through the API: the evaluation institution claims
for the certificates it issued, at the region's amounts (Lin 004 三: 初级 400 元), each person once
per kind and level (001, 002 第九条, 004 三) — also when two claims for the same level are paid at
the same moment (the unique index on the paid ledger)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.domain.access import OrgKind, Role
from server.extensions import db
from server.models import Claim, Disbursement, SubsidyGrant
from tests.api.claim_world import (
    after_notice,
    approve,
    count,
    error,
    finished_class,
    headers_for,
    pay,
    race,
    snapshot,
)
from tests.factories import make_org, make_staff

URL = "/api/v1/claims/certificates"


@pytest.fixture
def world(api, ctx, clock):
    """The Lin class, and its evaluator's 初级 skill-level certificates for trainees 0 and 1."""
    w = finished_class(api, clock)
    issued = api.post(f"/api/v1/classes/{w.class_id}/certificates", headers=w.evaluator,
                      json={"kind": "skill_level"})
    assert issued.status_code == 201, issued.json
    w.certs = {c["holder"]["id"]: c["id"] for c in issued.json["items"]}
    assert set(w.certs) == set(w.trainee_ids[:2])
    return w


def file(api, w, *trainees: int, headers=None):
    return api.post(URL, headers=headers or w.evaluator,
                    json={"certificate_ids": [w.certs[w.trainee_ids[n]] for n in trainees]})


def noticed(api, w, *trainees: int) -> dict:
    filed = file(api, w, *trainees)
    assert filed.status_code == 201, filed.json
    approve(api, w.headers.reviewer, filed.json["id"])
    return approve(api, w.reviewer2, filed.json["id"])


def amounts(claim: dict) -> dict[int, tuple[int, list[str]]]:
    return {ln["trainee_id"]: (ln["amount_fen"], ln["reasons"]) for ln in claim["lines"]}


def test_the_evaluator_claims_for_the_certificates_it_issued(api, world):
    w = world
    filed = file(api, w, 0, 1)
    assert filed.status_code == 201, filed.json
    claim = filed.json
    assert (claim["kind"], claim["class_id"], claim["region_code"], claim["state"]) == (
        "certificate", None, "141124", "submitted")
    # 004 三: 初级 400 元 each.
    assert amounts(claim) == {w.trainee_ids[0]: (40000, []), w.trainee_ids[1]: (40000, [])}
    assert {ln["certificate_id"] for ln in claim["lines"]} == set(w.certs.values())
    assert claim["total_fen"] == 80000

    approve(api, w.headers.reviewer, claim["id"])
    assert approve(api, w.reviewer2, claim["id"])["state"] == "in_notice"
    public = api.get(f"/api/v1/public/notices/{claim['number']}").json
    assert public["training_content"] == "技能评价（取证）补贴" and public["total_fen"] == 80000
    assert {e["standard"] for e in public["entries"]} == {"取证补贴"}


def test_certificates_of_another_issuer_are_refused(api, world):
    w = world
    other = make_org(OrgKind.EVALUATION_INSTITUTION, region_code=w.region_code, name="另一评价机构")
    stranger = headers_for(make_staff(Role.EVALUATOR, other))
    before = snapshot()
    refused = file(api, w, 0, headers=stranger)
    assert error(refused) == (422, "UNKNOWN_CERTIFICATE")
    assert refused.json["error"]["details"]["certificate_ids"] == [w.certs[w.trainee_ids[0]]]
    mixed = api.post(URL, headers=w.evaluator, json={"certificate_ids": [w.certs[w.trainee_ids[0]], 999999]})
    assert error(mixed) == (422, "UNKNOWN_CERTIFICATE")
    assert mixed.json["error"]["details"]["certificate_ids"] == [999999]
    # The training institution may claim for certificates it issued itself, not for the evaluator's.
    assert error(file(api, w, 0, headers=w.headers.institution)) == (422, "UNKNOWN_CERTIFICATE")
    assert error(api.post(URL, headers=w.evaluator, json={"certificate_ids": []})) == (422, "NO_CERTIFICATES")
    for headers in (w.headers.reviewer, w.finance):
        assert error(file(api, w, 0, headers=headers)) == (403, "FORBIDDEN")
    assert snapshot() == before


def test_a_level_already_paid_is_not_paid_again(api, world, clock):
    w = world
    first = noticed(api, w, 0)
    after_notice(clock, first)
    assert pay(api, w, first).status_code == 201
    grants = db.session.execute(select(SubsidyGrant.trainee_id, SubsidyGrant.cert_kind,
                                       SubsidyGrant.cert_level, SubsidyGrant.amount_fen)).tuples().all()
    assert grants == [(w.trainee_ids[0], "skill_level", "初级", 40000)]

    second = file(api, w, 0, 1)
    assert second.status_code == 201, second.json
    assert amounts(second.json) == {w.trainee_ids[0]: (0, ["CERT_LEVEL_ALREADY_SUBSIDISED"]),
                                    w.trainee_ids[1]: (40000, [])}
    assert second.json["total_fen"] == 40000
    approve(api, w.headers.reviewer, second.json["id"])
    after_notice(clock, approve(api, w.reviewer2, second.json["id"]))
    assert pay(api, w, second.json, reference="LX-2026-002").status_code == 201
    assert sorted(db.session.scalars(select(SubsidyGrant.trainee_id))) == sorted(w.trainee_ids[:2])


def test_two_claims_for_the_same_level_paid_at_once_grant_it_once(app, api, world, clock):
    """The evaluator filed trainee 0's certificate twice, before either was paid, so both claims
    carry 400 元 for it. Finance pays both at the same moment: the ledger's unique index on
    (trainee, kind, level) lets one through; the other is refused whole (ALREADY_PAID)."""
    w = world
    claims = [noticed(api, w, 0), noticed(api, w, 0)]
    assert [c["total_fen"] for c in claims] == [40000, 40000]
    day = after_notice(clock, claims[0])
    db.session.commit()
    def disburse(index: int):
        return lambda client: client.post(
            f"/api/v1/claims/{claims[index]['id']}/disbursement", headers=w.finance,
            json={"amount_fen": 40000, "paid_on": day.isoformat(), "reference": f"LX-2026-01{index}"})

    results = race(app, disburse(0), disburse(1))
    assert sorted(results, key=str) == [(201, None), (409, "ALREADY_PAID")], results
    db.session.expire_all()
    assert count(Disbursement) == 1
    assert db.session.execute(select(SubsidyGrant.trainee_id, SubsidyGrant.cert_level)).tuples().all() == [
        (w.trainee_ids[0], "初级")]
    loser = claims[[r[0] for r in results].index(409)]
    assert db.session.get(Claim, loser["id"]).state in ("in_notice", "noticed")  # not paid, nothing half-done
    # Finance returns the loser; recomputed with the level already paid, it has nothing to pay,
    # and resubmitting it says so (the evaluator withdraws it).
    returned = api.post(f"/api/v1/claims/{loser['id']}/return", headers=w.finance,
                        json={"reason": "该证书等级已拨付"})
    assert returned.status_code == 200, returned.json
    again = api.post(f"/api/v1/claims/{loser['id']}/resubmit", headers=w.evaluator)
    assert error(again) == (422, "NOTHING_TO_CLAIM")
    assert again.json["error"]["details"]["reasons"] == ["CERT_LEVEL_ALREADY_SUBSIDISED"]
    assert api.post(f"/api/v1/claims/{loser['id']}/withdraw", headers=w.evaluator).status_code == 200


def test_a_revoked_certificate_is_not_subsidised(api, world):
    """An evaluation found fraudulent is cancelled (002 第十四条): its certificate earns nothing,
    whether revoked before the claim is filed or while it is returned for amendment."""
    w = world
    filed = file(api, w, 0, 1)
    assert filed.status_code == 201, filed.json
    returned = api.post(f"/api/v1/claims/{filed.json['id']}/return", headers=w.headers.reviewer,
                        json={"reason": "学员0 的考核记录存疑"})
    assert returned.status_code == 200, returned.json
    revoked = api.post(f"/api/v1/certificates/{w.certs[w.trainee_ids[0]]}/revoke", headers=w.headers.reviewer,
                       json={"reason": "考核试卷系他人代答，取消评价结果"})
    assert revoked.status_code == 200, revoked.json
    before = snapshot()
    resubmitted = api.post(f"/api/v1/claims/{filed.json['id']}/resubmit", headers=w.evaluator)
    assert error(resubmitted) == (409, "CERTIFICATE_REVOKED"), resubmitted.json
    refused = file(api, w, 0, 1)
    assert error(refused) == (409, "CERTIFICATE_REVOKED")
    assert refused.json["error"]["details"]["certificate_ids"] == [w.certs[w.trainee_ids[0]]]
    assert snapshot() == before
    assert api.post(f"/api/v1/claims/{filed.json['id']}/withdraw", headers=w.evaluator).status_code == 200
    again = file(api, w, 1)
    assert again.status_code == 201 and again.json["total_fen"] == 40000


def test_a_certificate_revoked_while_its_claim_is_in_notice_is_not_paid(api, world, clock):
    """002 第十四条: a cancelled evaluation is withdrawn; finance's payment is refused until the
    claim is returned and filed again without it."""
    w = world
    claim = noticed(api, w, 0, 1)
    revoked = api.post(f"/api/v1/certificates/{w.certs[w.trainee_ids[0]]}/revoke", headers=w.headers.reviewer,
                       json={"reason": "考核试卷系他人代答，取消评价结果"})
    assert revoked.status_code == 200, revoked.json
    after_notice(clock, claim)
    before = snapshot()
    refused = pay(api, w, claim)
    assert error(refused) == (409, "CERTIFICATE_REVOKED"), refused.json
    assert snapshot() == before and count(Disbursement) == 0
