"""Backup and restore of a year (issue 15, deliverable 7): `export_year` writes one archive of a
framework, `import_year` restores it with identical rankings, histories and files — or refuses it,
writing nothing, when it is damaged or collides with what the database holds."""

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from parindex.audit.models import AuditEntry
from reports.models import RemediationItem
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    evidence_add,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.backup.archive import MANIFEST, year_export, year_import
from scoring.models import (
    Appeal,
    AppealStatus,
    Assessment,
    CouncilMember,
    Criterion,
    Evidence,
    Framework,
    ImportKind,
    ImportRecord,
    ImportStatus,
)
from scoring.results.engine import results_recompute
from units.models import Membership, Role, Unit, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec
from .publishing import walk_and_publish

TREE = [("1", 60), ("1.1", 30), ("1.2", 30), ("2", 40), ("2.1", 25), ("2.2", 15)]
PDF = b"%PDF-1.4\n% evidence of X1\n" + bytes(range(256))
POINTS = {
    "X1": {"1.1": "30", "1.2": "25.5", "2.1": "20", "2.2": "15"},
    "X2": {"1.1": "20", "1.2": "30", "2.1": "25", "2.2": "10"},
    "X3": {"1.1": "28", "1.2": "22", "2.1": "12.25", "2.2": "14"},
}
# The appraisal lowers X2's 1.2: a reason is kept in the history.
APPRAISED = {"X2": {"1.2": ("26", "Thiếu tài liệu kiểm chứng")}}


def _assess(framework, unit, officer, points):
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            code: SelfEntry(D(value), evidence_reference=f"QĐ số 12/QĐ-UBND, tr.{i}")
            for i, (code, value) in enumerate(points.items(), start=1)
        },
        actor=officer,
    )
    return assessment


def _submit_and_appraise(assessment, officer, appraiser, points, appraised=None):
    assessment_submit(assessment=assessment, actor=officer)
    entries = {code: AppraisalEntry(D(value)) for code, value in points.items()}
    for code, (value, reason) in (appraised or {}).items():
        entries[code] = AppraisalEntry(D(value), reason=reason)
    scores_apply_appraisal(assessment=assessment, entries=entries, actor=appraiser)


def build_year(district, commune, other_commune, officer, appraiser) -> Framework:
    """A published 2024 framework of three communes (one formed from a former commune), with a
    previous year, evidence files, an uploaded original, an appeal, a council and remediation."""
    former = make_unit("X0", kind=UnitKind.COMMUNE, parent=district, name="Xã Cũ", active_to=2023)
    merged = make_unit("X3", kind=UnitKind.COMMUNE, parent=district, name="Xã Ba", predecessors=[former])
    officer_x2 = make_member(other_commune, Role.OFFICER, "officer_x2")
    officer_x3 = make_member(merged, Role.OFFICER, "officer_x3")
    officer_x3.first_name, officer_x3.last_name = "Ba", "Nguyễn"
    officer_x3.save()
    officers = {"X1": officer, "X2": officer_x2, "X3": officer_x3}

    previous = make_framework(district, rows=rows_from_spec(TREE), year=2023, code="CCHC-2023")
    for unit, points in ((commune, "22"), (other_commune, "25")):
        values = {"1.1": points, "1.2": "20", "2.1": "20", "2.2": "10"}
        assessment = _assess(previous, unit, officers[unit.code], values)
        _submit_and_appraise(assessment, officers[unit.code], appraiser, values)
    walk_and_publish(framework=previous, decision_number="1/QĐ-UBND", decision_date=date(2023, 12, 20))

    framework = make_framework(district, rows=rows_from_spec(TREE), year=2024, code="CCHC-2024")
    assessments = {}
    for unit in (commune, other_commune, merged):
        assessments[unit.code] = _assess(framework, unit, officers[unit.code], POINTS[unit.code])
    evidence_add(
        assessment=assessments["X1"],
        code="1.1",
        upload=SimpleUploadedFile("bien-ban.pdf", PDF),
        description="Biên bản kiểm tra",
        actor=officer,
    )
    evidence_add(
        assessment=assessments["X3"],
        code="1.2",
        upload=SimpleUploadedFile("ke-hoach.docx", b"PK\x03\x04 word bytes of X3"),
        actor=officer_x3,
    )
    for code, assessment in assessments.items():
        _submit_and_appraise(assessment, officers[code], appraiser, POINTS[code], APPRAISED.get(code))
    record = ImportRecord(
        kind=ImportKind.SELF,
        status=ImportStatus.APPLIED,
        framework=framework,
        assessment=assessments["X2"],
        original_name="tu-danh-gia X2.xlsx",
        size=21,
        preview={"lines": [{"code": "1.1", "old": None, "new": "20"}]},
        requested_by=officer_x2,
    )
    record.file.save("tu-danh-gia X2.xlsx", ContentFile(b"PK\x03\x04 workbook of X2"), save=True)
    area = framework.criteria.get(code="1")
    member = CouncilMember.objects.create(framework=framework, user=appraiser, unit=district)
    member.areas.set([area])
    Appeal.objects.create(
        framework=framework,
        assessment=assessments["X2"],
        criterion=framework.criteria.get(code="1.2"),
        text="Đề nghị xem xét lại",
        evidence_file=ContentFile(b"appeal evidence", name="kien-nghi.pdf"),
        status=AppealStatus.REFUSED,
        old_points=D("26"),
        answer="Giữ nguyên",
        lodged_by=officer_x2,
        answered_by=appraiser,
    )
    RemediationItem.objects.create(
        assessment=assessments["X2"],
        criterion=framework.criteria.get(code="1.2"),
        points_lost=D("4"),
        action="Bổ sung hồ sơ",
        updated_by=officer_x2,
    )
    walk_and_publish(
        framework=framework, decision_number="4769/QĐ-UBND", decision_date=date(2024, 12, 25), actor=appraiser
    )
    framework.refresh_from_db()
    return framework


