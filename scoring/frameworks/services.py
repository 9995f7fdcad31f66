"""Writes of frameworks: the criteria tree, grade bands, settings, deadlines, publication and
reopening, copy to next year. Every write is atomic, audited and refused on a published framework;
the shared refusals (FrameworkLocked, WorkflowError) and the audit and notification helpers of the
scoring domain live here, below the assessment services.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as N_

from parindex.audit.models import AuditEntry
from parindex.audit.services import audit_entry
from parindex.dbguard import unlock_published
from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import when_text  # used here and re-exported
from parindex.queue import enqueue_on_commit
from scoring.appeals.selectors import appeals_open_count
from scoring.frameworks.phases import Act, phase_ensure, previous_phase
from scoring.frameworks.phases import FrameworkLocked as FrameworkLocked  # the lock's one wording
from scoring.frameworks.rules import DEFAULT as DEFAULT_RULE
from scoring.frameworks.rules import parse_rule
from scoring.frameworks.selectors import framework_units
from scoring.models import (
    Assessment,
    AssessmentStatus,
    Criterion,
    CriterionKind,
    CriterionSource,
    Framework,
    FrameworkStatus,
    GradeBand,
    RankingGroup,
    Score,
    Via,
)
from scoring.results.engine import results_recompute
from units.models import Unit


class WorkflowError(ServiceError):
    """The assessment is not in a status that allows this change."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", ErrorCode.WORKFLOW)
        super().__init__(message, **kwargs)


def refuse(problems: list[ServiceError]) -> None:
    """Raise every refusal found in one pass (nothing when there is none)."""
    if problems:
        codes = {problem.error_code for problem in problems}
        raise ServiceError.group(problems, code=codes.pop() if len(codes) == 1 else ErrorCode.INVALID)


_notifications_muted: ContextVar[bool] = ContextVar("parindex_notifications_muted", default=False)


@contextmanager
def notifications_muted() -> Iterator[None]:
    """No workflow e-mails inside this block (load_demo: the demo's history is not news to anyone)."""
    token = _notifications_muted.set(True)
    try:
        yield
    finally:
        _notifications_muted.reset(token)


def notify(event: str, object_id: int) -> None:
    """Send the e-mails of a workflow event once the transaction commits (through Celery)."""
    if _notifications_muted.get():
        return
    enqueue_on_commit("scoring.tasks.send_notification", event, object_id)


def framework_lock_error(framework: Framework) -> FrameworkLocked | None:
    """The refusal of any change to a published framework, or None while it is open."""
    return FrameworkLocked(framework) if framework.status == FrameworkStatus.PUBLISHED else None


def framework_ensure_editable(framework: Framework) -> None:
    error = framework_lock_error(framework)
    if error is not None:
        raise error


def audit(
    framework: Framework,
    *,
    action: str,
    actor: User | None,
    via: str,
    assessment: Assessment | None = None,
    criterion: Criterion | None = None,
    field: str = "",
    old: object = "",
    new: object = "",
    reason: str = "",
) -> AuditEntry:
    """An unsaved audit row about this framework (and assessment, criterion): parindex.audit's builder."""
    return audit_entry(
        framework=framework,
        assessment=assessment,
        criterion=criterion,
        action=action,
        field=field,
        old=old,
        new=new,
        reason=reason,
        actor=actor,
        via=via,
    )


# --- frameworks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionRow:
    """One row of a criteria tree, in tree order. A parent's max_points may be None: it is then the
    sum of its children's. `rule` is the leaf's scoring rule text ("" for points); `parent` is the
    parent's code, needed when codes are not dotted (I, a, a1): when empty, a dotted code's parent
    is the code without its last part."""

    code: str
    title: str
    max_points: Decimal | None
    kind: str = CriterionKind.SCORE
    source: str = CriterionSource.SELF
    guidance: str = ""
    rule: str = ""
    parent: str = ""

    @property
    def parent_code(self) -> str:
        if self.parent:
            return self.parent
        return self.code.rpartition(".")[0] if "." in self.code else ""


def criterion_rows(framework: Framework) -> list[CriterionRow]:
    """The criteria of a framework as rows in tree order, every field kept (copy, the admin's copy)."""
    return [
        CriterionRow(
            code=c.code,
            title=c.title,
            max_points=c.max_points,
            kind=c.kind,
            source=c.source,
            guidance=c.guidance,
            rule=c.rule,
            parent=c.parent.code if c.parent else "",
        )
        for c in framework.criteria.select_related("parent").order_by("order")
    ]


@dataclass(frozen=True)
class Band:
    name: str
    min_index: Decimal


def parse_bands(text: str) -> list[Band]:
    """ "Xuất sắc:90,Tốt:80,Khá:70" → bands. Raises ServiceError naming the bad part."""
    from parindex.numbers import NotANumber, parse_decimal

    bands: list[Band] = []
    for part in [p for p in text.split(",") if p.strip()]:
        name, sep, threshold = part.rpartition(":")
        try:
            value = parse_decimal(threshold) if sep else None
        except NotANumber:
            value = None
        if not name.strip() or value is None:
            raise ServiceError(
                N_("Grade band %(part)r should look like 'Tốt:80' (name, colon, minimum index)."),
                params={"part": part.strip()},
                field="bands",
            )
        bands.append(Band(name.strip(), value))
    names = [b.name for b in bands]
    if len(set(names)) != len(names) or len({b.min_index for b in bands}) != len(bands):
        raise ServiceError(
            N_("Grade bands must have different names and different minimum indices."), field="bands"
        )
    return sorted(bands, key=lambda b: b.min_index, reverse=True)


