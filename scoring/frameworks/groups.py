"""Ranking groups of a framework and units assessed but not ranked (DESIGN §2.2).

A framework may rank groups of its units apart (wards apart from communes): a group names unit
kinds and/or units; a unit listed by name belongs to that group whatever its kind, else to the group
of its kind, else to none (the units in no group are ranked together). Each assessment stores its
group (`Assessment.ranking_group`), so that the engine ranks with one PARTITION BY. A unit may also be
assessed but not ranked (newly formed, exempted by the decision): it keeps its results, holds no
place and is left out of the others' ranks.

Every write is atomic, audited, refused on a published framework and followed by a recompute.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from scoring.frameworks.phases import Act, phase_ensure
from scoring.frameworks.services import audit, editable_framework, refuse
from scoring.models import Assessment, Framework, RankingGroup, Via
from scoring.results.engine import results_recompute
from units.models import Unit, UnitKind


@dataclass(frozen=True)
class GroupSpec:
    """A ranking group as given: its name, the kinds of unit and the codes of units it holds."""

    name: str
    unit_kinds: tuple[str, ...] = ()
    unit_codes: tuple[str, ...] = ()


def parse_groups(text: str) -> list[GroupSpec]:
    """ "Xã:commune,special_zone;Phường:ward" → groups. Each item after the colon is the code of an
    existing unit (exactly as written: unit "XA" is not the kind "xã"), else a unit kind (any name
    UnitKind.parse knows), else a unit code the service reports as unknown. Raises ServiceError
    naming a malformed part."""
    parts = [p for p in str(text or "").split(";") if p.strip()]
    items_given = [i.strip() for p in parts for i in p.partition(":")[2].split(",") if i.strip()]
    unit_codes = set(Unit.objects.filter(code__in=items_given).values_list("code", flat=True))
    groups: list[GroupSpec] = []
    for part in parts:
        name, sep, items = part.partition(":")
        if not sep or not name.strip() or not items.strip():
            raise ServiceError(
                N_(
                    "Ranking group %(part)r should look like 'Phường:ward' (name, colon, unit kinds or unit codes)."
                ),
                params={"part": part.strip()},
                field="groups",
            )
        kinds: list[str] = []
        codes: list[str] = []
        for item in [i.strip() for i in items.split(",") if i.strip()]:
            kind = None if item in unit_codes else UnitKind.parse(item)
            if kind is not None:
                kinds.append(kind.value)
            else:
                codes.append(item)
        groups.append(GroupSpec(name.strip(), tuple(dict.fromkeys(kinds)), tuple(dict.fromkeys(codes))))
    return groups


def groups_text(framework: Framework) -> str:
    """The framework's groups written as `--groups` takes them ("" without groups)."""
    parts = []
    for group in framework.ranking_groups.prefetch_related("units"):
        items = [*group.unit_kinds, *sorted(u.code for u in group.units.all())]
        parts.append(f"{group.name}:{','.join(items)}")
    return ";".join(parts)


@dataclass
class GroupResolver:
    """Which group of a framework a unit is ranked in: by name first, else by kind, else none."""

    by_unit: dict[int, RankingGroup] = field(default_factory=dict)
    by_kind: dict[str, RankingGroup] = field(default_factory=dict)

    @classmethod
    def of(cls, framework: Framework) -> "GroupResolver":
        resolver = cls()
        for group in RankingGroup.objects.filter(framework=framework).prefetch_related("units"):
            for kind in group.unit_kinds:
                resolver.by_kind.setdefault(kind, group)
            for unit in group.units.all():
                resolver.by_unit.setdefault(unit.pk, group)
        return resolver

    def group_for(self, unit: Unit) -> RankingGroup | None:
        return self.by_unit.get(unit.pk) or self.by_kind.get(unit.kind)


def _group_problems(
    framework: Framework, groups: Sequence[GroupSpec]
) -> tuple[dict[str, Unit], list[ServiceError]]:
    problems: list[ServiceError] = []
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        problems.append(ServiceError(N_("Ranking groups must have different names."), field="groups"))
    codes = [code for g in groups for code in g.unit_codes]
    units = {u.code: u for u in Unit.objects.filter(code__in=codes)}
    seen_kinds: set[str] = set()
    for group in groups:
        if not group.unit_kinds and not group.unit_codes:
            problems.append(
                ServiceError(
                    N_("Ranking group %(group)s names no unit kind and no unit."),
                    params={"group": group.name},
                    field="groups",
                )
            )
        for kind in group.unit_kinds:
            if not framework.covers(kind):
                problems.append(
                    ServiceError(
                        N_(
                            "Ranking group %(group)s: framework %(code)s does not assess units of kind %(kind)s."
                        ),
                        params={"group": group.name, "code": framework.code, "kind": UnitKind(kind).label},
                        field="groups",
                    )
                )
            if kind in seen_kinds:
                problems.append(
                    ServiceError(
                        N_("Unit kind %(kind)s is in two ranking groups."),
                        params={"kind": UnitKind(kind).label},
                        field="groups",
                    )
                )
            seen_kinds.add(kind)
        for code in group.unit_codes:
            if code not in units:
                problems.append(
                    ServiceError(
                        N_("Ranking group %(group)s: unknown unit %(unit)s."),
                        code=ErrorCode.NOT_FOUND,
                        params={"group": group.name, "unit": code},
                        field="groups",
                    )
                )
    if len(set(codes)) != len(codes):
        problems.append(ServiceError(N_("A unit is named in two ranking groups."), field="groups"))
    return units, problems


