"""Targets (目标任务) and the monthly progress report: the seed tables load once however often they
are loaded; the report counts exactly the recorded rows of the month (China time) and of the year
so far, by township below a county; other regions' bureaus are refused; the XLSX carries the same
figures under Chinese headers."""

from __future__ import annotations

import io
import itertools
import json
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from server.domain.access import OrgKind, Role
from server.domain.certificates import CertificateKind, CertificateState
from server.domain.claims import ClaimKind, ClaimState
from server.domain.classes import VersionState
from server.domain.completion import CompletionState
from server.domain.vouchers import VoucherState
from server.extensions import db
from server.models import (
    AssessmentResult,
    AuditEvent,
    Certificate,
    Claim,
    ClassVersion,
    CompletionFiling,
    Disbursement,
    Region,
    Target,
    TrainingClass,
    Voucher,
)
from server.services import clock as clock_service
from server.services import targets as target_service
from server.services import vouchers as voucher_service
from server.services.auth import principal_of
from server.services.targets import TARGETS_DIR, load_targets
from tests.factories import LEVEL, OCCUPATION, login, make_org, make_staff, make_trainee, open_class

HUGUAN, LONGQUAN, BAICHI, JINZHUANG, LIN = "140427", "140427100", "140427101", "140427103", "141124"
_serial = itertools.count(1)


def cn(year, month, day, hour=12, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=clock_service.CHINA)


# --- loading the seed tables ------------------------------------------------------------------


def test_loading_twice_changes_nothing_and_a_changed_figure_is_restored(ctx):
    first = load_targets()
    assert first == {"created": 38, "updated": 0, "unchanged": 0}  # Huguan 11 × 3, Xinzhou 5
    stamps = dict(db.session.execute(select(Target.id, Target.updated_at)).tuples().all())
    assert load_targets() == {"created": 0, "updated": 0, "unchanged": 38}
    assert dict(db.session.execute(select(Target.id, Target.updated_at)).tuples().all()) == stamps

    db.session.execute(update(Target).where(Target.region_code == LONGQUAN).values(value=1))
    db.session.commit()
    assert load_targets() == {"created": 0, "updated": 3, "unchanged": 35}
    assert db.session.scalar(select(func.count()).select_from(Target)) == 38
    longquan = {t.kind: t for t in db.session.scalars(select(Target).where(Target.region_code == LONGQUAN))}
    assert longquan["subsidised_trainees"].value == 200
    assert longquan["new_skilled"].source.startswith("001 附件2")


def test_huguan_s_townships_add_up_to_the_county_as_the_seed_table_does(ctx):
    doc = json.loads((TARGETS_DIR / "140427.json").read_text(encoding="utf-8"))
    county, *townships = doc["regions"]
    assert county["code"] == HUGUAN and doc["year"] == 2024
    codes = {r["code"] for r in townships}
    assert codes == set(db.session.scalars(select(Region.code).where(Region.parent_code == HUGUAN)))
    for kind, expected in (("subsidised_trainees", 1300), ("new_skilled", 800), ("new_high_skilled", 100)):
        assert county["targets"][kind]["value"] == expected
        assert sum(r["targets"][kind]["value"] for r in townships) == expected
    xinzhou = json.loads((TARGETS_DIR / "140900.json").read_text(encoding="utf-8"))["regions"]
    assert [r["code"] for r in xinzhou] == ["140900"]  # 000 gives the city's figures only
    assert xinzhou[0]["targets"]["subsidised_trainees"] == {
        "value": 16000, "source": "000 一(一): 省人社厅下达我市补贴性技能培训16000人"}


def test_a_file_naming_a_region_under_another_name_is_refused(ctx, monkeypatch, tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"year": 2024, "regions": [
        {"code": LONGQUAN, "name": "百尺镇", "targets": {"new_skilled": {"value": 1, "source": "001"}}}]}),
        encoding="utf-8")
    monkeypatch.setattr(target_service, "TARGETS_DIR", tmp_path)
    with pytest.raises(target_service.TargetDataInvalid):
        load_targets()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Target)) == 0


