"""The demo province and the 2025 reform (DESIGN §2.2), as a Home Affairs department lives it.

Tỉnh Sơn Hà had two districts, Đông Thành and Tây Hòa. In 2024 each district's Phòng Nội vụ ran its
own commune index (eight communes and a township each, on the plain commune set of scoring/demo_data)
and published it; the province's Sở Nội vụ ran the index of its departments. On 1 July 2025 the
districts were abolished and their communes merged into new communes and wards, some formed from
communes of both former districts; one commune was kept as it was. The province now runs one
commune-level set for communes, wards and special zones (the realistic 2025 set: areas mixing
self-assessed, survey and office criteria scored by every rule), ranking wards apart from communes,
with one newly formed commune assessed but not ranked; and a department set numbered I / 1 / a1.
The 2025 year is under way: most units appraised, some submitted, one a draft; year on year follows
each unit's own 2024 result or its predecessors' pooled across the two former districts.

Every framework file is read by the framework importer, so rules, parents and official codes are
kept. Everything is written through the services (via="command"), so results are computed and every
score change is audited exactly as it would be for real data; the 2024 district years are run by
each district's own appraiser. Figures come from a seeded random.Random per unit and year, so every
load produces the same demo; one commune of 2025 (WORKED_UNIT) has figures chosen by hand that tests
work out on paper. `demo_load` is idempotent: units and memberships are upserted, users and
frameworks that already exist are left as they are.
"""

import csv
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from parindex.numbers import parse_decimal
from scoring.assessments.services import (
    NA_CONFIRM,
    NA_REFUSE,
    AppraisalEntry,
    NotApplicableDecision,
    SelfEntry,
    appraisal_accept_self,
    assessment_get_or_create,
    assessment_mark_appraised,
    assessment_return,
    assessment_submit,
    leaf_rule,
    not_applicable_apply,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)
from scoring.exchange.importers import read_framework_rows
from scoring.frameworks.groups import assessment_set_ranked, framework_set_groups, parse_groups
from scoring.frameworks.rules import BANDS, DEDUCT, PERCENT, STEPS, YESNO
from scoring.frameworks.services import (
    DEFAULT_BANDS,
    CriterionRow,
    framework_advance_to,
    framework_create,
    framework_publish,
    framework_set_deadlines,
    notifications_muted,
    parse_bands,
)
from scoring.models import Criterion, CriterionKind, CriterionSource, Framework, FrameworkStatus, Via
from units.models import Role, Unit, UnitKind
from units.services import membership_grant, unit_save

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_PASSWORD = "demo12345"  # demo data only: printed by load_demo for anyone to log in with


