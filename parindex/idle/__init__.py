"""Session idle timeout: a signed-in session ends after SESSION_COOKIE_AGE seconds without a request.

Saving the session on every request would renew it too, but costs a database write per page; the
middleware renews it (saves it, resending the cookie) at most once per PARINDEX_SESSION_RENEW_SECONDS,
so a session ends between SESSION_COOKIE_AGE minus that interval and SESSION_COOKIE_AGE after the
last request.
"""