DEFAULT_BANDS = "Xuất sắc:90,Tốt:80,Khá:70,Trung bình:50,Yếu:0"


@transaction.atomic
def framework_create(
    *,
    code: str,
    authority: Unit,
    unit_kind: str,
    year: int,
    name: str,
    rows: Iterable[CriterionRow],
    unit_kinds: Iterable[str] = (),
    bands: Iterable[Band] = (),
    index_decimals: int = 2,
    legal_basis: str = "",
    index_capped: bool = True,
    survey_optional: bool = False,
    actor: User | None = None,
    via: str = Via.COMMAND,
) -> Framework:
    """Create a framework with its criteria tree and grade bands from rows in tree order (the order
    is kept as given).

    Refused (ServiceError listing every problem) when the code is taken or the tree breaks a rule
    of `tree_problems`; a parent without max points gets the sum of its children's, and each
    leaf's rule is stored in its canonical text ("" for points)."""
    rows = list(rows)
    kinds = list(dict.fromkeys([unit_kind, *unit_kinds]))
    refuse(framework_code_problems(code))
    complete, problems = _checked_tree(rows)
    refuse(problems)
    framework = Framework(
        code=code,
        authority=authority,
        unit_kind=unit_kind,
        unit_kinds=kinds,
        year=year,
        name=name,
        legal_basis=legal_basis,
        index_decimals=index_decimals,
        index_capped=index_capped,
        survey_optional=survey_optional,
    )
    framework.full_clean()
    framework.save()
    rows = complete
    child_codes = {row.parent_code for row in rows if row.parent_code}
    by_code: dict[str, Criterion] = {}
    for order, row in enumerate(rows, start=1):
        parent = by_code.get(row.parent_code) if row.parent_code else None
        assert row.max_points is not None  # _checked_tree filled every parent's maximum or refused
        criterion = Criterion(
            framework=framework,
            parent=parent,
            code=row.code,
            title=row.title,
            max_points=row.max_points,
            kind=row.kind,
            source=row.source,
            rule=row.rule,
            guidance=row.guidance,
            order=order,
            depth=parent.depth + 1 if parent else 0,
            is_leaf=row.code not in child_codes,
        )
        criterion.full_clean(
            exclude=["framework", "parent", "area"], validate_unique=False, validate_constraints=False
        )
        criterion.save()
        criterion.area_id = parent.area_id if parent else criterion.pk
        Criterion.objects.filter(pk=criterion.pk).update(area_id=criterion.area_id)
        by_code[row.code] = criterion
    GradeBand.objects.bulk_create(
        GradeBand(framework=framework, name=b.name, min_index=b.min_index) for b in bands
    )
    audit(framework, action="framework_create", actor=actor, via=via, new=f"{len(rows)} criteria").save()
    return framework


FRAMEWORK_CODE_TAKEN = Framework.CODE_TAKEN


def framework_code_problems(code: str) -> list[ServiceError]:
    """Why a new framework may not take this code: it exists already (or is published)."""
    existing = Framework.objects.filter(code=code).first()
    if existing is None:
        return []
    if existing.status == FrameworkStatus.PUBLISHED:
        return [FrameworkLocked(existing)]
    return [
        ServiceError(
            FRAMEWORK_CODE_TAKEN,
            code=ErrorCode.CONFLICT,
            params={"code": code, "name": existing.name, "year": existing.year},
            obj=existing,
            field="code",
        )
    ]


def tree_problems(rows: list[CriterionRow]) -> list[ServiceError]:
    """Every rule a criteria tree breaks, each error naming its criterion (and the row, as `obj`):
    duplicate codes, children before or without their parent (which also rules out cycles), leaves
    without max points, parents whose max is not the sum of their children, mixed kinds under a
    bonus/penalty node, a scoring rule that does not parse or fit its leaf's max, a rule on a parent.
    Sources mix freely at any level (DESIGN §2.1)."""
    return _checked_tree(rows)[1]


