"""Subsidy claims (补贴申领) from filing to write-off: preview, filing, two-person review, the public
notice and its objections, finance's payment, recoveries, employment evidence, video gaps and
suspensions (SPEC §6, §7)."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, make_response

from server.api import claim_schemas as c
from server.api.http import parse_body, parse_query, person_out, respond
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.domain import subsidy
from server.domain.access import Principal, Role
from server.domain.claims import KIND_LABELS, STATE_LABELS, allowed_actions
from server.domain.claims_notice import OBJECTION_LABELS
from server.domain.subsidy_explain import yuan
from server.extensions import rate_limit
from server.models import Claim, ClaimLine, ClaimObjection, Organisation, TraineeProfile
from server.services import claim_evidence, claim_review, claim_views, claims, clock, disbursements

bp = Blueprint("claims", __name__, url_prefix="/api/v1")

CLAIMANTS = (Role.INSTITUTION_OPERATOR, Role.EVALUATOR)
STAFF = (Role.INSTITUTION_OPERATOR, Role.EVALUATOR, Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR,
         Role.FINANCE, Role.ADMIN)


# --- shaping ------------------------------------------------------------------------------------


def _steps(steps) -> list[c.StepOut]:
    return [c.StepOut(half_days=s["half_days"], days=s["half_days"] / 2, daily_rate_fen=s["daily_rate_fen"],
                      amount_fen=s["amount_fen"]) for s in steps]


def _reason_labels(codes) -> list[str]:
    return [subsidy.REASON_LABELS.get(subsidy.Reason(r), r) if r in subsidy.Reason.__members__.values() else r
            for r in codes]


def computation_out(result: subsidy.Computation, viewer: Principal) -> c.ComputationOut:
    people = claim_views.people(line.trainee_id for line in result.lines)
    lines = [c.LineOut(
        trainee=person_out(people[line.trainee_id], viewer) if line.trainee_id in people else None,
        trainee_id=line.trainee_id, certificate_id=line.certificate_id, item=line.item,
        half_days=line.half_days,
        steps=_steps(asdict(s) for s in line.steps),
        gross_fen=line.gross_fen, cap_fen=line.cap_fen,
        adjustments=[c.AdjustmentOut(reason=str(a.reason), amount_fen=a.amount_fen, note=a.note)
                     for a in line.adjustments],
        amount_fen=line.amount_fen, reasons=[str(r) for r in line.reasons],
        reason_labels=_reason_labels(line.reasons), explanation=line.explain()) for line in result.lines]
    return c.ComputationOut(region_code=result.region_code,
                            policy_effective_from=result.policy_effective_from,
                            programme=str(result.programme), basis=result.basis, lines=lines,
                            total_fen=result.total_fen, explanation=result.explain())


def notice_out(claim: Claim) -> c.NoticeOut | None:
    notice = claim_review.notice_of(claim)
    if notice is None:
        return None
    today = clock.today()
    return c.NoticeOut(published_on=claim.notice_published_on, first_day=notice.first_day,
                       last_day=notice.last_day, working_days=notice.working_days, ended=notice.ended(today),
                       remaining_working_days=notice.remaining(today))


def claim_out(claim: Claim, org: Organisation, model=c.ClaimOut, **extra):
    return model(
        id=claim.id, number=claim.number, kind=str(claim.kind), kind_label=KIND_LABELS[claim.kind],
        state=str(claim.state), state_label=STATE_LABELS[claim.state], organisation_id=org.id,
        organisation_name=org.name, region_code=claim.region_code, class_id=claim.class_id,
        training_year=claim.training_year, version=claim.version, digest=claim.digest,
        total_fen=claim.total_fen, total_yuan=yuan(claim.total_fen),
        policy_region_code=claim.policy_region_code,
        policy_effective_from=claim.policy_effective_from, filed_at=claim.filed_at,
        returned_reason=claim.returned_reason, notice=notice_out(claim), paid_at=claim.paid_at,
        allowed_actions=[str(a) for a in allowed_actions(claim.state)], **extra)


def line_out(line: ClaimLine, profile: TraineeProfile | None, viewer: Principal) -> c.LineOut:
    return c.LineOut(
        id=line.id, trainee=person_out(profile, viewer) if profile else None, trainee_id=line.trainee_id,
        voucher_id=line.voucher_id, certificate_id=line.certificate_id, item=line.item,
        half_days=line.half_days,
        steps=_steps(line.detail.get("steps", [])), gross_fen=line.gross_fen, cap_fen=line.cap_fen,
        adjustments=[c.AdjustmentOut(**a) for a in line.detail.get("adjustments", [])],
        amount_fen=line.amount_fen, reasons=list(line.reasons), reason_labels=_reason_labels(line.reasons),
        explanation=line.explanation, removed=line.removed, removed_reason=line.removed_reason)


def objection_out(o: ClaimObjection) -> c.ObjectionOut:
    return c.ObjectionOut(id=o.id, claim_id=o.claim_id, state=str(o.state),
                          state_label=OBJECTION_LABELS[o.state], text=o.text, contact=o.contact,
                          lodged_at=o.lodged_at, decided_at=o.decided_at,
                          reason=o.reason, removed_line_ids=list(o.removed_line_ids or []))


def detail_out(v: claim_views.ClaimView, viewer: Principal) -> c.ClaimDetail:
    claim, payment = v.claim, v.payment
    return claim_out(
        claim, v.organisation, c.ClaimDetail, basis=claim.basis, explanation=list(claim.explanation),
        lines=[line_out(ln, profile, viewer) for ln, profile in v.lines],
        approvals=[c.ApprovalOut(step=a.step, reviewer_id=a.reviewer_id, reviewer_name=name, digest=a.digest,
                                 approved_at=a.approved_at) for a, name in v.approvals],
        objections=[objection_out(o) for o in v.objections],
        disbursement=c.DisbursementOut(amount_fen=payment.amount_fen, paid_on=payment.paid_on,
                                       reference=payment.reference, recorded_at=payment.recorded_at)
        if payment else None,
        recoveries=[c.RecoveryOut(id=r.id, amount_fen=r.amount_fen, reason=r.reason,
                                  recorded_at=r.recorded_at) for r in v.recoveries],
        recovered_fen=v.recovered_fen)


def _detail(claim: Claim, status: int = 200):
    return respond(detail_out(claim_views.view(current_principal(), claim), current_principal()), status)


# --- filing -------------------------------------------------------------------------------------


@bp.get("/classes/<int:class_id>/claim-preview")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("培训补贴测算（提交前预览，不保存）：每名学员的天数、分段标准、上限、核减及原因；"
            "创业培训 ?stage=2 为二期",
            "claims", query=c.StageQuery, response=c.ComputationOut, errors=(404, 409, 422))
def claim_preview(class_id: int):
    q = parse_query(c.StageQuery)
    result = claims.preview(current_principal(), class_id, q.stage)
    return respond(computation_out(result, current_principal()))


@bp.post("/classes/<int:class_id>/claims")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("申领培训补贴：结业审核通过的班级，按提交时的数据与政策版本重新计算并冻结；"
            "创业培训首期拨付后 ?stage=2 申领二期（004 二(五)）", "claims", query=c.StageQuery,
            response=c.ClaimDetail, status=201, errors=(404, 409, 422))
def file_training_claim(class_id: int):
    q = parse_query(c.StageQuery)
    return _detail(claims.file_training_claim(current_principal(), class_id, q.stage), 201)


@bp.post("/claims/certificates")
@signed_in(*CLAIMANTS)
@documented("申领技能评价（取证）补贴：本单位颁发的证书，每人每等级一次", "claims", body=c.CertificateClaimIn,
            response=c.ClaimDetail, status=201, errors=(403, 409, 422))
def file_certificate_claim():
    body = parse_body(c.CertificateClaimIn)
    return _detail(claims.file_certificate_claim(current_principal(), body.certificate_ids), 201)


@bp.get("/claims")
@signed_in(*STAFF)
@documented("补贴申领列表（本单位或本辖区）", "claims", query=c.ClaimQuery, response=c.ClaimList)
def list_claims():
    q = parse_query(c.ClaimQuery)
    rows, total = claims.list_claims(current_principal(), claims.ClaimFilter(q.state, q.kind, q.class_id),
                                     limit=q.limit, offset=q.offset)
    orgs = claim_views.organisations(rows)
    return respond(c.ClaimList(items=[claim_out(r, orgs[r.organisation_id]) for r in rows], total=total))


@bp.get("/claims/<int:claim_id>")
@signed_in(*STAFF)
@documented("补贴申领详情：明细、两次审核签字、公示、异议、拨付与追回", "claims", response=c.ClaimDetail,
            errors=(404,))
def get_claim(claim_id: int):
    return _detail(claims.visible_claim(current_principal(), claim_id))


@bp.post("/claims/<int:claim_id>/resubmit")
@signed_in(*CLAIMANTS)
@documented("重新提交退回的申领（重新计算，两名经办人须重新审核）", "claims", response=c.ClaimDetail,
            errors=(403, 404, 409))
def resubmit(claim_id: int):
    return _detail(claims.resubmit(current_principal(), claim_id))


@bp.post("/claims/<int:claim_id>/withdraw")
@signed_in(*CLAIMANTS)
@documented("撤回申领（公示前）", "claims", response=c.ClaimDetail, errors=(403, 404, 409))
def withdraw(claim_id: int):
    return _detail(claims.withdraw(current_principal(), claim_id))


# --- review (两人以上经办审查签字) -----------------------------------------------------------------


@bp.post("/claims/<int:claim_id>/approve")
@signed_in(Role.BUREAU_REVIEWER)
@documented("经办人审核签字：须两名不同经办人先后审核当前版本；第二人通过后开始公示（5 个工作日）", "claims",
            response=c.ClaimDetail, errors=(403, 404, 409))
def approve(claim_id: int):
    return _detail(claim_review.approve(current_principal(), claim_id))


@bp.post("/claims/<int:claim_id>/return")
@signed_in(Role.BUREAU_REVIEWER, Role.FINANCE)
@documented("退回申领（须填写原因）：经办人审核或公示期间、财政复核时", "claims", body=c.ReasonIn,
            response=c.ClaimDetail, errors=(403, 404, 409, 422))
def return_claim(claim_id: int):
    body = parse_body(c.ReasonIn)
    return _detail(claim_review.return_claim(current_principal(), claim_id, body.reason))


@bp.get("/claims/<int:claim_id>/objections")
@signed_in(*STAFF)
@documented("申领收到的公示异议", "claims", response=c.ObjectionOut, errors=(404,))
def claim_objections(claim_id: int):
    rows = claim_review.objections_of(current_principal(), claim_id)
    return {"items": [objection_out(o).model_dump(mode="json") for o in rows]}, 200


@bp.post("/objections/<int:objection_id>/decision")
@signed_in(Role.BUREAU_REVIEWER)
@documented("处理异议：upheld（列明核减的明细；申领成为新版本，须两名经办人重新审核后重新公示）或 dismissed",
            "claims",
            body=c.ObjectionDecisionIn, response=c.ObjectionOut, errors=(403, 404, 409, 422))
def decide_objection(objection_id: int):
    body = parse_body(c.ObjectionDecisionIn)
    row = claim_review.decide_objection(current_principal(), objection_id, body.outcome, body.reason,
                                        body.removed_line_ids)
    return respond(objection_out(row))


# --- payment (财政复核 · 拨付 · 核销) -------------------------------------------------------------


@bp.post("/claims/<int:claim_id>/disbursement")
@signed_in(Role.FINANCE)
@documented("财政复核并登记拨付：金额须等于核定总额；同一事务内电子券兑现并核销", "claims",
            body=c.DisbursementIn, response=c.ClaimDetail, status=201, errors=(403, 404, 409, 422))
def disburse(claim_id: int):
    body = parse_body(c.DisbursementIn)
    payment = disbursements.disburse(current_principal(), claim_id, body.amount_fen, body.paid_on,
                                     body.reference)
    return _detail(claims.visible_claim(current_principal(), payment.claim_id), 201)


@bp.post("/claims/<int:claim_id>/recoveries")
@signed_in(*disbursements.RECOVERY_ROLES)
@documented("登记追回的补贴资金（不超过已拨付金额）", "claims", body=c.RecoveryIn, response=c.ClaimDetail,
            status=201, errors=(403, 404, 409, 422))
def recover(claim_id: int):
    body = parse_body(c.RecoveryIn)
    row = disbursements.recover(current_principal(), claim_id, body.amount_fen, body.reason)
    return _detail(claims.visible_claim(current_principal(), row.claim_id), 201)


@bp.post("/organisations/<int:organisation_id>/suspension")
@signed_in(*disbursements.SUSPENSION_ROLES)
@documented("暂停机构（弄虚作假）：暂停期间不得开班或申领补贴（002 第十七条）", "claims", body=c.SuspensionIn,
            response=c.SuspensionOut, errors=(403, 404, 422))
def suspend(organisation_id: int):
    body = parse_body(c.SuspensionIn)
    org = disbursements.suspend(current_principal(), organisation_id, body.reason)
    return respond(c.SuspensionOut(organisation_id=org.id, suspended_from=org.suspended_from,
                                   suspended_reason=org.suspended_reason))


@bp.delete("/organisations/<int:organisation_id>/suspension")
@signed_in(*disbursements.SUSPENSION_ROLES)
@documented("解除机构暂停", "claims", response=c.SuspensionOut, errors=(403, 404))
def lift_suspension(organisation_id: int):
    org = disbursements.lift_suspension(current_principal(), organisation_id)
    return respond(c.SuspensionOut(organisation_id=org.id, suspended_from=None, suspended_reason=None))


# --- employment evidence and video gaps ------------------------------------------------------


def employment_out(e) -> c.EmploymentOut:
    return c.EmploymentOut(trainee_id=e.trainee_id, employer=e.employer,
                           social_credit_code=e.social_credit_code, contract_start=e.contract_start,
                           contract_months=e.contract_months,
                           proof_type=e.proof_type, has_payroll=e.has_payroll, document_id=e.document_id,
                           recorded_at=e.recorded_at)


@bp.put("/classes/<int:class_id>/employment/<int:trainee_id>")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("登记学员就业证明（订单式、项目制）：按地区规则核验"
            "（000 三(一)：一年以上劳动合同或工资、社保证明；"
            "003 四(三)：六个月以上合同并附工资表）", "claims", body=c.EmploymentIn, response=c.EmploymentOut,
            errors=(404, 409, 422))
def record_employment(class_id: int, trainee_id: int):
    body = parse_body(c.EmploymentIn)
    evidence = subsidy.EmploymentEvidence(
        employer=body.employer, social_credit_code=body.social_credit_code,
        contract_start=body.contract_start, contract_months=body.contract_months, proof_type=body.proof_type,
        has_payroll=body.has_payroll)
    row = claim_evidence.record_employment(current_principal(), class_id, trainee_id, evidence,
                                           body.document_id)
    return respond(employment_out(row))


@bp.get("/classes/<int:class_id>/employment")
@signed_in(*STAFF)
@documented("本班已登记的就业证明", "claims", response=c.EmploymentList, errors=(404,))
def list_employment(class_id: int):
    rows = claim_evidence.employment_of(current_principal(), class_id)
    return respond(c.EmploymentList(items=[employment_out(e) for e in rows]))


def gap_out(g) -> c.VideoGapOut:
    return c.VideoGapOut(id=g.id, day=g.day, half=g.half, reason=g.reason, recorded_at=g.recorded_at)


@bp.post("/classes/<int:class_id>/video-gaps")
@signed_in(*claim_evidence.VIDEO_GAP_ROLES)
@documented("登记影像资料缺失的半天（003 五(二)：缺失半天扣减半天培训时间）", "claims", body=c.VideoGapIn,
            response=c.VideoGapOut, status=201, errors=(404, 409, 422))
def record_video_gap(class_id: int):
    body = parse_body(c.VideoGapIn)
    row = claim_evidence.record_video_gap(current_principal(), class_id, body.day, body.half, body.reason)
    return respond(gap_out(row), 201)


@bp.get("/classes/<int:class_id>/video-gaps")
@signed_in(*STAFF)
@documented("本班登记的影像资料缺失", "claims", response=c.VideoGapList, errors=(404,))
def list_video_gaps(class_id: int):
    return respond(c.VideoGapList(items=[gap_out(g) for g in
                                         claim_evidence.video_gaps(current_principal(), class_id)]))


# --- the public notice (公示): no sign-in ----------------------------------------------------


def public_notice_out(view: claim_review.NoticeView) -> c.PublicNotice:
    claim = view.claim
    return c.PublicNotice(
        number=claim.number, kind_label=KIND_LABELS[claim.kind], organisation_name=view.organisation.name,
        region_code=claim.region_code, training_content=view.training_content, state=str(claim.state),
        state_label=STATE_LABELS[claim.state], notice=notice_out(claim), total_fen=claim.total_fen,
        total_yuan=yuan(claim.total_fen),
        entries=[c.NoticeEntryOut(organisation_name=e.organisation_name, person_name=e.person_name,
                                  id_number=e.id_number, standard=e.standard, amount_fen=e.amount_fen,
                                  amount_yuan=yuan(e.amount_fen), training_content=e.training_content)
                 for e in view.entries])


def _public(body, status: int = 200):
    response = make_response(body.model_dump(mode="json"), status)
    response.headers["Cache-Control"] = "no-store"  # an objection or an upheld one shows at once
    return response


@bp.get("/public/notices")
@rate_limit("120/minute")
@documented("补贴公示（无需登录）：公示中的申领，单位、人员（打码）、标准、金额、培训内容", "public",
            query=c.NoticeQuery, response=c.PublicNoticeList, errors=(422, 429))
def public_notices():
    q = parse_query(c.NoticeQuery)
    views, total = claim_review.public_notices(region_code=q.region, limit=q.limit, offset=q.offset)
    return _public(c.PublicNoticeList(items=[public_notice_out(v) for v in views], total=total))


@bp.get("/public/notices/<number>")
@rate_limit("120/minute")
@documented("一项补贴公示（无需登录）", "public", response=c.PublicNotice, errors=(404, 429))
def public_notice(number: str):
    return _public(public_notice_out(claim_review.public_notice(number)))


@bp.post("/public/notices/<number>/objections")
@rate_limit("10/hour")  # per address: anyone may object, no one may flood the bureau
@documented("对公示提出异议（无需登录；公示期内）：异议受理后申领暂停，待人社部门处理", "public",
            body=c.ObjectionIn, response=c.ObjectionReceipt, status=201, errors=(404, 409, 422, 429))
def lodge_objection(number: str):
    body = parse_body(c.ObjectionIn)
    row = claim_review.lodge_objection(number, body.text, body.contact)
    return _public(c.ObjectionReceipt(id=row.id, lodged_at=row.lodged_at,
                                      message="异议已受理，人社部门将核实处理"), 201)
