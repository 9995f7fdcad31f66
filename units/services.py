"""Writes to the unit tree and to memberships. Every change is checked here, refused with a
ServiceError naming the field, and recorded in the audit trail (who, via which path, old → new).

Paths are kept here too, so selectors can filter a subtree by prefix: a move rewrites the whole
subtree's paths in one statement.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext_noop as N_

from parindex.audit.models import AuditEntry, Subject, Via
from parindex.audit.services import audit_entry
from parindex.errors import ErrorCode, ServiceError
from units.models import Membership, Role, Unit, UnitKind, unit_code_validator

# The fields of a unit that unit_update changes; the parent and predecessors have their own services.
UNIT_FIELDS = ("name", "kind", "active_from", "active_to")


def _path_for(unit: Unit) -> str:
    if not unit.parent_id:
        return f"/{unit.pk}/"
    parent = unit.parent
    assert parent is not None  # parent_id is set
    return parent.path + f"{unit.pk}/"


def _codes(units: Iterable[Unit]) -> str:
    return ";".join(sorted(u.code for u in units))


def _unit_audit(
    unit: Unit,
    action: str,
    *,
    actor: User | None,
    via: str,
    field: str = "",
    old: Any = "",
    new: Any = "",
    reason: str = "",
) -> AuditEntry:
    return audit_entry(
        action=action,
        subject_type=Subject.UNIT,
        subject=unit,
        unit=unit,
        field=field,
        old=old,
        new=new,
        reason=reason,
        actor=actor,
        via=via,
    )


def _refuse_model_errors(unit: Unit, *, exclude: list[str], validate_unique: bool = False) -> None:
    """full_clean for what the explicit checks leave (lengths, choices), as ServiceErrors per field."""
    try:
        unit.full_clean(exclude=exclude, validate_unique=validate_unique)
    except ValidationError as exc:
        raise ServiceError.group(
            ServiceError(message, obj=unit, field=None if name == "__all__" else name)
            for name, messages in exc.message_dict.items()
            for message in messages
        ) from exc


def _check_fields(unit: Unit) -> None:
    errors = []
    if not (unit.name or "").strip():
        errors.append(ServiceError(N_("A unit needs a name."), obj=unit, field="name"))
    if unit.kind not in UnitKind.values:
        errors.append(
            ServiceError(
                N_("Unknown unit kind %(kind)s."), params={"kind": unit.kind}, obj=unit, field="kind"
            )
        )
    if unit.active_from and unit.active_to and unit.active_to < unit.active_from:
        errors.append(
            ServiceError(N_("The last active year is before the first."), obj=unit, field="active_to")
        )
    if errors:
        raise ServiceError.group(errors)


def _check_parent(unit: Unit, parent: Unit | None) -> None:
    if parent is None or unit.pk is None:
        return
    if parent.pk == unit.pk:
        raise ServiceError(N_("A unit cannot be its own parent."), obj=unit, field="parent")
    if unit.path and parent.path.startswith(unit.path):
        raise ServiceError(
            N_("A unit cannot be placed under one of its own descendants."), obj=unit, field="parent"
        )


def _place(unit: Unit) -> None:
    """Write the unit's path, and its subtree's when it moved."""
    old_path = unit.path
    new_path = _path_for(unit)
    if new_path == old_path:
        return
    Unit.objects.filter(pk=unit.pk).update(path=new_path)
    if old_path:
        # Move the whole subtree in one statement: replace the old prefix with the new one.
        Unit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
        )
    unit.path = new_path


# --- units --------------------------------------------------------------------------------------------


@transaction.atomic
def unit_create(
    *,
    code: str,
    name: str,
    kind: str,
    parent: Unit | None = None,
    active_from: int | None = None,
    active_to: int | None = None,
    predecessors: Iterable[Unit] | None = None,
    actor: User | None = None,
    via: str = Via.SYSTEM,
) -> Unit:
    """A new unit (placed in the tree, formed from `predecessors` if given), audited as unit_create."""
    unit = Unit(code=code, name=name, kind=kind, parent=parent, active_from=active_from, active_to=active_to)
    try:
        unit_code_validator(code)
    except ValidationError as exc:
        raise ServiceError(
            N_("A unit code uses letters, digits, dot, dash or underscore."), obj=unit, field="code"
        ) from exc
    if Unit.objects.filter(code=code).exists():
        raise ServiceError(
            N_("Unit %(code)s already exists."),
            code=ErrorCode.CONFLICT,
            params={"code": code},
            obj=unit,
            field="code",
        )
    _check_fields(unit)
    _refuse_model_errors(unit, exclude=["path"])
    unit.save()
    _place(unit)
    _unit_audit(
        unit,
        "unit_create",
        actor=actor,
        via=via,
        new=f"{unit.name} · {unit.kind} · {parent.code if parent else '—'}",
    ).save()
    if predecessors is not None:
        unit_set_predecessors(unit=unit, predecessors=predecessors, actor=actor, via=via)
    return unit


@transaction.atomic
def unit_update(*, unit: Unit, actor: User | None = None, via: str = Via.SYSTEM, **changes: Any) -> Unit:
    """Rename a unit or change its kind or active years (keyword arguments among UNIT_FIELDS).
    One audit row per field that changed (unit_rename for the name, unit_change otherwise; the last
    active year set on an active unit is unit_deactivate)."""
    unknown = set(changes) - set(UNIT_FIELDS)
    if unknown:
        raise TypeError(f"unit_update() got unexpected fields {sorted(unknown)}")
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    old = {name: getattr(unit, name) for name in changes}
    changed = [name for name, value in changes.items() if value != old[name]]
    if not changed:
        return unit
    for name in changed:
        setattr(unit, name, changes[name])
    _check_fields(unit)
    _refuse_model_errors(unit, exclude=["path", "code", "parent"])
    unit.save(update_fields=[*changed, "updated_at"])
    entries = []
    for name in changed:
        action = {"name": "unit_rename"}.get(name, "unit_change")
        if name == "active_to" and old[name] is None:
            action = "unit_deactivate"
        entries.append(
            _unit_audit(unit, action, actor=actor, via=via, field=name, old=old[name], new=changes[name])
        )
    AuditEntry.objects.bulk_create(entries)
    return unit


def unit_rename(*, unit: Unit, name: str, actor: User | None = None, via: str = Via.SYSTEM) -> Unit:
    return unit_update(unit=unit, name=name, actor=actor, via=via)


def unit_deactivate(*, unit: Unit, last_year: int, actor: User | None = None, via: str = Via.SYSTEM) -> Unit:
    """The unit ceases after `last_year` (abolished or merged): kept for history, no longer current."""
    return unit_update(unit=unit, active_to=last_year, actor=actor, via=via)


@transaction.atomic
def unit_move(*, unit: Unit, parent: Unit | None, actor: User | None = None, via: str = Via.SYSTEM) -> Unit:
    """Place a unit (and its subtree) under another parent; every path below follows."""
    unit = Unit.objects.select_for_update(of=("self",)).select_related("parent").get(pk=unit.pk)
    if (parent.pk if parent else None) == unit.parent_id:
        return unit
    if parent is not None:
        parent = Unit.objects.get(pk=parent.pk)  # its current path
    _check_parent(unit, parent)
    old_parent = unit.parent
    unit.parent = parent
    unit.save(update_fields=["parent", "updated_at"])
    _place(unit)
    _unit_audit(
        unit,
        "unit_move",
        actor=actor,
        via=via,
        field="parent",
        old=old_parent.code if old_parent else "",
        new=parent.code if parent else "",
    ).save()
    return unit


@transaction.atomic
def unit_set_predecessors(
    *, unit: Unit, predecessors: Iterable[Unit], actor: User | None = None, via: str = Via.SYSTEM
) -> Unit:
    """The units this one was formed from (a merger or a split), audited as unit_merge: old → new codes."""
    predecessors = list(predecessors)
    _check_predecessors(unit, predecessors)
    before = list(unit.predecessors.all())
    if {p.pk for p in before} == {p.pk for p in predecessors}:
        return unit
    unit.predecessors.set(predecessors)
    _unit_audit(
        unit,
        "unit_merge",
        actor=actor,
        via=via,
        field="predecessors",
        old=_codes(before),
        new=_codes(predecessors),
    ).save()
    return unit


def unit_check(
    *,
    code: str,
    name: str,
    kind: str,
    parent: Unit | None = None,
    active_from: int | None = None,
    active_to: int | None = None,
    predecessors: Iterable[Unit] | None = None,
) -> None:
    """Refuse (ServiceError) what unit_save would refuse for this row, writing nothing. Forms call it
    in their validation so that a refusal lands on the field it is about."""
    existing = Unit.objects.filter(code=code).first()
    probe = Unit(
        pk=existing.pk if existing else None,
        code=code,
        name=name,
        kind=kind,
        parent=parent,
        path=existing.path if existing else "",
        active_from=active_from,
        active_to=active_to,
    )
    errors: list[ServiceError] = []
    if existing is None:
        try:
            unit_code_validator(code)
        except ValidationError:
            errors.append(
                ServiceError(
                    N_("A unit code uses letters, digits, dot, dash or underscore."), obj=probe, field="code"
                )
            )
    for check in (
        lambda: _check_fields(probe),
        lambda: _check_parent(probe, Unit.objects.get(pk=parent.pk) if parent is not None else None),
        lambda: _check_predecessors(probe, predecessors or ()),
    ):
        try:
            check()
        except ServiceError as error:
            errors += error.all()
    if errors:
        raise ServiceError.group(errors)


def _check_predecessors(unit: Unit, predecessors: Iterable[Unit]) -> None:
    if any(p.code == unit.code for p in predecessors):
        raise ServiceError(N_("A unit cannot be formed from itself."), obj=unit, field="predecessors")


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
    actor: User | None = None,
    via: str = Via.SYSTEM,
) -> tuple[Unit, bool]:
    """Create the unit with this code, or bring it to these values (files and forms give a whole row).
    Each kind of change goes through its own audited service. Returns (unit, created)."""
    predecessors = list(predecessors) if predecessors is not None else None
    unit_check(
        code=code,
        name=name,
        kind=kind,
        parent=parent,
        active_from=active_from,
        active_to=active_to,
        predecessors=predecessors,
    )
    unit = Unit.objects.select_for_update().filter(code=code).first()
    if unit is None:
        unit = unit_create(
            code=code,
            name=name,
            kind=kind,
            parent=parent,
            active_from=active_from,
            active_to=active_to,
            predecessors=predecessors,
            actor=actor,
            via=via,
        )
        return unit, True
    unit = unit_update(
        unit=unit, name=name, kind=kind, active_from=active_from, active_to=active_to, actor=actor, via=via
    )
    unit = unit_move(unit=unit, parent=parent, actor=actor, via=via)
    if predecessors is not None:
        unit_set_predecessors(unit=unit, predecessors=predecessors, actor=actor, via=via)
    return unit, False


@transaction.atomic
def unit_delete(*, unit: Unit, actor: User | None = None, via: str = Via.SYSTEM) -> None:
    """Delete a unit that nothing depends on (no children, no assessments: those are protected).
    Its memberships are revoked first, each audited; the unit's own trail stays."""
    for membership in unit.memberships.select_related("user"):
        membership_revoke(membership=membership, actor=actor, via=via)
    entry = _unit_audit(unit, "unit_delete", actor=actor, via=via, old=f"{unit.name} ({unit.kind})")
    unit.delete()
    entry.save()