def rows_from_csv(path: str | Path) -> list[CriterionRow]:
    """Criteria rows of a framework CSV with the English header of the plain sets of scoring/demo_data
    (code,title,max_points,kind,source,guidance): no rule, no parent column. Tests use it as an
    importer-independent reading; the demo reads its files with the framework importer
    (`framework_file_rows`). A bare file name is looked up in demo_data."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = DEMO_DATA / path
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return [
            CriterionRow(
                code=row["code"].strip(),
                title=row["title"].strip(),
                max_points=Decimal(row["max_points"].strip().replace(",", ".")),
                kind=(row.get("kind") or "").strip() or CriterionKind.SCORE,
                source=(row.get("source") or "").strip() or CriterionSource.SELF,
                guidance=(row.get("guidance") or "").strip(),
            )
            for row in csv.DictReader(handle)
        ]


def framework_file_rows(name: str) -> list[CriterionRow]:
    """Criteria rows of a framework file of scoring/demo_data, read by the framework importer (any
    header of DESIGN §5, rules, parent codes, official numbering)."""
    return read_framework_rows(DEMO_DATA / name, name=name)


# --- what the demo holds --------------------------------------------------------------------------

FIRST_YEAR, SECOND_YEAR = 2024, 2025  # the reform falls between them (1 July 2025)
PROVINCE = ("DEMO-T", "Tỉnh Sơn Hà")
# Former districts (until the reform) and the commune-level units each assessed in 2024.
DISTRICTS = {
    "DEMO-DT": (
        "Huyện Đông Thành",
        [
            ("T01", "Thị trấn Đông Thành", UnitKind.TOWNSHIP),
            ("X01", "Xã An Bình", UnitKind.COMMUNE),
            ("X02", "Xã Tân Phú", UnitKind.COMMUNE),
            ("X03", "Xã Hòa Bình", UnitKind.COMMUNE),
            ("X04", "Xã Phú Lộc", UnitKind.COMMUNE),
            ("X05", "Xã Thanh Sơn", UnitKind.COMMUNE),
            ("X06", "Xã Đông Phong", UnitKind.COMMUNE),
            ("X07", "Xã Hưng Đạo", UnitKind.COMMUNE),
            ("X08", "Xã Nghĩa Hòa", UnitKind.COMMUNE),
        ],
    ),
    "DEMO-TH": (
        "Huyện Tây Hòa",
        [
            ("T02", "Thị trấn Tây Hòa", UnitKind.TOWNSHIP),
            ("X09", "Xã Đông Hưng", UnitKind.COMMUNE),
            ("X10", "Xã Tây Sơn", UnitKind.COMMUNE),
            ("X11", "Xã Bình Minh", UnitKind.COMMUNE),
            ("X12", "Xã Quang Trung", UnitKind.COMMUNE),
            ("X13", "Xã Hòa Lạc", UnitKind.COMMUNE),
            ("X14", "Xã Tân Lập", UnitKind.COMMUNE),
            ("X15", "Xã Phú Mỹ", UnitKind.COMMUNE),
            ("X16", "Xã Sơn Thủy", UnitKind.COMMUNE),
        ],
    ),
}
# Kept as it was by the reform: assessed by the province from 2025.
KEPT = ("X05",)
# The units formed on 1 July 2025, each from the units it was formed from (P03 and X18 from
# communes of both former districts).
FORMED = [
    ("P01", "Phường Đông Thành", UnitKind.WARD, ("T01", "X01")),
    ("P02", "Phường Tây Hòa", UnitKind.WARD, ("T02", "X09")),
    ("P03", "Phường Sông Cầu", UnitKind.WARD, ("X02", "X10")),
    ("P04", "Phường Bình Minh", UnitKind.WARD, ("X11", "X12")),
    ("X17", "Xã Phú Bình", UnitKind.COMMUNE, ("X03", "X04")),
    ("X18", "Xã Đông Sơn", UnitKind.COMMUNE, ("X06", "X13")),
    ("X19", "Xã Nghĩa Hưng", UnitKind.COMMUNE, ("X07", "X08")),
    ("X20", "Xã Tân Mỹ", UnitKind.COMMUNE, ("X14", "X15", "X16")),
]
# The province's departments (sở), assessed by the province both years.
DEPARTMENTS = [
    ("SNV", "Sở Nội vụ"),
    ("STC", "Sở Tài chính"),
    ("STP", "Sở Tư pháp"),
    ("SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch"),
    ("SYT", "Sở Y tế"),
    ("SXD", "Sở Xây dựng"),
    ("SGDDT", "Sở Giáo dục và Đào tạo"),
    ("SNNMT", "Sở Nông nghiệp và Môi trường"),
]
PROVINCE_APPRAISER = "noivu"
# The district-era appraisers (Phòng Nội vụ of each former district), who ran the 2024 commune years.
DISTRICT_APPRAISERS = {"DEMO-DT": "noivu_dt", "DEMO-TH": "noivu_th"}


@dataclass(frozen=True)
class FrameworkSpec:
    code: str
    year: int
    authority: str  # unit code
    kinds: tuple[str, ...]
    csv_name: str
    name: str
    units: tuple[str, ...]  # codes of the units assessed
    appraiser: str  # username of the appraiser who runs it
    decision_number: str = ""  # set: the year is appraised and published
    decision_date: date | None = None
    groups: str = ""  # ranking groups, as import_framework --groups takes them
    legal_basis: str = "Quyết định số 876/QĐ-BNV ngày 10/11/2022 của Bộ Nội vụ (tham khảo)"

    @property
    def unit_kind(self) -> str:
        return self.kinds[0]


def _district_units(code: str) -> tuple[str, ...]:
    return tuple(unit for unit, _name, _kind in DISTRICTS[code][1])


LEGAL_BASIS_2025 = "Quyết định số 1187/QĐ-BNV của Bộ Nội vụ (tham khảo)"
COMMUNE_LEVEL_2025 = (UnitKind.COMMUNE, UnitKind.WARD, UnitKind.SPECIAL_ZONE)
FRAMEWORKS = [
    FrameworkSpec(
        "DEMO-DT-XA-2024",
        2024,
        "DEMO-DT",
        (UnitKind.COMMUNE, UnitKind.TOWNSHIP),
        "framework-commune.csv",
        "Bộ chỉ số CCHC xã, thị trấn huyện Đông Thành năm 2024",
        _district_units("DEMO-DT"),
        DISTRICT_APPRAISERS["DEMO-DT"],
        "4769/QĐ-UBND",
        date(2024, 12, 25),
    ),
    FrameworkSpec(
        "DEMO-TH-XA-2024",
        2024,
        "DEMO-TH",
        (UnitKind.COMMUNE, UnitKind.TOWNSHIP),
        "framework-commune.csv",
        "Bộ chỉ số CCHC xã, thị trấn huyện Tây Hòa năm 2024",
        _district_units("DEMO-TH"),
        DISTRICT_APPRAISERS["DEMO-TH"],
        "3125/QĐ-UBND",
        date(2024, 12, 20),
    ),
    FrameworkSpec(
        "DEMO-SO-2024",
        2024,
        PROVINCE[0],
        (UnitKind.DEPARTMENT,),
        "framework-department.csv",
        "Bộ chỉ số CCHC các sở, ban, ngành tỉnh Sơn Hà năm 2024",
        tuple(code for code, _ in DEPARTMENTS),
        PROVINCE_APPRAISER,
        "512/QĐ-UBND",
        date(2025, 3, 14),
    ),
    FrameworkSpec(
        "DEMO-XA-2025",
        2025,
        PROVINCE[0],
        COMMUNE_LEVEL_2025,
        "framework-commune-2025.csv",
        "Bộ chỉ số CCHC xã, phường, đặc khu tỉnh Sơn Hà năm 2025",
        tuple(sorted([*KEPT, *(code for code, *_ in FORMED)])),
        PROVINCE_APPRAISER,
        groups="Xã:commune,special_zone;Phường:ward",
        legal_basis=LEGAL_BASIS_2025,
    ),
    FrameworkSpec(
        "DEMO-SO-2025",
        2025,
        PROVINCE[0],
        (UnitKind.DEPARTMENT,),
        "framework-department-codes.csv",
        "Bộ chỉ số CCHC các sở, ban, ngành tỉnh Sơn Hà năm 2025",
        tuple(code for code, _ in DEPARTMENTS),
        PROVINCE_APPRAISER,
        legal_basis=LEGAL_BASIS_2025,
    ),
]
# Where each unit stands in the open year; units not listed are drafts with partial scores.
OPEN_YEAR_PLAN = {
    **dict.fromkeys(["P01", "P02", "P03", "X05", "X17", "X18", "X20", "SNV", "STC"], "appraised"),
    **dict.fromkeys(["P04", "STP", "SGDDT"], "submitted"),
    **dict.fromkeys(["SVHTTDL"], "returned"),
    **dict.fromkeys(["SNNMT"], "not_started"),
}
# Assessed but not ranked in 2025, with the reason the province's plan gives.
NOT_RANKED = {
    ("DEMO-XA-2025", "X20"): (
        "Xã hình thành từ 03 xã, bộ máy kiện toàn sau ngày 01/7/2025: đánh giá nhưng không xếp hạng "
        "năm 2025 (Kế hoạch số 45/KH-UBND của UBND tỉnh)"
    ),
}
# Not-applicable proposals of the open year, with the unit's reason. The appraiser confirms those of
# appraised units; those of submitted units wait for a decision (the progress board lists them).
NOT_APPLICABLE_PROPOSALS = {
    "P04": {"2.1": "Năm 2025 UBND phường không được giao ban hành văn bản quy phạm pháp luật"},
    "X17": {"6.2": "Năm 2025 xã không được giao kế hoạch vốn đầu tư công"},
    "P02": {"6.2": "Năm 2025 phường không được giao kế hoạch vốn đầu tư công"},
    "X20": {"2.1": "Xã mới thành lập, chưa có kế hoạch ban hành văn bản quy phạm pháp luật năm 2025"},
    "SNV": {"a3": "Sở không có đơn vị trực thuộc"},
    "SGDDT": {"7": "Năm 2025 sở không được giao tham mưu ban hành văn bản quy phạm pháp luật"},
}

# One commune of the open year with figures chosen by hand, appraised and surveyed, so that every
# rule, source and decision shows once and a person can work its result out on paper (the tests
# do: tests/test_load_demo.py). It is the commune the reform kept, so its year on year is its own
# 2024 result in the former district's framework. What the unit enters, by leaf: the raw figure for
# a rule that takes one, else points.
WORKED_UNIT = ("DEMO-XA-2025", "X05")
WORKED_SELF = {
    "1.1.1": "1",
    "1.1.2": "92",
    "1.2": "1",
    "1.3": "có",
    "1.4": "191/200",
    "1.5": "không",
    "2.2": "1",
    "2.3": "có",
    "2.4": "0,75",
    "3.1.1": "có",
    "3.1.2": "95,5",
    "3.2.1": "100",
    "3.2.3": "0",
    "3.3": "48/50",
    "4.1": "có",
    "4.2": "2",
    "4.3": "1,5",
    "5.1": "có",
    "5.2": "2",
    "5.3": "23/25",
    "5.4": "85",
    "5.5": "0",
    "6.1": "2,75",
    "6.2": "87,6",
    "6.3": "có",
    "7.1.1": "97,8%",
    "7.1.2": "có",
    "7.2.1": "64,2",
    "7.3": "35",
    "8.4": "có",
    "8.5": "17/20",
    "9.1": "có",
    "9.2": "0",
}
WORKED_NOT_APPLICABLE = {
    "2.1": "Năm 2025 UBND xã không được giao ban hành văn bản quy phạm pháp luật",
    "3.2.2": "Trong năm không có hồ sơ trễ hạn",
}
# The appraiser's figures (with the reason where they differ from the unit's): two self-assessed
# leaves corrected, every office leaf scored. Other self-assessed leaves are accepted as entered.
WORKED_APPRAISAL = {
    "3.2.1": ("96,4", "Hệ thống một cửa điện tử ghi nhận 02 hồ sơ trễ hạn trong năm"),
    "3.2.3": ("1", "01 hồ sơ trễ hạn không có văn bản xin lỗi"),
    "3.4": ("86,5", ""),
    "6.4": ("1", "Kết luận thanh tra số 12/KL-TTr: 01 sai phạm"),
    "7.2.2": ("78,5", ""),
    "8.3": ("96,8", ""),
    "10.1": ("không", ""),
    "10.2": ("0,5", "Chậm 01 báo cáo tháng so với yêu cầu"),
}
WORKED_DECISIONS = {
    "2.1": NotApplicableDecision(NA_CONFIRM),
    "3.2.2": NotApplicableDecision(
        NA_REFUSE, "Có 02 hồ sơ trễ hạn (xem 3.2.1), tiêu chí có áp dụng", raw="1/2"
    ),
}
# Survey results as percentages satisfied, and the number of people surveyed.
WORKED_SURVEY = {
    "1.6": "85",
    "2.5": "78,25",
    "3.5": "91,2",
    "4.4": "80",
    "5.6": "83,7",
    "7.4": "72,4",
    "8.1": "88,6",
    "8.2": "86,25",
}
WORKED_SAMPLE = 150

APPRAISAL_REASONS = [
    "Tài liệu kiểm chứng chưa đầy đủ so với nội dung tự chấm",
    "Văn bản ban hành chậm so với thời hạn quy định",
    "Kết quả thực hiện chưa đạt 100% kế hoạch đề ra",
    "Không có tài liệu kiểm chứng cho một phần nội dung",
]
DOCUMENT_KINDS = ["KH-UBND", "BC-UBND", "QĐ-UBND", "TB-UBND", "CV-UBND"]


@dataclass
class DemoLogin:
    username: str
    role: str
    unit: str
    created: bool


@dataclass
class DemoSummary:
    logins: list[DemoLogin] = field(default_factory=list)
    frameworks: list[tuple[Framework, bool]] = field(default_factory=list)  # (framework, created now)
    units_created: int = 0


# --- building -------------------------------------------------------------------------------------


def demo_load() -> DemoSummary:
    """Create (or complete) the demo. Running it again changes nothing. Sends no e-mail."""
    with notifications_muted(), transaction.atomic():
        return _demo_load()


def _demo_load() -> DemoSummary:
    summary = DemoSummary()
    units = _units(summary)
    users = _users(units, summary)
    for spec in FRAMEWORKS:  # in order: the 2024 results exist before 2025 compares with them
        existing = Framework.objects.filter(code=spec.code).first()
        if existing is not None:
            summary.frameworks.append((existing, False))
            continue
        framework = _framework(spec, units, users)
        summary.frameworks.append((framework, True))
    return summary


def _units(summary: DemoSummary) -> dict[str, Unit]:
    units: dict[str, Unit] = {}

    def save(code, name, kind, parent, active_from=None, active_to=None, predecessors=None):
        wanted = {
            "name": name,
            "kind": kind,
            "parent_id": parent.pk if parent else None,
            "active_from": active_from,
            "active_to": active_to,
        }
        unit = Unit.objects.filter(code=code).first()
        same = (
            unit is not None
            and all(getattr(unit, key) == value for key, value in wanted.items())
            and (
                predecessors is None
                or {p.pk for p in predecessors} == set(unit.predecessors.values_list("pk", flat=True))
            )
        )
        if not same:  # new, or changed since the last load: put it back as the demo has it
            unit, created = unit_save(
                code=code,
                name=name,
                kind=kind,
                parent=parent,
                active_from=active_from,
                active_to=active_to,
                predecessors=predecessors,
                via=Via.COMMAND,
            )
            summary.units_created += created
        units[code] = unit
        return unit

    province = save(*PROVINCE, UnitKind.PROVINCE, None)
    for code, name in DEPARTMENTS:
        save(code, name, UnitKind.DEPARTMENT, province)
    # The former districts and their communes: history from the reform on (last active year 2024),
    # except the commune the reform kept, still active; it stays under its former district in the
    # tree (which is how pages tell a unit's former district: its parent, or its predecessors').
    for district_code, (district_name, communes) in DISTRICTS.items():
        district = save(district_code, district_name, UnitKind.DISTRICT, province, active_to=FIRST_YEAR)
        for code, name, kind in communes:
            save(code, name, kind, district, active_to=None if code in KEPT else FIRST_YEAR)
    for code, name, kind, predecessor_codes in FORMED:
        save(
            code,
            name,
            kind,
            province,
            active_from=SECOND_YEAR,
            predecessors=[units[p] for p in predecessor_codes],
        )
    return units


def _users(units: dict[str, Unit], summary: DemoSummary) -> dict[str, object]:
    User = get_user_model()
    users: dict[str, object] = {}
    # One hash for every demo account: they share the password, and hashing it four dozen times
    # would make loading the demo take seconds.
    password_hash = make_password(DEMO_PASSWORD)

    def user(username, first_name, **flags):
        account, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first_name, "email": f"{username}@demo.parindex.test", **flags},
        )
        if created:
            account.password = password_hash
            account.save(update_fields=["password"])
        users[username] = account
        return account, created

    def member(username, first_name, unit, role):
        account, created = user(username, first_name)
        membership_grant(user=account, unit=unit, role=role, via=Via.COMMAND)
        summary.logins.append(DemoLogin(username, role, unit.code, created))

    admin, created = user("admin", "Quản trị", is_staff=True, is_superuser=True)
    summary.logins.append(DemoLogin("admin", "administrator", "", created))
    province = units[PROVINCE[0]]
    member(PROVINCE_APPRAISER, f"Cán bộ {province.home_affairs_office}", province, Role.APPRAISER)
    member("lanhdao", f"Lãnh đạo UBND {province.name[0].lower()}{province.name[1:]}", province, Role.LEADER)
    for district_code, username in DISTRICT_APPRAISERS.items():
        district = units[district_code]
        member(username, f"Cán bộ {district.home_affairs_office}", district, Role.APPRAISER)
    assessed = dict.fromkeys(code for spec in FRAMEWORKS for code in spec.units)
    for code in assessed:
        unit = units[code]
        member(code.lower(), f"Cán bộ {unit.name}", unit, Role.OFFICER)
    return users


def _framework(spec: FrameworkSpec, units: dict[str, Unit], users) -> Framework:
    actor = users[spec.appraiser]
    framework = framework_create(
        code=spec.code,
        authority=units[spec.authority],
        unit_kind=spec.unit_kind,
        unit_kinds=spec.kinds,
        year=spec.year,
        name=spec.name,
        rows=framework_file_rows(spec.csv_name),
        bands=parse_bands(DEFAULT_BANDS),
        index_decimals=2,
        legal_basis=spec.legal_basis,
        actor=actor,
        via=Via.COMMAND,
    )
    if not spec.decision_number:  # a closed year's deadlines are set once its history is replayed
        _set_deadlines(framework, spec, actor)
    if spec.groups:
        framework_set_groups(
            framework=framework,
            groups=parse_groups(spec.groups),
            actor=actor,
            via=Via.COMMAND,
            recompute=False,
        )
    leaves = list(Criterion.objects.filter(framework=framework, is_leaf=True).order_by("order"))
    self_leaves = [c for c in leaves if c.source == CriterionSource.SELF]
    survey_leaves = [c for c in leaves if c.source == CriterionSource.SURVEY]
    assessed = [units[code] for code in spec.units]
    if spec.decision_number:
        _closed_year(framework, spec, assessed, self_leaves, survey_leaves, users)
    else:
        _open_year(framework, spec, assessed, leaves, users)
        for (code, unit_code), reason in NOT_RANKED.items():
            if code == spec.code:
                assessment_set_ranked(
                    assessment=framework.assessments.get(unit=units[unit_code]),
                    ranked=False,
                    reason=reason,
                    actor=actor,
                    via=Via.COMMAND,
                )
    framework.refresh_from_db()
    return framework


def _set_deadlines(framework: Framework, spec: FrameworkSpec, actor) -> None:
    """Phase deadlines: fixed dates for a published year; for the open year, a month and two
    months from the day the demo is loaded, so that the screens show time left."""
    tz = timezone.get_current_timezone()
    if spec.decision_number:
        self_deadline = datetime.combine(date(spec.year, 11, 15), time(17), tzinfo=tz)
        appraisal_deadline = datetime.combine(date(spec.year, 12, 10), time(17), tzinfo=tz)
    else:
        today = timezone.localdate()
        self_deadline = datetime.combine(today + timedelta(days=30), time(17), tzinfo=tz)
        appraisal_deadline = datetime.combine(today + timedelta(days=60), time(17), tzinfo=tz)
    framework_set_deadlines(
        framework=framework,
        self_deadline=self_deadline,
        appraisal_deadline=appraisal_deadline,
        actor=actor,
        via=Via.COMMAND,
    )


def _rng(spec: FrameworkSpec, unit: Unit) -> random.Random:
    return random.Random(f"parindex-demo/{spec.year}/{unit.code}")


def _quarter(value: Decimal) -> Decimal:
    """Round to a quarter point, the finest step scoring guides use."""
    return (value * 4).to_integral_value() / 4


def _self_entries(rng: random.Random, leaves: list[Criterion], year: int, *, share: float = 1.0):
    """Plausible self-assessment: most leaves at full points, some lower, a few not applicable,
    bonus and penalty items now and then. `share` < 1 leaves the rest unscored (a draft)."""
    quality = rng.uniform(0.55, 0.95)
    entries: dict[str, SelfEntry] = {}
    for leaf in leaves:
        if share < 1 and rng.random() > share:
            continue
        roll = rng.random()
        if leaf.kind == CriterionKind.BONUS:
            points = leaf.max_points if roll < 0.3 else Decimal("0")
        elif leaf.kind == CriterionKind.PENALTY:
            points = (
                _quarter(leaf.max_points * Decimal(rng.choice(["0.5", "1"]))) if roll < 0.15 else Decimal("0")
            )
        elif leaf.depth >= 1 and leaf.allows_not_applicable and roll < 0.03:
            entries[leaf.code] = SelfEntry(
                None, not_applicable=True, note="Đơn vị không có nhiệm vụ này trong năm"
            )
            continue
        elif roll < quality:
            points = leaf.max_points
        else:
            points = _quarter(leaf.max_points * Decimal(str(rng.choice([0, 0.25, 0.5, 0.75]))))
        evidence = ""
        if points > 0 and rng.random() < 0.7:
            evidence = (
                f"Văn bản số {rng.randint(12, 980)}/{rng.choice(DOCUMENT_KINDS)} "
                f"ngày {rng.randint(1, 28):02d}/{rng.randint(1, 11):02d}/{year}"
            )
        # A scored leaf needs evidence or a written explanation (DESIGN §3): without a document, explain.
        note = (
            ""
            if evidence or points == 0
            else "Kết quả thực hiện được tổng hợp trong báo cáo CCHC năm của đơn vị"
        )
        entries[leaf.code] = SelfEntry(points, evidence_reference=evidence, note=note)
    return entries


def _closed_year(framework, spec, units, self_leaves, survey_leaves, users) -> None:
    """Every unit self-assesses and submits, the office appraises (a few downward adjustments with
    reasons) and enters the survey points, then the framework is published."""
    appraiser = users[spec.appraiser]
    kinds = {leaf.code: leaf.kind for leaf in self_leaves}
    survey: dict[str, dict[str, Decimal]] = {}
    for unit in units:
        rng = _rng(spec, unit)
        officer = users[unit.code.lower()]
        assessment = assessment_get_or_create(unit=unit, framework=framework, actor=officer, via=Via.COMMAND)
        entries = _self_entries(rng, self_leaves, spec.year)
        scores_apply_self(assessment=assessment, entries=entries, actor=officer, via=Via.COMMAND)
        assessment_submit(assessment=assessment, actor=officer, via=Via.COMMAND)
        appraisal = {}
        for code, entry in entries.items():
            if entry.not_applicable:
                continue
            if kinds[code] == CriterionKind.SCORE and entry.points > 0 and rng.random() < 0.05:
                lowered = _quarter(entry.points / 2)
                appraisal[code] = AppraisalEntry(lowered, reason=rng.choice(APPRAISAL_REASONS))
            else:
                appraisal[code] = AppraisalEntry(entry.points)
        scores_apply_appraisal(assessment=assessment, entries=appraisal, actor=appraiser, via=Via.COMMAND)
        assessment_mark_appraised(assessment=assessment, actor=appraiser, via=Via.COMMAND)  # publication gate
        survey[unit.code] = {
            leaf.code: (leaf.max_points * Decimal(str(rng.uniform(0.62, 0.96)))).quantize(Decimal("0.01"))
            for leaf in survey_leaves
        }
    if survey_leaves:
        survey_apply(framework=framework, entries=survey, actor=appraiser, via=Via.COMMAND)
    _set_deadlines(framework, spec, appraiser)  # after the entries: the unit's own deadline locks them
    framework_advance_to(framework=framework, phase=FrameworkStatus.FINAL, actor=appraiser, via=Via.COMMAND)
    framework_publish(
        framework=framework,
        decision_number=spec.decision_number,
        decision_date=spec.decision_date,
        actor=appraiser,
        via=Via.COMMAND,
    )


@dataclass
class UnitFigures:
    """What happens to one unit's assessment in the open year."""

    entries: dict[str, SelfEntry]  # the unit's self-assessment
    # The appraiser's figures where they differ from the unit's, and the office leaves; every other
    # self-assessed leaf is accepted as the unit entered it.
    appraisal: dict[str, AppraisalEntry] = field(default_factory=dict)
    decisions: dict[str, NotApplicableDecision] = field(default_factory=dict)
    survey: dict[str, Decimal] = field(default_factory=dict)  # percentage satisfied per survey leaf
    samples: dict[str, int | None] = field(default_factory=dict)  # people surveyed per survey leaf


