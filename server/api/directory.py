"""Regions, organisations and the occupation catalogue."""

from __future__ import annotations

from flask import Blueprint

from server.api import schemas as s
from server.api.http import organisation_out, parse_body, parse_query, respond
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.domain.access import Role
from server.services import audit, directory

bp = Blueprint("directory", __name__, url_prefix="/api/v1")


def _region_out(region) -> s.RegionOut:
    return s.RegionOut(code=region.code, name=region.name, level=str(region.level),
                       parent_code=region.parent_code)


@bp.get("/regions")
@documented("行政区划（GB/T 2260）", "directory", query=s.RegionQuery, response=s.RegionList)
def list_regions():
    q = parse_query(s.RegionQuery)
    return respond(s.RegionList(items=[_region_out(r) for r in directory.list_regions(q.parent)]))


@bp.get("/regions/<code>")
@documented("单个行政区划", "directory", response=s.RegionOut, errors=(404,))
def get_region(code: str):
    return respond(_region_out(directory.get_region(code)))


@bp.get("/occupations")
@documented("工种目录", "directory", query=s.OccupationQuery, response=s.OccupationList)
def list_occupations():
    q = parse_query(s.OccupationQuery)
    return respond(s.OccupationList(items=[
        s.OccupationOut(code=o.code, name=o.name, levels=list(o.levels))
        for o in directory.list_occupations(q.q)]))


@bp.get("/organisations")
@signed_in()
@documented("机构列表（本机构，或本辖区及下级）", "directory", query=s.OrganisationQuery,
            response=s.OrganisationList)
def list_organisations():
    q = parse_query(s.OrganisationQuery)
    orgs = directory.list_organisations(current_principal(), q.kind)
    return respond(s.OrganisationList(items=[organisation_out(o) for o in orgs]))


@bp.get("/organisations/<int:org_id>")
@signed_in()
@documented("机构详情", "directory", response=s.OrganisationOut, errors=(404,))
def get_organisation(org_id: int):
    return respond(organisation_out(directory.visible_organisation(current_principal(), org_id)))


@bp.post("/organisations")
@signed_in(Role.ADMIN)
@documented("登记机构", "directory", body=s.OrganisationCreate, response=s.OrganisationOut,
            status=201, errors=(409,))
def create_organisation():
    body = parse_body(s.OrganisationCreate)
    org = directory.create_organisation(current_principal(), **body.model_dump())
    return respond(organisation_out(org), 201)


@bp.get("/audit")
@signed_in(Role.ADMIN)
@documented("审计日志（本辖区）", "audit", query=s.AuditQuery, response=s.AuditList)
def list_audit():
    q = parse_query(s.AuditQuery)
    events = audit.list_events(current_principal(), **q.model_dump())
    return respond(s.AuditList(items=[s.AuditEventOut.model_validate(e, from_attributes=True)
                                      for e in events]))


@bp.get("/audit/verify")
@signed_in(Role.ADMIN)
@documented("校验审计日志哈希链", "audit", response=s.AuditVerifyOut)
def verify_audit():
    problem, count, head = audit.verify()
    return respond(s.AuditVerifyOut(
        ok=problem is None, events_checked=count, head_hash=head,
        problem=None if problem is None else {"seq": problem.seq, "kind": problem.kind,
                                              "message": problem.message}))
