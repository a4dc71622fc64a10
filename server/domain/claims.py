"""The subsidy claim (补贴申领) lifecycle: who files, who acts on it, and in which order (SPEC §7).

A claim is reviewed by two different bureau staff (两人以上经办审查签字; 000 四(二)3, 001 三(三),
002 第十五条), the second approval publishes a public notice (公示) of at least 5 working days
(000 三(二)), an objection holds the claim until the bureau decides it, and only a notice ended
without an open objection goes to finance for re-review and disbursement (公示结果无异议后…报同级
财政部门复审，并完成资金拨付手续, 000 三(二)). A reviewer may return a claim to the institution at
any step the bureau holds it, finance from its re-review; the institution amends and resubmits,
and every approval of the earlier version is void (approvals are recorded per version, with the
digest they approved: claims_review.py).

`TRANSITIONS` is the rulebook and the test oracle; `ACTORS` says who takes each transition. The
claim's vouchers stay `trained` until it is paid: a claim can still lose lines to a return or an
upheld objection until then, and a redeemed voucher has no way back (vouchers.py), so
disbursement redeems and writes them off together.

Suspension (暂停): an institution under rectification may not run subsidised training or
evaluation (002 第十七条: 整改期间不得开展政府补贴培训评价; 002 第十三条 暂停招生, 第十六条 暂停培训资质).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from server.domain.access import OrgKind, Principal, Role, can_see_region
from server.domain.errors import Conflict, Forbidden, ValidationFailed


class ClaimKind(StrEnum):
    TRAINING = "training"  # 培训补贴
    CERTIFICATE = "certificate"  # 技能评价补贴（取证补贴）


# Who may file each kind. Enterprises file for their employees' training (001 二(六) 企业职工培训;
# 002 第四条). Certificate subsidies go to the enterprise, school or evaluation institution that
# organised the evaluation (001 二(三) 给予对应企业、院校评价补贴; 002 第九条); a school
# (职业院校) is registered as a training institution.
CLAIMANT_ORG_KINDS: dict[ClaimKind, frozenset[OrgKind]] = {
    ClaimKind.TRAINING: frozenset({OrgKind.TRAINING_INSTITUTION, OrgKind.ENTERPRISE}),
    ClaimKind.CERTIFICATE: frozenset({OrgKind.EVALUATION_INSTITUTION, OrgKind.ENTERPRISE,
                                      OrgKind.TRAINING_INSTITUTION}),
}

KIND_LABELS = {ClaimKind.TRAINING: "培训补贴", ClaimKind.CERTIFICATE: "技能评价补贴"}


class ClaimState(StrEnum):
    SUBMITTED = "submitted"  # 待初审
    FIRST_APPROVED = "first_approved"  # 待复审：一名经办人已审核通过
    IN_NOTICE = "in_notice"  # 公示中
    OBJECTED = "objected"  # 异议处理中
    NOTICED = "noticed"  # 公示期满待财政复核
    PAID = "paid"  # 已拨付
    RETURNED = "returned"  # 已退回
    WITHDRAWN = "withdrawn"  # 已撤回


STATE_LABELS = {
    ClaimState.SUBMITTED: "待初审",
    ClaimState.FIRST_APPROVED: "待复审",
    ClaimState.IN_NOTICE: "公示中",
    ClaimState.OBJECTED: "异议处理中",
    ClaimState.NOTICED: "公示期满待财政复核",
    ClaimState.PAID: "已拨付",
    ClaimState.RETURNED: "已退回",
    ClaimState.WITHDRAWN: "已撤回",
}


class ClaimAction(StrEnum):
    APPROVE = "approve"  # a bureau reviewer signs the review (经办审查签字)
    RETURN = "return"  # back to the institution, with a reason
    RESUBMIT = "resubmit"  # the institution files the amended claim
    WITHDRAW = "withdraw"  # the institution gives the claim up, freeing its vouchers
    LODGE_OBJECTION = "lodge_objection"  # anyone, during the notice
    UPHOLD_OBJECTION = "uphold_objection"  # lines removed, the claim recomputed and noticed afresh
    DISMISS_OBJECTION = "dismiss_objection"
    END_NOTICE = "end_notice"  # the notice period has passed with no open objection
    DISBURSE = "disburse"  # finance re-reviewed and paid (拨付)


ACTION_LABELS = {
    ClaimAction.APPROVE: "审核通过",
    ClaimAction.RETURN: "退回",
    ClaimAction.RESUBMIT: "重新提交",
    ClaimAction.WITHDRAW: "撤回",
    ClaimAction.LODGE_OBJECTION: "提出异议",
    ClaimAction.UPHOLD_OBJECTION: "认定异议成立",
    ClaimAction.DISMISS_OBJECTION: "认定异议不成立",
    ClaimAction.END_NOTICE: "结束公示",
    ClaimAction.DISBURSE: "拨付",
}

S, A = ClaimState, ClaimAction

TRANSITIONS: dict[tuple[ClaimState, ClaimAction], ClaimState] = {
    (S.SUBMITTED, A.APPROVE): S.FIRST_APPROVED,
    (S.SUBMITTED, A.RETURN): S.RETURNED,
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    # The second approval publishes the notice (000 三(二): 审核…并对申领补贴人员进行公示).
    (S.FIRST_APPROVED, A.APPROVE): S.IN_NOTICE,
    (S.FIRST_APPROVED, A.RETURN): S.RETURNED,
    (S.FIRST_APPROVED, A.WITHDRAW): S.WITHDRAWN,
    # Once public, the claim cannot be withdrawn out of the public's sight: what is wrong with it
    # is raised as an objection, which anyone, bureau staff included, may lodge.
    (S.IN_NOTICE, A.LODGE_OBJECTION): S.OBJECTED,
    (S.IN_NOTICE, A.END_NOTICE): S.NOTICED,
    (S.OBJECTED, A.LODGE_OBJECTION): S.OBJECTED,
    # Once the last open objection is decided (next_state): back to the notice, unless an upheld
    # one changed the claim. A changed claim is a version no reviewer signed, so it goes back to
    # review (each approval records the digest it approved), and its second approval publishes a
    # fresh notice.
    (S.OBJECTED, A.UPHOLD_OBJECTION): S.SUBMITTED,
    (S.OBJECTED, A.DISMISS_OBJECTION): S.IN_NOTICE,
    # An objection that condemns the whole claim: it goes back, and the return decides every
    # objection still open.
    (S.OBJECTED, A.RETURN): S.RETURNED,
    (S.NOTICED, A.RETURN): S.RETURNED,  # finance's re-review (复审) finds a fault
    (S.NOTICED, A.DISBURSE): S.PAID,
    (S.RETURNED, A.RESUBMIT): S.SUBMITTED,
    (S.RETURNED, A.WITHDRAW): S.WITHDRAWN,
}

# Transitions after which a fresh notice period runs from the day they happen.
NEW_NOTICE = frozenset({(S.FIRST_APPROVED, A.APPROVE)})

OBJECTION_DECISIONS = frozenset({A.UPHOLD_OBJECTION, A.DISMISS_OBJECTION})

FINAL_STATES = frozenset(s for s in ClaimState if not any(f == s for f, _ in TRANSITIONS))

REVIEWER = frozenset({Role.BUREAU_REVIEWER})
FINANCE = frozenset({Role.FINANCE})
CLAIMANT = frozenset({Role.INSTITUTION_OPERATOR, Role.EVALUATOR})  # the claiming organisation's staff

# Who takes each transition; lodging an objection is open to anyone, signed in or not (公示).
ACTORS: dict[tuple[ClaimState, ClaimAction], frozenset[Role]] = {
    (S.SUBMITTED, A.APPROVE): REVIEWER,
    (S.SUBMITTED, A.RETURN): REVIEWER,
    (S.SUBMITTED, A.WITHDRAW): CLAIMANT,
    (S.FIRST_APPROVED, A.APPROVE): REVIEWER,
    (S.FIRST_APPROVED, A.RETURN): REVIEWER,
    (S.FIRST_APPROVED, A.WITHDRAW): CLAIMANT,
    (S.IN_NOTICE, A.END_NOTICE): REVIEWER,
    (S.OBJECTED, A.UPHOLD_OBJECTION): REVIEWER,
    (S.OBJECTED, A.DISMISS_OBJECTION): REVIEWER,
    (S.OBJECTED, A.RETURN): REVIEWER,
    (S.NOTICED, A.RETURN): FINANCE,
    (S.NOTICED, A.DISBURSE): FINANCE,
    (S.RETURNED, A.RESUBMIT): CLAIMANT,
    (S.RETURNED, A.WITHDRAW): CLAIMANT,
}


class ClaimStateConflict(Conflict):
    code = "CLAIM_STATE_CONFLICT"
    message = "补贴申领当前状态不允许此操作"


def next_state(state: ClaimState, action: ClaimAction, *, objections_still_open: int = 0,
               changed: bool = False) -> ClaimState:
    """The state after `action`, or a refusal naming the current state. Deciding one objection
    while others are still open (`objections_still_open` after this one) leaves the claim held;
    deciding the last one of a claim an upheld objection `changed` sends it back to review."""
    target = TRANSITIONS.get((state, action))
    if target is None:
        raise ClaimStateConflict(
            f"补贴申领当前为“{STATE_LABELS[state]}”，不能{ACTION_LABELS[action]}",
            details={"state": str(state), "action": str(action)},
        )
    if action in OBJECTION_DECISIONS:
        if objections_still_open > 0:
            return S.OBJECTED
        if changed:
            return S.SUBMITTED
    return target


def allowed_actions(state: ClaimState) -> list[ClaimAction]:
    return [action for (from_state, action) in TRANSITIONS if from_state == state]


@dataclass(frozen=True)
class ClaimFacts:
    """What the rules need to know about a claim to say who may act on it."""

    state: ClaimState
    organisation_id: int  # the claiming institution, enterprise or school
    region_code: str  # the claiming organisation's region


class ClaimantCannotReview(Forbidden):
    code = "CLAIMANT_CANNOT_REVIEW"
    message = "申领单位的人员不能审核本单位的补贴申领"


def authorise(actor: Principal | None, claim: ClaimFacts, action: ClaimAction) -> None:
    """Refuses an actor who may not take `action` on this claim now: the wrong role (FORBIDDEN),
    the wrong state (CLAIM_STATE_CONFLICT), another organisation's claim (NOT_CLAIMANT), a claim
    outside the actor's region (CLAIM_OUTSIDE_REGION), or a claim of the actor's own organisation
    (CLAIMANT_CANNOT_REVIEW). The role is checked before the state, so the state is not told to
    those who may never act."""
    if action == A.LODGE_OBJECTION:
        next_state(claim.state, action)
        return
    roles = ACTORS.get((claim.state, action)) or frozenset().union(
        *(r for (_, a), r in ACTORS.items() if a == action))
    if actor is None or actor.role not in roles:
        raise Forbidden(details={"required_roles": sorted(roles)})
    next_state(claim.state, action)
    if actor.role in CLAIMANT:
        if actor.organisation_id != claim.organisation_id:
            raise Forbidden("只能办理本单位的补贴申领", code="NOT_CLAIMANT")
    elif not can_see_region(actor, claim.region_code):
        raise Forbidden("该补贴申领不在本辖区", code="CLAIM_OUTSIDE_REGION",
                        details={"region_code": claim.region_code})
    elif actor.organisation_id == claim.organisation_id:
        raise ClaimantCannotReview()


# --- filing ----------------------------------------------------------------------------------


def check_filing(kind: ClaimKind, claimant: OrgKind, *, completion_approved: bool, day: date,
                 suspensions: Iterable[tuple[date, date | None]]) -> None:
    """Refuses a claim the organisation may not file: the wrong kind of organisation, a training
    claim for a class whose completion is not approved (000 二(二)(3)), or a suspended claimant."""
    if claimant not in CLAIMANT_ORG_KINDS[kind]:
        raise Forbidden(f"该单位不能申领{KIND_LABELS[kind]}", code="WRONG_CLAIMANT",
                        details={"kind": str(kind), "org_kind": str(claimant)})
    require_not_suspended(day, suspensions)
    if kind == ClaimKind.TRAINING and not completion_approved:
        raise ClaimStateConflict("班级结业申请经审核通过后方可申领培训补贴", code="COMPLETION_NOT_APPROVED")


# --- suspension (暂停; 002 第十七条) ---------------------------------------------------------


class SuspendedInstitution(Conflict):
    code = "INSTITUTION_SUSPENDED"
    message = "机构整改期间不得开展政府补贴培训评价"


def is_suspended(day: date, suspended_from: date, suspended_until: date | None) -> bool:
    """True when `day` falls in a suspension: from its first day through `suspended_until`, its
    last day, or without end while `suspended_until` is None (until the bureau lifts it)."""
    return suspended_from <= day and (suspended_until is None or day <= suspended_until)


def require_not_suspended(day: date, suspensions: Iterable[tuple[date, date | None]]) -> None:
    """Refuses opening a class or filing a claim on `day` while any suspension covers it."""
    for suspended_from, suspended_until in suspensions:
        if is_suspended(day, suspended_from, suspended_until):
            until = f"至 {suspended_until.isoformat()}" if suspended_until else "起，解除前"
            raise SuspendedInstitution(
                f"机构自 {suspended_from.isoformat()} {until}暂停政府补贴培训评价，"
                "整改期间不得开班或申领补贴",
                details={"suspended_from": suspended_from.isoformat(),
                         "suspended_until": suspended_until.isoformat() if suspended_until else None},
            )


# --- bounded text (reasons, objections, references) -----------------------------------------


def required_text(value: str | None, *, field: str, label: str, max_length: int, code: str) -> str:
    """`value` stripped; refuses it empty (`code`) or longer than `max_length` (TEXT_TOO_LONG)."""
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"请填写{label}", code=code, details={"field": field})
    return _bounded(text, field=field, label=label, max_length=max_length)


def optional_text(value: str | None, *, field: str, label: str, max_length: int) -> str | None:
    """`value` stripped, None when empty; refuses it longer than `max_length` (TEXT_TOO_LONG)."""
    text = (value or "").strip()
    return _bounded(text, field=field, label=label, max_length=max_length) if text else None


def _bounded(text: str, *, field: str, label: str, max_length: int) -> str:
    if len(text) > max_length:
        raise ValidationFailed(f"{label}不能超过 {max_length} 字", code="TEXT_TOO_LONG",
                               details={"field": field, "max_length": max_length})
    return text
