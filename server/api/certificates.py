"""After training: completion filings, assessment results, certificates, their PDF, revocation,
the certificate rate per class, and the public verification page."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded

from server.adapters.exports import content_disposition
from server.api import schemas as s
from server.api.classes import BUREAU
from server.api.errors import rate_limited, status_for
from server.api.http import organisation_out, parse_body, parse_query, person_out, respond
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.domain.access import Principal, Role
from server.domain.certificates import KIND_LABELS, STATE_LABELS, CertificateState
from server.domain.completion import STATE_LABELS as COMPLETION_LABELS
from server.domain.completion import Filing
from server.domain.eligibility import PROGRAMME_LABELS
from server.domain.errors import DomainError, RateLimited
from server.domain.identity import mask_name
from server.extensions import rate_limit
from server.services import certificates, clock, completions
from server.services import vouchers as voucher_service

bp = Blueprint("certificates", __name__)

STAFF = (Role.INSTITUTION_OPERATOR, Role.EVALUATOR, *BUREAU)


# --- completion (结业申请) ------------------------------------------------------------------


def completion_out(view: completions.FilingView, viewer: Principal) -> s.CompletionOut:
    f = view.filing
    return s.CompletionOut(
        class_id=view.klass.id, number=f.number, state=str(f.state), state_label=COMPLETION_LABELS[f.state],
        evaluator=s.InstitutionRef(id=view.evaluator.id, name=view.evaluator.name),
        assessment_plan=f.assessment_plan, documents=f.documents, filed_at=f.filed_at,
        decided_at=f.decided_at, reason=f.reason, roster_size=sum(e.on_roster for e, _ in view.rows),
        entries=[s.CompletionEntryOut(
            trainee=person_out(p, viewer), voucher_id=e.voucher_id, on_roster=e.on_roster,
            exclusion_reason=e.exclusion_reason, attended_days=e.attended_days, planned_days=e.planned_days,
            present_sessions=e.present_sessions, total_sessions=e.total_sessions,
            pending_sessions=e.pending_sessions) for e, p in view.rows])


@bp.post("/api/v1/classes/<int:class_id>/completion")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("提交结业申请（结业前按地区规定天数；结业花名册由验券学员及其有效出勤天数生成，"
            "未列入者须写明原因）", "completion", body=s.CompletionFile, response=s.CompletionOut, status=201,
            errors=(403, 404, 409, 422))
def file_completion(class_id: int):
    body = parse_body(s.CompletionFile)
    filing = Filing(evaluator_id=body.evaluator_id, assessment_plan=body.assessment_plan,
                    documents=body.documents, exclusions={x.trainee_id: x.reason for x in body.exclusions})
    completions.file(current_principal(), class_id, filing)
    return respond(completion_out(completions.view(current_principal(), class_id), current_principal()), 201)


@bp.get("/api/v1/classes/<int:class_id>/completion")
@signed_in(*STAFF)
@documented("本班最近一次结业申请及结业花名册", "completion", response=s.CompletionOut, errors=(404,))
def get_completion(class_id: int):
    return respond(completion_out(completions.view(current_principal(), class_id), current_principal()))


@bp.post("/api/v1/classes/<int:class_id>/completion/review")
@signed_in(*voucher_service.REVIEWERS)
@documented("审批结业申请（批准后学员电子券转为已结业，方可录入考核评价结果；不通过须填写原因）",
            "completion", body=s.Review, response=s.CompletionOut, errors=(403, 404, 409, 422))
def review_completion(class_id: int):
    body = parse_body(s.Review)
    completions.decide(current_principal(), class_id, body.approve, body.reason)
    return respond(completion_out(completions.view(current_principal(), class_id), current_principal()))


@bp.get("/api/v1/evaluators")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("可选择的评价机构（本市备案）", "completion", response=s.OrganisationList)
def list_evaluators():
    found = completions.evaluators(current_principal())
    return respond(s.OrganisationList(items=[organisation_out(o) for o in found]))


# --- assessment results (评价结果) -----------------------------------------------------------


def result_out(result, profile, viewer: Principal) -> s.ResultOut:
    return s.ResultOut(trainee=person_out(profile, viewer), theory_score=float(result.theory_score),
                       practice_score=float(result.practice_score), passed=result.passed, level=result.level,
                       recorded_at=result.recorded_at)


@bp.post("/api/v1/classes/<int:class_id>/results")
@signed_in(Role.EVALUATOR)
@documented("评价机构录入考核结果（理论、实操均达 60 分为合格；整批录入，任一有误则全部不录）", "completion",
            body=s.ResultsIn, response=s.ResultList, status=201, errors=(403, 404, 409, 422))
def record_results(class_id: int):
    body = parse_body(s.ResultsIn)
    rows = [certificates.ResultInput(trainee_id=r.trainee_id, theory_score=r.theory_score,
                                     practice_score=r.practice_score, level=r.level) for r in body.results]
    certificates.record_results(current_principal(), class_id, rows)
    _, found = certificates.results(current_principal(), class_id)
    return respond(s.ResultList(items=[result_out(r, p, current_principal()) for r, p in found]), 201)


@bp.get("/api/v1/classes/<int:class_id>/results")
@signed_in(*STAFF)
@documented("本班考核评价结果", "completion", response=s.ResultList, errors=(404,))
def list_results(class_id: int):
    _, found = certificates.results(current_principal(), class_id)
    return respond(s.ResultList(items=[result_out(r, p, current_principal()) for r, p in found]))


# --- certificates (证书) ---------------------------------------------------------------------


def certificate_out(view: certificates.CertificateView, viewer: Principal) -> s.CertificateOut:
    c = view.certificate
    return s.CertificateOut(
        id=c.id, number=c.number, kind=str(c.kind), kind_label=KIND_LABELS[c.kind], state=str(c.state),
        state_label=STATE_LABELS[c.state], holder=person_out(view.holder, viewer), class_id=view.klass.id,
        class_name=view.klass.name, occupation_code=view.occupation.code,
        occupation_name=view.occupation.name, level=c.level,
        issuer=s.InstitutionRef(id=view.issuer.id, name=view.issuer.name), issued_on=c.issued_on,
        revoked_reason=c.revoked_reason, revoked_at=c.revoked_at,
        verify_url=certificates.verify_url(request.url_root, c))


@bp.post("/api/v1/classes/<int:class_id>/certificates")
@signed_in(Role.EVALUATOR, Role.INSTITUTION_OPERATOR)
@documented("发证：评价机构颁发技能类证书，培训机构颁发培训合格证书；仅限考核合格者，同一职业同类同级证书不重复发放",
            "certificates", body=s.IssueRequest, response=s.CertificateList, status=201,
            errors=(403, 404, 409, 422))
def issue_certificates(class_id: int):
    body = parse_body(s.IssueRequest)
    made = certificates.issue(current_principal(), class_id, body.kind, body.trainee_ids)
    views = certificates.views_of(made)
    return respond(s.CertificateList(items=[certificate_out(v, current_principal()) for v in views],
                                      total=len(views)), 201)


@bp.get("/api/v1/certificates")
@signed_in()
@documented("证书列表（学员看本人；机构看本机构班级；评价机构看本机构颁发；人社局看本辖区）", "certificates",
            query=s.CertificateQuery, response=s.CertificateList)
def list_certificates():
    q = parse_query(s.CertificateQuery)
    f = certificates.CertificateFilter(class_id=q.class_id, kind=q.kind, state=q.state, number=q.number)
    views, total = certificates.list_certificates(current_principal(), f, limit=q.limit, offset=q.offset)
    items = [certificate_out(v, current_principal()) for v in views]
    return respond(s.CertificateList(items=items, total=total))


@bp.get("/api/v1/certificates/<int:certificate_id>")
@signed_in()
@documented("证书详情", "certificates", response=s.CertificateOut, errors=(404,))
def get_certificate(certificate_id: int):
    return respond(certificate_out(certificates.visible_certificate(current_principal(), certificate_id),
                                   current_principal()))


@bp.get("/api/v1/certificates/<int:certificate_id>/pdf")
@signed_in()
@documented("下载证书 PDF（A4 一页，含验证二维码；已作废的证书加盖作废标记）", "certificates",
            response_media="application/pdf", errors=(404,))
def certificate_pdf(certificate_id: int):
    view = certificates.visible_certificate(current_principal(), certificate_id)
    response = make_response(certificates.pdf(view, request.url_root))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = content_disposition(f"证书-{view.certificate.number}.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/api/v1/certificates/<int:certificate_id>/revoke")
@signed_in(*certificates.REVOKERS)
@documented("宣布证书作废（评价弄虚作假等，须填写原因；公开验证立即显示作废）", "certificates",
            body=s.Revoke, response=s.CertificateOut, errors=(403, 404, 409, 422))
def revoke_certificate(certificate_id: int):
    body = parse_body(s.Revoke)
    view = certificates.revoke(current_principal(), certificate_id, body.reason)
    return respond(certificate_out(view, current_principal()))


def _rate_out(rate: certificates.ClassRate) -> s.ClassRateOut:
    k = rate.klass
    return s.ClassRateOut(
        class_id=k.id, class_name=k.name,
        institution=s.InstitutionRef(id=k.institution.id, name=k.institution.name),
        region_code=k.region_code, programme=PROGRAMME_LABELS[k.programme], occupation_name=k.occupation.name,
        roster=rate.roster, certified=rate.certified, rate_percent=rate.rate_percent,
        targets=[s.TargetOut(**t.__dict__) for t in rate.targets])


@bp.get("/api/v1/certificate-rates")
@signed_in(*BUREAU)
@documented("各已结业班级的取证率（结业花名册人数、取证人数，及地区政策规定的目标，"
            "如临县订单式培训初级以上 ≥50%）", "certificates", query=s.RateQuery, response=s.ClassRateList)
def certificate_rates():
    q = parse_query(s.RateQuery)
    rates, total = certificates.certificate_rates(current_principal(), region_code=q.region, limit=q.limit,
                                                  offset=q.offset)
    return respond(s.ClassRateList(items=[_rate_out(r) for r in rates], total=total))


# --- public verification (证书查验) ----------------------------------------------------------


def public_out(view: certificates.CertificateView) -> s.PublicCertificate:
    c = view.certificate
    return s.PublicCertificate(
        number=c.number, valid=c.state is CertificateState.VALID, state=str(c.state),
        state_label=STATE_LABELS[c.state], kind=str(c.kind), kind_label=KIND_LABELS[c.kind],
        holder=mask_name(view.holder.real_name) or "", occupation=view.occupation.name, level=c.level,
        issuer=view.issuer.name, issued_on=c.issued_on, revoked_reason=c.revoked_reason,
        revoked_at=c.revoked_at)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("/verify")
@documented("证书查验页（输入证书编号）；?n=编号 时转到 /verify/<编号>", "public", response_media="text/html")
def verify_form():
    number = (request.args.get("n") or "").strip()
    if number:
        return redirect(url_for("certificates.verify", number=number), 303)
    return _page(None, None, 200)


@bp.get("/verify/<path:number>")
@rate_limit("60/minute")  # per address: the page is public, the numbers must not be walked
@documented("公开查验证书（无需登录）：扫码或输入证书编号，显示是否有效、持证人（打码）、职业、等级、发证机构和日期；"
            "作废的证书显示作废及原因。Accept: application/json 时返回 JSON", "public",
            response=s.PublicCertificate, errors=(404, 422, 429))
def verify(number: str):
    try:
        found = public_out(certificates.verify_number(number))
    except DomainError as error:
        if _wants_json():
            raise
        return _page(None, error, status_for(error))
    if _wants_json():
        response = make_response(found.model_dump(mode="json"))
    elif found.number != number:  # typed in lower case or with O for 0: show the canonical address
        response = redirect(url_for("certificates.verify", number=found.number), 301)
    else:
        return _page(found, None, 200)
    return _uncached(response)


@bp.errorhandler(RateLimitExceeded)
def verify_rate_limited(exc: RateLimitExceeded):
    """A person at the public page gets a page saying so, not JSON."""
    if request.endpoint != "certificates.verify" or _wants_json():
        return rate_limited(exc)
    return _page(None, RateLimited(), 429)


def _page(found: s.PublicCertificate | None, error: DomainError | None, status: int):
    revoked_on = found.revoked_at.astimezone(clock.CHINA).date() if found and found.revoked_at else None
    response = make_response(render_template("certificate_verify.html", found=found, error=error,
                                             revoked_on=revoked_on), status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return _uncached(response)


def _uncached(response):
    # A revocation shows at once: no cache may keep a verdict.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept"
    return response


@bp.post("/api/v1/public/certificates/verify-token")
@rate_limit("60/minute")
@documented("公开查验证书二维码令牌（无需登录）：校验签名后返回证书现状；伪造或篡改的令牌返回 TOKEN_* 错误",
            "public", body=s.TokenCheck, response=s.PublicCertificate, errors=(404, 422, 429))
def verify_token():
    body = parse_body(s.TokenCheck)
    response = make_response(public_out(certificates.verify_token(body.token)).model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    return response
