"""Demo data for `flask --app server.wsgi seed-demo` (run by `make run`): the five seed regions'
bureaus, finance bureaus, institutions, staff and trainees, so the app can be tried at once; and
the product at work: in each region trainees 21-30 hold vouchers (issued, bound, rejected,
revoked, one waiting for review in Xinzhou and Yangquan) and `<region>.inst1` runs an approved
class whose roster is half scanned. In Lin, trainees 11-20 took two finished classes of
`linxian.inst2`, one with a subsidy claim ready for payment, one ready to claim (demo_claims.py).
Trainees 1-10 are left untouched, to try the app with.

The vouchers and classes are made through the real services (trainees apply, `<region>.reviewer1`
decides, `<region>.inst1` files, uploads, submits and scans), so the rules, the audit trail and
the database constraints apply to them as to anyone's.

Idempotent: every record is looked up by its natural key (organisation name, username, mobile,
ID number; a voucher by trainee and occupation, a class by institution and name) before it is
created, so a second run changes nothing. A voucher or class is taken through its steps only in
the run that creates it; one that exists is left as it is, whatever has been done with it since.
Deterministic: trainees are drawn from a `random.Random` seeded per region, so every database
gets the same people, vouchers and classes (serial numbers and storage keys are random, as in
use). All identities are synthetic: the ID numbers and social credit codes carry valid check
characters but belong to no one.
"""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import openpyxl
from sqlalchemy import func, select

from server.adapters import passwords
from server.domain.access import OrgKind, Principal, Role
from server.domain.classes import DOCUMENT_LABELS, DocumentKind, can_scan
from server.domain.eligibility import SIX_GROUPS, Category, ProgrammeType, parse_categories
from server.domain.identity import check_character, parse_id_number
from server.domain.policy import approver_can_decide
from server.domain.regions import prefix_of
from server.domain.vouchers import VoucherState
from server.extensions import db
from server.models import Organisation, Region, TraineeProfile, TrainingClass, User, Voucher
from server.services import audit, clock, policies, scans, targets
from server.services import classes as class_service
from server.services import vouchers as voucher_service
from server.services.auth import principal_of
from server.services.reference_data import load_reference_data

STAFF_PASSWORD = "Demo@2024"
TRAINEE_PASSWORD = "Trainee@2024"
TRAINEES_PER_REGION = 30
# Trainee mobiles: 1390 + the region's index (1-5) + the trainee's number (000001-000030).
MOBILE_PREFIX = "1390"


@dataclass(frozen=True)
class DemoRegion:
    index: int  # 1-5: the fifth digit of its trainees' mobiles
    slug: str  # the staff usernames' prefix
    code: str
    institutions: tuple[str, str]  # 培训机构
    evaluator: str  # 评价机构


REGIONS = (
    DemoRegion(1, "xinzhou", "140900", ("忻州市五台山职业培训学校", "忻州市忻府区巧手职业培训学校"),
               "忻州市云中职业技能评价有限公司"),
    DemoRegion(2, "huguan", "140427", ("壶关县太行职业培训学校", "壶关县龙泉职业技能培训学校"),
               "壶关县峡谷职业技能评价有限公司"),
    DemoRegion(3, "yangquan", "140300", ("阳泉市狮脑山职业培训学校", "阳泉市郊区德润职业培训学校"),
               "阳泉市娘子关职业技能评价有限公司"),
    DemoRegion(4, "wenshui", "141121", ("文水县则天职业培训学校", "文水县汾河职业技能培训学校"),
               "文水县子夏职业技能评价有限公司"),
    DemoRegion(5, "linxian", "141124", ("临县碛口职业培训学校", "临县湫水职业技能培训学校"),
               "临县黄河职业技能评价有限公司"),
)

PROVINCE_CODE = "140000"
PROVINCE_BUREAU = "山西省人力资源和社会保障厅"
PROVINCE_ADMIN = "shanxi.admin"


@dataclass(frozen=True)
class StaffRole:
    suffix: str  # username = "<slug>.<suffix>"
    role: Role
    org_key: str  # which of the region's organisations (see _organisations)
    label: str  # display name; {region} and {org} are filled in
    description: str  # for describe()


