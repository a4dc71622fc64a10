"""Demo data for `flask --app server.wsgi seed-demo` (run by `make run`): the five seed regions'
bureaus, finance bureaus, institutions, staff and trainees, so the app can be tried at once.

Idempotent: every record is looked up by its natural key (organisation name, username, mobile,
ID number) before it is created, so a second run changes nothing. Deterministic: trainees are
drawn from a `random.Random` seeded per region, so every database gets the same people. All
identities are synthetic: the ID numbers and social credit codes carry valid check characters
but belong to no one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from sqlalchemy import select

from server.adapters import passwords
from server.domain.access import OrgKind, Role
from server.domain.eligibility import Category, parse_categories
from server.domain.identity import check_character, parse_id_number
from server.extensions import db
from server.models import Organisation, Region, TraineeProfile, User
from server.services import audit
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


def load_demo() -> dict:
    """Create whatever part of the demo data is missing; commit once. Returns what was
    created and, per region, where its trainees' mobiles start (for describe())."""
    reference = load_reference_data()
    names = {code: name for code, name in db.session.execute(select(Region.code, Region.name))}

    org_specs: dict[tuple[str, str], OrgSpec] = {
        ("shanxi", "bureau"): OrgSpec(PROVINCE_BUREAU, OrgKind.BUREAU, PROVINCE_CODE)}
    trainee_specs: list[TraineeSpec] = []
    for region in REGIONS:
        for key, spec in _organisations(region, names[region.code]).items():
            org_specs[(region.slug, key)] = spec
        trainee_specs += _trainees(region, _home_codes(region.code))

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
    return {
        "reference": reference,
        "created": created,
        "regions": [{"slug": r.slug, "code": r.code, "name": names[r.code],
                     "first_trainee_mobile": _mobile(r, 1)} for r in REGIONS],
    }


def describe(summary: dict) -> str:
    """The demo sign-ins, as `make run` prints them."""
    created = summary["created"]
    if any(created.values()):
        outcome = (f"created {created['organisations']} organisations, {created['staff']} staff, "
                   f"{created['trainees']} trainees")
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
    return "\n".join(lines)
