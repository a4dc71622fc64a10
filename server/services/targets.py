"""Targets (目标任务): loading the seed tables shipped in server/data/targets/, and listing them.

Each file holds one issuer's targets for a year: a region's figures and, where the seed breaks them
down, its child regions' (001 附件2 by township). Every number carries the seed clause it comes
from. Loading is an upsert by (region, year, kind), so running it again changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from server.domain.access import Principal
from server.domain.errors import ValidationFailed
from server.domain.regions import prefix_of
from server.domain.targets import KIND_LABELS, TargetKind, check_year
from server.extensions import db, read_only_transaction
from server.models import Region, Target
from server.services import clock
from server.services.scope import region_in_scope

TARGETS_DIR = Path(__file__).resolve().parent.parent / "data" / "targets"
OUT_OF_SCOPE = "只能查看本辖区及下级区划的目标任务"


class TargetDataInvalid(ValueError):
    """A shipped target file does not match the reference data: a packaging error, not a user's."""


def _figures(path: Path) -> list[tuple[str, str, int, TargetKind, int, str]]:
    """(code, name, year, kind, value, source) of every number in one file, checked."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    year = doc["year"]
    check_year(year)
    out = []
    for region in doc["regions"]:
        for kind, figure in region["targets"].items():
            value, source = figure["value"], figure["source"].strip()
            if isinstance(value, bool) or not isinstance(value, int) or value < 0 or not source:
                raise TargetDataInvalid(f"{path.name}: {region['code']} {kind} needs a count and its source")
            if kind not in TargetKind.__members__.values():
                raise TargetDataInvalid(f"{path.name}: unknown target kind {kind!r}")
            out.append((region["code"], region["name"], year, TargetKind(kind), value, source))
    return out


def load_targets() -> dict[str, int]:
    """Upsert every target in server/data/targets/*.json and commit; the counts of rows created,
    updated and left as they were. Needs the regions loaded (reference_data.load_regions): a
    code or name that does not match them is refused, so a typo cannot file a target elsewhere."""
    figures = [f for path in sorted(TARGETS_DIR.glob("*.json")) for f in _figures(path)]
    names = dict(db.session.execute(select(Region.code, Region.name).where(
        Region.code.in_({code for code, *_ in figures}))).tuples().all())
    existing = {(t.region_code, t.year, t.kind): t for t in db.session.scalars(select(Target))}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for code, name, year, kind, value, source in figures:
        if names.get(code) != name:
            raise TargetDataInvalid(f"{code} is {names.get(code)!r} in the regions, not {name!r}")
        target = existing.get((code, year, kind))
        if target is None:
            db.session.add(Target(region_code=code, year=year, kind=kind, value=value, source=source,
                                  updated_at=clock.now()))
            counts["created"] += 1
        elif (target.value, target.source) != (value, source):
            target.value, target.source, target.updated_at = value, source, clock.now()
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    db.session.commit()
    return counts


@dataclass(frozen=True)
class TargetRow:
    region_code: str
    region_name: str
    year: int
    kind: TargetKind
    label: str
    value: int
    source: str


def list_targets(principal: Principal, region_code: str | None, year: int | None) -> list[TargetRow]:
    """The targets of a region in the principal's scope (its own by default) and of every region
    below it, for one year or all, region by region."""
    code = region_code or principal.region_code or ""
    if year is not None:
        check_year(year)
    with read_only_transaction():
        known_region(code)
        region_in_scope(principal, code, OUT_OF_SCOPE)
        query = (select(Target.region_code, Region.name, Target.year, Target.kind, Target.value,
                        Target.source).join(Region, Region.code == Target.region_code)
                 .where(Target.region_code.like(prefix_of(code) + "%")))
        if year is not None:
            query = query.where(Target.year == year)
        rows = [TargetRow(region_code=c, region_name=name, year=y, kind=kind, label=KIND_LABELS[kind],
                          value=value, source=source)
                for c, name, y, kind, value, source in db.session.execute(query).tuples()]
    order = list(TargetKind)
    return sorted(rows, key=lambda r: (r.year, r.region_code, order.index(r.kind)))


def known_region(code: str) -> Region:
    """The region, or UNKNOWN_REGION (the scope check comes after, in scope.region_in_scope)."""
    region = db.session.get(Region, code) if isinstance(code, str) and code.isascii() else None
    if region is None:
        raise ValidationFailed("行政区划不存在", code="UNKNOWN_REGION", details={"region_code": code})
    return region
