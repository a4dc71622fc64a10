"""Two-person review of a subsidy claim (两人以上经办审查签字; 000 四(二)3, 001 三(三), 002 第十五条).

Two different bureau reviewers of the claim's region must approve the same content. Each approval
records the `claim_digest` of the version it approved; the second is refused when that content
has changed since the first, because then nobody has checked the second time what is about to
be published and paid. Nobody from the claiming organisation reviews its own claim. Approvals
belong to one version of the claim: a return voids them, and the resubmitted claim is a new
version reviewed from the start.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.domain.access import Principal
from server.domain.claims import ClaimAction, ClaimFacts, ClaimState, authorise, required_text
from server.domain.errors import Conflict

MAX_REASON = 200


@dataclass(frozen=True)
class Approval:
    """One reviewer's signature (经办审查签字) on the current version of a claim."""

    user_id: int
    digest: str  # claim_digest of the content this reviewer approved


class SameReviewer(Conflict):
    code = "SAME_REVIEWER"
    message = "同一经办人不能重复审核，须由另一名经办人复审"


class ClaimChangedSinceApproval(Conflict):
    code = "CLAIM_CHANGED_SINCE_APPROVAL"
    message = "补贴申领内容在初审通过后已变化，初审签字已失效，请退回后重新审核"


def check_approval(approver: Principal, claim: ClaimFacts, approvals: Sequence[Approval],
                   current_digest: str) -> int:
    """Which approval this is (1 or 2), or why `approver` may not give it: not a bureau reviewer
    (FORBIDDEN), the claim's state (CLAIM_STATE_CONFLICT), outside their region
    (CLAIM_OUTSIDE_REGION), their own organisation's claim (CLAIMANT_CANNOT_REVIEW), an approval
    of theirs already recorded (SAME_REVIEWER), or content changed since the first approval
    (CLAIM_CHANGED_SINCE_APPROVAL). `approvals` are those recorded on the current version."""
    authorise(approver, claim, ClaimAction.APPROVE)
    number = 1 if claim.state == ClaimState.SUBMITTED else 2
    if len(approvals) != number - 1:
        raise ValueError(f"a {claim.state} claim has {number - 1} approvals recorded, not {len(approvals)}")
    for earlier in approvals:
        if earlier.user_id == approver.user_id:
            raise SameReviewer(details={"user_id": approver.user_id})
        if earlier.digest != current_digest:
            raise ClaimChangedSinceApproval(details={"approved_digest": earlier.digest,
                                                     "current_digest": current_digest})
    return number


def check_return(actor: Principal, claim: ClaimFacts, reason: str | None) -> str:
    """The reason, stripped, for returning the claim to the institution; refuses the actor as
    `authorise` does (reviewers while the bureau holds the claim, finance at its re-review) and a
    missing (REASON_REQUIRED) or over-long (TEXT_TOO_LONG) reason."""
    authorise(actor, claim, ClaimAction.RETURN)
    return required_text(reason, field="reason", label="退回原因", max_length=MAX_REASON,
                         code="REASON_REQUIRED")


# --- what is approved ------------------------------------------------------------------------

# A version must name what the reviewers sign: its lines (each with its amount and the reasons
# behind it), the totals, and the policy version the amounts were computed under.
DIGEST_FIELDS = ("lines", "totals", "policy_version")


def claim_digest(version: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a claim version: sorted keys, no whitespace, UTF-8.
    Amounts are integer fen; any other number is refused (ValueError), since a float's JSON text
    is not a stable money amount. Lines are a set, so their order does not change the digest."""
    missing = [name for name in DIGEST_FIELDS if name not in version]
    if missing:
        raise ValueError(f"a claim version needs {', '.join(missing)}")
    if not isinstance(version["lines"], list | tuple):
        raise TypeError("a claim version's lines are a list")
    _require_integers(version, "version")
    body = {**version, "lines": sorted(version["lines"], key=_canonical)}
    return hashlib.sha256(_canonical(body)).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _require_integers(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings, not {key!r}")
            _require_integers(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _require_integers(item, f"{path}[{index}]")
    elif isinstance(value, numbers.Number) and not isinstance(value, int):
        raise ValueError(f"{path} is {value!r}: amounts must be integer fen")
