"""Reads of the audit trail that pages share."""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from parindex.audit.models import AuditEntry, Subject


def unit_trail(unit_ids: Iterable[int] | QuerySet[Any, Any]) -> QuerySet[AuditEntry]:
    """Changes to these units and to the memberships in them, newest first. `unit_ids` is a list or
    a queryset of ids (a subquery: "units under this user's authority")."""
    return (
        AuditEntry.objects.filter(subject_type__in=(Subject.UNIT, Subject.MEMBERSHIP), unit_id__in=unit_ids)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )


def trail_filtered(entries: QuerySet[AuditEntry], filters: dict[str, Any]) -> QuerySet[AuditEntry]:
    """The activity filters every activity page offers (action, channel, person, dates), from a
    form's cleaned data; empty values filter nothing."""
    if filters.get("action"):
        entries = entries.filter(action=filters["action"])
    if filters.get("via"):
        entries = entries.filter(via=filters["via"])
    if filters.get("actor"):
        entries = entries.filter(actor_id=filters["actor"])
    if filters.get("date_from"):
        entries = entries.filter(created_at__date__gte=filters["date_from"])
    if filters.get("date_to"):
        entries = entries.filter(created_at__date__lte=filters["date_to"])
    return entries