STAFF = (
    StaffRole("reviewer1", Role.BUREAU_REVIEWER, "bureau", "{region}人社局经办一", "reviewer 人社局经办"),
    StaffRole("reviewer2", Role.BUREAU_REVIEWER, "bureau", "{region}人社局经办二", "reviewer 人社局经办"),
    StaffRole("supervisor", Role.BUREAU_SUPERVISOR, "bureau", "{region}人社局监管", "supervisor 人社局监管"),
    StaffRole("admin", Role.ADMIN, "bureau", "{region}人社局管理员", "bureau admin 管理员"),
    StaffRole("finance", Role.FINANCE, "finance", "{region}财政局复核", "finance 财政局"),
    StaffRole("inst1", Role.INSTITUTION_OPERATOR, "inst1", "{org}经办", "institution 培训机构"),
    StaffRole("inst2", Role.INSTITUTION_OPERATOR, "inst2", "{org}经办", "institution 培训机构"),
    StaffRole("eval", Role.EVALUATOR, "eval", "{org}考评", "evaluator 评价机构"),
)


@dataclass(frozen=True)
class OrgSpec:
    name: str
    kind: OrgKind
    region_code: str
    social_credit_code: str | None = None


@dataclass(frozen=True)
class TraineeSpec:
    mobile: str
    real_name: str
    id_number: str
    home_region_code: str
    categories: list[str]


# Synthetic names: family names common in Shanxi, given names of several generations.
FAMILY_NAMES = "王李张刘赵杨郭武贾田任梁郝高韩段温侯薛闫卫牛范冯乔"
GIVEN_NAMES = {
    "M": ("建军", "志强", "海军", "晓东", "鹏飞", "宇航", "俊杰", "文斌", "永刚", "国庆", "浩然", "子豪",
          "振华", "云龙", "晋生", "小兵"),
    "F": ("丽娟", "秀英", "晓燕", "桂兰", "春梅", "海霞", "婷婷", "雅琪", "欣怡", "彩霞", "玉梅", "慧敏",
          "艳芳", "雪梅", "佳怡", "晋芳"),
}
# Birth years that fit the first category: graduates and 两后生 are young; the rest 1968-2000.
BIRTH_YEARS = {Category.GRADUATE: (1999, 2003), Category.LIANGHOUSHENG: (2004, 2005)}
DEFAULT_BIRTH_YEARS = (1968, 2000)
# A plausible second category for some trainees (most have one).
SECOND_CATEGORY = {
    Category.POVERTY_ALLEVIATED: Category.RURAL_MIGRANT,
    Category.MONITORED_HOUSEHOLD: Category.RURAL_MIGRANT,
    Category.URBAN_UNEMPLOYED: Category.HARD_TO_EMPLOY,
    Category.DISABLED: Category.HARD_TO_EMPLOY,
    Category.VETERAN: Category.ENTREPRENEUR,
    Category.GRADUATE: Category.ENTREPRENEUR,
}

# 统一社会信用代码 (GB 32100-2015): 18 characters from this alphabet, last one a check character.
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # the embedded 组织机构代码 (GB 11714)


def _social_credit_code(registrar_and_type: str, region_code: str, body: str) -> str:
    """A synthetic but well-formed code: "52" 民办非企业单位 or "91" 企业, the region, an
    8-digit organisation body with its GB 11714 check character, then the GB 32100 one."""
    org_check = 11 - sum(int(c) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True)) % 11
    first17 = registrar_and_type + region_code + body + {10: "X", 11: "0"}.get(org_check, str(org_check))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return first17 + _USCC_CHARS[(31 - total % 31) % 31]


def _organisations(region: DemoRegion, region_name: str) -> dict[str, OrgSpec]:
    def credit(prefix: str, n: int) -> str:
        return _social_credit_code(prefix, region.code, f"{20240000 + region.index * 10 + n:08d}")

    return {
        "bureau": OrgSpec(f"{region_name}人力资源和社会保障局", OrgKind.BUREAU, region.code),
        "finance": OrgSpec(f"{region_name}财政局", OrgKind.FINANCE_BUREAU, region.code),
        "inst1": OrgSpec(region.institutions[0], OrgKind.TRAINING_INSTITUTION, region.code, credit("52", 1)),
        "inst2": OrgSpec(region.institutions[1], OrgKind.TRAINING_INSTITUTION, region.code, credit("52", 2)),
        "eval": OrgSpec(region.evaluator, OrgKind.EVALUATION_INSTITUTION, region.code, credit("91", 3)),
    }