# --- memberships ----------------------------------------------------------------------------------------


def _membership_audit(
    membership: Membership, action: str, *, actor: User | None, via: str, old: str = "", new: str = ""
) -> AuditEntry:
    return audit_entry(
        action=action,
        subject_type=Subject.MEMBERSHIP,
        subject=membership,
        subject_label=membership.user.get_username(),
        unit=membership.unit,
        field="role",
        old=old,
        new=new,
        actor=actor,
        via=via,
    )


@transaction.atomic
def membership_grant(
    *, user: User | None, unit: Unit, role: str, actor: User | None = None, via: str = Via.SYSTEM
) -> Membership:
    """Give `user` the `role` in `unit` (officer, appraiser, leader). Granting a role held already
    changes nothing and records nothing."""
    if role not in Role.values:
        raise ServiceError(N_("Unknown role %(role)s."), params={"role": role}, obj=unit, field="role")
    if user is None or not getattr(user, "pk", None):
        raise ServiceError(N_("Choose the user who gets the role."), obj=unit, field="user")
    membership, created = Membership.objects.get_or_create(user=user, unit=unit, role=role)
    if created:
        _membership_audit(membership, "membership_grant", actor=actor, via=via, new=role).save()
    return membership


@transaction.atomic
def membership_revoke(*, membership: Membership, actor: User | None = None, via: str = Via.SYSTEM) -> None:
    """Take a role away: the membership is deleted, the trail keeps who had it and who removed it."""
    entry = _membership_audit(membership, "membership_revoke", actor=actor, via=via, old=membership.role)
    deleted, _ = Membership.objects.filter(pk=membership.pk).delete()
    if not deleted:
        raise ServiceError(
            N_("%(user)s has no role %(role)s in %(unit)s."),
            code=ErrorCode.NOT_FOUND,
            params={
                "user": membership.user.get_username(),
                "role": membership.role,
                "unit": membership.unit.code,
            },
            obj=membership,
        )
    entry.save()


@transaction.atomic
def membership_change(
    *,
    membership: Membership,
    user: User,
    unit: Unit,
    role: str,
    actor: User | None = None,
    via: str = Via.SYSTEM,
) -> Membership:
    """Change who holds a role where: the old role is revoked and the new one granted (two rows)."""
    old = Membership.objects.select_related("user", "unit").get(pk=membership.pk)
    if (old.user_id, old.unit_id, old.role) == (user.pk, unit.pk, role):
        return old
    membership_revoke(membership=old, actor=actor, via=via)
    return membership_grant(user=user, unit=unit, role=role, actor=actor, via=via)
