"""Writes of frameworks: the criteria tree, grade bands, settings, deadlines, publication and
reopening, copy to next year. Every write is atomic, audited and refused on a published framework;
the shared refusals (FrameworkLocked, WorkflowError) and the audit and notification helpers of the
scoring domain live here, below the assessment services.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.translation import gettext_noop as N_

from parindex.audit.models import AuditEntry
from parindex.audit.services import audit_entry
from parindex.dbguard import unlock_published
from parindex.errors import ErrorCode, ServiceError
from parindex.queue import enqueue_on_commit
from scoring.frameworks.rules import DEFAULT as DEFAULT_RULE
from scoring.frameworks.rules import parse_rule
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


class FrameworkLocked(ServiceError):
    """The framework is published: nothing of it may change until it is reopened."""

    def __init__(self, framework: Framework) -> None:
        super().__init__(
            N_("Framework %(code)s is published (decision %(decision)s); it can no longer be changed."),
            code=ErrorCode.LOCKED,
            obj=framework,
            params={"code": framework.code, "decision": framework.decision_number},
        )


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


def framework_code_problems(code: str) -> list[ServiceError]:
    """Why a new framework may not take this code: it exists already (or is published)."""
    existing = Framework.objects.filter(code=code).first()
    if existing is None:
        return []
    if existing.status == FrameworkStatus.PUBLISHED:
        return [FrameworkLocked(existing)]
    return [
        ServiceError(
            N_("A framework with code %(code)s exists already; choose another code."),
            code=ErrorCode.CONFLICT,
            params={"code": code},
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
                        kind=kid.kind,
                        parent=code,
                        pkind=parent.kind,
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


@transaction.atomic
def framework_publish(
    *,
    framework: Framework,
    decision_number: str,
    decision_date: date,
    actor: User | None = None,
    via: str = Via.WEB,
) -> Framework:
    unlock_published()  # publication stores the final results (database guard, scoring migration 0012)
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    framework_ensure_editable(framework)
    if not decision_number.strip() or not decision_date:
        raise ServiceError(
            N_("Publication needs a decision number and a decision date."),
            obj=framework,
            field="decision_number" if not decision_number.strip() else "decision_date",
        )
    framework.status = FrameworkStatus.PUBLISHED
    framework.decision_number = decision_number.strip()
    framework.decision_date = decision_date
    framework.published_at = timezone.now()
    framework.published_by = actor if getattr(actor, "pk", None) else None
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
    Assessment.objects.filter(framework=framework).update(
        status=AssessmentStatus.PUBLISHED, updated_at=timezone.now()
    )
    audit(
        framework,
        action="framework_publish",
        actor=actor,
        via=via,
        field="status",
        old="open",
        new="published",
        reason=f"{framework.decision_number} {decision_date:%d/%m/%Y}",
    ).save()
    results_recompute(framework)
    notify("framework_published", framework.pk)
    return framework


@transaction.atomic
def framework_reopen(
    *, framework: Framework, reason: str, actor: User | None = None, via: str = Via.ADMIN
) -> Framework:
    unlock_published()  # reopening rewrites the published results (database guard, scoring migration 0012)
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    if not reason.strip():
        raise ServiceError(
            N_("Reopening a published framework needs a reason."), obj=framework, field="reason"
        )
    if framework.status != FrameworkStatus.PUBLISHED:
        raise WorkflowError(
            N_("Framework %(code)s is not published."), params={"code": framework.code}, obj=framework
        )
    framework.status = FrameworkStatus.OPEN
    framework.save(update_fields=["status", "updated_at"])
    Assessment.objects.filter(framework=framework, status=AssessmentStatus.PUBLISHED).update(
        status=AssessmentStatus.APPRAISED, updated_at=timezone.now()
    )
    audit(
        framework,
        action="framework_reopen",
        actor=actor,
        via=via,
        field="status",
        old="published",
        new="open",
        reason=reason,
    ).save()
    results_recompute(framework)
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
) -> Framework:
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    framework_ensure_editable(framework)
    old = (framework.self_deadline, framework.appraisal_deadline)
    framework.self_deadline, framework.appraisal_deadline = self_deadline, appraisal_deadline
    framework.full_clean()
    framework.save(update_fields=["self_deadline", "appraisal_deadline", "updated_at"])
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


def when_text(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else ""


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

FRAMEWORK_SETTINGS = ("name", "legal_basis", "index_decimals", "index_capped", "survey_optional", "status")
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
    *, framework: Framework, changes: Mapping[str, object], actor: User | None = None, via: str = Via.WEB
) -> Framework:
    """Correct settings of an unpublished framework (FRAMEWORK_SETTINGS), one audit row per changed field.

    Publishing is not a setting: it needs a decision (framework_publish)."""
    framework = editable_framework(framework)
    unknown = sorted(set(changes) - set(FRAMEWORK_SETTINGS))
    if unknown:
        raise ServiceError(
            N_("These framework fields cannot be changed here: %(fields)s."),
            params={"fields": ", ".join(unknown)},
            obj=framework,
            field=unknown[0],
        )
    if changes.get("status") == FrameworkStatus.PUBLISHED:
        raise ServiceError(
            N_("Publication needs a decision number and a decision date."),
            code=ErrorCode.WORKFLOW,
            obj=framework,
            field="status",
        )
    old = {name: getattr(framework, name) for name in changes}
    changed = [name for name, value in changes.items() if value != old[name]]
    if not changed:
        return framework
    for name in changed:
        setattr(framework, name, changes[name])
    _clean_or_refuse(framework)
    framework.save(update_fields=[*changed, "updated_at"])
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