def _checked_tree(rows: list[CriterionRow]) -> tuple[list[CriterionRow], list[ServiceError]]:
    """(the rows with blank parent maxima filled in and rules in canonical text, the problems of
    tree_problems)."""

    def problem(
        message: str, row: CriterionRow, field: str, error_code: str = ErrorCode.INVALID, **params: object
    ) -> ServiceError:
        return ServiceError(message, code=error_code, params=params, obj=row, field=field, criterion=row.code)

    problems: list[ServiceError] = []
    seen: dict[str, CriterionRow] = {}
    for row in rows:
        if row.code in seen:
            problems.append(
                problem(N_("Code %(code)s appears twice."), row, "code", ErrorCode.CONFLICT, code=row.code)
            )
            continue
        parent_code = row.parent_code
        if parent_code and parent_code not in seen:
            # A parent must come first: this also refuses a row that is its own ancestor (a cycle).
            problems.append(
                problem(
                    N_("Code %(code)s comes before or without its parent %(parent)s."),
                    row,
                    "parent" if row.parent else "code",
                    code=row.code,
                    parent=parent_code,
                )
            )
        seen[row.code] = row
    children: dict[str, list[CriterionRow]] = {}
    for row in seen.values():
        if row.parent_code in seen and row.parent_code != row.code:
            children.setdefault(row.parent_code, []).append(row)
    rules: dict[str, str] = {}
    for row in seen.values():
        if row.code in children:
            if _rule_or_none(row.rule) != DEFAULT_RULE:
                problems.append(
                    problem(
                        N_("Criterion %(code)s has children; a scoring rule belongs on a leaf criterion."),
                        row,
                        "rule",
                        code=row.code,
                    )
                )
            continue
        if row.max_points is None:
            problems.append(
                problem(N_("The maximum points of a leaf criterion are missing."), row, "max_points")
            )
            continue
        if row.source == CriterionSource.SURVEY and _rule_or_none(row.rule) != DEFAULT_RULE:
            problems.append(survey_rule_error(row, row.code))
            continue
        try:
            rule = parse_rule(row.rule, row.max_points)
        except ServiceError as error:
            problems.append(
                ServiceError(
                    error.message_id,
                    code=error.error_code,
                    params=error.message_params,
                    obj=row,
                    field="rule",
                    criterion=row.code,
                )
            )
            continue
        rules[row.code] = "" if rule == DEFAULT_RULE else rule.text()
    # Children come after their parent, so in reverse file order a parent's children are complete.
    maxima = {code: row.max_points for code, row in seen.items()}
    for code in reversed([code for code in seen if code in children]):
        parent, kids = seen[code], children[code]
        kid_maxima = [m for kid in kids if (m := maxima[kid.code]) is not None]
        if len(kid_maxima) == len(kids):
            total = sum(kid_maxima, Decimal("0"))
            if maxima[code] is None:
                maxima[code] = total
            elif maxima[code] != total:
                problems.append(
                    problem(
                        N_("Criterion %(code)s has max points %(max)s but its children add up to %(sum)s."),
                        parent,
                        "max_points",
                        code=code,
                        max=maxima[code],
                        sum=total,
                    )
                )
        for kid in kids:
            if parent.kind != CriterionKind.SCORE and kid.kind != parent.kind:
                problems.append(
                    problem(
                        N_(
                            "Criterion %(code)s is of kind %(kind)s but sits under %(parent)s of kind %(pkind)s."
                        ),
                        kid,
                        "kind",
                        code=kid.code,
                        kind=CriterionKind(kid.kind).label,  # "điểm thưởng", never "bonus"
                        parent=code,
                        pkind=CriterionKind(parent.kind).label,
                    )
                )
    complete = [
        replace(row, max_points=maxima.get(row.code, row.max_points), rule=rules.get(row.code, ""))
        for row in rows
    ]
    return complete, problems


def survey_rule_error(obj: object, code: str) -> ServiceError:
    """A survey leaf takes the survey's points or percentage (the survey grid and file), never a rule."""
    return ServiceError(
        N_("Criterion %(code)s is scored by the survey (points or a percentage); it takes no scoring rule."),
        params={"code": code},
        obj=obj,
        field="rule",
        criterion=code,
    )


def _rule_or_none(text: str) -> object:
    """The parsed rule, or None when the text does not parse (a parent row's rule: refused anyway)."""
    try:
        return parse_rule(text)
    except ServiceError:
        return None


# --- phases: the steps of the year (DESIGN §2.3) -------------------------------------------------------
#
# draft → open → appraisal → preliminary → appeals → final → published, one service per step, each
# with its checks (every problem listed at once) and an audit row; framework_step_back goes back one
# phase with a reason (from published: reopening, each unit's own state restored).


def _framework_in(framework: Framework, phase: str) -> Framework:
    """The framework locked for update, refused unless it is in `phase` (published: FrameworkLocked)."""
    framework = Framework.objects.select_for_update().select_related("authority").get(pk=framework.pk)
    if framework.status == phase:
        return framework
    if framework.status == FrameworkStatus.PUBLISHED:
        raise FrameworkLocked(framework)
    raise WorkflowError(
        N_("Framework %(code)s is in the phase “%(phase)s”; this step starts from “%(expected)s”."),
        obj=framework,
        field="status",
        params={
            "code": framework.code,
            "phase": FrameworkStatus(framework.status).label,
            "expected": FrameworkStatus(phase).label,
        },
    )


def _move(
    framework: Framework,
    phase: str,
    *,
    actor: User | None,
    via: str,
    reason: str = "",
    action: str = "framework_phase",
    fields: Iterable[str] = (),
) -> Framework:
    old = framework.status
    framework.status = phase
    framework.full_clean()
    framework.save(update_fields=["status", *fields, "updated_at"])
    audit(
        framework, action=action, actor=actor, via=via, field="status", old=old, new=phase, reason=reason
    ).save()
    return framework


def framework_open_problems(framework: Framework) -> list[ServiceError]:
    """Why a framework being prepared cannot open: it has no criterion to score."""
    if Criterion.objects.filter(framework=framework, is_leaf=True).exists():
        return []
    return [
        ServiceError(
            N_("Framework %(code)s has no criteria yet; import or enter them before opening it."),
            obj=framework,
            field="criteria",
            params={"code": framework.code},
        )
    ]


@transaction.atomic
def framework_open(*, framework: Framework, actor: User | None = None, via: str = Via.WEB) -> Framework:
    """Open a framework for self-assessment (draft → open)."""
    framework = _framework_in(framework, FrameworkStatus.DRAFT)
    refuse(framework_open_problems(framework))
    return _move(framework, FrameworkStatus.OPEN, actor=actor, via=via)


def framework_start_appraisal_problems(
    framework: Framework, now: datetime | None = None
) -> list[ServiceError]:
    """Why self-assessment cannot close yet: the framework's self-assessment deadline has not passed
    (units still have time). Units with an extension keep theirs (phases.self_assessment_error)."""
    now = now or timezone.now()
    if framework.self_deadline is None or framework.self_deadline <= now:
        return []
    return [
        ServiceError(
            N_(
                "The self-assessment deadline (%(deadline)s) has not passed yet; units may still change their self-assessment."
            ),
            code=ErrorCode.WORKFLOW,
            obj=framework,
            field="self_deadline",
            params={"deadline": when_text(framework.self_deadline)},
        )
    ]