@pytest.fixture
def year(district, commune, other_commune, officer, appraiser):
    return build_year(district, commune, other_commune, officer, appraiser)


def ranking_json(code: str) -> list:
    out = io.StringIO()
    call_command("ranking", framework=code, format="json", stdout=out)
    return json.loads(out.getvalue())


def history(code: str) -> list:
    """The audit trail of a framework as a reader sees it, and its ids checked against the rows they
    name (the assessment's unit, the criterion's code)."""
    entries = AuditEntry.objects.filter(framework_code=code).order_by("created_at", "id")
    for entry in entries:
        if entry.assessment_id is not None:
            assert Assessment.objects.get(pk=entry.assessment_id).unit.code == entry.unit_code
        if entry.criterion_id is not None:
            assert Criterion.objects.get(pk=entry.criterion_id).code == entry.criterion_code
        assert entry.framework_id == Framework.objects.get(code=code).pk
    return list(
        entries.values_list(
            "action",
            "field",
            "old_value",
            "new_value",
            "reason",
            "via",
            "actor_name",
            "actor__username",
            "unit_code",
            "criterion_code",
            "subject_type",
            "created_at",
        )
    )


def stored_files(framework: Framework) -> dict[str, bytes]:
    names = [e.file.name for e in Evidence.objects.filter(score__assessment__framework=framework) if e.file]
    names += [r.file.name for r in ImportRecord.objects.filter(framework=framework)]
    names += [a.evidence_file.name for a in Appeal.objects.filter(framework=framework) if a.evidence_file]
    files = {}
    for name in names:
        with default_storage.open(name, "rb") as stored:
            files[name] = stored.read()
    return files


def wipe(framework: Framework) -> None:
    """Delete the framework, everything of it, its files and the units and users made for it."""
    files = stored_files(framework)
    with transaction.atomic():
        if connection.vendor == "postgresql":  # the published guard (issue 15, deliverable 6)
            connection.cursor().execute("SELECT set_config('parindex.unlock_published', 'on', true)")
        AuditEntry.objects.filter(framework_id=framework.pk).delete()
        framework.delete()
    for name in files:
        default_storage.delete(name)
    merged = Unit.objects.get(code="X3")
    merged.predecessors.clear()
    Unit.objects.filter(code__in=["X3", "X0"]).delete()
    get_user_model().objects.filter(username="officer_x3").delete()