def _mobile(region: DemoRegion, n: int) -> str:
    """The n-th (from 1) demo trainee's mobile in the region."""
    return f"{MOBILE_PREFIX}{region.index}{n:06d}"


def _trainees(region: DemoRegion, home_codes: list[str]) -> list[TraineeSpec]:
    """The region's trainees. Home regions rotate through `home_codes` (Huguan's townships, the
    cities' counties); the ID number's address code is the home county. Categories rotate so
    every one appears in every region."""
    rng = random.Random(f"skillvoucher-demo-{region.slug}")
    categories = list(Category)
    seen: set[str] = set()
    trainees = []
    for n in range(1, TRAINEES_PER_REGION + 1):
        first = categories[(n + region.index) % len(categories)]
        chosen = [first]
        if first in SECOND_CATEGORY and rng.random() < 0.5:
            chosen.append(SECOND_CATEGORY[first])
        home = home_codes[n % len(home_codes)]
        low, high = BIRTH_YEARS.get(first, DEFAULT_BIRTH_YEARS)
        birth = date(rng.randint(low, high), 1, 1) + timedelta(days=rng.randrange(365))
        sex = rng.choice("MF")
        while True:  # GB 11643: an odd sequence code for men, even for women
            sequence = 2 * rng.randrange(1, 495) + (1 if sex == "M" else 0)
            first17 = f"{home[:6]}{birth:%Y%m%d}{sequence:03d}"
            if first17 not in seen:
                break
        seen.add(first17)
        trainees.append(TraineeSpec(
            mobile=_mobile(region, n),
            real_name=rng.choice(FAMILY_NAMES) + rng.choice(GIVEN_NAMES[sex]),
            id_number=parse_id_number(first17 + check_character(first17)).number,
            home_region_code=home,
            categories=[str(c) for c in parse_categories([str(c) for c in chosen])],
        ))
    return trainees


@cache
def _password_hash(password: str) -> str:
    """Argon2 is deliberately slow: hash each demo password once and share the hash."""
    return passwords.hash_password(password)


def _home_codes(region_code: str) -> list[str]:
    """The divisions directly below the region in the reference data, or the region itself."""
    children = db.session.scalars(
        select(Region.code).where(Region.parent_code == region_code).order_by(Region.code)).all()
    return list(children) or [region_code]


# --- the product at work: vouchers and a class per region ---------------------------------

# Trainees 1-10 of each region are left without vouchers, so the README's walk and anyone trying
# the app find trainees who may still apply for anything; 21-30 hold the demo's vouchers (and in
# Lin 11-20 took the past classes of demo_claims.py).
FIRST_ACTIVE_TRAINEE = 21


@dataclass(frozen=True)
class Course:
    programme: ProgrammeType
    occupation_code: str
    level: str


# The class each region's inst1 runs, and what its trainees hold vouchers for: 养老护理员, 初级,
# 普惠制. No policy wants a city bureau to approve 普惠制 openings, so every county reviewer may.
CLASS_COURSE = Course(ProgrammeType.PUHUI, "4-10-01-05", "初级")
# What a trainee applies for: the first line one of whose categories they have (each line's
# programme admits those categories: domain/eligibility.py). 监测户 alone admits to none.
C = Category
COURSES: tuple[tuple[frozenset[Category], Course], ...] = (
    (SIX_GROUPS, CLASS_COURSE),
    (frozenset({C.ENTREPRENEUR}), Course(ProgrammeType.STARTUP, "4-01-02-07", "初级")),  # 互联网营销师
    (frozenset({C.ENTERPRISE_EMPLOYEE}), Course(ProgrammeType.ENTERPRISE, "6-31-01-03", "中级")),  # 电工
    (frozenset({C.REDEPLOYED_WORKER}), Course(ProgrammeType.ORDER, "6-18-02-04", "初级")),  # 焊工
    (frozenset({C.VETERAN, C.DISABLED}), Course(ProgrammeType.PROJECT, "4-10-01-06", "初级")),  # 家政服务员
)
# Regions where one application is left waiting for review. Not Wenshui or Lin: the voucher walk
# (README, tests/api/test_voucher_walk.py) expects their reviewers' lists to hold only its own.
PENDING_REGIONS = frozenset({"xinzhou", "yangquan"})
REJECT_REASON = "人员类别证明材料与申请不符，请核实后重新申请"
REVOKE_REASON = "参训人员本人申请放弃本次培训"

