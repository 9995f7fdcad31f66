"""Issue 15 deliverable 5: production settings are hardened by default and pass `check --deploy`."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = {
    "DJANGO_SECRET_KEY": "kY3-7vJq9Lr2_Xw8Tn4Bz6Hc1Fd5Gs0Pm7Ve9Qa2Wu4Ry6Ei8Ot1Io3Ap5Sd7Fg9Hj",
    "PARINDEX_SITE_URL": "https://cchc.example.gov.vn",
    "DJANGO_ALLOWED_HOSTS": "cchc.example.gov.vn",
}
READ = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps(["
    "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
    "list(s.SECURE_PROXY_SSL_HEADER or []), s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
    "s.SESSION_COOKIE_AGE, s.PARINDEX_SESSION_RENEW_SECONDS]))"
)


def _env(tmp_path, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "PARINDEX_", "AXES_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="parindex.settings", PARINDEX_VAR_DIR=str(tmp_path), **PRODUCTION)
    env.update(extra)
    return env


def _run(args, env):
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path):
    done = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _env(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout


def test_production_defaults_secure_everything_even_without_allowed_hosts(tmp_path):
    env = _env(tmp_path)
    del env["DJANGO_ALLOWED_HOSTS"]
    done = _run(["-c", READ], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        True,
        31536000,
        True,
        True,
        ["HTTP_X_FORWARDED_PROTO", "https"],
        True,
        True,
        1800,
        60,
    ]


def test_each_protection_is_switchable_for_a_plain_http_trial(tmp_path):
    env = _env(
        tmp_path,
        PARINDEX_SSL_REDIRECT="0",
        PARINDEX_HSTS_SECONDS="0",
        PARINDEX_HSTS_INCLUDE_SUBDOMAINS="0",
        PARINDEX_HSTS_PRELOAD="0",
        PARINDEX_PROXY_SSL_HEADER="0",
        DJANGO_SECURE_COOKIES="0",
        PARINDEX_SESSION_IDLE_SECONDS="600",
    )
    done = _run(["-c", READ], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, 0, False, False, [], False, False, 600, 60]


def test_debug_keeps_plain_http(tmp_path):
    done = _run(["-c", READ], _env(tmp_path, DJANGO_DEBUG="1"))
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)
    assert values[0] is False and values[1] == 0 and values[5] is False


def test_a_session_is_renewed_at_most_once_a_minute_and_ends_after_30_idle_minutes(client, officer, db):
    """Signing in stamps the session; within a minute no request saves it again (no extra queries); a
    request after that renews it for another 30 minutes (cookie sent again)."""
    from unittest import mock

    from parindex.idle import middleware

    client.force_login(officer)
    assert client.session.get_expiry_age() == 1800
    answer = client.get("/")
    assert "sessionid" not in answer.cookies  # renewed at sign-in, a few seconds ago
    stamp = client.session[middleware.RENEWED]
    with mock.patch.object(middleware.time, "time", return_value=stamp + 61):
        answer = client.get("/")
    assert answer.cookies["sessionid"]["max-age"] == 1800
    assert client.session[middleware.RENEWED] == stamp + 61
