"""PARINDEX_SITE_URL: required when DEBUG is off (like the secret key), and the one base of e-mail links."""

import os
import subprocess
import sys
from pathlib import Path

from django.core import mail

from scoring.assessments.services import assessment_get_or_create, assessment_submit

from .factories import make_framework, rows_from_spec
from .test_notifications import TREE, fill

ROOT = Path(__file__).resolve().parents[1]
SHOW = "import django; django.setup(); from django.conf import settings; print(settings.PARINDEX_SITE_URL)"


def _run(tmp_path, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "PARINDEX_SITE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="parindex.settings",
        PARINDEX_VAR_DIR=str(tmp_path),
        DJANGO_SECRET_KEY="site-url-test-only",
        **extra,
    )
    return subprocess.run([sys.executable, "-c", SHOW], env=env, cwd=ROOT, capture_output=True, text=True)


def test_production_refuses_to_start_without_the_site_address(tmp_path):
    refused = _run(tmp_path)
    assert refused.returncode != 0
    assert "PARINDEX_SITE_URL is required when DJANGO_DEBUG is off" in refused.stderr


def test_the_site_address_is_read_from_the_environment(tmp_path):
    given = _run(tmp_path, PARINDEX_SITE_URL="https://cchc.example.gov.vn/")
    assert given.returncode == 0, given.stderr
    assert given.stdout.strip() == "https://cchc.example.gov.vn"  # no trailing slash


def test_an_address_without_a_scheme_is_refused(tmp_path):
    refused = _run(tmp_path, PARINDEX_SITE_URL="cchc.example.gov.vn")
    assert refused.returncode != 0 and "must start with http:// or https://" in refused.stderr


def test_development_falls_back_to_the_local_server(tmp_path):
    local = _run(tmp_path, DJANGO_DEBUG="1")
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip() == "http://127.0.0.1:8000"


def test_mails_link_to_the_configured_site(
    settings, district, commune, officer, appraiser, django_capture_on_commit_callbacks
):
    settings.PARINDEX_SITE_URL = "https://cchc.example.gov.vn"
    assessment = assessment_get_or_create(
        unit=commune, framework=make_framework(district, rows=rows_from_spec(TREE))
    )
    fill(assessment, officer)
    with django_capture_on_commit_callbacks(execute=True):
        assessment_submit(assessment=assessment, actor=officer)
    [message] = mail.outbox
    assert f"https://cchc.example.gov.vn/assessments/{assessment.pk}/appraisal/" in message.body
    assert "127.0.0.1" not in message.body


def test_docker_compose_and_readme_set_it():
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "PARINDEX_SITE_URL: ${PARINDEX_SITE_URL:?" in compose
    assert "`PARINDEX_SITE_URL`" in (ROOT / "README.md").read_text(encoding="utf-8")
