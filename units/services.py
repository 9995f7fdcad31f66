"""Writes to the unit tree. Paths are kept here, so selectors can filter a subtree by prefix."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr

from .models import Membership, Unit


def _path_for(unit: Unit) -> str:
    return (unit.parent.path if unit.parent_id else "/") + f"{unit.pk}/"


@transaction.atomic
def unit_save(
    *,
    code: str,
    name: str,
    kind: str,
    parent: Unit | None = None,
    active_from: int | None = None,
    active_to: int | None = None,
    predecessors: Iterable[Unit] | None = None,
) -> tuple[Unit, bool]:
    """Create the unit with this code, or update it. Returns (unit, created)."""
    unit = Unit.objects.select_for_update().filter(code=code).first()
    created = unit is None
    if created:
        unit = Unit(code=code)
    old_path = unit.path
    unit.name, unit.kind, unit.parent = name, kind, parent
    unit.active_from, unit.active_to = active_from, active_to
    unit.full_clean(exclude=["path"], validate_unique=created)
    unit.save()
    new_path = _path_for(unit)
    if new_path != old_path:
        Unit.objects.filter(pk=unit.pk).update(path=new_path)
        if old_path:
            # Move the whole subtree in one statement: replace the old prefix with the new one.
            Unit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk).update(
                path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
            )
        unit.path = new_path
    if predecessors is not None:
        unit.predecessors.set(list(predecessors))
    return unit, created


@transaction.atomic
def membership_grant(*, user, unit: Unit, role: str) -> Membership:
    membership, _ = Membership.objects.get_or_create(user=user, unit=unit, role=role)
    return membership