def _entered(leaf: Criterion, text: str) -> tuple[Decimal | None, str | None]:
    """(points, raw figure) of what is written for a leaf: the raw figure where its rule takes one."""
    if leaf_rule(leaf).takes_raw:
        return None, text
    return parse_decimal(text), None


def _entry_points(leaf: Criterion, points: Decimal | None, raw: str | None) -> Decimal:
    """The points an entry gives, by the leaf's rule (the one implementation of the rules)."""
    if raw is not None:
        return leaf_rule(leaf).points(raw, leaf.max_points)
    return points or Decimal("0")


def _evidence(rng: random.Random, points: Decimal, year: int) -> tuple[str, str]:
    """(evidence reference, note) of a self-assessed leaf: a leaf with points needs evidence or a
    written explanation (DESIGN §3)."""
    evidence = ""
    if points > 0 and rng.random() < 0.7:
        evidence = (
            f"Văn bản số {rng.randint(12, 980)}/{rng.choice(DOCUMENT_KINDS)} "
            f"ngày {rng.randint(1, 28):02d}/{rng.randint(1, 11):02d}/{year}"
        )
    note = (
        "" if evidence or points == 0 else "Kết quả thực hiện được tổng hợp trong báo cáo CCHC năm của đơn vị"
    )
    return evidence, note


