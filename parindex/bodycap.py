"""A cap on the size of a request body, enforced from CONTENT_LENGTH before the body is read.

Django reads an upload in full (to memory or a temporary file) before a view can look at its size,
so a 300 MB body was read before the 10 MB refusal. This middleware, first in MIDDLEWARE, compares
the declared CONTENT_LENGTH with settings.PARINDEX_REQUEST_MAX_BYTES and answers 413 in Vietnamese
and English without touching request.POST or request.FILES. A body sent without CONTENT_LENGTH
(chunked) is bounded by the reverse proxy (client_max_body_size, see README) and, for fields, by
DATA_UPLOAD_MAX_MEMORY_SIZE.
"""

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext, override
from django.utils.translation import gettext_noop as N_

TOO_LARGE = N_("The request is too large: at most %(mb)s MB may be sent at once. Nothing was saved.")


def too_large_response(limit: int) -> HttpResponse:
    mb = limit // (1024 * 1024)
    texts = []
    for language in ("vi", "en"):
        with override(language):
            texts.append(gettext(TOO_LARGE) % {"mb": mb})
    return HttpResponse("\n".join(texts), status=413, content_type="text/plain; charset=utf-8")


class RequestBodyCapMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.PARINDEX_REQUEST_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            length = 0
        if length > limit:
            return too_large_response(limit)
        return self.get_response(request)
