"""Reads of in-app notifications."""

from django.db.models import QuerySet

from parindex.notices.models import Notification


def notices_of(user) -> QuerySet[Notification]:
    """A person's own notifications, newest first."""
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