def _percent_text(rng: random.Random, p: float) -> str:
    """A percentage written as units write it: "95,5", "95,5%" or numerator/denominator "191/200"."""
    style = rng.random()
    if style < 0.35:
        denominator = rng.choice([12, 20, 24, 36, 48, 50, 64, 120, 200, 250, 312])
        return f"{round(denominator * p / 100)}/{denominator}"
    text = f"{p:.1f}".replace(".", ",").removesuffix(",0")
    return text + "%" if style < 0.55 else text


def _figure(rng: random.Random, leaf: Criterion, quality: float) -> tuple[Decimal | None, str | None]:
    """(points, raw figure) a unit (or the office, for office leaves) plausibly enters for a leaf: the
    raw figure its rule takes (có/không, a percentage, a count of occurrences), else points (one of
    the listed values for steps)."""
    rule = leaf_rule(leaf)
    if leaf.kind == CriterionKind.BONUS:
        high = rng.random() < 0.3  # the bonus was earned
    elif leaf.kind == CriterionKind.PENALTY:
        high = rng.random() < 0.15  # the penalty was incurred
    else:
        high = rng.random() < quality
    if rule.kind == YESNO:
        return None, "có" if high else "không"
    if rule.kind in (PERCENT, BANDS):
        if high and rng.random() < 0.4:
            return None, "100"
        return None, _percent_text(rng, rng.uniform(90, 100) if high else rng.uniform(50, 90))
    if rule.kind == DEDUCT:
        return None, "0" if high else str(rng.choice([1, 1, 2, 3]))
    if rule.kind == STEPS:
        levels = list(rule.steps)
        if leaf.kind != CriterionKind.SCORE:
            return (levels[-1] if high else levels[0]), None
        return (levels[-1] if high else rng.choice(levels[:-1])), None
    if leaf.kind == CriterionKind.PENALTY:
        return (
            _quarter(leaf.max_points * Decimal(rng.choice(["0.25", "0.5"]))) if high else Decimal("0")
        ), None
    if leaf.kind == CriterionKind.BONUS:
        return (leaf.max_points if high else Decimal("0")), None
    if high:
        return leaf.max_points, None
    return _quarter(leaf.max_points * Decimal(rng.choice(["0.25", "0.5", "0.75"]))), None


