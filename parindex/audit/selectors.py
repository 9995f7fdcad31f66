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