CLASS_NAME = "养老护理员初级培训班（第一期）"
CLASS_DAYS = 5
# Each inst1's training site (address, latitude, longitude).
CLASS_SITES = {
    "xinzhou": ("忻州市忻府区七一北路职教中心实训楼", 38.4167, 112.7341),
    "huguan": ("壶关县龙泉镇职教中心", 36.1128, 113.2075),
    "yangquan": ("阳泉市城区南大街职业培训基地", 37.8570, 113.5805),
    "wenshui": ("文水县凤城镇则天路实训中心", 37.4386, 112.0281),
    "linxian": ("临县城庄镇职教中心", 37.9606, 110.9925),
}
SCAN_DEVICE = "demo-scanner"


@dataclass(frozen=True)
class VoucherPlan:
    trainee: TraineeSpec
    course: Course
    outcome: VoucherState  # applied, issued, rejected or revoked


def _course(categories: list[str]) -> Course | None:
    return next((course for admitted, course in COURSES if admitted & set(categories)), None)


def _voucher_plans(region: DemoRegion, trainees: list[TraineeSpec]) -> list[VoucherPlan]:
    """Trainees 21-30's vouchers. The 养老护理员 ones are issued (for the class); the others
    are, in turn, rejected, revoked and left applied (where the region may show each: a region
    that issues at once has no review to reject in or wait for), and the rest issued."""
    auto_issue = policies.for_region(region.code).vouchers.auto_issue.value
    if auto_issue:
        exceptions = [VoucherState.REVOKED]
    else:
        exceptions = [VoucherState.REJECTED, VoucherState.REVOKED]
        if region.slug in PENDING_REGIONS:
            exceptions.append(VoucherState.APPLIED)
    plans = []
    for spec in trainees[FIRST_ACTIVE_TRAINEE - 1:]:
        course = _course(spec.categories)
        if course is None:
            continue
        outcome = VoucherState.ISSUED if course == CLASS_COURSE or not exceptions else exceptions.pop(0)
        plans.append(VoucherPlan(spec, course, outcome))
    return plans


def _apply(plan: VoucherPlan, region: DemoRegion, trainee: User, reviewer: Principal) -> Voucher | None:
    """The trainee applies; the reviewer issues, rejects or revokes as planned. None: someone
    already gave the trainee a voucher that rules this one out."""
    application = voucher_service.ApplicationInput(
        occupation_code=plan.course.occupation_code, level=plan.course.level,
        programme=str(plan.course.programme), region_code=region.code)
    try:
        voucher = voucher_service.apply(principal_of(trainee), application)
    except voucher_service.NotEligible:
        return None
    if voucher.state is VoucherState.APPLIED and plan.outcome is not VoucherState.APPLIED:
        rejected = plan.outcome is VoucherState.REJECTED
        voucher_service.review(reviewer, voucher.id, approve=not rejected,
                               reason=REJECT_REASON if rejected else None)
    if plan.outcome is VoucherState.REVOKED:
        voucher_service.revoke(reviewer, voucher.id, REVOKE_REASON)
    return voucher


