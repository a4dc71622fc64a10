"""The subsidy claim lifecycle: every (state, action) pair against the table, who may take each
transition, who may file, and suspension (SPEC §7; 000 三(二), 002 第十五条, 002 第十七条)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from server.domain.access import OrgKind, Principal, Role
from server.domain.claims import (
    ACTION_LABELS,
    ACTORS,
    CLAIMANT_ORG_KINDS,
    FINAL_STATES,
    NEW_NOTICE,
    STATE_LABELS,
    TRANSITIONS,
    ClaimAction,
    ClaimantCannotReview,
    ClaimFacts,
    ClaimKind,
    ClaimState,
    ClaimStateConflict,
    SuspendedInstitution,
    allowed_actions,
    authorise,
    check_filing,
    is_suspended,
    next_state,
    optional_text,
    require_not_suspended,
    required_text,
)
from server.domain.errors import Conflict, Forbidden, ValidationFailed

S, A = ClaimState, ClaimAction

# The lifecycle as SPEC §7 and the seeds state it, written out independently of TRANSITIONS.
EXPECTED = {
    (S.SUBMITTED, A.APPROVE): S.FIRST_APPROVED,
    (S.SUBMITTED, A.RETURN): S.RETURNED,
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    (S.FIRST_APPROVED, A.APPROVE): S.IN_NOTICE,
    (S.FIRST_APPROVED, A.RETURN): S.RETURNED,
    (S.FIRST_APPROVED, A.WITHDRAW): S.WITHDRAWN,
    (S.IN_NOTICE, A.LODGE_OBJECTION): S.OBJECTED,
    (S.IN_NOTICE, A.END_NOTICE): S.NOTICED,
    (S.OBJECTED, A.LODGE_OBJECTION): S.OBJECTED,
    (S.OBJECTED, A.UPHOLD_OBJECTION): S.SUBMITTED,  # changed: back to the two reviewers
    (S.OBJECTED, A.DISMISS_OBJECTION): S.IN_NOTICE,
    (S.OBJECTED, A.RETURN): S.RETURNED,
    (S.NOTICED, A.RETURN): S.RETURNED,
    (S.NOTICED, A.DISBURSE): S.PAID,
    (S.RETURNED, A.RESUBMIT): S.SUBMITTED,
    (S.RETURNED, A.WITHDRAW): S.WITHDRAWN,
}
ALL_PAIRS = list(itertools.product(ClaimState, ClaimAction))

CLAIM_ORG, CLAIM_REGION = 50, "140427"  # an institution in Huguan county (Changzhi city 1404)


def claim(state: ClaimState) -> ClaimFacts:
    return ClaimFacts(state=state, organisation_id=CLAIM_ORG, region_code=CLAIM_REGION)


# One actor per role who, by organisation and region, may act on the claim if the role may.
ACTOR_BY_ROLE = {
    Role.TRAINEE: Principal(user_id=1, role=Role.TRAINEE, trainee_id=7),
    Role.INSTITUTION_OPERATOR: Principal(user_id=2, role=Role.INSTITUTION_OPERATOR,
                                         organisation_id=CLAIM_ORG, region_code=CLAIM_REGION),
    Role.EVALUATOR: Principal(user_id=3, role=Role.EVALUATOR, organisation_id=CLAIM_ORG,
                              region_code=CLAIM_REGION),
    Role.BUREAU_REVIEWER: Principal(user_id=4, role=Role.BUREAU_REVIEWER, organisation_id=10,
                                    region_code="140400"),
    Role.BUREAU_SUPERVISOR: Principal(user_id=5, role=Role.BUREAU_SUPERVISOR, organisation_id=10,
                                      region_code="140400"),
    Role.FINANCE: Principal(user_id=6, role=Role.FINANCE, organisation_id=11, region_code="140427"),
    Role.ADMIN: Principal(user_id=7, role=Role.ADMIN, organisation_id=10, region_code="140000"),
}


# --- the table ----------------------------------------------------------------------------------


def test_the_table_is_exactly_the_lifecycle():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "action"), list(EXPECTED), ids=str)
def test_every_legal_transition(state, action):
    assert next_state(state, action) == EXPECTED[(state, action)]


@pytest.mark.parametrize(("state", "action"), [p for p in ALL_PAIRS if p not in EXPECTED], ids=str)
def test_every_illegal_transition_is_refused_naming_the_state(state, action):
    with pytest.raises(ClaimStateConflict) as refused:
        next_state(state, action)
    assert isinstance(refused.value, Conflict)
    assert refused.value.code == "CLAIM_STATE_CONFLICT"
    assert refused.value.details == {"state": str(state), "action": str(action)}
    assert STATE_LABELS[state] in refused.value.message
    assert ACTION_LABELS[action] in refused.value.message


def test_labels():
    assert STATE_LABELS == {
        S.SUBMITTED: "待初审", S.FIRST_APPROVED: "待复审", S.IN_NOTICE: "公示中",
        S.OBJECTED: "异议处理中", S.NOTICED: "公示期满待财政复核", S.PAID: "已拨付",
        S.RETURNED: "已退回", S.WITHDRAWN: "已撤回",
    }
    assert set(ACTION_LABELS) == set(ClaimAction)
    assert all(label.strip() for label in ACTION_LABELS.values())


@pytest.mark.parametrize("action", [A.UPHOLD_OBJECTION, A.DISMISS_OBJECTION])
def test_an_objection_decided_while_others_are_open_keeps_the_claim_held(action):
    assert next_state(S.OBJECTED, action, objections_still_open=1) is S.OBJECTED
    assert next_state(S.OBJECTED, action, objections_still_open=1, changed=True) is S.OBJECTED


def test_the_last_decision_sends_a_changed_claim_back_to_review_and_an_unchanged_one_to_the_notice():
    """An upheld objection removed lines: that version was signed by no reviewer."""
    assert next_state(S.OBJECTED, A.DISMISS_OBJECTION) is S.IN_NOTICE
    assert next_state(S.OBJECTED, A.DISMISS_OBJECTION, changed=True) is S.SUBMITTED
    assert next_state(S.OBJECTED, A.UPHOLD_OBJECTION, changed=True) is S.SUBMITTED


def test_only_objection_decisions_look_at_the_open_objections():
    """A return decides every open objection with it; lodging another keeps the claim held."""
    assert next_state(S.OBJECTED, A.RETURN, objections_still_open=2) is S.RETURNED
    assert next_state(S.OBJECTED, A.LODGE_OBJECTION, objections_still_open=2) is S.OBJECTED


def test_open_objections_do_not_make_an_illegal_decision_legal():
    with pytest.raises(ClaimStateConflict):
        next_state(S.IN_NOTICE, A.DISMISS_OBJECTION, objections_still_open=1)


def test_final_states_allow_nothing():
    assert {S.PAID, S.WITHDRAWN} == FINAL_STATES
    assert all(allowed_actions(s) == [] for s in FINAL_STATES)


def test_allowed_actions():
    assert allowed_actions(S.IN_NOTICE) == [A.LODGE_OBJECTION, A.END_NOTICE]
    assert allowed_actions(S.NOTICED) == [A.RETURN, A.DISBURSE]


def test_a_fresh_notice_follows_only_the_second_approval():
    assert {(S.FIRST_APPROVED, A.APPROVE)} == NEW_NOTICE
    assert all(TRANSITIONS[pair] is S.IN_NOTICE for pair in NEW_NOTICE)


def _paths(state, path, depth):
    yield state, path
    if depth:
        for action in allowed_actions(state):
            yield from _paths(TRANSITIONS[(state, action)], [*path, action], depth - 1)


def test_no_path_pays_without_two_approvals_a_notice_and_its_end():
    """Every way to `paid` (up to 12 steps, cycles included): after the last resubmission come two
    approvals, then the notice ends, then finance disburses, and nothing returns it in between."""
    paid = [path for state, path in _paths(S.SUBMITTED, [], 12) if state is S.PAID]
    assert [A.APPROVE, A.APPROVE, A.END_NOTICE, A.DISBURSE] in paid
    for path in paid:
        since = path[max((i for i, a in enumerate(path) if a is A.RESUBMIT), default=-1) + 1:]
        assert since[:2] == [A.APPROVE, A.APPROVE]
        assert since[-2:] == [A.END_NOTICE, A.DISBURSE]
        assert A.RETURN not in since and since.count(A.END_NOTICE) == 1


def test_every_state_is_reachable_from_submission():
    reached = {state for state, _ in _paths(S.SUBMITTED, [], 6)}
    assert reached == set(ClaimState)


# --- who takes each transition -------------------------------------------------------------------


def test_every_transition_but_an_objection_has_its_actors():
    lodging = {pair for pair in TRANSITIONS if pair[1] is A.LODGE_OBJECTION}
    assert set(ACTORS) == set(TRANSITIONS) - lodging


def test_who_takes_each_transition():
    reviewer, finance = {Role.BUREAU_REVIEWER}, {Role.FINANCE}
    claimant = {Role.INSTITUTION_OPERATOR, Role.EVALUATOR}
    assert {pair: set(roles) for pair, roles in ACTORS.items()} == {
        (S.SUBMITTED, A.APPROVE): reviewer, (S.SUBMITTED, A.RETURN): reviewer,
        (S.SUBMITTED, A.WITHDRAW): claimant,
        (S.FIRST_APPROVED, A.APPROVE): reviewer, (S.FIRST_APPROVED, A.RETURN): reviewer,
        (S.FIRST_APPROVED, A.WITHDRAW): claimant,
        (S.IN_NOTICE, A.END_NOTICE): reviewer,
        (S.OBJECTED, A.UPHOLD_OBJECTION): reviewer, (S.OBJECTED, A.DISMISS_OBJECTION): reviewer,
        (S.OBJECTED, A.RETURN): reviewer,
        (S.NOTICED, A.RETURN): finance, (S.NOTICED, A.DISBURSE): finance,
        (S.RETURNED, A.RESUBMIT): claimant, (S.RETURNED, A.WITHDRAW): claimant,
    }


@pytest.mark.parametrize(("state", "action"), list(ACTORS), ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_authorise_every_role_on_every_transition(state, action, role):
    actor = ACTOR_BY_ROLE[role]
    if role in ACTORS[(state, action)]:
        authorise(actor, claim(state), action)
    else:
        with pytest.raises(Forbidden) as refused:
            authorise(actor, claim(state), action)
        assert refused.value.code == "FORBIDDEN"
        assert refused.value.details == {"required_roles": sorted(ACTORS[(state, action)])}


@pytest.mark.parametrize(("state", "action"),
                         [p for p in ALL_PAIRS if p not in EXPECTED], ids=str)
def test_authorise_an_illegal_transition(state, action):
    """Those who may take the action somewhere hear about the state; nobody else does."""
    roles = {r for (_, a), rs in ACTORS.items() if a == action for r in rs}
    for role, actor in ACTOR_BY_ROLE.items():
        expected = ClaimStateConflict if role in roles or action is A.LODGE_OBJECTION else Forbidden
        with pytest.raises(expected):
            authorise(actor, claim(state), action)


@pytest.mark.parametrize("state", [S.IN_NOTICE, S.OBJECTED])
def test_anyone_may_object_during_the_notice(state):
    authorise(None, claim(state), A.LODGE_OBJECTION)
    for actor in ACTOR_BY_ROLE.values():
        authorise(actor, claim(state), A.LODGE_OBJECTION)


def test_a_signed_out_visitor_may_do_nothing_else():
    with pytest.raises(Forbidden):
        authorise(None, claim(S.SUBMITTED), A.APPROVE)


def test_a_reviewer_outside_the_region_is_refused():
    xinzhou = Principal(user_id=40, role=Role.BUREAU_REVIEWER, organisation_id=12, region_code="140900")
    with pytest.raises(Forbidden) as refused:
        authorise(xinzhou, claim(S.SUBMITTED), A.APPROVE)
    assert refused.value.code == "CLAIM_OUTSIDE_REGION"
    assert refused.value.details == {"region_code": CLAIM_REGION}


def test_finance_outside_the_region_is_refused():
    other_county = Principal(user_id=41, role=Role.FINANCE, organisation_id=13, region_code="140428")
    with pytest.raises(Forbidden) as refused:
        authorise(other_county, claim(S.NOTICED), A.DISBURSE)
    assert refused.value.code == "CLAIM_OUTSIDE_REGION"


def test_a_member_of_the_claiming_organisation_cannot_review():
    insider = Principal(user_id=42, role=Role.BUREAU_REVIEWER, organisation_id=CLAIM_ORG,
                        region_code=CLAIM_REGION)
    with pytest.raises(ClaimantCannotReview) as refused:
        authorise(insider, claim(S.SUBMITTED), A.APPROVE)
    assert isinstance(refused.value, Forbidden)
    assert refused.value.code == "CLAIMANT_CANNOT_REVIEW"


@pytest.mark.parametrize(("state", "action"), [(S.RETURNED, A.RESUBMIT), (S.SUBMITTED, A.WITHDRAW)])
def test_another_institution_cannot_act_on_the_claim(state, action):
    other = Principal(user_id=43, role=Role.INSTITUTION_OPERATOR, organisation_id=51,
                      region_code=CLAIM_REGION)
    with pytest.raises(Forbidden) as refused:
        authorise(other, claim(state), action)
    assert refused.value.code == "NOT_CLAIMANT"


# --- filing ----------------------------------------------------------------------------------------

DAY = date(2024, 11, 4)


@pytest.mark.parametrize(("kind", "org_kind"), list(itertools.product(ClaimKind, OrgKind)), ids=str)
def test_who_may_file_each_kind(kind, org_kind):
    may = {
        ClaimKind.TRAINING: {OrgKind.TRAINING_INSTITUTION, OrgKind.ENTERPRISE},
        ClaimKind.CERTIFICATE: {OrgKind.EVALUATION_INSTITUTION, OrgKind.ENTERPRISE,
                                OrgKind.TRAINING_INSTITUTION},
    }[kind]
    assert set(CLAIMANT_ORG_KINDS[kind]) == may
    if org_kind in may:
        check_filing(kind, org_kind, completion_approved=True, day=DAY, suspensions=[])
    else:
        with pytest.raises(Forbidden) as refused:
            check_filing(kind, org_kind, completion_approved=True, day=DAY, suspensions=[])
        assert refused.value.code == "WRONG_CLAIMANT"


def test_a_training_claim_waits_for_the_approved_completion():
    with pytest.raises(ClaimStateConflict) as refused:
        check_filing(ClaimKind.TRAINING, OrgKind.TRAINING_INSTITUTION, completion_approved=False,
                     day=DAY, suspensions=[])
    assert refused.value.code == "COMPLETION_NOT_APPROVED"
    check_filing(ClaimKind.CERTIFICATE, OrgKind.EVALUATION_INSTITUTION, completion_approved=False,
                 day=DAY, suspensions=[])


def test_a_suspended_institution_cannot_file():
    with pytest.raises(SuspendedInstitution) as refused:
        check_filing(ClaimKind.TRAINING, OrgKind.TRAINING_INSTITUTION, completion_approved=True,
                     day=DAY, suspensions=[(date(2024, 10, 1), None)])
    assert refused.value.code == "INSTITUTION_SUSPENDED"


# --- suspension (002 第十七条) ------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "until", "suspended"), [
    (date(2024, 9, 30), date(2024, 12, 31), False),  # the day before
    (date(2024, 10, 1), date(2024, 12, 31), True),  # the first day
    (date(2024, 12, 31), date(2024, 12, 31), True),  # the last day
    (date(2025, 1, 1), date(2024, 12, 31), False),  # lifted
    (date(2030, 1, 1), None, True),  # until the bureau lifts it
    (date(2024, 9, 30), None, False),
], ids=str)
def test_is_suspended(day, until, suspended):
    assert is_suspended(day, date(2024, 10, 1), until) is suspended


def test_require_not_suspended_looks_at_every_suspension():
    history = [(date(2023, 3, 1), date(2023, 5, 31)), (date(2024, 10, 1), date(2024, 12, 31))]
    require_not_suspended(date(2024, 6, 1), history)
    require_not_suspended(date(2024, 6, 1), [])
    with pytest.raises(SuspendedInstitution) as refused:
        require_not_suspended(date(2024, 11, 4), history)
    assert isinstance(refused.value, Conflict)
    assert refused.value.details == {"suspended_from": "2024-10-01", "suspended_until": "2024-12-31"}
    assert "2024-10-01" in refused.value.message and "2024-12-31" in refused.value.message


def test_an_open_ended_suspension_says_so():
    with pytest.raises(SuspendedInstitution) as refused:
        require_not_suspended(date(2024, 11, 4), [(date(2024, 10, 1), None)])
    assert refused.value.details["suspended_until"] is None
    assert "解除前" in refused.value.message


# --- bounded text --------------------------------------------------------------------------------


def test_required_text_is_stripped_and_bounded():
    text = required_text("  材料不全 ", field="reason", label="原因", max_length=4, code="REASON_REQUIRED")
    assert text == "材料不全"
    for blank in (None, "", " \n "):
        with pytest.raises(ValidationFailed) as refused:
            required_text(blank, field="reason", label="原因", max_length=4, code="REASON_REQUIRED")
        assert refused.value.code == "REASON_REQUIRED"
        assert refused.value.details == {"field": "reason"}
    with pytest.raises(ValidationFailed) as refused:
        required_text("材料不全了", field="reason", label="原因", max_length=4, code="REASON_REQUIRED")
    assert refused.value.code == "TEXT_TOO_LONG"
    assert refused.value.details == {"field": "reason", "max_length": 4}


def test_optional_text_is_none_when_blank():
    assert optional_text(None, field="contact", label="联系方式", max_length=3) is None
    assert optional_text("  ", field="contact", label="联系方式", max_length=3) is None
    assert optional_text(" 张三 ", field="contact", label="联系方式", max_length=3) == "张三"
    with pytest.raises(ValidationFailed) as refused:
        optional_text("1380000", field="contact", label="联系方式", max_length=3)
    assert refused.value.code == "TEXT_TOO_LONG"