# --- a county with recorded activity ----------------------------------------------------------


@pytest.fixture
def county(client, ctx):
    """Huguan in 2024, its rows dated by hand around May (see the expectations in each test)."""
    load_targets()
    bureau = make_org(OrgKind.BUREAU, HUGUAN, name="壶关县人社局")
    reviewer = make_staff(Role.BUREAU_REVIEWER, bureau)
    operator = make_staff(Role.INSTITUTION_OPERATOR, region_code=HUGUAN)
    evaluator = make_org(OrgKind.EVALUATION_INSTITUTION, HUGUAN, name="壶关县峡谷职业技能评价有限公司")
    w = {"reviewer": reviewer, "operator": operator, "evaluator": evaluator}
    homes = {1: LONGQUAN, 2: LONGQUAN, 3: BAICHI, 4: HUGUAN, 5: LONGQUAN, 6: JINZHUANG, 7: LONGQUAN}
    people = {n: make_trainee(home, real_name=f"学员{n}") for n, home in homes.items()}
    vouchers = {n: voucher_service.apply(principal_of(reviewer), voucher_service.ApplicationInput(
        occupation_code=OCCUPATION, level=LEVEL, programme="puhui", region_code=HUGUAN, trainee_id=p.id))
        for n, p in people.items()}
    ids = {n: v.id for n, v in vouchers.items()}
    headers = {"reviewer": login(client, username=reviewer.username),
               "operator": login(client, username=operator.username)}
    class_a = open_class(client, headers["operator"], headers["reviewer"],
                         [people[n].id_number for n in (1, 2, 6)])
    class_b = open_class(client, headers["operator"], headers["reviewer"], [people[3].id_number])

    def voucher(n, state, decided, *, bound=None, trained=None):
        db.session.execute(update(Voucher).where(Voucher.id == ids[n]).values(
            state=state, decided_at=decided, year=2024, bound_class_id=bound, trained_at=trained,
            bound_at=decided if bound else None))

    voucher(1, VoucherState.TRAINED, cn(2024, 5, 10), bound=class_a, trained=cn(2024, 5, 20))
    voucher(2, VoucherState.WRITTEN_OFF, cn(2024, 1, 15), bound=class_a, trained=cn(2024, 4, 30, 23, 30))
    voucher(3, VoucherState.BOUND, cn(2024, 5, 31, 23, 59), bound=class_b)
    voucher(4, VoucherState.ISSUED, cn(2024, 5, 15))  # home recorded as the county only
    voucher(5, VoucherState.ISSUED, cn(2024, 6, 1, 0, 10))  # still 31 May in UTC: June in China
    voucher(6, VoucherState.REVOKED, cn(2024, 5, 5), bound=class_a, trained=cn(2024, 5, 25))
    voucher(7, VoucherState.REJECTED, cn(2024, 5, 6))

    # Class A opened in May; class B in April, then amended in May (the amendment is no opening).
    db.session.execute(update(ClassVersion).where(ClassVersion.class_id == class_a).values(
        decided_at=cn(2024, 5, 3)))
    first_b = db.session.scalar(select(ClassVersion).where(ClassVersion.class_id == class_b))
    first_b.state, first_b.decided_at = VersionState.SUPERSEDED, cn(2024, 4, 20)
    db.session.add(ClassVersion(class_id=class_b, number=2, state=VersionState.APPROVED,
                                proposal=first_b.proposal, created_by=operator.id,
                                decided_by=reviewer.id, decided_at=cn(2024, 5, 15)))
    db.session.execute(update(TrainingClass).where(TrainingClass.id == class_b).values(
        approved_version=2, approved_at=cn(2024, 5, 15)))

    certify = _certifier(reviewer, evaluator)
    certify(class_a, people[1], CertificateKind.SKILL_LEVEL, "初级", date(2024, 5, 28))
    certify(class_a, people[2], CertificateKind.SKILL_LEVEL, "高级", date(2024, 5, 2))
    certify(class_a, people[6], CertificateKind.SKILL_LEVEL, "初级", date(2024, 5, 10),
            state=CertificateState.REVOKED)
    certify(class_a, people[1], CertificateKind.TRAINING_QUALIFICATION, "", date(2024, 5, 28))
    certify(class_b, people[3], CertificateKind.SKILL_LEVEL, "技师", date(2024, 2, 1))
    certify(class_a, people[2], CertificateKind.SKILL_LEVEL, "初级", date(2024, 6, 1))

    pay = _payer(reviewer)
    pay(operator.organisation_id, HUGUAN, class_a, 150_000, date(2024, 5, 20))
    pay(operator.organisation_id, HUGUAN, class_b, 88_800, date(2024, 3, 10))
    pay(evaluator.id, HUGUAN, None, 40_000, date(2024, 6, 3))

    # Lin, elsewhere in the province: a voucher and a payment in May that Huguan must not count.
    lin_reviewer = make_staff(Role.BUREAU_REVIEWER, region_code=LIN)
    lin_voucher = voucher_service.apply(principal_of(lin_reviewer), voucher_service.ApplicationInput(
        occupation_code=OCCUPATION, level=LEVEL, programme="puhui", region_code=LIN,
        trainee_id=make_trainee(LIN).id))
    lin_voucher.state, lin_voucher.decided_at = VoucherState.ISSUED, cn(2024, 5, 12)
    pay(make_org(OrgKind.EVALUATION_INSTITUTION, LIN).id, LIN, None, 99_900, date(2024, 5, 12))
    db.session.commit()
    w["headers"] = headers
    return w


