"""Which leaves a council member appraises: the one rule (DESIGN §2.3, issue 13).

A member of a framework's appraisal council who is not one of the authority's own appraisers
appraises only the leaves under the areas assigned to them, for every unit of the framework. The
appraisal services (scoring.assessments.services: scores, not applicable decisions, hence the row
page, its htmx row, the cross-unit grid, uploads and commands) refuse any other leaf with
`council_scope_errors`; scoring.access lets council members reach the appraisal tools at all.
"""

from collections.abc import Iterable

from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from scoring.council.models import CouncilMember
from units.models import Membership, Role


def appraises_authority(user, framework) -> bool:
    """One of the framework's own appraisers (a membership at or above its authority), or a superuser:
    the same rule as scoring.access.Reach.appraises on the framework's authority."""
    if user.is_superuser:
        return True
    path = framework.authority.path
    paths = Membership.objects.filter(user=user, role=Role.APPRAISER).values_list("unit__path", flat=True)
    return any(path.startswith(p) for p in paths)


def council_member(user, framework) -> CouncilMember | None:
    if user is None or not getattr(user, "pk", None):
        return None
    return CouncilMember.objects.filter(framework=framework, user=user).first()


def council_areas(user, framework) -> frozenset[int] | None:
    """The ids of the areas `user` may appraise in `framework`, or None when the council does not
    limit them: no user (a command run without --user), the authority's appraisers, superusers, and
    whoever is not on the council (scoring.access decides whether they appraise at all)."""
    member = council_member(user, framework)
    if member is None or appraises_authority(user, framework):
        return None
    return frozenset(member.areas.values_list("pk", flat=True))


def council_scope_errors(user, framework, leaves: Iterable) -> list[ServiceError]:
    """A refusal for each leaf outside the areas assigned to a council member (see council_areas)."""
    areas = council_areas(user, framework)
    if areas is None:
        return []
    return [
        ServiceError(
            N_(
                "%(code)s is outside the areas assigned to you on the appraisal council; "
                "only the members assigned to its area appraise it."
            ),
            code=ErrorCode.FORBIDDEN,
            params={"code": leaf.code},
            obj=leaf,
            field="appraised_points",
            criterion=leaf.code,
        )
        for leaf in leaves
        if leaf.area_id not in areas
    ]
