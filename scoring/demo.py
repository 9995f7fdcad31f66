"""The demo district: units, users, two years of commune and department frameworks.

The published year (2024) uses the plain sets of scoring/demo_data; the open year (2025) uses the
realistic ones: a commune set on a 100 scale whose areas mix self-assessed, survey and office
criteria scored by every rule, and a department set numbered I / 1 / a1 with a parent column. Every
framework file is read by the framework importer, so rules, parents and official codes are kept.

Everything is written through the services (via="command"), so results are computed and every
score change is audited exactly as it would be for real data. Figures come from a seeded
random.Random per unit and year, so every load produces the same demo; one commune of the open year
(WORKED_UNIT) has figures chosen by hand that tests work out on paper. `demo_load` is idempotent:
units and memberships are upserted, users and frameworks that already exist are left as they are.
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

PROVINCE = ("DEMO-T", "Tỉnh Demo")
DISTRICT = ("DEMO-H", "Huyện Demo")
DEPARTMENTS = [
    ("PNV", "Phòng Nội vụ"),
    ("PTC", "Phòng Tài chính - Kế hoạch"),
    ("PTP", "Phòng Tư pháp"),
    ("PVH", "Phòng Văn hóa và Thông tin"),
    ("PYT", "Phòng Y tế"),
    ("PKT", "Phòng Kinh tế và Hạ tầng"),
    ("PGD", "Phòng Giáo dục và Đào tạo"),
    ("PTNMT", "Phòng Tài nguyên và Môi trường"),
]
COMMUNES = [
    ("X01", "Thị trấn Demo"),
    ("X02", "Xã An Bình"),
    ("X03", "Xã Tân Phú"),
    ("X04", "Xã Hòa Bình"),
    ("X05", "Xã Phú Lộc"),
    ("X06", "Xã Thanh Sơn"),
    ("X07", "Xã Đông Hưng"),
    ("X08", "Xã Tây Sơn"),
    ("X09", "Xã Bình Minh"),
    ("X10", "Xã Quang Trung"),
    ("X11", "Xã Hưng Đạo"),
    ("X12", "Xã Nghĩa Hòa"),
]
FIRST_YEAR, SECOND_YEAR = 2024, 2025
# X11 and X12 merged into X13 at the start of the second year.
MERGED = ("X13", "Xã Hợp Nhất", ("X11", "X12"))


@dataclass(frozen=True)
class FrameworkSpec:
    code: str
    year: int
    unit_kind: str
    csv_name: str
    name: str
    decision_number: str = ""  # set: the year is appraised and published
    legal_basis: str = "Quyết định số 876/QĐ-BNV ngày 10/11/2022 của Bộ Nội vụ (tham khảo)"


LEGAL_BASIS_2025 = "Quyết định số 1187/QĐ-BNV của Bộ Nội vụ (tham khảo)"
FRAMEWORKS = [
    FrameworkSpec(
        "DEMO-XA-2024",
        2024,
        UnitKind.COMMUNE,
        "framework-commune.csv",
        "Bộ chỉ số CCHC cấp xã năm 2024",
        "4769/QĐ-UBND",
    ),
    FrameworkSpec(
        "DEMO-PB-2024",
        2024,
        UnitKind.DEPARTMENT,
        "framework-department.csv",
        "Bộ chỉ số CCHC các phòng chuyên môn năm 2024",
        "4770/QĐ-UBND",
    ),
    FrameworkSpec(
        "DEMO-XA-2025",
        2025,
        UnitKind.COMMUNE,
        "framework-commune-2025.csv",
        "Bộ chỉ số CCHC cấp xã năm 2025",
        legal_basis=LEGAL_BASIS_2025,
    ),
    FrameworkSpec(
        "DEMO-PB-2025",
        2025,
        UnitKind.DEPARTMENT,
        "framework-department-codes.csv",
        "Bộ chỉ số CCHC các phòng chuyên môn năm 2025",
        legal_basis=LEGAL_BASIS_2025,
    ),
]
DECISION_DATE = {2024: date(2024, 12, 25)}
# Where each unit stands in the open year; units not listed are drafts with partial scores.
OPEN_YEAR_PLAN = {
    **dict.fromkeys(["X01", "X02", "X05", "PNV", "PTC"], "appraised"),
    **dict.fromkeys(["X03", "X08", "X13", "PTP", "PGD"], "submitted"),
    **dict.fromkeys(["X04", "PVH"], "returned"),
    **dict.fromkeys(["X10", "PTNMT"], "not_started"),
}
# Not-applicable proposals of the open year, with the unit's reason. The appraiser confirms those of
# appraised units; those of submitted units wait for a decision (the progress board lists them).
NOT_APPLICABLE_PROPOSALS = {
    "X03": {"2.1": "Năm 2025 UBND xã không được giao ban hành văn bản quy phạm pháp luật"},
    "X05": {"6.2": "Năm 2025 xã không được giao kế hoạch vốn đầu tư công"},
    "X07": {"6.2": "Năm 2025 xã không được giao kế hoạch vốn đầu tư công"},
    "X13": {"2.1": "Xã mới thành lập, chưa có kế hoạch ban hành văn bản quy phạm pháp luật năm 2025"},
    "PNV": {"a3": "Phòng không có đơn vị trực thuộc"},
    "PGD": {"7": "Năm 2025 phòng không được giao tham mưu ban hành văn bản quy phạm pháp luật"},
}

# One commune of the open year with figures chosen by hand, appraised and surveyed, so that every
# rule, source and decision shows once and a person can work its result out on paper (the tests
# do: tests/test_load_demo.py). What the unit enters, by leaf: the raw figure for a rule that takes
# one, else points.
WORKED_UNIT = ("DEMO-XA-2025", "X02")
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
    authority = units[DISTRICT[0]]
    for spec in FRAMEWORKS:
        existing = Framework.objects.filter(code=spec.code).first()
        if existing is not None:
            summary.frameworks.append((existing, False))
            continue
        framework = _framework(spec, authority, users)
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
    district = save(*DISTRICT, UnitKind.DISTRICT, province)
    for code, name in DEPARTMENTS:
        save(code, name, UnitKind.DEPARTMENT, district)
    merged_code, merged_name, predecessor_codes = MERGED
    for code, name in COMMUNES:
        save(
            code,
            name,
            UnitKind.COMMUNE,
            district,
            active_to=FIRST_YEAR if code in predecessor_codes else None,
        )
    save(
        merged_code,
        merged_name,
        UnitKind.COMMUNE,
        district,
        active_from=SECOND_YEAR,
        predecessors=[units[code] for code in predecessor_codes],
    )
    return units


def _users(units: dict[str, Unit], summary: DemoSummary) -> dict[str, object]:
    User = get_user_model()
    users: dict[str, object] = {}
    # One hash for every demo account: they share the password, and hashing it two dozen times
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

    admin, created = user("admin", "Quản trị", is_staff=True, is_superuser=True)
    summary.logins.append(DemoLogin("admin", "administrator", "", created))
    district = units[DISTRICT[0]]
    for username, name, role in (
        ("noivu", "Cán bộ Phòng Nội vụ", Role.APPRAISER),
        ("lanhdao", "Lãnh đạo UBND huyện", Role.LEADER),
    ):
        account, created = user(username, name)
        membership_grant(user=account, unit=district, role=role, via=Via.COMMAND)
        summary.logins.append(DemoLogin(username, role, district.code, created))
    officer_units = [code for code, _ in DEPARTMENTS] + [code for code, _ in COMMUNES] + [MERGED[0]]
    for code in officer_units:
        unit = units[code]
        account, created = user(code.lower(), f"Cán bộ {unit.name}")
        membership_grant(user=account, unit=unit, role=Role.OFFICER, via=Via.COMMAND)
        summary.logins.append(DemoLogin(account.username, Role.OFFICER, code, created))
    return users


def _framework(spec: FrameworkSpec, authority: Unit, users) -> Framework:
    actor = users["noivu"]
    framework = framework_create(
        code=spec.code,
        authority=authority,
        unit_kind=spec.unit_kind,
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
    leaves = list(Criterion.objects.filter(framework=framework, is_leaf=True).order_by("order"))
    self_leaves = [c for c in leaves if c.source == CriterionSource.SELF]
    survey_leaves = [c for c in leaves if c.source == CriterionSource.SURVEY]
    units = [
        u
        for u in Unit.objects.filter(parent=authority, kind=spec.unit_kind).order_by("code")
        if u.is_active_in(spec.year)
    ]
    if spec.decision_number:
        _closed_year(framework, spec, units, self_leaves, survey_leaves, users)
    else:
        _open_year(framework, spec, units, leaves, users)
    framework.refresh_from_db()
    return framework


def _set_deadlines(framework: Framework, spec: FrameworkSpec, actor) -> None:
    """Phase deadlines: fixed dates for the published year; for the open year, a month and two
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
    appraiser = users["noivu"]
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
        decision_date=DECISION_DATE[spec.year],
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
    appraiser = users["noivu"]
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