def framework_groups_problems(framework: Framework, groups: Sequence[GroupSpec]) -> list[ServiceError]:
    """Every reason framework_set_groups would refuse these groups (reads, writes nothing)."""
    return _group_problems(framework, groups)[1]


def assessments_regroup(framework: Framework, assessments: Iterable[Assessment] | None = None) -> None:
    """Store in each assessment the group its unit is ranked in (all of the framework's by default)."""
    resolver = GroupResolver.of(framework)
    rows = (
        list(Assessment.objects.filter(framework=framework).select_related("unit"))
        if assessments is None
        else list(assessments)
    )
    changed = []
    for assessment in rows:
        group = resolver.group_for(assessment.unit)
        group_id = group.pk if group else None
        if assessment.ranking_group_id != group_id:
            assessment.ranking_group_id = group_id
            changed.append(assessment)
    if changed:
        Assessment.objects.bulk_update(changed, ["ranking_group"], batch_size=500)


@transaction.atomic
def framework_set_groups(
    *,
    framework: Framework,
    groups: Sequence[GroupSpec],
    actor: User | None = None,
    via: str = Via.WEB,
    recompute: bool = True,
) -> list[RankingGroup]:
    """Replace the framework's ranking groups (an empty list: one ranking for all its units), place
    every assessment in its group and re-rank. Refused on a published framework, for a kind the
    framework does not assess, an unknown unit, a kind or unit in two groups, two groups of one name."""
    framework = editable_framework(framework)
    phase_ensure(framework, Act.DEFINE)
    units, problems = _group_problems(framework, groups)
    refuse(problems)
    before = groups_text(framework)
    framework.ranking_groups.all().delete()
    created = []
    for order, spec in enumerate(groups, start=1):
        group = RankingGroup(
            framework=framework, name=spec.name, order=order, unit_kinds=list(spec.unit_kinds)
        )
        group.full_clean(exclude=["framework"])
        group.save()
        if spec.unit_codes:
            group.units.set([units[code] for code in spec.unit_codes])
        created.append(group)
    assessments_regroup(framework)
    after = groups_text(framework)
    if after != before:
        audit(
            framework,
            action="framework_set_groups",
            actor=actor,
            via=via,
            field="groups",
            old=before,
            new=after,
        ).save()
    if recompute:
        results_recompute(framework)
    return created


@transaction.atomic
def assessment_set_ranked(
    *,
    assessment: Assessment,
    ranked: bool,
    reason: str = "",
    actor: User | None = None,
    via: str = Via.WEB,
) -> Assessment:
    """Rank a unit again, or leave it assessed but not ranked (a reason is required): it keeps its
    results, holds no place and is left out of the other units' ranks."""
    assessment = (
        Assessment.objects.select_for_update().select_related("framework", "unit").get(pk=assessment.pk)
    )
    framework = editable_framework(assessment.framework)
    reason = (reason or "").strip()
    if not ranked and not reason:
        raise ServiceError(
            N_("Give the reason why unit %(unit)s is assessed but not ranked."),
            params={"unit": assessment.unit.code},
            obj=assessment,
            field="not_ranked_reason",
        )
    new_reason = "" if ranked else reason
    if assessment.ranked == ranked and assessment.not_ranked_reason == new_reason:
        return assessment
    old = "ranked" if assessment.ranked else "not ranked"
    assessment.ranked, assessment.not_ranked_reason = ranked, new_reason
    assessment.full_clean(exclude=["unit", "framework", "ranking_group"])
    assessment.save(update_fields=["ranked", "not_ranked_reason", "updated_at"])
    audit(
        framework,
        assessment=assessment,
        action="assessment_set_ranked",
        actor=actor,
        via=via,
        field="ranked",
        old=old,
        new="ranked" if ranked else "not ranked",
        reason=new_reason,
    ).save()
    results_recompute(framework)
    return assessment
