"""Uploads through the web: check → preview → confirm, with the history of every file.

The uploaded file is kept as sent (ImportRecord.file). Checking reads it with the same importers as
the management commands and stores either every problem or the preview of its changes in the
database row, so that the confirmation can be handled by any web process. Confirming reads the
kept file again and applies it all or nothing: if the scores moved since the preview, the new
check decides. Large files are checked by a Celery task (progress on the row).
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import NOT_APPLICABLE
from parindex.queue import enqueue_on_commit
from parindex.spreadsheets import SpreadsheetError, render_problems, service_problems
from scoring.exchange.importers import (
    APPRAISAL,
    SELF,
    AssessmentImport,
    SurveyImport,
    apply_assessment,
    apply_survey,
    assessment_preview,
    read_assessment,
    read_survey,
)
from scoring.frameworks.services import framework_ensure_editable
from scoring.models import Assessment, Framework, ImportKind, ImportRecord, ImportStatus, Score, Via


def _value(value: object) -> str | None:
    if value is NOT_APPLICABLE:
        return "KAD"
    return None if value is None else str(value)


def _problems(error: ValidationError, file_name: str) -> list[dict]:
    if isinstance(error, ServiceError):
        error = SpreadsheetError(service_problems(error), file_name)
    if isinstance(error, SpreadsheetError):
        vi = render_problems(error.problems, file_name, language="vi")
        en = render_problems(error.problems, file_name, language="en")
        return [{"vi": a, "en": b} for a, b in zip(vi, en, strict=True)]
    return [{"vi": message, "en": message} for message in error.messages]


@transaction.atomic
def import_start(
    *,
    kind: str,
    upload: File,
    actor: User | None,
    assessment: Assessment | None = None,
    framework: Framework | None = None,
) -> ImportRecord:
    """Keep the uploaded file and check it now, or queue the check for a large file."""
    if kind in (ImportKind.SELF, ImportKind.APPRAISAL) and assessment is None:
        raise ValueError("an assessment import needs the assessment")
    if framework is None:
        if assessment is None:
            raise ValueError("an import needs the framework or the assessment")
        framework = assessment.framework
    framework_ensure_editable(framework)
    if upload.size > settings.PARINDEX_UPLOAD_MAX_BYTES:
        raise ServiceError(
            N_("The file is larger than the limit of %(mb)s MB."),
            obj=framework,
            field="file",
            params={"mb": settings.PARINDEX_UPLOAD_MAX_BYTES // (1024 * 1024)},
        )
    name = upload.name or ""
    record = ImportRecord(
        kind=kind,
        framework=framework,
        assessment=assessment,
        original_name=name[-255:],
        size=upload.size,
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    record.file.save(name.rsplit("/", 1)[-1][-100:], upload, save=False)
    record.save()
    if upload.size > settings.PARINDEX_ASYNC_IMPORT_BYTES:
        enqueue_on_commit("scoring.tasks.import_check_task", record.pk)
    else:
        import_check(record)
    return record


def _read(record: ImportRecord) -> SurveyImport | AssessmentImport:
    with record.file.open("rb") as handle:
        if record.kind == ImportKind.SURVEY:
            return read_survey(handle, framework=record.framework, name=record.original_name)
        stage = SELF if record.kind == ImportKind.SELF else APPRAISAL
        assessment = record.assessment
        assert assessment is not None  # every self or appraisal import names its assessment
        return read_assessment(
            handle,
            framework=record.framework,
            stage=stage,
            unit_code=assessment.unit.code,
            name=record.original_name,
            actor=record.requested_by,
        )


def _survey_preview(data: SurveyImport) -> list[dict[str, str | None]]:
    current = {
        (unit_code, code): points
        for unit_code, code, points in Score.objects.filter(
            assessment__framework=data.framework, criterion__source="survey"
        ).values_list("assessment__unit__code", "criterion__code", "appraised_points")
    }
    lines = []
    for unit_code, values in data.stored_values().items():
        for code, new in values.items():
            old = current.get((unit_code, code))
            if old != new:
                lines.append(
                    {"code": code, "unit": unit_code, "title": "", "old": _value(old), "new": _value(new)}
                )
    return lines


def import_check(record: ImportRecord) -> ImportRecord:
    """Check a kept file: store its problems (refused) or the preview of its changes."""
    ImportRecord.objects.filter(pk=record.pk).update(progress=10)
    try:
        data = _read(record)
    except ValidationError as error:
        record.status, record.problems, record.preview = (
            ImportStatus.REFUSED,
            _problems(error, record.original_name),
            {},
        )
    else:
        if isinstance(data, SurveyImport):  # the record's kind is survey
            lines = _survey_preview(data)
            total = sum(len(values) for values in data.entries.values())
        else:
            lines = [
                {
                    "code": line.code,
                    "unit": "",
                    "title": line.title,
                    "field": line.field,
                    "old": _value(line.old),
                    "new": _value(line.new),
                }
                for line in assessment_preview(data)
            ]
            total = data.count
        record.status, record.problems = ImportStatus.PREVIEW, []
        record.preview = {
            "lines": lines,
            # Rows changed, as saving counts them (a row may change in several fields).
            "changes": len({(line["unit"], line["code"]) for line in lines}),
            "rows": total,
            "ignored": getattr(data, "ignored_rows", 0),
        }
    record.progress = 100
    record.save(update_fields=["status", "problems", "preview", "progress"])
    return record


def import_fail(record_id: int) -> None:
    """An unexpected error ended the background check of an upload: the record is failed, never left
    "checking" (the person can cancel it or upload the file again)."""
    ImportRecord.objects.filter(pk=record_id, status=ImportStatus.CHECKING).update(
        status=ImportStatus.FAILED, progress=100
    )


def import_confirm(*, record: ImportRecord, actor: User | None) -> ImportRecord:
    """Apply a previewed file, all or nothing. A double click or a second web process cannot apply
    it twice: the record is claimed by a conditional UPDATE whose row count is checked."""
    claimed = ImportRecord.objects.filter(pk=record.pk, status=ImportStatus.PREVIEW).update(
        status=ImportStatus.APPLYING, progress=50
    )
    if not claimed:
        record.refresh_from_db()
        raise ServiceError(
            N_("This file was already handled (%(status)s)."),
            code=ErrorCode.CONFLICT,
            obj=record,
            params={"status": ImportStatus(record.status).label},
        )
    record = ImportRecord.objects.select_related("framework", "assessment__unit").get(pk=record.pk)
    try:
        data = _read(record)
        with transaction.atomic():
            if isinstance(data, SurveyImport):  # the record's kind is survey
                result = apply_survey(data, actor=actor, via=Via.IMPORT)
            else:
                result = apply_assessment(data, actor=actor, via=Via.IMPORT)
    except ValidationError as error:
        # Nothing of the file was saved (the services are atomic); the record says why.
        ImportRecord.objects.filter(pk=record.pk).update(
            status=ImportStatus.REFUSED, progress=100, problems=_problems(error, record.original_name)
        )
        raise
    except Exception:
        ImportRecord.objects.filter(pk=record.pk).update(status=ImportStatus.FAILED, progress=100)
        raise
    record.status, record.changed, record.unchanged = ImportStatus.APPLIED, result.changed, result.unchanged
    record.applied_at, record.progress = timezone.now(), 100
    record.save(update_fields=["status", "changed", "unchanged", "applied_at", "progress"])
    return record


def import_cancel(*, record: ImportRecord) -> None:
    updated = ImportRecord.objects.filter(
        pk=record.pk, status__in=[ImportStatus.PREVIEW, ImportStatus.CHECKING]
    ).update(status=ImportStatus.CANCELLED)
    if not updated:
        raise ServiceError(N_("This file was already handled."), code=ErrorCode.CONFLICT, obj=record)


# What each preview line is about, as the confirmation page names it.
PREVIEW_FIELDS = {
    "points": N_("Points"),
    "raw": N_("Raw figure"),
    "note": N_("Note"),
    "evidence": N_("Evidence"),
    "not_applicable_reason": N_("Why not applicable"),
}


def preview_line(line: dict) -> dict:
    """A stored preview line as the page shows it: points as numbers, text fields as text."""
    field = line.get("field", "points")
    if field != "points":
        return {**line, "field": field, "label": PREVIEW_FIELDS.get(field, field)}
    return {
        **line,
        "field": field,
        "label": PREVIEW_FIELDS["points"],
        "old": preview_decimal(line["old"]),
        "new": preview_decimal(line["new"]),
    }


def preview_decimal(value: str | None) -> str | Decimal | None:
    """Preview values are stored as text; the page shows them as numbers ("KAD" stays a word)."""
    if value is None or value in ("", "KAD"):
        return value
    return Decimal(value)