def rows_count() -> dict[str, int]:
    from scoring.backup.registry import REGISTRY

    return {part.label: part.model.objects.count() for part in REGISTRY}


def media_names() -> set[str]:
    root = Path(default_storage.location)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_year_restores_with_the_same_rankings_histories_and_files(year, tmp_path):
    ranking_before = ranking_json(year.code)
    history_before = history(year.code)
    files_before = stored_files(year)
    assert ranking_before[0]["change"] is not None  # the previous year is part of the stored results
    assert len(files_before) == 4 and len(history_before) > 20
    archive = tmp_path / "cchc-2024.zip"
    out = io.StringIO()
    call_command("export_year", framework=year.code, out=str(archive), stdout=out)
    assert str(archive) in out.getvalue()

    wipe(year)
    assert not Framework.objects.filter(code=year.code).exists()
    assert not Unit.objects.filter(code="X3").exists()
    assert not any(default_storage.exists(name) for name in files_before)

    out = io.StringIO()
    call_command("import_year", str(archive), stdout=out)
    assert year.code in out.getvalue()
    restored = Framework.objects.get(code=year.code)
    assert restored.pk != year.pk
    assert (restored.status, restored.decision_number, restored.published_by.username) == (
        "published",
        "4769/QĐ-UBND",
        "appraiser",
    )
    assert ranking_json(year.code) == ranking_before
    assert history(year.code) == history_before
    assert stored_files(restored) == files_before
    # Units kept their tree and lineage; the units already there were reused, not copied.
    merged = Unit.objects.get(code="X3")
    assert merged.parent.code == "H" and merged.path == f"{merged.parent.path}{merged.pk}/"
    assert [u.code for u in merged.predecessors.all()] == ["X0"]
    assert Unit.objects.filter(code="X1").count() == 1
    # A user made for the archive has no usable password; the memberships came back.
    officer_x3 = get_user_model().objects.get(username="officer_x3")
    assert not officer_x3.has_usable_password() and officer_x3.first_name == "Ba"
    assert Membership.objects.filter(user=officer_x3, unit=merged, role=Role.OFFICER).exists()
    # What hangs on the framework came back with it.
    assert restored.council_members.get().areas.get().code == "1"
    assert RemediationItem.objects.get(assessment__framework=restored).criterion.code == "1.2"
    assert Appeal.objects.get(framework=restored).answered_by.username == "appraiser"
    assert restored.assessments.filter(status="published").count() == 3
    # Recomputing the restored framework gives the same ranking (the previous year is in this database).
    results_recompute(restored)
    assert ranking_json(year.code) == ranking_before


def test_the_manifest_counts_and_vouches_for_every_member(year, tmp_path):
    archive = tmp_path / "year.zip"
    manifest = year_export(framework=year, out=archive)
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert names == set(manifest["checksums"]) | {MANIFEST}
    assert manifest["framework"]["code"] == year.code
    assert manifest["counts"]["scoring.Assessment"] == 3
    assert manifest["counts"]["scoring.Evidence"] == 2
    assert manifest["counts"]["units.Unit"] == 6  # T, H, X0, X1, X2, X3
    assert "0001_initial" in manifest["migrations"]["scoring"]
    users = json.loads(zipfile.ZipFile(archive).read("data/01-auth.user.json"))
    assert {u["fields"]["username"] for u in users} >= {"officer_x1", "officer_x3", "appraiser"}
    assert all("password" not in u["fields"] for u in users)


def _refused(archive) -> str:
    with pytest.raises(CommandError) as caught:
        call_command("import_year", str(archive))
    return str(caught.value)


def test_a_framework_already_there_is_refused_and_nothing_written(year, tmp_path):
    archive = tmp_path / "year.zip"
    year_export(framework=year, out=archive)
    before, files = rows_count(), media_names()
    message = _refused(archive)
    assert "CCHC-2024" in message
    assert "đã có" in message and "already exists" in message  # Vietnamese, then English
    assert rows_count() == before and media_names() == files