@transaction.atomic
def framework_start_appraisal(
    *, framework: Framework, actor: User | None = None, via: str = Via.WEB, now: datetime | None = None
) -> Framework:
    """Close self-assessment and appraise (open → appraisal): returned units still answer, a unit
    whose extension runs still self-assesses; the others are locked."""
    framework = _framework_in(framework, FrameworkStatus.OPEN)
    refuse(framework_start_appraisal_problems(framework, now))
    return _move(framework, FrameworkStatus.APPRAISAL, actor=actor, via=via)


def framework_notify_preliminary_problems(
    framework: Framework, appeal_deadline: datetime | None, now: datetime | None = None
) -> list[ServiceError]:
    """Why preliminary results cannot be notified with this appeal deadline: it is missing or past."""
    if appeal_deadline is None:
        return [
            ServiceError(
                N_("Give the deadline for appeals when notifying the preliminary results."),
                obj=framework,
                field="appeal_deadline",
            )
        ]
    if appeal_deadline <= (now or timezone.now()):
        return [
            ServiceError(
                N_("The appeal deadline (%(deadline)s) must be in the future."),
                obj=framework,
                field="appeal_deadline",
                params={"deadline": when_text(appeal_deadline)},
            )
        ]
    return []


@transaction.atomic
def framework_notify_preliminary(
    *,
    framework: Framework,
    appeal_deadline: datetime | None,
    actor: User | None = None,
    via: str = Via.WEB,
    now: datetime | None = None,
) -> Framework:
    """Notify every unit of the preliminary results (appraisal → preliminary) and open the appeal
    window until `appeal_deadline` (required, in the future)."""
    framework = _framework_in(framework, FrameworkStatus.APPRAISAL)
    refuse(framework_notify_preliminary_problems(framework, appeal_deadline, now))
    old_deadline = framework.appeal_deadline
    framework.appeal_deadline = appeal_deadline
    _move(framework, FrameworkStatus.PRELIMINARY, actor=actor, via=via, fields=["appeal_deadline"])
    if old_deadline != appeal_deadline:
        audit(
            framework,
            action="deadline",
            field="appeal_deadline",
            old=when_text(old_deadline),
            new=when_text(appeal_deadline),
            actor=actor,
            via=via,
        ).save()
    notify("preliminary_results", framework.pk)
    return framework


def framework_close_appeals_problems(framework: Framework, now: datetime | None = None) -> list[ServiceError]:
    """Why the appeal window cannot close: its deadline has not passed."""
    deadline = framework.appeal_deadline
    if deadline is not None and deadline <= (now or timezone.now()):
        return []
    return [
        ServiceError(
            N_("Units may appeal until %(deadline)s; the appeal window closes after that."),
            code=ErrorCode.WORKFLOW,
            obj=framework,
            field="appeal_deadline",
            params={"deadline": when_text(deadline)},
        )
    ]


@transaction.atomic
def framework_close_appeals(
    *, framework: Framework, actor: User | None = None, via: str = Via.WEB, now: datetime | None = None
) -> Framework:
    """Close the appeal window after its deadline (preliminary → appeals): the appeals lodged are answered."""
    framework = _framework_in(framework, FrameworkStatus.PRELIMINARY)
    refuse(framework_close_appeals_problems(framework, now))
    return _move(framework, FrameworkStatus.APPEALS, actor=actor, via=via)


def framework_finalise_problems(framework: Framework) -> list[ServiceError]:
    """Why the results cannot become final: appeals still unanswered."""
    count = appeals_open_count(framework)
    if not count:
        return []
    return [
        ServiceError(
            N_("%(count)s appeal(s) are not answered yet; answer every appeal before the results are final."),
            code=ErrorCode.WORKFLOW,
            obj=framework,
            field="appeals",
            params={"count": count},
        )
    ]


@transaction.atomic
def framework_finalise(*, framework: Framework, actor: User | None = None, via: str = Via.WEB) -> Framework:
    """The results are final once every appeal is answered (appeals → final); publication follows."""
    framework = _framework_in(framework, FrameworkStatus.APPEALS)
    refuse(framework_finalise_problems(framework))
    return _move(framework, FrameworkStatus.FINAL, actor=actor, via=via)


@dataclass(frozen=True)
class PublicationLine:
    """One unit of the framework as publication would lock it."""

    unit: Unit
    assessment: Assessment | None
    excluded_reason: str = ""

    @property
    def status(self) -> str:
        return self.assessment.status if self.assessment else ""

    @property
    def appraised(self) -> bool:
        return self.status in (AssessmentStatus.APPRAISED, AssessmentStatus.PUBLISHED)


def publication_lines(
    framework: Framework, exclusions: Mapping[str, str] | None = None
) -> list[PublicationLine]:
    """Every unit of the framework (scoring.frameworks.selectors.framework_units) with its assessment
    and, when `exclusions` (unit code → reason) names it, the reason it is left out. Two queries."""
    exclusions = exclusions or {}
    assessments = {
        a.unit_id: a for a in Assessment.objects.filter(framework=framework).select_related("unit")
    }
    return [
        PublicationLine(unit, assessments.get(unit.pk), (exclusions.get(unit.code) or "").strip())
        for unit in framework_units(framework)
    ]


