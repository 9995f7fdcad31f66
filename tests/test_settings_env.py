from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from parindex.env import database_from_url, envbool, envint, envlist


def test_envbool_is_strict(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert envbool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "0")
    assert envbool("X_FLAG", True) is False
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        envbool("X_FLAG", False)
    monkeypatch.delenv("X_FLAG")
    assert envbool("X_FLAG", True) is True


def test_envint_and_envlist(monkeypatch):
    monkeypatch.setenv("X_INT", "12")
    assert envint("X_INT", 1) == 12
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured):
        envint("X_INT", 1)
    monkeypatch.setenv("X_HOSTS", "a.vn, b.vn,,")
    assert envlist("X_HOSTS", []) == ["a.vn", "b.vn"]


def test_database_url_postgres():
    db = database_from_url("postgres://user:p%40ss@db.local:5433/parindex?sslmode=require", Path("/app"))
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "parindex",
        "user",
        "p@ss",
        "db.local",
        "5433",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_database_url_sqlite_absolute_and_relative(tmp_path):
    absolute = database_from_url(f"sqlite:///{tmp_path}/db.sqlite3", Path("/app"))
    assert absolute["ENGINE"] == "django.db.backends.sqlite3"
    assert str(absolute["NAME"]) == f"{tmp_path}/db.sqlite3"
    relative = database_from_url("sqlite:///var/x.sqlite3", Path("/app"))
    assert str(relative["NAME"]) == "/app/var/x.sqlite3"


def test_unknown_database_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://x/y", Path("/app"))


def test_settings_refuse_to_start_without_secret_when_debug_is_off(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="parindex.settings", PARINDEX_VAR_DIR=str(tmp_path))
    code = "import django; django.setup(); from django.conf import settings; print(settings.CELERY_TASK_ALWAYS_EAGER, settings.DATABASES['default']['ENGINE'])"
    root = Path(__file__).resolve().parents[1]
    refused = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True)
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY is required" in refused.stderr
    env["DJANGO_DEBUG"] = "1"
    defaults = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True)
    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout.split() == [
        "True",
        "django.db.backends.sqlite3",
    ]  # embedded defaults: eager, SQLite
    env.update(REDIS_URL="redis://127.0.0.1:6379/9", DATABASE_URL="postgres://u@h:5432/n")
    configured = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True
    )
    assert configured.stdout.split() == ["False", "django.db.backends.postgresql"]


def test_vietnamese_dates_are_day_first():
    from django import forms
    from django.utils import translation

    with translation.override("vi"):
        field = forms.DateField()
        assert field.clean("05/06/2024").isoformat() == "2024-06-05"