def test_a_unit_of_the_same_code_but_another_name_is_refused(year, tmp_path):
    archive = tmp_path / "year.zip"
    year_export(framework=year, out=archive)
    wipe(year)
    Unit.objects.filter(code="X2").update(name="Phường Hai")
    before, files = rows_count(), media_names()
    message = _refused(archive)
    assert "X2" in message and "Phường Hai" in message and "Xã Hai" in message
    assert rows_count() == before and media_names() == files
    assert not Framework.objects.filter(code=year.code).exists()


def _rewrite(archive: Path, target: Path, *, change=None, drop=None) -> None:
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w") as copy:
        for name in source.namelist():
            if name == drop:
                continue
            data = source.read(name)
            if change and name.startswith(change[0]):
                data = change[1](data)
            copy.writestr(name, data)


def test_a_tampered_archive_is_refused(year, tmp_path):
    archive = tmp_path / "year.zip"
    year_export(framework=year, out=archive)
    wipe(year)
    tampered = tmp_path / "tampered.zip"
    changed = []

    def lift(data: bytes) -> bytes:
        lifted = data.replace(b'"25.50"', b'"29.50"')
        changed.append(lifted != data)
        return lifted

    # Someone lifts a unit's points in the scores and leaves the manifest as it was.
    _rewrite(archive, tampered, change=("data/", lift))
    assert any(changed)
    before, files = rows_count(), media_names()
    message = _refused(tampered)
    assert "checksum" in message
    assert rows_count() == before and media_names() == files
    # An evidence file swapped for other bytes is refused the same way.
    swapped = tmp_path / "swapped.zip"
    _rewrite(archive, swapped, change=("files/evidence/", lambda data: b"other bytes"))
    assert "checksum" in _refused(swapped)
    assert rows_count() == before and media_names() == files
    # The untouched archive restores.
    call_command("import_year", str(archive), stdout=io.StringIO())
    assert Framework.objects.filter(code=year.code).exists()


def test_an_archive_missing_a_file_is_refused(year, tmp_path):
    archive = tmp_path / "year.zip"
    manifest = year_export(framework=year, out=archive)
    wipe(year)
    evidence = next(name for name in manifest["files"] if "bien-ban" in name)
    incomplete = tmp_path / "incomplete.zip"
    _rewrite(archive, incomplete, drop=f"files/{evidence}")
    before, files = rows_count(), media_names()
    message = _refused(incomplete)
    assert f"files/{evidence}" in message and "missing" in message
    assert rows_count() == before and media_names() == files


def test_files_written_are_removed_when_the_restore_fails(year, tmp_path, monkeypatch):
    archive = tmp_path / "year.zip"
    year_export(framework=year, out=archive)
    wipe(year)
    before, files = rows_count(), media_names()
    from scoring.backup import archive as module

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "_check_results", broken)
    with pytest.raises(RuntimeError):
        year_import(source=archive)
    assert rows_count() == before and media_names() == files