# Tiny but real documents, as an institution would upload them (the tests and benchmarks use
# them too).
def pdf_document(title: str) -> bytes:
    """A one-page PDF with a line of text (Helvetica: ASCII only) and a correct xref table."""
    text = title.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 770 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def docx_document(paragraphs: list[str]) -> bytes:
    """A minimal Word document: content types, the package relationship, the body."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    parts = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml":
            f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), content,
                             zipfile.ZIP_DEFLATED)
    return out.getvalue()


def xlsx_document(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "课程安排表"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# One topic a day (a theory session in the morning, practice in the afternoon).
SESSION_TOPICS = ("养老护理职业道德与安全", "生活照料：饮食与清洁", "基础照护：体位转移",
                  "康复服务：功能锻炼", "综合考核：理论与实操")


def class_fields(region: DemoRegion, start: date, roster: list[str], teacher_home: str) -> dict:
    address, latitude, longitude = CLASS_SITES[region.slug]
    sessions = []
    for offset in range(CLASS_DAYS):
        day = (start + timedelta(days=offset)).isoformat()
        sessions += [{"day": day, "starts": "08:30", "ends": "11:30", "kind": "theory"},
                     {"day": day, "starts": "14:00", "ends": "17:00", "kind": "practice"}]
    birth = date(1978, 3, 1) + timedelta(days=97 * region.index)
    first17 = f"{teacher_home[:6]}{birth:%Y%m%d}{2 * region.index:03d}"  # even: a woman, as her name
    return {
        "name": CLASS_NAME, "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=CLASS_DAYS - 1)).isoformat(), "sessions": sessions,
        "site": {"address": address, "latitude": latitude, "longitude": longitude, "radius_m": 200},
        "teachers": [{"name": "郭秀英", "id_number": first17 + check_character(first17),
                      "certificate_no": f"YLHL-2022-{region.index:04d}"}],
        "assessment_plan": "结业前理论与实操考核，由评价机构组织，合格者取得职业技能等级证书",
        "roster": roster,
    }


def opening_documents(fields: dict) -> dict[DocumentKind, tuple[str, bytes]]:
    """The three documents an opening needs, named as the institution would name them."""
    schedule = [["日期", "时间", "类型", "内容"]]
    for index, session in enumerate(fields["sessions"]):
        schedule.append([session["day"], f"{session['starts']}-{session['ends']}",
                         "理论" if session["kind"] == "theory" else "实操",
                         SESSION_TOPICS[index // 2 % len(SESSION_TOPICS)]])
    contents = {
        DocumentKind.TEACHING_PLAN: (
            "pdf", pdf_document("Teaching plan: elderly care worker (4-10-01-05), junior")),
        DocumentKind.SYLLABUS: ("docx", docx_document([f"{fields['name']}教学大纲", *SESSION_TOPICS])),
        DocumentKind.COURSE_SCHEDULE: ("xlsx", xlsx_document(schedule)),
    }
    return {kind: (f"{DOCUMENT_LABELS[kind]}.{extension}", data)
            for kind, (extension, data) in contents.items()}


def _open_class(region: DemoRegion, operator: Principal, reviewer: Principal,
                roster: list[tuple[TraineeProfile, Voucher]], teacher_home: str) -> TrainingClass:
    """inst1 files the opening (starting the day after the earliest its region's lead time
    allows), uploads its documents and submits; reviewer1 approves unless the policy wants a
    city bureau; then the first half of the roster is scanned in."""
    policy = policies.for_region(region.code).class_opening
    start = clock.today() + timedelta(days=int(policy.lead_days_for(CLASS_COURSE.programme).value) + 1)
    fields = class_fields(region, start, [profile.id_number for profile, _ in roster], teacher_home)
    header = class_service.ClassHeader(occupation_code=CLASS_COURSE.occupation_code, level=CLASS_COURSE.level,
                                       programme=str(CLASS_COURSE.programme), region_code=region.code)
    klass = class_service.create(operator, header, fields)
    for kind, (filename, data) in opening_documents(fields).items():
        class_service.upload_document(operator, klass.id, str(kind), filename, data)
    class_service.submit(operator, klass.id)
    if approver_can_decide(reviewer.region_code, klass.region_code, policy.approval_level(klass.programme)):
        class_service.decide(reviewer, klass.id, approve=True)
    if can_scan(klass.state, klass.end_date, clock.today()):
        for _, voucher in roster[:(len(roster) + 1) // 2]:
            scans.scan(operator, klass.id, voucher_service.token(voucher),
                       request_id=f"demo-{voucher.serial}", device_id=SCAN_DEVICE,
                       render_error=lambda error: (422, {"code": error.code}),
                       render_voucher=lambda v: {"outcome": scans.BOUND, "serial": v.serial})
    return klass


def _load_activity(trainees: dict[str, list[TraineeSpec]], home_codes: dict[str, list[str]]
                   ) -> dict[str, int]:
    """Create each region's missing demo vouchers and class (see the module docstring)."""
    created = {"vouchers": 0, "classes": 0}
    for region in REGIONS:
        staff = {u.username: principal_of(u) for u in db.session.scalars(select(User).where(
            User.username.in_([f"{region.slug}.reviewer1", f"{region.slug}.inst1"])))}
        reviewer, operator = staff[f"{region.slug}.reviewer1"], staff[f"{region.slug}.inst1"]
        roster: list[tuple[TraineeProfile, Voucher]] = []
        for plan in _voucher_plans(region, trainees[region.slug]):
            profile = db.session.scalar(select(TraineeProfile).where(
                TraineeProfile.id_number == plan.trainee.id_number))
            if profile is None or profile.user.mobile != plan.trainee.mobile:
                continue  # not the demo's person (see load_demo: a taken mobile or ID number)
            voucher = db.session.scalar(select(Voucher).where(
                Voucher.trainee_id == profile.id, Voucher.occupation_code == plan.course.occupation_code)
                .order_by(Voucher.id).limit(1))
            if voucher is None:
                voucher = _apply(plan, region, profile.user, reviewer)
                created["vouchers"] += int(voucher is not None)
            if (voucher is not None and plan.course == CLASS_COURSE and voucher.state is VoucherState.ISSUED
                    and voucher.programme is CLASS_COURSE.programme and voucher.level == CLASS_COURSE.level):
                roster.append((profile, voucher))
        exists = db.session.scalar(select(TrainingClass.id).where(
            TrainingClass.institution_id == operator.organisation_id, TrainingClass.name == CLASS_NAME))
        if exists is None and roster:
            _open_class(region, operator, reviewer, roster, home_codes[region.slug][0])
            created["classes"] += 1
    return created


