"""Uploads through the web: check → preview → confirm, with the history of every file.

The uploaded file is kept as sent (ImportRecord.file). Checking reads it with the same importers as
the management commands and stores either every problem or the preview of its changes in the
database row, so that the confirmation can be handled by any web process. Confirming reads the
kept file again and applies it all or nothing: if the scores moved since the preview, the new
check decides. Large files are checked by a Celery task (progress on the row).
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, override
from django.utils.translation import gettext_noop as N_

from parindex.dbguard import CONNECTION_ERRORS, close_broken_connection, retry_on_lost_connection
from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import NOT_APPLICABLE
from parindex.queue import enqueue_on_commit
from parindex.spreadsheets import SpreadsheetError, render_problems, service_problems
from scoring.assessments.services import ApplyResult, SelfEntry
from scoring.concurrency import row_snapshot
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

logger = logging.getLogger(__name__)

# Why an upload failed, stored on the record as a problem in both languages (the page shows it and
# offers to check the file again or cancel it).
QUEUE_UNREACHABLE = N_(
    "The file could not be sent for checking: the job queue is unreachable. Nothing was saved; "
    "check it again in a moment or cancel it."
)
INTERRUPTED = N_(
    "The work on this file was interrupted (its worker or web process stopped). Nothing was saved; "
    "check it again or cancel it."
)
CONNECTION_LOST = N_(
    "The connection to the database was lost while the file was being processed. Nothing was saved; "
    "check it again or cancel it."
)
UNEXPECTED = N_("The file could not be processed. Nothing was saved; check it again or cancel it.")


def _message(msgid: str) -> dict[str, str]:
    texts = {}
    for language in ("vi", "en"):
        with override(language):
            texts[language] = gettext(msgid)
    return texts


def stale_after() -> timedelta:
    """A check or confirmation silent for longer than the task time limit lost its worker or web process."""
    return timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", 660))


def queued_stale_after() -> timedelta:
    """A check still waiting for a worker after this was lost by the queue."""
    return timedelta(seconds=getattr(settings, "PARINDEX_IMPORT_QUEUED_STALE_SECONDS", 3600))


def _enqueue_check(record_id: int) -> None:
    def queue_unreachable(_error: BaseException) -> None:
        import_fail(record_id, QUEUE_UNREACHABLE)

    enqueue_on_commit("scoring.tasks.import_check_task", record_id, on_failure=queue_unreachable)


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
        heartbeat_at=timezone.now(),
    )
    record.file.save(name.rsplit("/", 1)[-1][-100:], upload, save=False)
    record.save()
    if upload.size > settings.PARINDEX_ASYNC_IMPORT_BYTES:
        _enqueue_check(record.pk)
    else:
        import_check(record, inline=True)
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
            for_assessment=assessment,
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


def _preview_rows(record: ImportRecord, lines: list[dict]) -> dict[str, dict[str, Any]]:
    """{"unit|code": the row's fields as the preview reads them (row_snapshot)} of the rows of the
    preview's lines: what the confirm compares, field by field, before writing (no row yet: the
    values a new row starts with)."""
    codes = {line["code"] for line in lines}
    rows = Score.objects.filter(assessment__framework=record.framework, criterion__code__in=codes)
    if record.kind != ImportKind.SURVEY:
        rows = rows.filter(assessment=record.assessment)
    stored = {
        (score.assessment.unit.code if record.kind == ImportKind.SURVEY else "", score.criterion.code): score
        for score in rows.select_related("assessment__unit", "criterion")
    }
    return {
        f"{line['unit']}|{line['code']}": row_snapshot(stored.get((line["unit"], line["code"])))
        for line in lines
    }


@dataclass
class Previewed:
    """What the confirm of an upload compares: `versions` (previews stored before the fields were:
    the rows' versions) or `expected` (the fields of each row as previewed), as the services take them."""

    versions: dict | None = None
    expected: dict | None = None


def _shown_fields(entry: SelfEntry, fields: set[str]) -> SelfEntry:
    """`entry` writing its note and evidence only if the preview showed them changed (`fields`, the
    preview lines' fields of its row): None keeps what the row holds. A not-applicable proposal whose
    reason is its note keeps the note it was read with (a change since is refused, not overwritten)."""
    note_is_reason = entry.not_applicable and not entry.not_applicable_reason
    return replace(
        entry,
        note=entry.note if "note" in fields or note_is_reason else None,
        evidence_reference=entry.evidence_reference if "evidence" in fields else None,
    )


def _previewed(record: ImportRecord, data: SurveyImport | AssessmentImport) -> Previewed:
    """Keep in `data` only the rows the preview showed a change of, and of a self-assessment row only
    the optional fields (note, evidence) it showed changed; return what the confirm compares (nothing
    for a preview stored before either was: applied as before). A row or field the preview did not
    list is not written, so a change another person made to it since stays."""
    preview = record.preview or {}
    old, versions = preview.get("old"), preview.get("versions")
    keyed = old if old is not None else versions
    if keyed is None:
        return Previewed()
    by_unit: dict[str, dict[str, Any]] = {}
    for key, value in keyed.items():
        unit, code = key.split("|", 1)
        by_unit.setdefault(unit, {})[code] = value
    if isinstance(data, SurveyImport):
        data.entries = {
            unit: {code: value for code, value in values.items() if code in by_unit.get(unit, {})}
            for unit, values in data.entries.items()
        }
        data.entries = {unit: values for unit, values in data.entries.items() if values}
        data.samples = {
            unit: {code: size for code, size in sizes.items() if code in by_unit.get(unit, {})}
            for unit, sizes in data.samples.items()
        }
        data.samples = {unit: sizes for unit, sizes in data.samples.items() if sizes}
        return Previewed(expected=by_unit) if old is not None else Previewed(versions=by_unit)
    codes = by_unit.get("", {})
    shown: dict[str, set[str]] = {}
    for line in preview.get("lines", []):
        shown.setdefault(line["code"], set()).add(line.get("field") or "points")
    data.self_entries = {
        code: _shown_fields(entry, shown.get(code, set())) if old is not None else entry
        for code, entry in data.self_entries.items()
        if code in codes
    }
    data.appraisal_entries = {code: e for code, e in data.appraisal_entries.items() if code in codes}
    data.na_decisions = {code: d for code, d in data.na_decisions.items() if code in codes}
    return Previewed(expected=codes) if old is not None else Previewed(versions=codes)


def import_check(record: ImportRecord, *, inline: bool = False) -> ImportRecord:
    """Check a kept file: store its problems (refused) or the preview of its changes. A database
    connection lost under the check (outside a transaction) is closed and the check run again.
    `inline`: checked inside the upload's own transaction, where no one else could see progress."""
    return retry_on_lost_connection(lambda: _check(record, inline), what=f"import_check({record.pk})")


def _check(record: ImportRecord, inline: bool = False) -> ImportRecord:
    if not inline:
        ImportRecord.objects.filter(pk=record.pk).update(progress=10, heartbeat_at=timezone.now())
    try:
        data = _read(record)
    except ValidationError as error:
        record.status, record.problems, record.preview = (
            ImportStatus.REFUSED,
            _problems(error, record.original_name),
            {"problems_total": getattr(error, "total", None) or len(error.messages)},
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
            # The fields of every row the preview shows a change of, as they are now: confirming
            # writes those rows only (and of a self row only the note or evidence shown changed), and
            # refuses a row whose write would change a field changed since (another person's save
            # is never lost; a change to a field the file does not write does not refuse it).
            "old": _preview_rows(record, lines),
            # Rows changed, as saving counts them (a row may change in several fields).
            "changes": len({(line["unit"], line["code"]) for line in lines}),
            "rows": total,
            "ignored": getattr(data, "ignored_rows", 0),
        }
    record.progress = 100
    record.save(update_fields=["status", "problems", "preview", "progress"])
    return record


def import_fail(record_id: int, message: str = UNEXPECTED) -> bool:
    """An error ended the check or the confirmation of an upload: the record is failed with the
    reason, never left "checking" or "applying"; it can be checked again or cancelled. Works after a
    lost database connection too (the broken connection is replaced)."""
    close_broken_connection()
    return bool(
        retry_on_lost_connection(
            lambda: ImportRecord.objects.filter(
                pk=record_id, status__in=(ImportStatus.CHECKING, ImportStatus.APPLYING)
            ).update(status=ImportStatus.FAILED, progress=100, problems=[_message(message)]),
            what=f"import_fail({record_id})",
        )
    )


def import_fail_stale(now: datetime | None = None) -> int:
    """Fail the checks and confirmations whose worker or web process died (silent for longer than the
    task time limit) and the checks the queue lost, so that none stays "checking" forever: run when a
    worker starts and when the upload pages are shown (beat is optional). Returns how many failed."""
    now = now or timezone.now()
    cutoff, queued_cutoff = now - stale_after(), now - queued_stale_after()
    since = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    queued_since = Q(heartbeat_at__lt=queued_cutoff) | Q(
        heartbeat_at__isnull=True, created_at__lt=queued_cutoff
    )
    stale = (
        Q(status=ImportStatus.APPLYING) & since
        | Q(status=ImportStatus.CHECKING, progress__gt=0) & since
        | Q(status=ImportStatus.CHECKING, progress=0) & queued_since
    )
    failed = ImportRecord.objects.filter(
        stale, status__in=(ImportStatus.CHECKING, ImportStatus.APPLYING)
    ).update(status=ImportStatus.FAILED, progress=100, problems=[_message(INTERRUPTED)])
    if failed:
        logger.warning("import_fail_stale: %d upload(s) failed as interrupted", failed)
    return failed


def import_recheck(*, record: ImportRecord) -> ImportRecord:
    """Check a failed upload again from its kept file (now, or by a worker for a large file): the
    check decides afresh, as for a new upload. Only a failed record, once (conditional UPDATE)."""
    record = ImportRecord.objects.select_related("framework", "assessment__unit", "requested_by").get(
        pk=record.pk
    )
    if record.framework is not None:
        framework_ensure_editable(record.framework)
    queued = record.size > settings.PARINDEX_ASYNC_IMPORT_BYTES
    with transaction.atomic():
        claimed = ImportRecord.objects.filter(pk=record.pk, status=ImportStatus.FAILED).update(
            status=ImportStatus.CHECKING, progress=0, problems=[], preview={}, heartbeat_at=timezone.now()
        )
        if not claimed:
            raise ServiceError(
                N_("Only a failed upload can be checked again."), code=ErrorCode.CONFLICT, obj=record
            )
        if queued:
            _enqueue_check(record.pk)
    record.refresh_from_db()
    if queued:
        return record
    try:
        return import_check(record)
    except CONNECTION_ERRORS:
        import_fail(record.pk, CONNECTION_LOST)
        raise
    except Exception:
        import_fail(record.pk)
        raise


def import_confirm(*, record: ImportRecord, actor: User | None) -> ImportRecord:
    """Apply a previewed file, all or nothing. A double click or a second web process cannot apply
    it twice: the record is claimed by a conditional UPDATE whose row count is checked."""
    claimed = ImportRecord.objects.filter(pk=record.pk, status=ImportStatus.PREVIEW).update(
        status=ImportStatus.APPLYING, progress=50, heartbeat_at=timezone.now()
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

    # All or nothing: a connection lost under it rolled it all back, so it can run again.
    def apply() -> ApplyResult:
        data = _read(record)
        shown = _previewed(record, data)
        with transaction.atomic():
            if isinstance(data, SurveyImport):  # the record's kind is survey
                return apply_survey(
                    data, actor=actor, via=Via.IMPORT, versions=shown.versions, expected=shown.expected
                )
            return apply_assessment(
                data, actor=actor, via=Via.IMPORT, versions=shown.versions, expected=shown.expected
            )

    try:
        result = retry_on_lost_connection(apply, what=f"import_confirm({record.pk})")
    except ValidationError as error:
        # Nothing of the file was saved (the services are atomic); the record says why.
        ImportRecord.objects.filter(pk=record.pk).update(
            status=ImportStatus.REFUSED, progress=100, problems=_problems(error, record.original_name)
        )
        raise
    except CONNECTION_ERRORS:
        import_fail(record.pk, CONNECTION_LOST)
        raise
    except Exception:
        import_fail(record.pk)
        raise
    record.status, record.changed, record.unchanged = ImportStatus.APPLIED, result.changed, result.unchanged
    record.applied_at, record.progress = timezone.now(), 100
    retry_on_lost_connection(
        lambda: record.save(update_fields=["status", "changed", "unchanged", "applied_at", "progress"])
    )
    return record


def import_cancel(*, record: ImportRecord) -> None:
    updated = ImportRecord.objects.filter(
        pk=record.pk, status__in=[ImportStatus.PREVIEW, ImportStatus.CHECKING, ImportStatus.FAILED]
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
    "reason": N_("Reason"),
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