def test_not_an_archive_is_refused(db, tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    message = _refused(junk)
    assert "manifest" in message


# --- PostgreSQL end to end ---------------------------------------------------------------------------

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_published_year_restores_into_a_fresh_postgresql_database(
    district, commune, other_commune, officer, appraiser, tmp_path
):
    import psycopg2
    from django.db import connection

    year = build_year(district, commune, other_commune, officer, appraiser)
    ranking_before = ranking_json(year.code)
    files_before = stored_files(year)
    history_before = [row[:11] for row in history(year.code)]
    archive = tmp_path / "year.zip"
    year_export(framework=year, out=archive)

    settings_dict = connection.settings_dict
    server = {
        "user": settings_dict.get("USER") or "postgres",
        "host": settings_dict.get("HOST") or "127.0.0.1",
        "port": settings_dict.get("PORT") or 5432,
    }
    scratch = f"parindex_restore_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(dbname="postgres", password=settings_dict.get("PASSWORD") or None, **server)
    admin.autocommit = True
    media = tmp_path / "media"
    env = dict(os.environ)
    env.pop("PARINDEX_TEST_DB_NAME", None)
    env.update(
        DJANGO_SETTINGS_MODULE="parindex.settings",
        DJANGO_SECRET_KEY="restore-test-only-not-secret",
        DJANGO_DEBUG="1",
        DATABASE_URL=f"postgres://{server['user']}@{server['host']}:{server['port']}/{scratch}",
        PARINDEX_MEDIA_ROOT=str(media),
        CELERY_TASK_ALWAYS_EAGER="1",
    )
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{scratch}"')
        migrated = _manage("migrate", "--noinput", env=env)
        assert migrated.returncode == 0, migrated.stderr
        restored = _manage("import_year", str(archive), env=env)
        assert restored.returncode == 0, restored.stderr
        ranking_after = _manage("ranking", "--framework", year.code, "--format", "json", env=env)
        assert ranking_after.returncode == 0, ranking_after.stderr
        assert json.loads(ranking_after.stdout) == ranking_before
        again = _manage("import_year", str(archive), env=env)
        assert again.returncode != 0 and "already exists" in again.stderr
        probe = _manage(
            "shell",
            "-c",
            "import json; from parindex.audit.models import AuditEntry as A; "
            "print(json.dumps([[str(v) if v is not None else None for v in r] for r in "
            f"A.objects.filter(framework_code={year.code!r}).order_by('created_at', 'id').values_list("
            "'action', 'field', 'old_value', 'new_value', 'reason', 'via', 'actor_name', 'actor__username', "
            "'unit_code', 'criterion_code', 'subject_type')]))",
            env=env,
        )
        assert probe.returncode == 0, probe.stderr
        assert json.loads(probe.stdout.strip().splitlines()[-1]) == [
            [str(v) if v is not None else None for v in row] for row in history_before
        ]
        assert {name: (media / name).read_bytes() for name in files_before} == files_before
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.close()


def test_an_archive_from_a_newer_version_is_refused(year, tmp_path):
    archive = tmp_path / "year.zip"
    year_export(framework=year, out=archive)
    wipe(year)

    def newer(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["migrations"]["scoring"].append("9999_from_the_future")
        return json.dumps(manifest).encode()

    future = tmp_path / "future.zip"
    _rewrite(archive, future, change=(MANIFEST, newer))
    before, files = rows_count(), media_names()
    message = _refused(future)
    assert "scoring.9999_from_the_future" in message and "migrate" in message
    assert rows_count() == before and media_names() == files


def test_a_stored_file_of_the_same_name_is_left_alone(year, tmp_path):
    archive = tmp_path / "year.zip"
    year_export(framework=year, out=archive)
    files_before = stored_files(year)
    wipe(year)
    # Another file now holds the name of X1's evidence; the restore keeps it and stores its own apart.
    name = next(name for name in files_before if "bien-ban" in name)
    assert default_storage.save(name, ContentFile(b"someone else's file")) == name
    call_command("import_year", str(archive), stdout=io.StringIO())
    restored = Framework.objects.get(code=year.code)
    with default_storage.open(name, "rb") as other:
        assert other.read() == b"someone else's file"
    evidence = Evidence.objects.get(score__assessment__framework=restored, score__criterion__code="1.1")
    assert evidence.file.name != name
    with evidence.file.open("rb") as restored_file:
        assert restored_file.read() == files_before[name]


def test_rows_that_do_not_fit_the_models_are_refused_and_no_file_is_left(year, tmp_path):
    """A consistent archive (checksums right) whose rows name a field the models do not have: the
    restore stops, rolls back, and the files it had written are removed."""
    archive = tmp_path / "year.zip"
    manifest = year_export(framework=year, out=archive)
    wipe(year)
    member = next(part["member"] for part in manifest["parts"] if part["model"] == "audit.AuditEntry")
    with zipfile.ZipFile(archive) as source:
        rows = json.loads(source.read(member))
        rows[-1]["fields"]["mood"] = "cheerful"
        data = json.dumps(rows).encode()
        manifest["checksums"][member] = hashlib.sha256(data).hexdigest()
        odd = tmp_path / "odd.zip"
        with zipfile.ZipFile(odd, "w") as copy:
            for name in source.namelist():
                if name == MANIFEST:
                    copy.writestr(name, json.dumps(manifest))
                else:
                    copy.writestr(name, data if name == member else source.read(name))
    before, files = rows_count(), media_names()
    message = _refused(odd)
    assert "mood" in message
    assert rows_count() == before and media_names() == files