def _lowered(rng: random.Random, leaf: Criterion, entry: SelfEntry) -> AppraisalEntry | None:
    """The appraiser's lower figure for a leaf the evidence does not fully support, with a reason;
    None when there is nothing lower to give."""
    rule = leaf_rule(leaf)
    points, raw = entry.points, entry.raw
    if rule.kind == YESNO:
        raw = "không"
    elif rule.kind in (PERCENT, BANDS):
        found = float(rule.percentage(entry.raw or "0"))
        raw = _percent_text(rng, max(0.0, found - rng.uniform(4, 15)))
    elif rule.kind == DEDUCT:
        raw = str(rule.occurrences(entry.raw or "0") + 1)
    elif rule.kind == STEPS:
        lower = [level for level in rule.steps if entry.points is not None and level < entry.points]
        points = lower[-1] if lower else None
    else:
        points = _quarter((entry.points or Decimal("0")) / 2)
    if _entry_points(leaf, points, raw) >= _entry_points(leaf, entry.points, entry.raw):
        return None
    return AppraisalEntry(points, reason=rng.choice(APPRAISAL_REASONS), raw=raw)


def _figures(
    rng: random.Random, unit: Unit, leaves: list[Criterion], year: int, *, share: float
) -> UnitFigures:
    """Plausible figures of a unit: its self-assessment (`share` < 1 leaves the rest unscored, a
    draft), its not-applicable proposals, and what the office would give: a few lower figures, the
    office leaves, its decisions on the proposals (confirmed) and the survey percentages."""
    quality = rng.uniform(0.55, 0.95)
    proposals = NOT_APPLICABLE_PROPOSALS.get(unit.code, {})
    figures = UnitFigures(entries={})
    for leaf in leaves:
        if leaf.source != CriterionSource.SELF:
            continue
        if leaf.code in proposals:
            figures.entries[leaf.code] = SelfEntry(
                None, not_applicable=True, not_applicable_reason=proposals[leaf.code]
            )
            figures.decisions[leaf.code] = NotApplicableDecision(NA_CONFIRM)
            continue
        if share < 1 and rng.random() > share:
            continue
        points, raw = _figure(rng, leaf, quality)
        evidence, note = _evidence(rng, _entry_points(leaf, points, raw), year)
        entry = SelfEntry(points, raw=raw, evidence_reference=evidence, note=note)
        figures.entries[leaf.code] = entry
        if leaf.kind == CriterionKind.SCORE and rng.random() < 0.08:
            lowered = _lowered(rng, leaf, entry)
            if lowered is not None:
                figures.appraisal[leaf.code] = lowered
    office_quality = rng.uniform(0.6, 0.95)
    surveyed = rng.randint(90, 180)
    for leaf in leaves:
        if leaf.source == CriterionSource.OFFICE:
            points, raw = _figure(rng, leaf, office_quality)
            figures.appraisal[leaf.code] = AppraisalEntry(points, raw=raw)
        elif leaf.source == CriterionSource.SURVEY:
            figures.survey[leaf.code] = Decimal(f"{rng.uniform(62, 96):.1f}")
            figures.samples[leaf.code] = surveyed
    return figures


