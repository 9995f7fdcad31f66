from django.db.models import QuerySet

from units.models import Role, Unit


def unit_subtree(unit: Unit) -> QuerySet[Unit]:
    """The unit and every unit under it: one prefix filter on the materialised path."""
    return Unit.objects.filter(path__startswith=unit.path)


def units_of_officer(user) -> QuerySet[Unit]:
    return Unit.objects.filter(memberships__user=user, memberships__role=Role.OFFICER)
