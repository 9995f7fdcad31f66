"""The demo district: units, users, two years of commune and department frameworks.

Everything is written through the services (via="command"), so results are computed and every
score change is audited exactly as it would be for real data. Scores come from a seeded
random.Random per unit and year, so every load produces the same demo. `demo_load` is idempotent:
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

from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_return,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)
from scoring.frameworks.services import (
    DEFAULT_BANDS,
    CriterionRow,
    framework_create,
    framework_publish,
    framework_set_deadlines,
    notifications_muted,
    parse_bands,
)
from scoring.models import Criterion, CriterionKind, CriterionSource, Framework, Via
from units.models import Role, Unit, UnitKind
from units.services import membership_grant, unit_save

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_PASSWORD = "demo12345"  # demo data only: printed by load_demo for anyone to log in with


def rows_from_csv(path: str | Path) -> list[CriterionRow]:
    """Criteria rows of a framework CSV with the English header of scoring/demo_data
    (code,title,max_points,kind,source,guidance). A bare file name is looked up in demo_data."""
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
        "DEMO-XA-2025", 2025, UnitKind.COMMUNE, "framework-commune.csv", "Bộ chỉ số CCHC cấp xã năm 2025"
    ),
    FrameworkSpec(
        "DEMO-PB-2025",
        2025,
        UnitKind.DEPARTMENT,
        "framework-department.csv",
        "Bộ chỉ số CCHC các phòng chuyên môn năm 2025",
    ),
]
DECISION_DATE = {2024: date(2024, 12, 25)}
# Where each unit stands in the open year; units not listed are drafts with partial scores.
OPEN_YEAR_PLAN = {
    **dict.fromkeys(["X01", "X02", "X03", "X05", "X08", "X13", "PNV", "PTC", "PTP", "PGD"], "submitted"),
    **dict.fromkeys(["X04", "PVH"], "returned"),
    **dict.fromkeys(["X10", "PTNMT"], "not_started"),
}

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
        rows=rows_from_csv(spec.csv_name),
        bands=parse_bands(DEFAULT_BANDS),
        index_decimals=2,
        legal_basis="Quyết định số 876/QĐ-BNV ngày 10/11/2022 của Bộ Nội vụ (tham khảo)",
        actor=actor,
        via=Via.COMMAND,
    )
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
        _open_year(framework, spec, units, self_leaves, users)
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
        survey[unit.code] = {
            leaf.code: (leaf.max_points * Decimal(str(rng.uniform(0.62, 0.96)))).quantize(Decimal("0.01"))
            for leaf in survey_leaves
        }
    if survey_leaves:
        survey_apply(framework=framework, entries=survey, actor=appraiser, via=Via.COMMAND)
    framework_publish(
        framework=framework,
        decision_number=spec.decision_number,
        decision_date=DECISION_DATE[spec.year],
        actor=appraiser,
        via=Via.COMMAND,
    )


def _open_year(framework, spec, units, self_leaves, users) -> None:
    """The year under way: about half the units submitted, one returned for explanation, a few
    drafts with partial scores, one not started. Nothing appraised, no survey yet."""
    appraiser = users["noivu"]
    for unit in units:
        plan = OPEN_YEAR_PLAN.get(unit.code, "draft")
        rng = _rng(spec, unit)
        officer = users[unit.code.lower()]
        assessment = assessment_get_or_create(unit=unit, framework=framework, actor=officer, via=Via.COMMAND)
        if plan == "not_started":
            continue
        if plan == "draft":
            entries = _self_entries(rng, self_leaves, spec.year, share=0.6)
            scores_apply_self(assessment=assessment, entries=entries, actor=officer, via=Via.COMMAND)
            continue
        entries = _self_entries(rng, self_leaves, spec.year)
        scores_apply_self(assessment=assessment, entries=entries, actor=officer, via=Via.COMMAND)
        assessment_submit(assessment=assessment, actor=officer, via=Via.COMMAND)
        if plan == "returned":
            unproven = [
                code for code, entry in entries.items() if entry.points and not entry.evidence_reference
            ]
            code = unproven[0] if unproven else self_leaves[0].code
            assessment_return(
                assessment=assessment,
                actor=appraiser,
                via=Via.COMMAND,
                message="Đề nghị đơn vị giải trình, bổ sung tài liệu kiểm chứng và gửi lại trước hạn.",
                criteria={code: "Chấm điểm tối đa nhưng chưa có tài liệu kiểm chứng"},
            )
