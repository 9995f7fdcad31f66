import time

from django.conf import settings

RENEWED = "_parindex_renewed"


def stamp_on_login(sender, request, user, **kwargs):
    """Signing in saves the session anyway: note when, so that the next minute needs no second save."""
    if request is not None and hasattr(request, "session"):
        request.session[RENEWED] = int(time.time())


class SessionIdleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.session_key:
            renewed = session.get(RENEWED)
            now = int(time.time())
            if renewed is None or now - renewed >= settings.PARINDEX_SESSION_RENEW_SECONDS:
                session[RENEWED] = now  # modified: saved with a fresh expiry, cookie sent again
        return self.get_response(request)