def _worked_figures(rng: random.Random, leaves: list[Criterion], year: int) -> UnitFigures:
    """The hand-picked figures of WORKED_UNIT (evidence references are drawn like any unit's)."""
    by_code = {leaf.code: leaf for leaf in leaves}
    figures = UnitFigures(entries={})
    for code, reason in WORKED_NOT_APPLICABLE.items():
        figures.entries[code] = SelfEntry(None, not_applicable=True, not_applicable_reason=reason)
    for code, text in WORKED_SELF.items():
        points, raw = _entered(by_code[code], text)
        evidence, note = _evidence(rng, _entry_points(by_code[code], points, raw), year)
        figures.entries[code] = SelfEntry(points, raw=raw, evidence_reference=evidence, note=note)
    for code, (text, reason) in WORKED_APPRAISAL.items():
        points, raw = _entered(by_code[code], text)
        figures.appraisal[code] = AppraisalEntry(points, reason=reason, raw=raw)
    figures.decisions = dict(WORKED_DECISIONS)
    for code, text in WORKED_SURVEY.items():
        figures.survey[code] = parse_decimal(text) or Decimal("0")
        figures.samples[code] = WORKED_SAMPLE
    return figures


def _appraise(assessment, figures: UnitFigures, appraiser) -> None:
    """The appraisal as the office does it on the page: its own figures first (corrections with a
    reason, office leaves), then the unit's figures accepted for every other leaf, then its decisions
    on the not-applicable proposals; the assessment is then appraised."""
    if figures.appraisal:
        scores_apply_appraisal(
            assessment=assessment, entries=figures.appraisal, actor=appraiser, via=Via.COMMAND
        )
    appraisal_accept_self(assessment=assessment, actor=appraiser, via=Via.COMMAND)
    if figures.decisions:
        not_applicable_apply(
            assessment=assessment, decisions=figures.decisions, actor=appraiser, via=Via.COMMAND
        )