def _certifier(reviewer, evaluator):
    filings: dict[int, CompletionFiling] = {}
    results: dict[tuple[int, int], AssessmentResult] = {}

    def certify(class_id, trainee, kind, level, issued_on, state=CertificateState.VALID):
        if class_id not in filings:
            filings[class_id] = CompletionFiling(class_id=class_id, number=1, state=CompletionState.APPROVED,
                                                 evaluator_id=evaluator.id, assessment_plan="理论与实操考核",
                                                 documents={}, filed_by=reviewer.id)
            db.session.add(filings[class_id])
            db.session.flush()
        if (class_id, trainee.id) not in results:
            results[class_id, trainee.id] = AssessmentResult(
                class_id=class_id, filing_id=filings[class_id].id, trainee_id=trainee.id,
                evaluator_id=evaluator.id, theory_score=80, practice_score=85, passed=True, level=level,
                recorded_by=reviewer.id)
            db.session.add(results[class_id, trainee.id])
            db.session.flush()
        db.session.add(Certificate(
            number=f"S{next(_serial):011d}", kind=kind, trainee_id=trainee.id, class_id=class_id,
            result_id=results[class_id, trainee.id].id, issuer_id=evaluator.id, region_code=HUGUAN,
            occupation_code=OCCUPATION, level=level, issued_on=issued_on, token="-", state=state,
            issued_by=reviewer.id))
        db.session.flush()

    return certify


def _payer(filer):
    def pay(organisation_id, region_code, class_id, amount_fen, paid_on):
        kind = ClaimKind.TRAINING if class_id else ClaimKind.CERTIFICATE
        claim = Claim(number=f"C{next(_serial):08d}", kind=kind, state=ClaimState.PAID,
                      organisation_id=organisation_id, region_code=region_code,
                      class_id=class_id, stage=1, training_year=2024, version=1, digest="0" * 64,
                      total_fen=amount_fen, policy_region_code=region_code,
                      policy_effective_from=date(2024, 1, 1), basis={}, explanation=[], filed_by=filer.id)
        db.session.add(claim)
        db.session.flush()
        db.session.add(Disbursement(claim_id=claim.id, amount_fen=amount_fen, paid_on=paid_on,
                                    reference=f"BF{claim.id}", recorded_by=filer.id))
        db.session.flush()

    return pay


