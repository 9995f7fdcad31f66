"""Settings for the test suite: the real settings, with a test key and a fast password hasher.

DATABASE_URL / REDIS_URL still select PostgreSQL and Redis, so CI runs this same suite on both.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-secret")
os.environ.setdefault("PARINDEX_SITE_URL", "http://127.0.0.1:8000")

from parindex.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Uploaded files of a test run go to a throw-away folder, never into var/.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="parindex-test-media-"))
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)

# Tasks run in-process in tests even when REDIS_URL is set (CI runs this same suite on Redis);
# tests marked `worker` switch eager mode off and go through the broker to a real worker.
CELERY_TASK_ALWAYS_EAGER = True
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The test client and the browser tests speak plain http to the test server.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# Sign-in throttling is off for the suite (fixtures sign in often); tests/test_login_throttling.py turns it on.
AXES_ENABLED = False
