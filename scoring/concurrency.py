"""Optimistic concurrency: a save made on what another person has changed since it was read is refused.

Every score row (and the framework's settings) carries an integer `version`, which the one writing
service adds one to (scoring.assessments.services._apply_many; framework_update and
framework_set_deadlines). Every page row, appraisal row, survey cell, admin form and import preview
sends the version it read. The services compare it under their row locks (assessment_for_update, or
the framework FOR UPDATE) and refuse with `StaleEdit`, which says what the row holds now, who saved it
and when; entry paths only translate it (the row again with the message and a reload link, 409 for
htmx; the admin form's error; the import's problems).

A version left out (None) is not checked: the commands and internal steps that act on what they read
themselves, under the lock.

Pages acting on several rows send every version they showed: "accept the self points" of an area or
of all rows sends "code:version,…" (versions_text; services.appraisal_accept_self accepts those rows
only and refuses if one changed or a row waits that was not shown); a return for explanation sends
the version of each row it lists (assessment_return); an appeal's answer the version of its score
(appeals.services.appeal_answer). An upload's confirm compares field by field instead (row_snapshot
kept by its preview, overwrite_refusals in the services): only a field it would change that no longer
holds the value previewed refuses it, so a change to a field the file does not write is kept.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import when_text
from scoring.models import Criterion, Framework, Score

# What the person was editing, which decides what the refusal shows of the row as it is now.
SELF, APPRAISAL, SURVEY, EXPLANATION, ROW = "self", "appraisal", "survey", "explanation", "row"

_MESSAGES = {
    SELF: N_(
        "%(code)s was changed by %(who)s at %(when)s after you opened it: the self-assessed points are now "
        "%(value)s, note %(note)r. Your change was not saved; reload to see the row as it is now."
    ),
    APPRAISAL: N_(
        "%(code)s was changed by %(who)s at %(when)s after you opened it: the appraised points are now "
        "%(value)s, reason %(note)r. Your change was not saved; reload to see the row as it is now."
    ),
    SURVEY: N_(
        "%(code)s was changed by %(who)s at %(when)s after you opened it: the survey points are now "
        "%(value)s. Your change was not saved; reload to see the row as it is now."
    ),
    EXPLANATION: N_(
        "%(code)s was changed by %(who)s at %(when)s after you opened it: the explanation is now %(note)r. "
        "Your change was not saved; reload to see the row as it is now."
    ),
    ROW: N_(
        "%(code)s was changed by %(who)s at %(when)s after it was read: self-assessed %(self)s, appraised "
        "%(value)s, note %(note)r. Nothing was saved; reload to see the row as it is now."
    ),
}

NOT_APPLICABLE_TEXT = gettext_lazy("not applicable")
SOMEONE = gettext_lazy("someone else")


def _when(score: Score | None) -> str:

    return when_text(score.updated_at) if score is not None and score.updated_at else "—"


def _who(user: Any) -> Any:
    if user is None:
        return SOMEONE
    return user.get_full_name() or user.get_username()


class StaleEdit(ServiceError):
    """A save refused because the row changed after it was read. `current` holds the row's fields as
    they are now (the other person's values), `who`/`when` who saved them, `version` its version."""

    def __init__(
        self,
        message: str,
        *,
        params: Mapping[str, Any],
        obj: Any = None,
        field: str | None = None,
        criterion: str | None = None,
        current: Mapping[str, Any] | None = None,
        version: int = 0,
    ) -> None:
        super().__init__(
            message, code=ErrorCode.CONFLICT, params=params, obj=obj, field=field, criterion=criterion
        )
        self.current = dict(current or {})
        self.version = version

    @classmethod
    def of_score(
        cls, score: Score | None, criterion: Criterion, *, part: str, unit: str | None = None
    ) -> "StaleEdit":
        """The refusal of a save of `criterion`'s row read before `score` (None: no row now)."""
        score = score or Score(criterion=criterion)
        if part in (APPRAISAL, SURVEY):
            value: Any = NOT_APPLICABLE_TEXT if score.appraised_not_applicable else score.appraised_points
            note = score.appraisal_reason
        elif part == EXPLANATION:
            value, note = None, score.explanation
        else:
            value = NOT_APPLICABLE_TEXT if score.not_applicable else score.self_points
            if part == ROW:
                value = NOT_APPLICABLE_TEXT if score.appraised_not_applicable else score.appraised_points
            note = score.note
        self_value = NOT_APPLICABLE_TEXT if score.not_applicable else score.self_points
        current = {
            name: getattr(score, name)
            for name in (
                "self_points",
                "self_raw",
                "not_applicable",
                "note",
                "appraised_points",
                "appraised_raw",
                "appraisal_reason",
                "explanation",
            )
        }
        return cls(
            _MESSAGES[part],
            params={
                "code": f"{unit} · {criterion.code}" if unit else criterion.code,
                "unit": unit or "",
                "who": _who(score.updated_by if score.updated_by_id else None),
                "when": _when(score if score.pk else None),
                "value": value,
                "self": self_value,
                "note": note or "",
            },
            obj=score if score.pk else criterion,
            field=None,  # the whole row: beside the form, not one of its fields
            criterion=criterion.code,
            current={**current, "who": _who(score.updated_by if score.updated_by_id else None)},
            version=score.version,
        )


def stale_scores(
    expected: Mapping[tuple[int, str], int | None] | None,
    leaves: Mapping[str, Criterion],
    *,
    part: str,
    labels: Mapping[int, str] | None = None,
    scores: Mapping[tuple[int, int], Score] | None = None,
) -> list[ServiceError]:
    """The refusals (StaleEdit) of the rows {(assessment id, leaf code): version read} whose version moved since
    (a row not stored yet is version 0). One query; call it under the service's locks. `labels` names
    the unit of each assessment id where several units are saved at once (survey, imports). `scores`
    {(assessment id, criterion id): score}: every one of these rows, already read under the locks with
    updated_by (then no query)."""
    wanted = {key: version for key, version in (expected or {}).items() if version is not None}
    if not wanted:
        return []
    if scores is None:
        criteria = [leaves[code] for _aid, code in wanted if code in leaves]
        scores = {
            (s.assessment_id, s.criterion_id): s
            for s in Score.objects.filter(
                assessment_id__in={aid for aid, _code in wanted}, criterion__in=criteria
            ).select_related("updated_by")
        }
    stale: list[ServiceError] = []
    for (assessment_id, code), version in sorted(wanted.items()):
        criterion = leaves.get(code)
        if criterion is None:
            continue
        score = scores.get((assessment_id, criterion.pk))
        if (score.version if score else 0) != version:
            unit = (labels or {}).get(assessment_id)
            stale.append(StaleEdit.of_score(score, criterion, part=part, unit=unit))
    return stale


def by_assessment(
    assessment_id: int, versions: Mapping[str, int | None] | None
) -> dict[tuple[int, str], int]:
    """{code: version} of one assessment's rows as stale_scores takes them."""
    return {
        (assessment_id, code): version for code, version in (versions or {}).items() if version is not None
    }


def framework_stale(framework: Framework, expected: int | None) -> StaleEdit | None:
    """The refusal to save settings of `framework` (read under its lock) read at version `expected`."""
    if expected is None or expected == framework.version:
        return None
    from parindex.audit.models import AuditEntry

    last = (
        AuditEntry.objects.filter(framework_id=framework.pk, assessment_id__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )
    who = (last.actor_name or SOMEONE) if last is not None else SOMEONE
    return StaleEdit(
        N_(
            "The settings of framework %(code)s were changed by %(who)s at %(when)s after you opened them. "
            "Nothing was saved; reload to see them as they are now."
        ),
        params={"code": framework.code, "who": who, "when": when_text(framework.updated_at)},
        obj=framework,
        field="version",
        version=framework.version,
    )


def stale_in(error: ServiceError) -> list[StaleEdit]:
    """The StaleEdit refusals of an error (itself, or among its details)."""
    return [e for e in error.all() if isinstance(e, StaleEdit)]


def version_of(text: Any) -> int | None:
    """A version sent by a form ("" or missing: not sent, not checked; garbage: -1, never current)."""
    if text is None or str(text).strip() == "":
        return None
    try:
        return int(str(text).strip())
    except ValueError:
        return -1


def reload_url(url: str, anchor: str = "") -> str:
    """The link that reloads a page at a refused row: a query makes it a new load (a link that only
    changes the #anchor of the page shown would not read the row again)."""
    joined = f"{url}{'&' if '?' in url else '?'}reload=1"
    return f"{joined}#{anchor}" if anchor else joined


def versions_of(scores: Iterable[Score]) -> dict[str, int]:
    return {score.criterion.code: score.version for score in scores}


def versions_text(rows: Iterable[tuple[str, int]]) -> str:
    """The versions of the rows a page shows ((code, version) each), in one form field:
    "code:version,code:version" (read back by versions_from_text)."""
    return ",".join(f"{code}:{version}" for code, version in rows)


def versions_from_text(text: Any) -> dict[str, int] | None:
    """{code: version} of a versions_text field (None: the field was not sent, nothing is checked; a
    garbled entry reads as version -1, never current, so it is refused rather than taken as read)."""
    if text is None:
        return None
    versions: dict[str, int] = {}
    for item in str(text).split(","):
        code, sep, version = item.strip().rpartition(":")
        if not sep and not version:
            continue
        if not sep:
            code, version = version, ""
        parsed = version_of(version)
        versions[code.strip()] = -1 if parsed is None else parsed
    return versions


# --- an import's confirm: the values its preview showed, field by field -----------------------------------

# The fields of a score row an import may write (the preview keeps their values when it is shown).
SNAPSHOT_FIELDS = (
    "self_points",
    "self_raw",
    "not_applicable",
    "not_applicable_reason",
    "note",
    "evidence_reference",
    "appraised_points",
    "appraised_raw",
    "appraised_not_applicable",
    "survey_sample",
    "appraisal_reason",
)


def plain(value: Any) -> Any:
    """A field's value as a preview keeps it in JSON (Decimal as its text; None, bool, int, str as is)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def row_snapshot(score: Score | None) -> dict[str, Any]:
    """The values of the fields an import may write of a row as its preview reads it (no row: the
    values a new row starts with)."""
    score = score or Score()
    return {name: plain(getattr(score, name)) for name in SNAPSHOT_FIELDS}


def overwritten_fields(score: Score, values: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """The fields a write of `values` would change whose value is no longer the one the preview showed
    (`expected`, row_snapshot): writing them would lose another person's change. A field the write
    leaves alone, or sets to the value it has now, is not compared."""
    return [
        name
        for name, new in values.items()
        if name in expected and getattr(score, name) != new and plain(getattr(score, name)) != expected[name]
    ]