def _activity() -> list[dict]:
    """Per region: its vouchers by state, its classes by state, and its demo class's roster
    and how much of it has been scanned."""
    out = []
    for region in REGIONS:
        area = prefix_of(region.code) + "%"
        vouchers = {str(state): n for state, n in db.session.execute(
            select(Voucher.state, func.count()).where(Voucher.region_code.like(area))
            .group_by(Voucher.state))}
        classes = {str(state): n for state, n in db.session.execute(
            select(TrainingClass.state, func.count()).where(TrainingClass.region_code.like(area))
            .group_by(TrainingClass.state))}
        class_id = db.session.scalar(select(TrainingClass.id).join(
            Organisation, Organisation.id == TrainingClass.institution_id).where(
            Organisation.name == region.institutions[0], TrainingClass.name == CLASS_NAME))
        roster, scanned = class_service.scan_counts([class_id] if class_id else []).get(class_id, (0, 0))
        out.append({"vouchers": dict(sorted(vouchers.items())), "classes": dict(sorted(classes.items())),
                    "class_roster": roster, "class_scanned": scanned})
    return out


def load_demo() -> dict:
    """Create whatever part of the demo data is missing: the people in one commit, then the
    vouchers and classes through the services (which commit as they go). Returns what was
    created and, per region, where its trainees' mobiles start and what it now holds (for
    describe())."""
    reference = load_reference_data()
    reference["targets"] = targets.load_targets()["created"]  # 000 一, 001 附件2 (目标任务)
    names = {code: name for code, name in db.session.execute(select(Region.code, Region.name))}

    org_specs: dict[tuple[str, str], OrgSpec] = {
        ("shanxi", "bureau"): OrgSpec(PROVINCE_BUREAU, OrgKind.BUREAU, PROVINCE_CODE)}
    home_codes = {region.slug: _home_codes(region.code) for region in REGIONS}
    trainees = {region.slug: _trainees(region, home_codes[region.slug]) for region in REGIONS}
    trainee_specs = [spec for region in REGIONS for spec in trainees[region.slug]]
    for region in REGIONS:
        for key, spec in _organisations(region, names[region.code]).items():
            org_specs[(region.slug, key)] = spec

    created = {"organisations": 0, "staff": 0, "trainees": 0}
    orgs = {org.name: org for org in db.session.scalars(select(Organisation).where(
        Organisation.name.in_([spec.name for spec in org_specs.values()])))}
    for spec in org_specs.values():
        if spec.name not in orgs:
            orgs[spec.name] = Organisation(name=spec.name, kind=spec.kind, region_code=spec.region_code,
                                           social_credit_code=spec.social_credit_code)
            db.session.add(orgs[spec.name])
            created["organisations"] += 1
    db.session.flush()  # organisation ids, for the staff

    staff = [(PROVINCE_ADMIN, Role.ADMIN, orgs[PROVINCE_BUREAU], "山西省人社厅管理员")]
    for region in REGIONS:
        for member in STAFF:
            org = orgs[org_specs[(region.slug, member.org_key)].name]
            staff.append((f"{region.slug}.{member.suffix}", member.role, org,
                          member.label.format(region=names[region.code], org=org.name)))
    existing_usernames = set(db.session.scalars(
        select(User.username).where(User.username.in_([username for username, *_ in staff]))))
    for username, role, org, display_name in staff:
        if username not in existing_usernames:
            db.session.add(User(username=username, display_name=display_name, role=role,
                                organisation_id=org.id, password_hash=_password_hash(STAFF_PASSWORD)))
            created["staff"] += 1

    taken_mobiles = set(db.session.scalars(
        select(User.mobile).where(User.mobile.in_([t.mobile for t in trainee_specs]))))
    taken_ids = set(db.session.scalars(select(TraineeProfile.id_number).where(
        TraineeProfile.id_number.in_([t.id_number for t in trainee_specs]))))
    for spec in trainee_specs:
        if spec.mobile in taken_mobiles or spec.id_number in taken_ids:
            continue
        resident = parse_id_number(spec.id_number)
        user = User(mobile=spec.mobile, display_name=spec.real_name, role=Role.TRAINEE,
                    password_hash=_password_hash(TRAINEE_PASSWORD))
        db.session.add_all([user, TraineeProfile(
            user=user, real_name=spec.real_name, id_number=spec.id_number,
            birth_date=resident.birth_date, sex=resident.sex,
            home_region_code=spec.home_region_code, categories=spec.categories)])
        created["trainees"] += 1

    if any(created.values()):
        audit.record(None, "demo.seeded", "system", "demo", after=created)
    db.session.commit()

    created |= _load_activity(trainees, home_codes)
    from server.services import demo_claims  # it builds on this module's people and documents

    lin = next(r for r in REGIONS if r.slug == demo_claims.REGION_SLUG)
    created["past_classes"] = demo_claims.load(lin, trainees[lin.slug], home_codes[lin.slug][0])
    return {
        "reference": reference,
        "created": created,
        "regions": [{"slug": r.slug, "code": r.code, "name": names[r.code],
                     "first_trainee_mobile": _mobile(r, 1), **activity}
                    for r, activity in zip(REGIONS, _activity(), strict=True)],
    }


