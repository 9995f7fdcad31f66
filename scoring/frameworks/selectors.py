"""Reads of frameworks: a framework by code, and its criteria tree in order, grouped by area (one
query) — the one tree every page, workbook and report reads.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from scoring.frameworks.rules import parse_rule
from scoring.models import (
    Assessment,
    Criterion,
    CriterionKind,
    CriterionSource,
    Framework,
)
from units.models import Unit


def framework_by_code(code: str) -> Framework:
    return Framework.objects.select_related("authority").get(code=code)


def framework_units(framework: Framework) -> QuerySet[Unit]:
    """Units the framework assesses: those of the kinds it covers under its authority that are active in
    its year and not assessed in another framework of the authority that year (a unit is assessed in
    one framework a year), and any unit that already has an assessment in it. One query."""
    active = (Q(active_from__isnull=True) | Q(active_from__lte=framework.year)) & (
        Q(active_to__isnull=True) | Q(active_to__gte=framework.year)
    )
    elsewhere = (
        Assessment.objects.filter(
            framework__authority_id=framework.authority_id, framework__year=framework.year
        )
        .exclude(framework=framework)
        .values("unit_id")
    )
    expected = (
        Q(path__startswith=framework.authority.path, kind__in=framework.covered_kinds)
        & active
        & ~Q(pk__in=elsewhere)
    )
    return Unit.objects.filter(expected | Q(assessments__framework=framework)).distinct().order_by("code")


# --- the criteria tree ----------------------------------------------------------------------------------


@dataclass
class TreeArea:
    """An area (depth 0) and the criteria under it in tree order; an area that is itself a leaf is
    its own only node."""

    area: Criterion
    nodes: list[Criterion]


@dataclass
class CriteriaTree:
    """The criteria of one framework in tree order (area → criterion → sub-criterion)."""

    criteria: list[Criterion]

    def __iter__(self) -> Iterator[Criterion]:
        return iter(self.criteria)

    def __len__(self) -> int:
        return len(self.criteria)

    @cached_property
    def by_id(self) -> dict[int | None, Criterion]:
        return {criterion.pk: criterion for criterion in self.criteria}

    @cached_property
    def areas(self) -> list[TreeArea]:
        parts: dict[int | None, TreeArea] = {}
        for criterion in self.criteria:
            if criterion.depth == 0:
                parts[criterion.pk] = TreeArea(criterion, [])
                if not criterion.is_leaf:
                    continue
            parts[criterion.area_id].nodes.append(criterion)
        return list(parts.values())

    @property
    def scored_areas(self) -> list[Criterion]:
        """Areas of kind score: those with stored area results (bonus and penalty have none)."""
        return [part.area for part in self.areas if part.area.kind == CriterionKind.SCORE]

    @property
    def leaves(self) -> list[Criterion]:
        return [criterion for criterion in self.criteria if criterion.is_leaf]

    @cached_property
    def _children(self) -> dict[int | None, list[Criterion]]:
        children: dict[int | None, list[Criterion]] = defaultdict(list)
        for criterion in self.criteria:
            children[criterion.parent_id].append(criterion)
        return children

    def children_of(self, criterion: Criterion) -> list[Criterion]:
        return self._children.get(criterion.pk, [])

    def area_of(self, criterion: Criterion) -> Criterion:
        return self.by_id[criterion.area_id]


def criteria_tree(framework: Framework | int) -> CriteriaTree:
    """The framework's criteria in tree order. One query."""
    framework_id = framework if isinstance(framework, int) else framework.pk
    return CriteriaTree(list(Criterion.objects.filter(framework_id=framework_id).order_by("order")))


# --- how a leaf is scored -------------------------------------------------------------------------------


def source_note(criterion: Criterion) -> str:
    """Who scores a leaf, in the active language (criteria tree, guidance)."""
    if criterion.source == CriterionSource.OFFICE:
        return gettext("Scored by the appraising office")
    if criterion.source == CriterionSource.SURVEY:
        return gettext("Sociological survey")
    return gettext("Self-assessed by the unit, appraised by the office")


def rule_description(criterion: Criterion) -> str:
    """How a leaf's points are given (its scoring rule's `describe()`); "" for a parent."""
    return parse_rule(criterion.rule).describe() if criterion.is_leaf else ""
