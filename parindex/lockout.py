"""The page shown instead of signing in when django-axes has locked a username and address out."""

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


def client_ip(request) -> str | None:
    """The address sign-in failures are counted for.

    Behind PARINDEX_PROXY_COUNT reverse proxies (each appending to X-Forwarded-For), the client is the
    entry that many places from the right: entries further left were written by the client and prove
    nothing. With no proxy (the default) X-Forwarded-For is ignored and the peer address counts.
    """
    hops = settings.PARINDEX_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR")