def describe(summary: dict) -> str:
    """The demo sign-ins, as `make run` prints them."""
    created = summary["created"]
    if any(created.values()):
        outcome = (f"created {created['organisations']} organisations, {created['staff']} staff, "
                   f"{created['trainees']} trainees, {created['vouchers']} vouchers, "
                   f"{created['classes']} classes")
    else:
        outcome = "already loaded, nothing created"
    lines = [
        f"SkillVoucher demo data (演示数据): {outcome}.",
        "",
        f"Staff sign in with username + password {STAFF_PASSWORD}:",
        f"  {PROVINCE_ADMIN:<22} province admin 山西省人社厅",
    ]
    lines += [f"  <region>.{member.suffix:<13} {member.description}" for member in STAFF]
    lines += ["  <region> is one of:"]
    lines += [f"    {r['slug']:<10} {r['name']} {r['code']}" for r in summary["regions"]]
    lines += [
        "",
        f"Trainees (参训人员) sign in with mobile + password {TRAINEE_PASSWORD}; mobiles are "
        f"{MOBILE_PREFIX} + region number 1-5 + 000001…{TRAINEES_PER_REGION:06d}:",
    ]
    lines += [f"  {r['slug']:<10} {r['name']:<4} first trainee {r['first_trainee_mobile']}"
              for r in summary["regions"]]
    lines += [
        "",
        f"Vouchers (电子券) and classes (培训班): trainees {FIRST_ACTIVE_TRAINEE}-{TRAINEES_PER_REGION} "
        f"of each region hold the demo's vouchers (1-10 hold none: try the app with them);",
        f"<region>.inst1 runs 「{CLASS_NAME}」, approved by <region>.reviewer1, half its roster scanned:",
    ]
    for r in summary["regions"]:
        vouchers = ", ".join(f"{r['vouchers'][str(state)]} {state}" for state in VoucherState
                             if r["vouchers"].get(str(state))) or "none"
        classes = ", ".join(f"{n} {state}" for state, n in r["classes"].items()) or "none"
        lines.append(f"  {r['slug']:<10} vouchers {vouchers}; classes {classes}; "
                     f"roster {r['class_scanned']} of {r['class_roster']} scanned")
    lines += [
        "",
        "Subsidy claims (补贴申领), in Lin (trainees 11-20): linxian.inst2 ran two finished classes;",
        "  第二期's claim has passed its public notice: linxian.finance can pay it",
        "  (POST /api/v1/claims/<id>/disbursement); 第三期 is ready to claim (linxian.inst2).",
        "  The public notice (公示): /api/v1/public/notices",
    ]
    return "\n".join(lines)
