"""What a year's archive holds: the ordered list of the models of one framework and how to find
their rows (`export_year` / `import_year`, DESIGN §5).

Each `Part` names a model by its label ("scoring.Score") and a function giving the rows of one
framework. The order is the order of restoring: a row's foreign keys point only at rows of parts
above it (units → scoring → reports, the audit trail last). Models of apps above scoring are named
by label and fetched with `apps.get_model` when used, so this module imports none of them.

To back up a new model, add one line in the right place, e.g. the inspections of a framework::

    Part("scoring.Inspection", lambda fw: _model("scoring.Inspection").objects.filter(framework=fw)),

Its foreign keys (to units, users, criteria, assessments …), many-to-many fields and file fields
are found from the model and restored without further code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Model, Q, QuerySet

from scoring.models import Framework


def _model(label: str) -> type[Model]:
    return apps.get_model(label)


@dataclass(frozen=True)
class Part:
    """One model of the archive.

    `select(framework)` gives its rows (None for the parts found from the others: the users and
    units the other rows refer to, the memberships of those units).
    `key` names the fields that identify a row across databases (a natural key: a unit's code, a
    user's name). A row whose key is already in the database is reused rather than written; with
    `on_existing="refuse"` the whole archive is refused instead (a framework's code), or only when
    the row there differs in one of the fields `same` names (a unit of that code, another name)."""

    label: str
    select: Callable[[Framework], QuerySet] | None = None
    key: tuple[str, ...] = ()
    on_existing: str = "reuse"  # "reuse" or "refuse" (a one-field key)
    same: tuple[str, ...] = ()
    fields: tuple[str, ...] | None = None  # the fields written (None: every field)
    # Columns holding a plain id of another part's row (no foreign key): {column: label}; and a
    # column whose part is named by another column's value: {column: (type column, {type: label})}.
    id_columns: dict[str, str] = field(default_factory=dict)
    typed_id_columns: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)

    @property
    def model(self) -> type[Model]:
        return _model(self.label)


def _of_assessments(label: str) -> Callable[[Framework], QuerySet]:
    return lambda fw: _model(label).objects.filter(assessment__framework=fw)


def _of_framework(label: str) -> Callable[[Framework], QuerySet]:
    return lambda fw: _model(label).objects.filter(framework=fw)


# The audit trail keeps ids without foreign keys; a row's subject is a row of the part its type names.
AUDIT_SUBJECTS = {
    "unit": "units.Unit",
    "membership": "units.Membership",
    "framework": "scoring.Framework",
    "assessment": "scoring.Assessment",
    "score": "scoring.Score",
    "remediation": "reports.RemediationItem",
}

USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active")

REGISTRY: list[Part] = [
    # Users are written by username and names only (never a password): a missing one is restored
    # without a usable password; units by code, reused when the database has them identically.
    Part("auth.User", key=("username",), fields=USER_FIELDS),
    Part("units.Unit", key=("code",), on_existing="refuse", same=("name", "kind")),
    Part("units.Membership", key=("user", "unit", "role")),  # of the units involved
    Part(
        "scoring.Framework",
        lambda fw: Framework.objects.filter(pk=fw.pk),
        key=("code",),
        on_existing="refuse",
    ),
    Part("scoring.RankingGroup", _of_framework("scoring.RankingGroup")),
    Part("scoring.Criterion", _of_framework("scoring.Criterion")),
    Part("scoring.GradeBand", _of_framework("scoring.GradeBand")),
    Part("scoring.Assessment", _of_framework("scoring.Assessment")),
    Part("scoring.Score", _of_assessments("scoring.Score")),
    Part(
        "scoring.Evidence",
        lambda fw: _model("scoring.Evidence").objects.filter(score__assessment__framework=fw),
    ),
    Part("scoring.AssessmentResult", _of_framework("scoring.AssessmentResult")),
    Part("scoring.AreaResult", _of_framework("scoring.AreaResult")),
    Part("scoring.DeadlineReminder", _of_assessments("scoring.DeadlineReminder")),
    Part(
        "scoring.ImportRecord",
        lambda fw: _model("scoring.ImportRecord").objects.filter(
            Q(framework=fw) | Q(assessment__framework=fw)
        ),
    ),
    Part("scoring.Appeal", _of_framework("scoring.Appeal")),
    Part("scoring.CouncilMember", _of_framework("scoring.CouncilMember")),
    Part("scoring.CouncilMinutes", _of_framework("scoring.CouncilMinutes")),
    Part("scoring.CouncilSignOff", _of_framework("scoring.CouncilSignOff")),
    Part("reports.RemediationItem", _of_assessments("reports.RemediationItem")),
    Part(
        "audit.AuditEntry",
        lambda fw: _model("audit.AuditEntry").objects.filter(framework_id=fw.pk),
        id_columns={
            "framework_id": "scoring.Framework",
            "assessment_id": "scoring.Assessment",
            "unit_id": "units.Unit",
            "criterion_id": "scoring.Criterion",
        },
        typed_id_columns={"subject_id": ("subject_type", AUDIT_SUBJECTS)},
    ),
]


def part_of(label: str) -> Part:
    return next(part for part in REGISTRY if part.label.lower() == label.lower())


def units_involved(framework: Framework, referenced: Iterable[int]) -> QuerySet:
    """The units a year's archive needs: the framework's authority, every unit referenced by its rows
    (assessed units, ranking groups, council offices), the units they were formed from as far back as
    recorded, and every ancestor of all these (a unit is restored under its parent)."""
    unit_model = _model("units.Unit")
    wanted: set[int] = {framework.authority_id, *referenced}
    frontier = set(wanted)
    while frontier:
        rows = unit_model.objects.filter(pk__in=frontier).values_list("pk", "parent_id")
        predecessors = unit_model.predecessors.through.objects.filter(from_unit_id__in=frontier).values_list(
            "to_unit_id", flat=True
        )
        found = {parent for _pk, parent in rows if parent} | set(predecessors)
        frontier = found - wanted
        wanted |= found
    return unit_model.objects.filter(pk__in=wanted)


def id_of(value: Any) -> Any:
    return getattr(value, "pk", value)
