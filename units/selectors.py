from django.db.models import Q, QuerySet

from .models import Membership, Role, Unit


def unit_subtree(unit: Unit) -> QuerySet[Unit]:
    """The unit and every unit under it: one prefix filter on the materialised path."""
    return Unit.objects.filter(path__startswith=unit.path)


def units_under_authority(user, roles=(Role.APPRAISER, Role.LEADER)) -> QuerySet[Unit]:
    """Units a user reaches through appraiser/leader memberships (their units and descendants)."""
    if user.is_superuser:
        return Unit.objects.all()
    paths = list(Membership.objects.filter(user=user, role__in=roles).values_list("unit__path", flat=True))
    if not paths:
        return Unit.objects.none()
    condition = Q()
    for path in paths:
        condition |= Q(path__startswith=path)
    return Unit.objects.filter(condition)


def units_of_officer(user) -> QuerySet[Unit]:
    return Unit.objects.filter(memberships__user=user, memberships__role=Role.OFFICER)
