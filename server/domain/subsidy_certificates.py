"""Certificate subsidies (取证补贴, SPEC §6): a line per certificate, under the version of the
region's standards in force on the day asked.

The rates are by certificate kind and level (001 二(六), 002 第九条, 004 三: 初级 and the first
special-operation or special-equipment card 400元, 中级 600元, 高级 800元, 专项职业能力 200元 in Lin).
Each person is subsidised once per level: a level already paid (the caller says so), or paid
earlier in the same batch, gets nothing; 002 第九条 pays 中级 only when it is the person's first
certificate. A kind or level without a rate (技师, 培训合格证书, or a region with no rates) gets a
zero line saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from server.domain.certificates import KIND_LABELS, LEVELLED_KINDS, CertificateKind
from server.domain.errors import ValidationFailed
from server.domain.policy import RegionPolicy
from server.domain.subsidy_explain import Computation, Line, Reason, heading, yuan
from server.domain.subsidy_policy import subsidy_version


@dataclass(frozen=True)
class CertificateFacts:
    trainee_id: int
    certificate_id: int
    kind: str  # a CertificateKind value
    level: str  # '' for kinds without a level
    already_subsidised: bool  # this person was already paid for this level (kind, if unlevelled)
    earlier_certificate: bool = False  # held a skill-level or qualification certificate before (002 第九条)



def compute_certificates(policy: RegionPolicy, certificates: Sequence[CertificateFacts],
                         on: date) -> Computation:
    """Certificate subsidies (取证补贴) under the version in force on `on`: each person once per
    level (001 二(六), 002 第九条, 004 三), also within this batch."""
    version = subsidy_version(policy, on)
    paid_levels: set[tuple[int, str]] = set()
    lines = []
    for cert in certificates:
        if cert.kind not in CertificateKind.__members__.values():
            raise ValidationFailed("未知的证书类别", code="INVALID_SUBSIDY_FACTS",
                                   details={"certificate_id": cert.certificate_id, "kind": cert.kind})
        kind = CertificateKind(cert.kind)
        rate = version.certificate_rate(kind, cert.level)
        reasons = [] if rate else [Reason.CERT_NOT_SUBSIDISED]
        level_key = (cert.trainee_id, cert.level)
        if cert.already_subsidised or (kind in LEVELLED_KINDS and level_key in paid_levels):
            reasons.append(Reason.CERT_LEVEL_ALREADY_SUBSIDISED)
        if rate and rate.first_certification_only and rate.first_certification_only.value \
                and cert.earlier_certificate:
            reasons.append(Reason.NOT_FIRST_CERTIFICATION)
        label = KIND_LABELS[kind] + (f"（{cert.level}）" if cert.level else "")
        amount = rate.amount_fen.value if rate and not reasons else 0
        if amount and kind in LEVELLED_KINDS:
            paid_levels.add(level_key)
        lines.append(Line(
            trainee_id=cert.trainee_id, item="certificate", half_days=0, steps=(), gross_fen=amount,
            cap_fen=None, adjustments=(), amount_fen=amount, reasons=tuple(reasons),
            certificate_id=cert.certificate_id, detail=f"{label}每人{yuan(amount)}" if amount else label,
            sources=(rate.amount_fen.source,) if amount else ()))
    paid = sum(1 for line in lines if line.amount_fen)
    return Computation(
        region_code=policy.region_code, policy_effective_from=version.effective_from, programme="certificate",
        basis={"certificates": len(lines), "subsidised": paid, "on": on.isoformat()}, lines=tuple(lines),
        total_fen=sum(line.amount_fen for line in lines),
        summary=(heading(policy, version, "取证补贴"), f"证书{len(lines)}本，给予补贴{paid}本"))
