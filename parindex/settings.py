"""ParIndex settings, read from the environment.

Nothing set: SQLite in var/, Celery eager, files on local disk. DATABASE_URL selects PostgreSQL,
REDIS_URL makes Redis the Celery broker, result backend and cache.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from parindex.env import database_from_url, envbool, envint, envlist

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PARINDEX_VAR_DIR", BASE_DIR / "var"))

DEBUG = envbool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    "django_htmx",
    "parindex.audit",
    "parindex.notices",
    "units",
    "scoring",
    "reports",
    "axes",
    "parindex.idle",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "parindex.csp.CSPMiddleware",  # django-csp's, with the admin's scoped exceptions (parindex.csp)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "parindex.idle.middleware.SessionIdleMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out sign-in with the lockout page
]

ROOT_URLCONF = "parindex.urls"
WSGI_APPLICATION = "parindex.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "parindex.views.navigation",
                "parindex.notices.context_processors.notices",
            ],
            # parindex is a project package, not an installed app, so its template tags are named here.
            "libraries": {"parindex": "parindex.templatetags.parindex"},
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL, BASE_DIR)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    }
if os.environ.get("PARINDEX_TEST_DB_NAME"):
    # CI asks for a fresh PostgreSQL test database per run.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["PARINDEX_TEST_DB_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "parindex.passwords.UsernameNotInPasswordValidator"},
]
# Login throttling (django-axes): after PARINDEX_LOGIN_FAILURE_LIMIT wrong passwords for one username
# from one address, that pair is refused for PARINDEX_LOGIN_COOLOFF_MINUTES; other people and addresses
# are unaffected. Administrators unlock early in the admin ("Access attempts": delete the row).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = envbool("PARINDEX_LOGIN_THROTTLING", True)
AXES_FAILURE_LIMIT = envint("PARINDEX_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("PARINDEX_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "parindex.lockout.lockout_response"
# Number of reverse proxies in front of gunicorn that append to X-Forwarded-For (0: none, use the peer address).
PARINDEX_PROXY_COUNT = envint("PARINDEX_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "parindex.lockout.client_ip"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["parindex.formats"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("PARINDEX_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: evidence is private, downloads go through views
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and envbool("PARINDEX_MANIFEST_STATIC", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Development and tests serve static files straight from the app folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000
PARINDEX_UPLOAD_MAX_BYTES = envint("PARINDEX_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
PARINDEX_EVIDENCE_MAX_BYTES = envint("PARINDEX_EVIDENCE_MAX_BYTES", 20 * 1024 * 1024)
# The address people open the site at (scheme and host, no trailing slash): e-mails link to it. Required in
# production, like the secret key: a default would send every officer to http://127.0.0.1:8000.
PARINDEX_SITE_URL = os.environ.get("PARINDEX_SITE_URL", "").strip().rstrip("/")
if not PARINDEX_SITE_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "PARINDEX_SITE_URL is required when DJANGO_DEBUG is off: the address people open the site at, "
            "e.g. https://cchc.example.gov.vn (e-mails link to it)"
        )
    PARINDEX_SITE_URL = "http://127.0.0.1:8000"
elif not PARINDEX_SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"PARINDEX_SITE_URL must start with http:// or https://; got {PARINDEX_SITE_URL!r}"
    )

# Celery: eager (in-process) unless Redis is configured.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 660)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Sending a task with the broker down fails in a few seconds, never minutes (parindex.queue records
# the failure on the job or upload, which can be retried): short connection timeouts, one quick retry.
CELERY_BROKER_CONNECTION_TIMEOUT = envint("CELERY_BROKER_CONNECTION_TIMEOUT", 3)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": 10,
    # An unacknowledged task (acks_late) is handed to another worker only after this: never while it
    # may still be running, so at least the hard time limit.
    "visibility_timeout": max(envint("CELERY_VISIBILITY_TIMEOUT", 0), CELERY_TASK_TIME_LIMIT + 60),
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = 10
# The result store's own reconnect loop (20 tries, one second apart by default: 19 s of a web request).
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "deadline-reminders": {"task": "scoring.tasks.send_deadline_reminders", "schedule": 3600.0},
    # Report jobs whose worker died are failed (and can be retried) instead of staying "running".
    "fail-stale-reports": {"task": "reports.tasks.fail_stale_reports", "schedule": 300.0},
}
# A running report job whose heartbeat is older than this (default: the task time limit) lost its worker:
# it is failed by reports.jobs.report_fail_stale (worker start, the reports page, beat if it runs).
PARINDEX_REPORT_STALE_SECONDS = envint("PARINDEX_REPORT_STALE_SECONDS", CELERY_TASK_TIME_LIMIT)
# Celery queue of the report builds (empty: the default queue).
PARINDEX_REPORT_QUEUE = os.environ.get("PARINDEX_REPORT_QUEUE", "")
# The PDF annexes are the Word file converted by LibreOffice Writer (reports.annex.pdf): the soffice
# program (empty: `soffice` on PATH) and the seconds a conversion may take before it is killed.
PARINDEX_SOFFICE = os.environ.get("PARINDEX_SOFFICE", "")
PARINDEX_SOFFICE_TIMEOUT = envint("PARINDEX_SOFFICE_TIMEOUT", 180)

EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "parindex@localhost")

# Production transport security (issue 15): on by default whenever DEBUG is off, each switchable for a
# plain-http trial. Behind a TLS-terminating reverse proxy, the proxy must set X-Forwarded-Proto.
SESSION_COOKIE_SECURE = not DEBUG and envbool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = not DEBUG and envbool("PARINDEX_SSL_REDIRECT", True)
# The container's own health check asks http://127.0.0.1:8000/health/ (no proxy in between).
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
if envbool("PARINDEX_PROXY_SSL_HEADER", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else envint("PARINDEX_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("PARINDEX_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = envbool("PARINDEX_HSTS_PRELOAD", True)
# Idle timeout: a session ends after this many seconds without a request (each request renews it).
SESSION_COOKIE_AGE = envint("PARINDEX_SESSION_IDLE_SECONDS", 30 * 60)
# Renewed (saved again) at most this often, not on every request (parindex.idle).
PARINDEX_SESSION_RENEW_SECONDS = envint("PARINDEX_SESSION_RENEW_SECONDS", 60)

# Content-Security-Policy (django-csp, issue 15): scripts, styles and images only from the site itself, no
# inline script, inline style or handler attribute anywhere (the pages load static/css and static/js;
# tests/test_csp.py scans the templates and every rendered page). On in DEBUG too, so that the tests and
# development meet the same policy as production. PARINDEX_CSP=report-only sends the policy as
# Content-Security-Policy-Report-Only (browsers report, block nothing), 0 sends none. Static files on
# another host (a CDN) are allowed with PARINDEX_CSP_STATIC_HOSTS; violation reports go to
# PARINDEX_CSP_REPORT_URI when set. The Django admin gets the few exceptions it needs, on /admin/ only
# (parindex.csp.ADMIN_EXCEPTIONS).
_CSP_MODE = os.environ.get("PARINDEX_CSP", "1").strip().lower()
if _CSP_MODE not in {"1", "report-only", "0"}:
    raise ImproperlyConfigured(f"PARINDEX_CSP must be 1, report-only or 0; got {_CSP_MODE!r}")
_CSP_STATIC_HOSTS = envlist("PARINDEX_CSP_STATIC_HOSTS", [])
PARINDEX_CSP_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *_CSP_STATIC_HOSTS],
        "style-src": ["'self'", *_CSP_STATIC_HOSTS],
        "img-src": ["'self'", "data:", *_CSP_STATIC_HOSTS],
        "font-src": ["'self'", *_CSP_STATIC_HOSTS],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "report-uri": os.environ.get("PARINDEX_CSP_REPORT_URI", "").strip() or None,
    }
}
CONTENT_SECURITY_POLICY = PARINDEX_CSP_POLICY if _CSP_MODE == "1" else None
CONTENT_SECURITY_POLICY_REPORT_ONLY = PARINDEX_CSP_POLICY if _CSP_MODE == "report-only" else None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}

# django-import-export (admin import/export of units, criteria and scores; units.resources, scoring.exchange.resources).
# Only users with the model's "change" permission import, "view" to export (buttons hidden, URLs 403).
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
# Text starting with = + - @ never becomes a formula in a file we hand out (CSV injection); the admin
# formats (units.resources.SafeXLSX/SafeCSV) implement it without turning numbers into text.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT = True
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_IMPORT_IGNORE_BLANK_LINES = True  # LibreOffice files can carry a million empty rows
# The uploaded file waits between preview and confirm, and the confirm may reach another web process
# or machine: the default TempFolderStorage (the process's /tmp) breaks there. MEDIA_ROOT is shared by
# every web process already (evidence, uploads), so the file waits there, in django-import-export/,
# private like all media, and is deleted on confirm. CacheStorage would need Redis for every setup and
# keeps whole files (up to the upload cap) in the cache; the local-memory cache is per process.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
from import_export.formats import base_formats as _import_export_formats  # noqa: E402

# The project's admins use subclasses of these two that escape formulae properly (units.resources).
IMPORT_EXPORT_FORMATS = [_import_export_formats.XLSX, _import_export_formats.CSV]

# --- Bounded uploads (issue 15, deliverable 3) ---------------------------------------------------------
# A request body larger than this is refused (413, Vietnamese and English) from its CONTENT_LENGTH
# before it is read (parindex.bodycap): the largest file a page accepts (workbook or evidence) plus
# room for the form's fields. The reverse proxy should refuse earlier still (README: client_max_body_size).
PARINDEX_REQUEST_MAX_BYTES = envint(
    "PARINDEX_REQUEST_MAX_BYTES", max(PARINDEX_UPLOAD_MAX_BYTES, PARINDEX_EVIDENCE_MAX_BYTES) + 1024 * 1024
)
MIDDLEWARE.insert(0, "parindex.bodycap.RequestBodyCapMiddleware")
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # form fields without files; files go to FILE_UPLOAD_*
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger files are streamed to a temporary file
# Data rows of one assessment, survey or framework file, and problems kept of one file (the rest counted).
PARINDEX_MAX_ROWS = envint("PARINDEX_MAX_ROWS", 5000)
PARINDEX_MAX_PROBLEMS = envint("PARINDEX_MAX_PROBLEMS", 200)
# Check at once or in the worker, by the file's size. Measured on the 2-core CI-like machine (shared,
# load ~2.5): a survey workbook of 5,000 units x 3 criteria (90 KB .xlsx, 15,000 preview lines) is
# checked in 0.61 s, 1,500 units (31 KB) in 0.19-0.26 s, i.e. about 7 ms per KB of xlsx; reading
# alone is 0.17 ms per row. 128 KB is therefore about 1 s inside the web request at most; larger
# files go to the worker with progress shown (the old 512 KB meant up to ~3.5 s inline).
PARINDEX_ASYNC_IMPORT_BYTES = envint("PARINDEX_ASYNC_IMPORT_BYTES", 128 * 1024)