def _lines(row) -> dict[str, dict]:
    return {line["measure"]: line for line in row["lines"]}


def _figures(row) -> dict[str, tuple]:
    return {m: (line["month"], line["year_to_date"]) for m, line in _lines(row).items()}


def _report(client, headers, **query):
    return client.get("/api/v1/reports/progress", headers=headers,
                      query_string={"year": 2024, "month": 5} | query)


def test_the_county_report_counts_exactly_the_recorded_rows_of_may(client, county):
    response = _report(client, county["headers"]["reviewer"], region=HUGUAN)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["region_name"], body["level"], body["child_level"]) == ("壶关县", "county", "township")
    assert (body["month_first_day"], body["month_last_day"], body["year_first_day"]) == (
        "2024-05-01", "2024-05-31", "2024-01-01")
    assert body["elapsed_percent"] == 41.7  # 5 / 12
    assert _figures(body["total"]) == {
        "vouchers_issued": (4, 5),  # 1, 3 (23:59 on the 31st), 4, 6 (revoked since); 2 in January
        "classes_opened": (1, 2),  # A in May; B opened in April (its May amendment is no opening)
        "trainees_trained": (1, 2),  # 1; 2 on 30 April; 6 was revoked after training
        "certified": (2, 3),  # 1 (初级), 2 (高级); 3 (技师) in February; revoked and 培训合格证书 not
        "certified_high_skilled": (1, 2),
        "paid_fen": (150_000, 238_800),  # Lin's payment and June's are not Huguan's May
    }
    lines = _lines(body["total"])
    assert (lines["trainees_trained"]["target"], lines["trainees_trained"]["percent"]) == (1300, 0.2)
    assert (lines["certified"]["target_label"], lines["certified"]["percent"]) == ("新增技能人才", 0.4)
    high = lines["certified_high_skilled"]
    assert (high["target"], high["percent"]) == (100, 2.0)
    assert lines["vouchers_issued"]["target"] is None and lines["vouchers_issued"]["percent"] is None

    townships = {row["region_code"]: row for row in body["children"]}
    assert list(townships) == sorted(townships) and len(townships) == 10
    longquan = townships[LONGQUAN]
    assert longquan["region_name"] == "龙泉镇"
    assert _figures(longquan) == {"vouchers_issued": (1, 2), "classes_opened": (None, None),
                                  "trainees_trained": (1, 2), "certified": (2, 2),
                                  "certified_high_skilled": (1, 1), "paid_fen": (None, None)}
    assert [(m, _lines(longquan)[m]["target"], _lines(longquan)[m]["percent"])
            for m in ("trainees_trained", "certified", "certified_high_skilled")] == [
        ("trainees_trained", 200, 1.0), ("certified", 100, 2.0), ("certified_high_skilled", 12, 8.3)]
    assert _figures(townships[BAICHI])["vouchers_issued"] == (1, 1)
    assert _figures(townships[BAICHI])["certified_high_skilled"] == (0, 1)
    assert _figures(townships[JINZHUANG])["vouchers_issued"] == (1, 1)
    assert _figures(townships["140427202"])["vouchers_issued"] == (0, 0)
    unassigned = body["unassigned"]
    assert unassigned["region_code"] is None
    assert _figures(unassigned)["vouchers_issued"] == (1, 1)  # voucher 4: home is the county only
    assert _figures(unassigned)["classes_opened"] == (None, None)


