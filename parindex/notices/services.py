"""Writes of in-app notifications."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from parindex.notices.models import Notification


def notices_create(
    *, users: Iterable[AbstractBaseUser], event: str, title: str, title_en: str = "", link: str = ""
) -> list[Notification]:
    """One unread notification per person (each person once)."""
    seen: set[int] = set()
    rows = []
    for user in users:
        if user.pk in seen:
            continue
        seen.add(user.pk)
        rows.append(Notification(user=user, event=event, title=title, title_en=title_en, link=link))
    return Notification.objects.bulk_create(rows)


@transaction.atomic
def notices_mark_read(*, user: AbstractBaseUser, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notifications read (all of them when `ids` is None); others' are untouched."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())
