"""The Content-Security-Policy of every response (django-csp), with the Django admin's exceptions.

ParIndex's own pages need none: no inline script, inline style or handler attribute (tests/test_csp.py).
Django 5.2's admin renders none on this project's admin pages either (its one inline <style>, in
change_list.html, is for lists without actions, which no admin here has); django-import-export's export
page has two style attributes and one onchange handler. Rather than copy and maintain that template, the
policy on /admin/ only is widened by exactly those three, by hash (ADMIN_EXCEPTIONS), through
django-csp's documented extension point (get_policy_parts).
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.urls import NoReverseMatch, reverse

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

# Inline attributes of the admin's templates, allowed by their hash on /admin/ only ('unsafe-hashes' lets
# a hash allow an attribute, not just an element). Each is quoted from its template; tests/test_csp.py
# renders the admin's pages and fails on any inline bit not listed here (after an upgrade, say).
ADMIN_INLINE_STYLES = [
    "padding: 0;",  # django-import-export admin/import_export/export.html
    "font-weight: bold;",  # idem, the "select all" label
]
ADMIN_INLINE_HANDLERS = [
    "onSelectToggleChange(event)",  # idem, onchange of the "select all" box of the exported fields
]


def source_hash(text: str) -> str:
    """The CSP source allowing exactly this inline text: 'sha256-<base64 of its SHA-256>'."""
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


# Added to the policy on the admin's pages only.
ADMIN_EXCEPTIONS: dict[str, Any] = {
    "style-src": ["'unsafe-hashes'", *(source_hash(text) for text in ADMIN_INLINE_STYLES)],
    "script-src": ["'unsafe-hashes'", *(source_hash(text) for text in ADMIN_INLINE_HANDLERS)],
}


def admin_prefix() -> str | None:
    try:
        return reverse("admin:index")
    except NoReverseMatch:
        return None


def is_admin(request: HttpRequest) -> bool:
    prefix = admin_prefix()
    return prefix is not None and request.path.startswith(prefix)


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware; on the admin's pages, the policy is widened by ADMIN_EXCEPTIONS."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if ADMIN_EXCEPTIONS and parts.update is None and is_admin(request):
            parts.update = ADMIN_EXCEPTIONS
        return parts