def test_april_and_june_move_the_boundaries(client, county):
    april = _report(client, county["headers"]["reviewer"], region=HUGUAN, month=4).json["total"]
    assert _figures(april)["vouchers_issued"] == (0, 1)
    assert _figures(april)["trainees_trained"] == (1, 1)  # 23:30 on 30 April, China time
    assert _figures(april)["classes_opened"] == (1, 1)
    june = _report(client, county["headers"]["reviewer"], region=HUGUAN, month=6).json["total"]
    assert _figures(june)["vouchers_issued"] == (1, 6)  # 00:10 on 1 June in China
    assert _figures(june)["certified"] == (1, 4)
    assert _figures(june)["paid_fen"] == (40_000, 278_800)


def test_the_city_and_the_province_see_the_county_as_a_child_with_its_classes_and_money(client, county):
    city = login(client, username=make_staff(Role.BUREAU_SUPERVISOR, region_code="140400").username)
    body = _report(client, city, region="140400").json
    assert body["child_level"] == "county"
    assert [c["region_code"] for c in body["children"]] == [HUGUAN]
    assert _figures(body["children"][0]) == _figures(body["total"])
    assert _figures(body["total"])["classes_opened"] == (1, 2)
    assert _figures(body["total"])["paid_fen"] == (150_000, 238_800)

    province = login(client, username=make_staff(Role.ADMIN, region_code="140000").username)
    body = _report(client, province, region="140000").json
    cities = {c["region_code"]: c for c in body["children"]}
    assert _figures(cities["140400"])["paid_fen"] == (150_000, 238_800)
    assert _figures(cities["141100"])["paid_fen"] == (99_900, 99_900)  # Lin, in Lüliang
    assert _figures(body["total"])["vouchers_issued"] == (5, 6)
    xinzhou = cities["140900"]
    assert _lines(xinzhou)["trainees_trained"]["target"] == 16000
    assert {t["kind"]: t["value"] for t in xinzhou["other_targets"]} == {
        "specialised_town_trainees": 1500, "labour_brand_trainees": 3240}


def test_the_region_defaults_to_the_bureau_s_own(client, county):
    response = client.get("/api/v1/reports/progress?year=2024&month=5", headers=county["headers"]["reviewer"])
    assert response.json["region_code"] == HUGUAN


def _row_count() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (AuditEvent, Target, Voucher, Disbursement)}


@pytest.mark.parametrize(("query", "status", "code"), [
    ({"region": HUGUAN, "month": 13}, 422, "INVALID_MONTH"),
    ({"region": HUGUAN, "month": 0}, 422, "INVALID_MONTH"),
    ({"region": HUGUAN, "year": 1900}, 422, "INVALID_YEAR"),
    ({"region": HUGUAN, "month": "May"}, 422, "VALIDATION_FAILED"),
    ({"region": "140499"}, 422, "UNKNOWN_REGION"),
    ({"region": "14x"}, 422, "UNKNOWN_REGION"),
    ({"region": LONGQUAN}, 422, "INVALID_REGION_LEVEL"),
    ({"region": "140400"}, 403, "FORBIDDEN"),  # the county's own city is above it
    ({"region": LIN}, 403, "FORBIDDEN"),
    ({"region": HUGUAN, "extra": "1"}, 422, "VALIDATION_FAILED"),
])
def test_bad_input_is_refused_with_a_stable_code_and_nothing_written(client, county, query, status, code):
    before = _row_count()
    for path in ("/api/v1/reports/progress", "/api/v1/reports/progress.xlsx"):
        response = client.get(path, headers=county["headers"]["reviewer"],
                              query_string={"year": 2024, "month": 5} | query)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.json["error"]["code"] == code
    assert _row_count() == before


