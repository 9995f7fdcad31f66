"""Who is who on an inspection: the one rule the services and scoring.access share.

- the authority's office: its appraisers (a membership at or above the plan's authority) plan, schedule
  and set teams, and close recommendations; its leaders read;
- a visit's team: its members record findings and recommendations, its leader (an appraiser or leader
  of the authority's Home Affairs office) shares the draft findings and concludes;
- the unit inspected: its officers read the visit once the draft findings are shared, respond, and
  report recommendations fixed.
"""

from units.models import Membership, Role, Unit


def _paths(user, roles) -> list[str]:
    return list(Membership.objects.filter(user=user, role__in=roles).values_list("unit__path", flat=True))


def office_of(user, authority: Unit, roles=(Role.APPRAISER,)) -> bool:
    """Whether the user belongs to the authority's office in one of `roles` (at or above it)."""
    if user is None or not getattr(user, "pk", None):
        return False
    if user.is_superuser:
        return True
    return any(authority.path.startswith(path) for path in _paths(user, roles))


def may_lead_team(user, authority: Unit) -> bool:
    """A team is led by a Home Affairs leader or appraiser of the authority (superusers are no leaders)."""
    return bool(user is not None and getattr(user, "pk", None)) and any(
        authority.path.startswith(path) for path in _paths(user, (Role.APPRAISER, Role.LEADER))
    )


def team_role(user, visit) -> str | None:
    """ "leader", "member", or None for who is not on the visit's team."""
    if user is None or not getattr(user, "pk", None):
        return None
    for member in visit.team.all():
        if member.user_id == user.pk:
            return "leader" if member.is_leader else "member"
    return None


def is_unit_officer(user, unit: Unit) -> bool:
    if user is None or not getattr(user, "pk", None):
        return False
    return Membership.objects.filter(user=user, unit=unit, role=Role.OFFICER).exists()
