from django.db.models import QuerySet

from units.models import Unit


def unit_subtree(unit: Unit) -> QuerySet[Unit]:
    """The unit and every unit under it: one prefix filter on the materialised path."""
    return Unit.objects.filter(path__startswith=unit.path)
