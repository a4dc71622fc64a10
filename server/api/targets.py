"""Targets (目标任务) and the monthly progress report (000 一(三): 按月上报目标任务推进和资金支付情况),
as JSON and as a spreadsheet with Chinese headers (the same figures: both are shaped from one
`reports.Report`)."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint

from server.adapters import exports
from server.api import target_schemas as t
from server.api.http import parse_query, respond
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.api.vouchers import export_response
from server.domain.targets import KIND_LABELS, MEASURE_LABELS, MEASURE_TARGETS, UNMEASURED_KINDS, Measure
from server.services import reports, targets

bp = Blueprint("targets", __name__, url_prefix="/api/v1")


@bp.get("/targets")
@signed_in(*reports.REPORT_ROLES)
@documented("目标任务：本辖区及下级区划按年度、类别下达的任务数，附出处", "reports", query=t.TargetQuery,
            response=t.TargetList, errors=(422,))
def list_targets():
    q = parse_query(t.TargetQuery)
    rows = targets.list_targets(current_principal(), q.region, q.year)
    return respond(t.TargetList(items=[
        t.TargetOut(region_code=r.region_code, region_name=r.region_name, year=r.year, kind=str(r.kind),
                    kind_label=r.label, value=r.value, source=r.source) for r in rows]))


def _percent(value: Decimal | None) -> float | None:
    return None if value is None else float(value)  # one decimal: the float prints as computed


def _region_out(row: reports.RegionFigures) -> t.RegionProgressOut:
    return t.RegionProgressOut(
        region_code=row.region_code, region_name=row.region_name,
        lines=[t.LineOut(measure=str(line.measure), label=MEASURE_LABELS[line.measure], month=line.month,
                         year_to_date=line.year_to_date,
                         target_kind=str(line.target_kind) if line.target_kind else None,
                         target_label=KIND_LABELS[line.target_kind] if line.target_kind else None,
                         target=line.target, percent=_percent(line.percent)) for line in row.lines],
        other_targets=[t.OtherTargetOut(kind=str(kind), label=KIND_LABELS[kind], value=value)
                       for kind, value in row.other_targets])


def _report(q: t.ProgressQuery) -> reports.Report:
    principal = current_principal()
    return reports.progress(principal, q.region or principal.region_code or "", q.year, q.month)


@bp.get("/reports/progress")
@signed_in(*reports.REPORT_ROLES)
@documented("目标任务进度月报：本月与当年累计的发券、开班、培训人次、取证、拨付资金，按下级区划分列，"
            "对照年度目标（只统计已录入系统的数据）", "reports", query=t.ProgressQuery,
            response=t.ProgressOut, errors=(422,))
def progress():
    report = _report(parse_query(t.ProgressQuery))
    return respond(t.ProgressOut(
        region_code=report.region_code, region_name=report.region_name, level=str(report.level),
        child_level=str(report.child_level), year=report.year, month=report.month,
        month_first_day=report.month_period.first_day, month_last_day=report.month_period.last_day,
        year_first_day=report.year_period.first_day, elapsed_percent=float(report.elapsed_percent),
        total=_region_out(report.total), children=[_region_out(c) for c in report.children],
        unassigned=_region_out(report.unassigned)))


# --- the spreadsheet: a row per region, the month and the year so far side by side -------------

MONEY = frozenset({Measure.PAID_FEN})


def _columns() -> list[exports.Column]:
    columns = [exports.Column("地区代码", 12), exports.Column("地区", 16)]
    for measure in Measure:
        label = MEASURE_LABELS[measure] + ("（元）" if measure in MONEY else "")
        kind = "money" if measure in MONEY else "int"
        columns += [exports.Column(f"本月{label}", 12, kind), exports.Column(f"累计{label}", 12, kind)]
        if measure in MEASURE_TARGETS:
            columns += [exports.Column(f"{KIND_LABELS[MEASURE_TARGETS[measure]]}目标", 14, "int"),
                        exports.Column(f"{MEASURE_LABELS[measure]}完成率（%）", 12, "int")]
    return columns + [exports.Column(f"{KIND_LABELS[kind]}目标", 14, "int") for kind in UNMEASURED_KINDS]


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) / 100  # exact: fen have two decimals


def _row(row: reports.RegionFigures) -> list:
    values: list = [row.region_code or "", row.region_name]
    for line in row.lines:
        if line.measure in MONEY:
            values += [_yuan(line.month), _yuan(line.year_to_date)]
        else:
            values += [line.month, line.year_to_date]
        if line.measure in MEASURE_TARGETS:
            values += [line.target, line.percent]
    other = dict(row.other_targets)
    return values + [other.get(kind) for kind in UNMEASURED_KINDS]


def _counted_anything(row: reports.RegionFigures) -> bool:
    return any(line.month or line.year_to_date for line in row.lines)


@bp.get("/reports/progress.<fmt>")
@signed_in(*reports.REPORT_ROLES)
@documented("导出目标任务进度月报（XLSX 或 CSV，中文表头；与 JSON 数字相同）", "reports",
            query=t.ProgressQuery, response_media="application/octet-stream", errors=(404, 422))
def export_progress(fmt: str):
    report = _report(parse_query(t.ProgressQuery))
    rows = [_row(report.total), *(_row(c) for c in report.children)]
    if _counted_anything(report.unassigned):
        rows.append(_row(report.unassigned))
    title = f"{report.region_name}{report.year}年{report.month}月目标任务进度"
    return export_response(fmt, title, _columns(), rows)