def framework_publish_problems(
    framework: Framework,
    *,
    decision_number: str,
    decision_date: date | None,
    exclusions: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[ServiceError]:
    """Every reason publication is refused (DESIGN §2.3), all at once: the phase is not final; the
    decision number or date is missing or the date is in the future; the appeal deadline has not
    passed; an exclusion names no unit of the framework or gives no reason; a unit is neither
    appraised nor excluded."""
    now = now or timezone.now()
    if framework.status == FrameworkStatus.PUBLISHED:
        return [FrameworkLocked(framework)]
    problems: list[ServiceError] = []
    if framework.status != FrameworkStatus.FINAL:
        problems.append(
            WorkflowError(
                N_(
                    "Framework %(code)s is in the phase “%(phase)s”; results are published from the phase “%(final)s”."
                ),
                obj=framework,
                field="status",
                params={
                    "code": framework.code,
                    "phase": FrameworkStatus(framework.status).label,
                    "final": FrameworkStatus.FINAL.label,
                },
            )
        )
    if not (decision_number or "").strip():
        problems.append(
            ServiceError(N_("Publication needs a decision number."), obj=framework, field="decision_number")
        )
    if decision_date is None:
        problems.append(
            ServiceError(N_("Publication needs a decision date."), obj=framework, field="decision_date")
        )
    elif decision_date > timezone.localdate(now):
        problems.append(
            ServiceError(
                N_("The decision date %(date)s is in the future."),
                obj=framework,
                field="decision_date",
                params={"date": decision_date.strftime("%d/%m/%Y")},
            )
        )
    if framework.appeal_deadline is not None and framework.appeal_deadline > now:
        problems.append(
            ServiceError(
                N_("Units may appeal until %(deadline)s; results are published after that."),
                code=ErrorCode.WORKFLOW,
                obj=framework,
                field="appeal_deadline",
                params={"deadline": when_text(framework.appeal_deadline)},
            )
        )
    exclusions = dict(exclusions or {})
    lines = publication_lines(framework, exclusions)
    known = {line.unit.code for line in lines}
    for code, reason in exclusions.items():
        if code not in known:
            problems.append(
                ServiceError(
                    N_("Unit %(unit)s is not assessed in framework %(code)s; it cannot be excluded."),
                    code=ErrorCode.NOT_FOUND,
                    obj=framework,
                    field="exclude",
                    params={"unit": code, "code": framework.code},
                )
            )
        elif not (reason or "").strip():
            problems.append(
                ServiceError(
                    N_("Give the reason why unit %(unit)s is left out of the publication."),
                    obj=framework,
                    field="reason",
                    params={"unit": code},
                )
            )
    for line in lines:
        if line.appraised or line.unit.code in exclusions:
            continue
        problems.append(
            ServiceError(
                N_(
                    "Unit %(unit)s (%(name)s) is %(status)s: appraise it, or exclude it by name with a reason."
                ),
                code=ErrorCode.WORKFLOW,
                obj=line.assessment or line.unit,
                field="exclude",
                params={
                    "unit": line.unit.code,
                    "name": line.unit.name,
                    "status": AssessmentStatus(line.status).label if line.assessment else _NOT_STARTED,
                },
            )
        )
    return problems


_NOT_STARTED = gettext_lazy("not started (no assessment)")


@transaction.atomic
def framework_publish(
    *,
    framework: Framework,
    decision_number: str,
    decision_date: date | None,
    exclusions: Mapping[str, str] | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
    now: datetime | None = None,
) -> Framework:
    """Publish the results by the approval decision (final → published) and lock the framework.

    Refused, with every problem listed and nothing changed, by framework_publish_problems. Each unit's
    status is kept (status_before_publication, which reopening restores); appraised units become
    published; a unit excluded by name (`exclusions`: unit code → reason) keeps its own status and
    holds no place (a unit that never started is excluded in the audit trail alone)."""
    unlock_published()  # publication stores the final results (database guard, parindex.dbguard)
    framework = Framework.objects.select_for_update().select_related("authority").get(pk=framework.pk)
    exclusions = {code: (reason or "").strip() for code, reason in (exclusions or {}).items()}
    refuse(
        framework_publish_problems(
            framework,
            decision_number=decision_number,
            decision_date=decision_date,
            exclusions=exclusions,
            now=now,
        )
    )
    assert decision_date is not None  # framework_publish_problems refuses a missing date
    entries = []
    for line in publication_lines(framework, exclusions):
        assessment = line.assessment
        if assessment is None:  # a unit that never started, excluded: its exclusion is on record
            entries.append(
                audit_entry(
                    framework=framework,
                    unit=line.unit,
                    action="publication_exclusion",
                    field="excluded_reason",
                    new=line.excluded_reason,
                    reason=line.excluded_reason,
                    actor=actor,
                    via=via,
                )
            )
            continue
        assessment.status_before_publication = assessment.status
        fields = ["status_before_publication", "excluded_reason", "updated_at"]
        if line.excluded_reason:
            assessment.excluded_reason = line.excluded_reason
            if assessment.ranked:  # out of the others' ranks, as a unit assessed but not ranked
                assessment.ranked, assessment.not_ranked_reason = False, line.excluded_reason
                fields += ["ranked", "not_ranked_reason"]
            entries.append(
                audit(
                    framework,
                    assessment=assessment,
                    action="publication_exclusion",
                    field="excluded_reason",
                    new=line.excluded_reason,
                    reason=line.excluded_reason,
                    actor=actor,
                    via=via,
                )
            )
        else:
            assessment.excluded_reason = ""
            assessment.status = AssessmentStatus.PUBLISHED
            fields.append("status")
        assessment.save(update_fields=fields)
    old = framework.status
    framework.decision_number = decision_number.strip()
    framework.decision_date = decision_date
    framework.published_at = timezone.now()
    framework.published_by = actor if getattr(actor, "pk", None) else None
    framework.status = FrameworkStatus.PUBLISHED
    framework.full_clean()
    framework.save(
        update_fields=[
            "status",
            "decision_number",
            "decision_date",
            "published_at",
            "published_by",
            "updated_at",
        ]
    )
    entries.append(
        audit(
            framework,
            action="framework_publish",
            actor=actor,
            via=via,
            field="status",
            old=old,
            new=FrameworkStatus.PUBLISHED,
            reason=f"{framework.decision_number} {decision_date:%d/%m/%Y}",
        )
    )
    AuditEntry.objects.bulk_create(entries)
    results_recompute(framework)
    notify("framework_published", framework.pk)
    return framework


@transaction.atomic
def framework_step_back(
    *, framework: Framework, reason: str, actor: User | None = None, via: str = Via.WEB
) -> Framework:
    """Go back one phase, with a reason (audited). From published this is reopening: the framework is
    final again and every unit gets back its own status from before publication; its exclusion is
    withdrawn (a unit left out of the ranking by it is ranked again)."""
    framework = Framework.objects.select_for_update().select_related("authority").get(pk=framework.pk)
    if not (reason or "").strip():
        raise ServiceError(N_("Say why the framework goes back a step."), obj=framework, field="reason")
    previous = previous_phase(framework)
    if previous is None:
        raise WorkflowError(
            N_("Framework %(code)s is being prepared; there is no step to go back to."),
            obj=framework,
            field="status",
            params={"code": framework.code},
        )
    if framework.status != FrameworkStatus.PUBLISHED:
        return _move(
            framework, previous, actor=actor, via=via, reason=reason.strip(), action="framework_step_back"
        )
    unlock_published()  # reopening rewrites the published results (database guard, parindex.dbguard)
    restored = []
    for assessment in Assessment.objects.select_for_update().filter(framework=framework):
        if assessment.status_before_publication:
            assessment.status = assessment.status_before_publication
        left_out = assessment.excluded_reason and not assessment.ranked
        if left_out and assessment.not_ranked_reason == assessment.excluded_reason:  # by the exclusion only
            assessment.ranked, assessment.not_ranked_reason = True, ""
        assessment.status_before_publication, assessment.excluded_reason = "", ""
        restored.append(assessment)
    Assessment.objects.bulk_update(
        restored, ["status", "status_before_publication", "excluded_reason", "ranked", "not_ranked_reason"]
    )
    framework.published_at, framework.published_by = None, None
    _move(
        framework,
        previous,
        actor=actor,
        via=via,
        reason=reason.strip(),
        action="framework_reopen",
        fields=["published_at", "published_by"],
    )
    results_recompute(framework)
    return framework


@transaction.atomic
def framework_reopen(
    *, framework: Framework, reason: str, actor: User | None = None, via: str = Via.ADMIN
) -> Framework:
    """Reopen a published framework: one step back, to final (framework_step_back)."""
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    if not reason.strip():
        raise ServiceError(
            N_("Reopening a published framework needs a reason."), obj=framework, field="reason"
        )
    if framework.status != FrameworkStatus.PUBLISHED:
        raise WorkflowError(
            N_("Framework %(code)s is not published."), params={"code": framework.code}, obj=framework
        )
    return framework_step_back(framework=framework, reason=reason, actor=actor, via=via)


def framework_advance_to(
    *,
    framework: Framework,
    phase: str,
    appeal_deadline: datetime | None = None,
    actor: User | None = None,
    via: str = Via.COMMAND,
) -> Framework:
    """Walk a framework forward to `phase` (at most final: publication needs its decision), step by
    step through the services above, each with its checks: for a year whose rounds are over (load_demo,
    tests). The preliminary results are notified just before `appeal_deadline` (now by default) and the
    appeal window closed at it."""
    order = [s.value for s in FrameworkStatus]
    if order.index(phase) > order.index(FrameworkStatus.FINAL):
        raise ServiceError(
            N_("Publication needs a decision: publish through framework_publish."),
            obj=framework,
            field="status",
        )
    deadline = appeal_deadline or timezone.now()
    framework = Framework.objects.get(pk=framework.pk)
    while order.index(framework.status) < order.index(phase):
        status = framework.status
        if status == FrameworkStatus.DRAFT:
            framework = framework_open(framework=framework, actor=actor, via=via)
        elif status == FrameworkStatus.OPEN:
            framework = framework_start_appraisal(framework=framework, actor=actor, via=via)
        elif status == FrameworkStatus.APPRAISAL:
            framework = framework_notify_preliminary(
                framework=framework,
                appeal_deadline=deadline,
                actor=actor,
                via=via,
                now=deadline - timedelta(minutes=1),
            )
        elif status == FrameworkStatus.PRELIMINARY:
            framework = framework_close_appeals(framework=framework, actor=actor, via=via, now=deadline)
        else:
            framework = framework_finalise(framework=framework, actor=actor, via=via)
    return framework


# --- deadlines ----------------------------------------------------------------------------------------


@transaction.atomic
def framework_set_deadlines(
    *,
    framework: Framework,
    self_deadline: datetime | None,
    appraisal_deadline: datetime | None,
    actor: User | None = None,
    via: str = Via.WEB,
    version: int | None = None,
) -> Framework:
    """Set both deadlines. `version`: the framework's version the form read (settings changed since
    are refused, scoring.concurrency.StaleEdit)."""
    from scoring.concurrency import framework_stale

    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    framework_ensure_editable(framework)
    refuse([error for error in [framework_stale(framework, version)] if error])
    old = (framework.self_deadline, framework.appraisal_deadline)
    if old == (self_deadline, appraisal_deadline):
        return framework
    framework.self_deadline, framework.appraisal_deadline = self_deadline, appraisal_deadline
    framework.full_clean()
    framework.version += 1
    framework.save(update_fields=["self_deadline", "appraisal_deadline", "version", "updated_at"])
    for name, before, after in (
        ("self_deadline", old[0], self_deadline),
        ("appraisal_deadline", old[1], appraisal_deadline),
    ):
        if before != after:
            audit(
                framework,
                action="deadline",
                field=name,
                old=when_text(before),
                new=when_text(after),
                actor=actor,
                via=via,
            ).save()
    return framework


@transaction.atomic
def framework_copy(
    *,
    source: Framework,
    code: str,
    year: int,
    name: str,
    actor: User | None = None,
    via: str = Via.WEB,
) -> Framework:
    """Copy a framework's criteria tree (rules included), grade bands, options, unit kinds and ranking
    groups to a new year ("copy to next year")."""
    rows = criterion_rows(source)
    bands = [Band(b.name, b.min_index) for b in source.grade_bands.all()]
    framework = framework_create(
        code=code,
        authority=source.authority,
        unit_kind=source.unit_kind,
        unit_kinds=source.covered_kinds,
        year=year,
        name=name,
        rows=rows,
        bands=bands,
        index_decimals=source.index_decimals,
        legal_basis=source.legal_basis,
        index_capped=source.index_capped,
        survey_optional=source.survey_optional,
        actor=actor,
        via=via,
    )
    for group in source.ranking_groups.prefetch_related("units"):  # groups as they stood (valid there)
        copied = RankingGroup.objects.create(
            framework=framework, name=group.name, order=group.order, unit_kinds=list(group.unit_kinds)
        )
        copied.units.set(group.units.all())
    not_applicable_rules = dict(source.criteria.values_list("code", "allows_not_applicable"))
    for criterion in framework.criteria.all():
        if criterion.allows_not_applicable != not_applicable_rules.get(criterion.code, True):
            criterion.allows_not_applicable = not_applicable_rules[criterion.code]
            criterion.save(update_fields=["allows_not_applicable"])
    audit(
        framework, action="framework_copy", actor=actor, via=via, old=source.code, new=framework.code
    ).save()
    return framework


# --- framework settings, criteria and grade bands -------------------------------------------------------
#
# The settings of a framework that may be corrected after it was created (its name, legal basis,
# decimals of the index, index cap, optional survey, status), the wording and scoring rule of its
# criteria and its grade bands. The shape of the tree (codes, maxima, kinds, sources) comes from the
# framework file and is not edited here.

# The phase (status) is not a setting: it moves through the steps above.
FRAMEWORK_SETTINGS = ("name", "legal_basis", "index_decimals", "index_capped", "survey_optional")
RESULT_SETTINGS = ("index_decimals", "index_capped", "survey_optional")  # results follow them
CRITERION_TEXTS = ("title", "guidance", "allows_not_applicable", "rule")


def editable_framework(framework: Framework) -> Framework:
    """The framework locked for update; a published one is refused (framework_ensure_editable)."""
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    framework_ensure_editable(framework)
    return framework


def _clean_or_refuse(obj: Model, **kwargs: Any) -> None:
    """full_clean(), its ValidationError turned into ServiceErrors on the same fields."""
    try:
        obj.full_clean(**kwargs)
    except ServiceError:
        raise
    except ValidationError as error:
        raise ServiceError.group(
            ServiceError(
                "%(message)s",
                params={"message": text},
                obj=obj,
                field=None if name == NON_FIELD_ERRORS else name,
            )
            for name, texts in error.message_dict.items()
            for text in texts
        ) from error


@transaction.atomic
def framework_update(
    *,
    framework: Framework,
    changes: Mapping[str, object],
    actor: User | None = None,
    via: str = Via.WEB,
    version: int | None = None,
) -> Framework:
    """Correct settings of an unpublished framework (FRAMEWORK_SETTINGS), one audit row per changed field.
    The name and legal basis may be corrected until publication; the settings results follow only
    while the phase allows defining the framework (phases.Act.DEFINE).

    The phase is not a setting: it moves through its steps (framework_open … framework_publish).
    `version`: the framework's version the form read; settings changed since are refused (StaleEdit)."""
    from scoring.concurrency import framework_stale

    framework = editable_framework(framework)
    refuse([error for error in [framework_stale(framework, version)] if error])
    unknown = sorted(set(changes) - set(FRAMEWORK_SETTINGS))
    if unknown:
        raise ServiceError(
            N_("These framework fields cannot be changed here: %(fields)s."),
            params={"fields": ", ".join(unknown)},
            obj=framework,
            field=unknown[0],
        )
    old = {name: getattr(framework, name) for name in changes}
    changed = [name for name, value in changes.items() if value != old[name]]
    if not changed:
        return framework
    if any(name in RESULT_SETTINGS for name in changed):
        phase_ensure(framework, Act.DEFINE)  # how results are computed is settled once appraisal starts
    for name in changed:
        setattr(framework, name, changes[name])
    _clean_or_refuse(framework)
    framework.version += 1
    framework.save(update_fields=[*changed, "version", "updated_at"])
    AuditEntry.objects.bulk_create(
        audit(
            framework,
            action="framework_change",
            field=name,
            old=old[name],
            new=changes[name],
            actor=actor,
            via=via,
        )
        for name in changed
    )
    if any(name in RESULT_SETTINGS for name in changed):
        results_recompute(framework)  # the index is rounded, capped and based on these settings
    return framework


@transaction.atomic
def framework_delete(*, framework: Framework, actor: User | None = None, via: str = Via.WEB) -> None:
    """Delete an unpublished framework with its criteria, assessments, scores and results."""
    framework = editable_framework(framework)
    audit(
        framework, action="framework_delete", field="framework", old=framework.code, actor=actor, via=via
    ).save()
    framework.delete()


@transaction.atomic
def criterion_update(
    *, criterion: Criterion, changes: Mapping[str, object], actor: User | None = None, via: str = Via.WEB
) -> Criterion:
    """Correct the wording of a criterion of an unpublished framework (title, guidance), whether a
    unit may mark it not applicable, and a leaf's scoring rule (checked by parse_rule against its
    max points, stored in canonical text); one audit row per changed field."""
    framework = editable_framework(criterion.framework)
    phase_ensure(framework, Act.DEFINE)
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    unknown = sorted(set(changes) - set(CRITERION_TEXTS))
    if unknown:
        raise ServiceError(
            N_("These criterion fields cannot be changed here: %(fields)s."),
            params={"fields": ", ".join(unknown)},
            obj=criterion,
            field=unknown[0],
            criterion=criterion.code,
        )
    if "rule" in changes:
        changes = {**changes, "rule": _criterion_rule(criterion, changes["rule"])}
    old = {name: getattr(criterion, name) for name in changes}
    changed = [name for name, value in changes.items() if value != old[name]]
    if not changed:
        return criterion
    for name in changed:
        setattr(criterion, name, changes[name])
    _clean_or_refuse(criterion, exclude=["framework", "parent", "area"])
    criterion.save(update_fields=changed)
    AuditEntry.objects.bulk_create(
        audit(
            framework,
            criterion=criterion,
            action="criterion_change",
            field=name,
            old=old[name],
            new=changes[name],
            actor=actor,
            via=via,
        )
        for name in changed
    )
    return criterion


def _criterion_rule(criterion: Criterion, text: object) -> str:
    """The canonical text of a rule for this criterion ("" for points), or the refusal naming it."""
    try:
        rule = parse_rule(str(text or ""), criterion.max_points)
    except ServiceError as error:
        raise ServiceError(
            error.message_id,
            code=error.error_code,
            params=error.message_params,
            obj=criterion,
            field="rule",
            criterion=criterion.code,
        ) from error
    if rule == DEFAULT_RULE:
        canonical = ""
    elif not criterion.is_leaf:
        raise ServiceError(
            N_("Criterion %(code)s has children; a scoring rule belongs on a leaf criterion."),
            params={"code": criterion.code},
            obj=criterion,
            field="rule",
            criterion=criterion.code,
        )
    elif criterion.source == CriterionSource.SURVEY:
        raise survey_rule_error(criterion, criterion.code)
    else:
        canonical = rule.text()
    scored = Q(self_points__isnull=False) | Q(appraised_points__isnull=False)
    scored |= Q(self_raw__gt="") | Q(appraised_raw__gt="")
    if canonical != criterion.rule and Score.objects.filter(scored, criterion=criterion).exists():
        # Points already given under the old rule would no longer follow from their figures.
        raise ServiceError(
            N_("Criterion %(code)s has scores already; its scoring rule can no longer be changed."),
            code=ErrorCode.CONFLICT,
            params={"code": criterion.code},
            obj=criterion,
            field="rule",
            criterion=criterion.code,
        )
    return canonical


def _bands_text(bands: Iterable[Band | GradeBand]) -> str:
    """ "Xuất sắc:90, Tốt:80, …": the bands as the audit trail shows them (highest first)."""
    return ", ".join(
        f"{b.name}:{Decimal(b.min_index).normalize():f}"
        for b in sorted(bands, key=lambda b: -Decimal(b.min_index))
    )


@transaction.atomic
def grade_bands_set(
    *, framework: Framework, bands: Iterable[Band], actor: User | None = None, via: str = Via.WEB
) -> list[GradeBand]:
    """Replace the grade bands of an unpublished framework and regrade its results; one audit row
    with the bands before and after."""
    framework = editable_framework(framework)
    phase_ensure(framework, Act.DEFINE)
    bands = sorted(bands, key=lambda b: b.min_index, reverse=True)
    problems = []
    if len({b.name for b in bands}) != len(bands) or len({b.min_index for b in bands}) != len(bands):
        problems.append(
            ServiceError(
                N_("Grade bands must have different names and different minimum indices."),
                obj=framework,
                field="grade_bands",
            )
        )
    rows = [GradeBand(framework=framework, name=b.name.strip(), min_index=b.min_index) for b in bands]
    for row in rows:
        try:
            _clean_or_refuse(row, exclude=["framework"], validate_constraints=False)
        except ServiceError as error:
            problems += error.all()
    if problems:
        raise ServiceError.group(problems)
    before = list(framework.grade_bands.all())
    if _bands_text(before) == _bands_text(rows):
        return before
    framework.grade_bands.all().delete()
    GradeBand.objects.bulk_create(rows)
    audit(
        framework,
        action="grade_bands",
        field="grade_bands",
        old=_bands_text(before),
        new=_bands_text(rows),
        actor=actor,
        via=via,
    ).save()
    results_recompute(framework)
    return rows
