"""The bell's unread count: one query, and only when a template asks for it."""

from django.utils.functional import SimpleLazyObject

from parindex.notices.selectors import unread_count


def notices(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy and cached on the request: pages that never show the bell (htmx rows) run no query, and a
    # page that shows it twice runs one.
    return {"unread_notices": SimpleLazyObject(lambda: _cached_count(request, user))}


def _cached_count(request, user) -> int:
    if not hasattr(request, "_unread_notices"):
        request._unread_notices = unread_count(user)
    return request._unread_notices
