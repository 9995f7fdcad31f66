"""The one builder of audit rows. Every service that changes something records it through here.

`audit_entry` returns an unsaved row (for `AuditEntry.objects.bulk_create`), `audit_record` saves one.
Both take model instances (a framework, an assessment, a unit, a criterion) or bare ids, and copy the
ids and codes into the row's own columns, so the row outlives what it describes.
"""

from __future__ import annotations

from typing import Any

from parindex.audit.models import AuditEntry, Subject, Via


def _id(value: Any) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else value.pk


def _code(value: Any) -> str:
    return "" if value is None or isinstance(value, int) else str(getattr(value, "code", "") or "")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def actor_name(actor: Any) -> str:
    """The name kept beside the actor's id: their full name, else their username."""
    if actor is None or not getattr(actor, "pk", None):
        return ""
    return (actor.get_full_name() or actor.get_username())[:150]


def audit_entry(
    *,
    action: str,
    actor: Any = None,
    via: str = Via.SYSTEM,
    subject_type: str | None = None,
    subject: Any = None,
    subject_label: str = "",
    framework: Any = None,
    assessment: Any = None,
    unit: Any = None,
    criterion: Any = None,
    field: str = "",
    old: Any = "",
    new: Any = "",
    reason: str | None = "",
) -> AuditEntry:
    """An unsaved audit row. `framework`, `assessment`, `unit`, `criterion` are instances or ids;
    the assessment's framework and unit fill in what is not given. `subject_type` defaults to the
    most specific of score (a criterion), assessment, framework and unit."""
    if assessment is not None and not isinstance(assessment, int):
        framework = framework if framework is not None else assessment.framework
        unit = unit if unit is not None else assessment.unit
    if subject_type is None:
        subject_type = (
            Subject.SCORE
            if criterion is not None and assessment is not None
            else Subject.ASSESSMENT
            if assessment is not None
            else Subject.FRAMEWORK
            if framework is not None
            else Subject.UNIT
        )
    has_actor = actor is not None and bool(getattr(actor, "pk", None))
    return AuditEntry(
        actor=actor if has_actor else None,
        actor_name=actor_name(actor),
        via=via,
        action=action,
        subject_type=subject_type,
        subject_id=_id(subject),
        subject_label=subject_label[:200],
        framework_id=_id(framework),
        framework_code=_code(framework),
        assessment_id=_id(assessment),
        unit_id=_id(unit),
        unit_code=_code(unit),
        criterion_id=_id(criterion),
        criterion_code=_code(criterion),
        field=field,
        old_value=_text(old),
        new_value=_text(new),
        reason=reason or "",
    )


def audit_record(**kwargs: Any) -> AuditEntry:
    """Build and save one audit row (the arguments of `audit_entry`)."""
    entry = audit_entry(**kwargs)
    entry.save()
    return entry