def test_another_city_s_bureau_and_an_institution_are_refused(client, county):
    xinzhou = login(client, username=make_staff(Role.BUREAU_REVIEWER, region_code="140900").username)
    for path, query in (("/api/v1/reports/progress", {"month": 5}),
                        ("/api/v1/reports/progress.xlsx", {"month": 5}), ("/api/v1/targets", {})):
        refused = client.get(path, headers=xinzhou, query_string={"region": HUGUAN, "year": 2024} | query)
        assert refused.status_code == 403, path
        assert refused.json["error"]["code"] == "FORBIDDEN"
        assert HUGUAN not in json.dumps(refused.json["error"].get("message", ""))
    operator = client.get("/api/v1/reports/progress", headers=county["headers"]["operator"],
                          query_string={"region": HUGUAN, "year": 2024, "month": 5})
    assert operator.status_code == 403
    assert client.get("/api/v1/reports/progress?year=2024&month=5").status_code == 401


def test_targets_list_the_region_and_below_with_their_sources(client, county):
    response = client.get("/api/v1/targets", headers=county["headers"]["reviewer"],
                          query_string={"region": HUGUAN, "year": 2024})
    assert response.status_code == 200
    items = response.json["items"]
    assert len(items) == 33  # the county and its ten townships, three kinds each
    assert items[0] == {"region_code": HUGUAN, "region_name": "壶关县", "year": 2024,
                        "kind": "subsidised_trainees", "kind_label": "补贴性职业技能培训人次", "value": 1300,
                        "source": items[0]["source"]}
    assert items[0]["source"].startswith("001 附件2")
    assert {i["region_code"] for i in items} >= {LONGQUAN, "140427202"}
    none = client.get("/api/v1/targets?year=2023", headers=county["headers"]["reviewer"])
    assert none.status_code == 200 and none.json["items"] == []
    bad = client.get("/api/v1/targets?year=20x", headers=county["headers"]["reviewer"])
    assert bad.status_code == 422


def test_the_xlsx_has_chinese_headers_and_the_json_s_figures(client, county):
    headers = county["headers"]["reviewer"]
    body = _report(client, headers, region=HUGUAN).json
    response = client.get("/api/v1/reports/progress.xlsx", headers=headers,
                          query_string={"region": HUGUAN, "year": 2024, "month": 5})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.title == "壶关县2024年5月目标任务进度"
    rows = list(sheet.iter_rows(values_only=True))
    header, table = rows[0], rows[1:]
    assert header[:4] == ("地区代码", "地区", "本月发放电子券", "累计发放电子券")
    for label in ("本月培训人次", "累计培训人次", "补贴性职业技能培训人次目标", "培训人次完成率（%）",
                  "新增技能人才目标", "新增高技能人才目标", "本月拨付资金（元）", "累计拨付资金（元）",
                  "专业镇技能培训目标", "特色劳务品牌培训目标"):
        assert label in header
    # The total, ten townships, and the row for the county-only home.
    assert [r[0] for r in table] == [HUGUAN, *(c["region_code"] for c in body["children"]), None]
    at = {name: n for n, name in enumerate(header)}
    for json_row, sheet_row in zip([body["total"], *body["children"]], table, strict=False):
        lines = _lines(json_row)
        assert sheet_row[at["地区"]] == json_row["region_name"]
        for measure, label in (("vouchers_issued", "发放电子券"), ("trainees_trained", "培训人次"),
                               ("certified", "取证"), ("classes_opened", "开班")):
            assert sheet_row[at[f"本月{label}"]] == lines[measure]["month"]
            assert sheet_row[at[f"累计{label}"]] == lines[measure]["year_to_date"]
        assert sheet_row[at["补贴性职业技能培训人次目标"]] == lines["trainees_trained"]["target"]
        assert sheet_row[at["培训人次完成率（%）"]] == lines["trainees_trained"]["percent"]
        assert sheet_row[at["高技能人才取证完成率（%）"]] == lines["certified_high_skilled"]["percent"]
        paid = lines["paid_fen"]["year_to_date"]
        assert sheet_row[at["累计拨付资金（元）"]] == (None if paid is None else paid / 100)
    assert table[0][at["累计拨付资金（元）"]] == 2388.0
    assert table[-1][at["地区"]] == "未落实到下级区划"