def _open_year(framework, spec, units, leaves, users) -> None:
    """The year under way: a few units appraised (office leaves scored, not-applicable proposals
    decided, the survey entered as percentages), others submitted (some proposals still open), one
    returned for explanation, a few drafts with partial figures, one not started."""
    appraiser = users[spec.appraiser]
    survey: dict[str, dict[str, Decimal | None]] = {}
    samples: dict[str, dict[str, int | None]] = {}
    for unit in units:
        plan = OPEN_YEAR_PLAN.get(unit.code, "draft")
        rng = _rng(spec, unit)
        officer = users[unit.code.lower()]
        assessment = assessment_get_or_create(unit=unit, framework=framework, actor=officer, via=Via.COMMAND)
        if plan == "not_started":
            continue
        if (spec.code, unit.code) == WORKED_UNIT:
            figures = _worked_figures(rng, leaves, spec.year)
        else:
            figures = _figures(rng, unit, leaves, spec.year, share=0.6 if plan == "draft" else 1.0)
        scores_apply_self(assessment=assessment, entries=figures.entries, actor=officer, via=Via.COMMAND)
        if plan == "draft":
            continue
        assessment_submit(assessment=assessment, actor=officer, via=Via.COMMAND)
        if plan == "appraised":
            _appraise(assessment, figures, appraiser)
            survey[unit.code] = dict(figures.survey)
            samples[unit.code] = figures.samples
        elif plan == "returned":
            unproven = [
                code
                for code, entry in figures.entries.items()
                if entry.note and not entry.evidence_reference and not entry.not_applicable
            ]
            code = unproven[0] if unproven else next(iter(figures.entries))
            assessment_return(
                assessment=assessment,
                actor=appraiser,
                via=Via.COMMAND,
                message="Đề nghị đơn vị giải trình, bổ sung tài liệu kiểm chứng và gửi lại trước hạn.",
                criteria={code: "Chấm điểm tối đa nhưng chưa có tài liệu kiểm chứng"},
            )
    if survey:
        survey_apply(
            framework=framework,
            entries=survey,
            as_percent=True,
            samples=samples,
            actor=appraiser,
            via=Via.COMMAND,
        )
