"""Framework pages: the appraisers' board, survey entry, deadlines, publication and the audit trail.

Every page reads a fixed number of queries whatever the number of units. Access comes from
scoring.access: officers who see the framework (their unit is assessed in it) get 403 on its pages,
everybody else who does not see it 404. Leaders read; appraisers of the issuing authority change;
a published framework is read-only for everybody (403 on a change)."""

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from parindex.audit.models import AuditEntry
from parindex.audit.selectors import trail_filtered
from parindex.errors import ServiceError
from parindex.numbers import NOT_APPLICABLE, format_decimal, when_text
from scoring.access import (
    assessments_visible_to,
    can_manage_framework,
    ensure_not_published,
    frameworks_visible_to,
    get_assessment_for_appraisal,
    get_framework_for_change,
    get_framework_for_management,
    get_framework_for_oversight,
    get_framework_for_view,
    get_score_row_for_view,
    reach,
)
from scoring.appeals.selectors import appeals_open_count
from scoring.assessments.services import assessment_extend_deadline, survey_apply
from scoring.concurrency import stale_in
from scoring.frameworks import phases
from scoring.frameworks.forms import (
    ActivityFilterForm,
    AppealDeadlineForm,
    DeadlinesForm,
    ExtensionForm,
    PublishForm,
    StepBackForm,
    SurveyGrid,
)
from scoring.frameworks.groups import assessment_set_ranked
from scoring.frameworks.selectors import criteria_tree, framework_units, rule_description, source_note
from scoring.frameworks.services import (
    framework_close_appeals,
    framework_close_appeals_problems,
    framework_finalise,
    framework_finalise_problems,
    framework_notify_preliminary,
    framework_open,
    framework_open_problems,
    framework_publish_problems,
    framework_set_deadlines,
    framework_start_appraisal,
    framework_start_appraisal_problems,
    framework_step_back,
    publication_lines,
)
from scoring.frameworks.services import framework_publish as publish_framework
from scoring.models import (
    AppealStatus,
    Assessment,
    AssessmentStatus,
    CouncilMember,
    Criterion,
    CriterionSource,
    Framework,
    FrameworkStatus,
    Score,
    Via,
)
from units.models import Unit

NOT_STARTED = "not_started"
OVERDUE = "overdue"
SELF_OPEN = (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED)
STATUS_ORDER = [NOT_STARTED, *AssessmentStatus.values]


def status_labels() -> dict[str, str]:
    return {NOT_STARTED: _("Not started"), **{s.value: s.label for s in AssessmentStatus}}


# --- reads ------------------------------------------------------------------------------------------


@dataclass
class BoardRow:
    unit: Unit
    assessment: Assessment | None
    status: str
    status_label: str
    deadline: object
    extended: bool
    overdue: bool
    start_url: str | None = None  # opens an assessment for a unit that has none (appraisers)
    places: int = 0  # units holding a place in this unit's ranking (its group, else the framework)

    @property
    def result(self):
        return getattr(self.assessment, "result", None) if self.assessment else None


def board_rows(framework: Framework, now=None) -> list[BoardRow]:
    """One row per unit of the framework, with its assessment and stored result. Two queries."""
    now = now or timezone.now()
    labels = status_labels()
    assessments = {
        a.unit_id: a
        for a in Assessment.objects.filter(framework=framework).select_related("result", "ranking_group")
    }
    rows = []
    for unit in framework_units(framework):
        assessment = assessments.get(unit.pk)
        status = assessment.status if assessment else NOT_STARTED
        if assessment:
            assessment.framework = framework  # no query for assessment.self_deadline
        extended = bool(assessment and assessment.self_deadline_extended_to)
        deadline = assessment.self_deadline if assessment else framework.self_deadline
        overdue = (status == NOT_STARTED or status in SELF_OPEN) and deadline is not None and deadline < now
        rows.append(BoardRow(unit, assessment, status, labels[status], deadline, extended, overdue))
    places = Counter(
        row.assessment.ranking_group_id for row in rows if row.assessment and row.result and row.result.rank
    )
    for row in rows:
        row.places = places.get(row.assessment.ranking_group_id, 0) if row.assessment else 0
    return rows


def _counts(rows: list[BoardRow]) -> list[dict]:
    counter = Counter(row.status for row in rows)
    labels = status_labels()
    stats = [{"key": key, "label": labels[key], "count": counter.get(key, 0)} for key in STATUS_ORDER]
    stats.append({"key": OVERDUE, "label": _("Overdue"), "count": sum(1 for row in rows if row.overdue)})
    return stats


# --- framework list ---------------------------------------------------------------------------------


@login_required
def framework_list(request):
    r = reach(request.user)
    frameworks = list(frameworks_visible_to(request.user).order_by("-year", "-created_at", "code"))
    counts: dict[int, Counter] = {f.pk: Counter() for f in frameworks}
    for framework_id, status, n in (
        assessments_visible_to(request.user)
        .filter(framework__in=frameworks)
        .order_by()
        .values_list("framework_id", "status")
        .annotate(n=Count("pk"))
    ):
        counts[framework_id][status] += n
    own: dict[int, list[Assessment]] = {}
    if r.officer_unit_ids:
        for assessment in Assessment.objects.filter(
            framework__in=frameworks, unit_id__in=r.officer_unit_ids
        ).select_related("unit"):
            own.setdefault(assessment.framework_id, []).append(assessment)
    labels = status_labels()
    councils = set(CouncilMember.objects.filter(user=request.user).values_list("framework_id", flat=True))
    items = []
    for framework in frameworks:
        oversees = r.oversees(framework.authority)
        items.append(
            {
                "framework": framework,
                "oversees": oversees,
                "council": oversees or framework.pk in councils,
                "own": own.get(framework.pk, []),
                "counts": [
                    {"key": s, "label": labels[s], "count": counts[framework.pk][s]}
                    for s in AssessmentStatus.values
                    if counts[framework.pk][s]
                ],
                "total": sum(counts[framework.pk].values()),
            }
        )
    # Appraisers (of a district or above) may import a new framework file.
    may_import = reach(request.user).is_appraiser
    return render(
        request, "scoring/framework/list.html", {"items": items, "perms_import_framework": may_import}
    )


# --- the board --------------------------------------------------------------------------------------


@login_required
def framework_board(request, code):
    framework = get_framework_for_oversight(request.user, code)
    r = reach(request.user)
    manages = can_manage_framework(request.user, framework)
    rows = board_rows(framework)
    stats = _counts(rows)
    chosen = request.GET.get("status", "")
    if chosen == OVERDUE:
        shown = [row for row in rows if row.overdue]
    elif chosen in STATUS_ORDER:
        shown = [row for row in rows if row.status == chosen]
    else:
        chosen, shown = "", rows
    editable = manages and not framework.is_published
    if editable:
        for row in shown:
            if row.assessment is None:
                row.start_url = _url_or_none("scoring:assessment_start", framework.code, row.unit.code)
    context = {
        "framework": framework,
        "rows": shown,
        "total": len(rows),
        "ranked": sum(1 for row in rows if row.result is not None and row.result.rank),
        "stats": stats,
        "chosen": chosen,
        "manages": manages,
        "editable": editable,
        "appraises": r.is_appraiser and manages,
        "deadlines_form": DeadlinesForm(
            initial={
                "self_deadline": _local(framework.self_deadline),
                "appraisal_deadline": _local(framework.appraisal_deadline),
                "version": framework.version,
            }
        )
        if editable
        else None,
        "self_open": SELF_OPEN,
        "reopen_url": _reopen_url(request.user, framework),
        "appeals_open": appeals_open_count(framework),
        **phase_context(request.user, framework, manages),
    }
    return render(request, "scoring/framework/board.html", context)


def _local(value):
    return timezone.localtime(value) if value else None


def _reopen_url(user, framework):
    if user.is_superuser and framework.is_published:
        return reverse("admin:scoring_framework_reopen", args=[framework.pk])
    return None


def _url_or_none(name: str, *args) -> str | None:
    """A link to a page of another part of the app (file imports), left out if that part is not there."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _board_url(framework: Framework) -> str:
    return reverse("scoring:framework_board", args=[framework.code])


def _form_errors(form) -> str:
    return " ".join(
        f"{form.fields[name].label}: {' '.join(errors)}" if name in form.fields else " ".join(errors)
        for name, errors in form.errors.items()
    )


@login_required
@require_http_methods(["GET", "POST"])
def framework_deadlines(request, code):
    """The framework's deadlines (also editable inline on the board) and the extensions granted."""
    if request.method == "POST":
        framework = get_framework_for_change(request.user, code)
        form = DeadlinesForm(request.POST)
        if form.is_valid():
            try:
                framework_set_deadlines(
                    framework=framework,
                    self_deadline=form.cleaned_data["self_deadline"],
                    appraisal_deadline=form.cleaned_data["appraisal_deadline"],
                    actor=request.user,
                    via=Via.WEB,
                    version=form.cleaned_data["version"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("The deadlines are saved."))
                return redirect(_board_url(framework))
    else:
        framework = get_framework_for_management(request.user, code)
        form = DeadlinesForm(
            initial={
                "self_deadline": _local(framework.self_deadline),
                "appraisal_deadline": _local(framework.appraisal_deadline),
                "version": framework.version,
            }
        )
    extensions = (
        Assessment.objects.filter(framework=framework, self_deadline_extended_to__isnull=False)
        .select_related("unit")
        .order_by("unit__code")
    )
    return render(
        request,
        "scoring/framework/deadlines.html",
        {
            "framework": framework,
            "form": form,
            "extensions": extensions,
            "manages": True,
            "editable": not framework.is_published,
            "reopen_url": _reopen_url(request.user, framework),
        },
    )


@login_required
@require_POST
def deadline_extend(request, pk):
    assessment = get_assessment_for_appraisal(request.user, pk)
    framework = assessment.framework
    ensure_not_published(framework)
    form = ExtensionForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            _("No extension for %(unit)s. %(errors)s")
            % {"unit": assessment.unit.name, "errors": _form_errors(form)},
        )
        return redirect(_board_url(framework))
    try:
        assessment_extend_deadline(
            assessment=assessment,
            until=form.cleaned_data["until"],
            reason=form.cleaned_data["reason"],
            actor=request.user,
            via=Via.WEB,
        )
    except ValidationError as error:
        messages.error(
            request,
            _("No extension for %(unit)s. %(errors)s")
            % {"unit": assessment.unit.name, "errors": " ".join(error.messages)},
        )
    else:
        messages.success(
            request,
            _("%(unit)s may submit until %(until)s.")
            % {
                "unit": assessment.unit.name,
                "until": when_text(form.cleaned_data["until"]),
            },
        )
    return redirect(_board_url(framework))


@login_required
@require_POST
def assessment_ranked(request, pk):
    """Leave a unit assessed but not ranked (with a reason), or rank it again."""
    assessment = get_assessment_for_appraisal(request.user, pk)
    framework = assessment.framework
    ensure_not_published(framework)
    ranked = request.POST.get("ranked") == "1"
    try:
        assessment_set_ranked(
            assessment=assessment,
            ranked=ranked,
            reason=request.POST.get("reason", ""),
            actor=request.user,
            via=Via.WEB,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            (_("%(unit)s is ranked again.") if ranked else _("%(unit)s is assessed but not ranked."))
            % {"unit": assessment.unit.name},
        )
    return redirect(_board_url(framework))


# --- survey grid ------------------------------------------------------------------------------------


def _survey_grid(framework: Framework, data=None) -> SurveyGrid:
    leaves = list(
        Criterion.objects.filter(framework=framework, is_leaf=True, source=CriterionSource.SURVEY).order_by(
            "order"
        )
    )
    rows = Score.objects.filter(assessment__framework=framework, criterion__in=leaves).values_list(
        "assessment__unit_id", "criterion_id", "appraised_points", "appraised_not_applicable", "version"
    )
    stored, versions = {}, {}
    for unit_id, criterion_id, points, not_applicable, version in rows:
        stored[(unit_id, criterion_id)] = NOT_APPLICABLE if not_applicable else points
        versions[(unit_id, criterion_id)] = version
    return SurveyGrid(list(framework_units(framework)), leaves, stored, data=data, versions=versions)


@login_required
def survey_grid(request, code):
    if request.method == "POST":
        framework = get_framework_for_change(request.user, code)
        grid = _survey_grid(framework, request.POST)
        if grid.is_valid():
            if not grid.entries:
                messages.info(request, _("Nothing changed."))
                return redirect("scoring:survey_grid", code=framework.code)
            try:
                result = survey_apply(
                    framework=framework,
                    entries=grid.entries,
                    as_percent=grid.as_percent,
                    actor=request.user,
                    via=Via.WEB,
                    versions=grid.versions,
                )
            except ValidationError as error:
                grid.non_cell_errors = error.messages
                # Cells another person saved after this page read them: named with their values (409).
                grid.conflict = isinstance(error, ServiceError) and bool(stale_in(error))
            else:
                messages.success(
                    request,
                    ngettext(
                        "Survey points saved: %(n)d score changed.",
                        "Survey points saved: %(n)d scores changed.",
                        result.changed,
                    )
                    % {"n": result.changed},
                )
                return redirect("scoring:survey_grid", code=framework.code)
    else:
        framework = get_framework_for_oversight(request.user, code)
        grid = _survey_grid(framework)
    manages = can_manage_framework(request.user, framework)
    return render(
        request,
        "scoring/framework/survey.html",
        {
            "framework": framework,
            "grid": grid,
            "manages": manages,
            "editable": manages and not framework.is_published,
            "upload_url": _url_or_none("scoring:survey_upload", framework.code)
            if manages and not framework.is_published
            else None,
            "reopen_url": _reopen_url(request.user, framework),
            "reload_url": reverse("scoring:survey_grid", args=[framework.code]),
        },
        status=409 if grid.conflict else 200,
    )


# --- phases and publication -------------------------------------------------------------------------


@dataclass
class PhaseLine:
    """One phase of the year as the board lists it."""

    phase: str
    label: str
    state: str  # "done", "current" or "todo"


def phase_lines(framework: Framework) -> list[PhaseLine]:
    current = phases.ORDER.index(framework.status)
    return [
        PhaseLine(
            phase,
            phases.phase_label(phase),
            "done" if index < current else "current" if index == current else "todo",
        )
        for index, phase in enumerate(phases.ORDER)
    ]


def step_problems(framework: Framework) -> list[str]:
    """Why the next step cannot be taken now (the services' checks, as text); empty when it can. The
    preliminary results' appeal deadline is given with the button, so it is not judged here."""
    step = phases.next_step(framework)
    if step is None:
        return []
    checks = {
        FrameworkStatus.DRAFT: lambda: framework_open_problems(framework),
        FrameworkStatus.OPEN: lambda: framework_start_appraisal_problems(framework),
        FrameworkStatus.APPRAISAL: lambda: [],
        FrameworkStatus.PRELIMINARY: lambda: framework_close_appeals_problems(framework),
        FrameworkStatus.APPEALS: lambda: framework_finalise_problems(framework),
        FrameworkStatus.FINAL: lambda: [],
    }
    return [error.text() for error in checks[framework.status]()]


def phase_context(user, framework: Framework, manages: bool) -> dict:
    """What the board shows of the phases: the steps, the current one, the next step's button and its
    checks, stepping back."""
    editable = manages and not framework.is_published
    return {
        "phases": phase_lines(framework),
        "next_step": phases.next_step(framework) if editable else None,
        "step_problems": step_problems(framework) if editable else [],
        "appeal_form": AppealDeadlineForm(initial={"appeal_deadline": _local(framework.appeal_deadline)})
        if editable and framework.status == FrameworkStatus.APPRAISAL
        else None,
        "step_back": phases.previous_phase(framework) if editable else None,
        "step_back_label": phases.phase_label(phases.previous_phase(framework) or framework.status),
    }


STEP_SERVICES = {
    FrameworkStatus.DRAFT: framework_open,
    FrameworkStatus.OPEN: framework_start_appraisal,
    FrameworkStatus.APPRAISAL: framework_notify_preliminary,
    FrameworkStatus.PRELIMINARY: framework_close_appeals,
    FrameworkStatus.APPEALS: framework_finalise,
}


@login_required
@require_POST
def framework_step(request, code):
    """Take the framework's next step (its service checks it); publication has its own page."""
    framework = get_framework_for_change(request.user, code)
    if request.POST.get("from") != framework.status:
        messages.error(request, _("The framework moved on meanwhile; here is where it stands now."))
        return redirect(_board_url(framework))
    if framework.status == FrameworkStatus.FINAL:
        return redirect("scoring:framework_publish", code=framework.code)
    service = STEP_SERVICES.get(framework.status)
    if service is None:
        raise Http404
    kwargs = {}
    if framework.status == FrameworkStatus.APPRAISAL:
        form = AppealDeadlineForm(request.POST)
        if not form.is_valid():
            messages.error(request, _form_errors(form))
            return redirect(_board_url(framework))
        kwargs["appeal_deadline"] = form.cleaned_data["appeal_deadline"]
    try:
        framework = service(framework=framework, actor=request.user, via=Via.WEB, **kwargs)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Framework %(code)s is now in the phase “%(phase)s”.")
            % {"code": framework.code, "phase": framework.get_status_display()},
        )
    return redirect(_board_url(framework))


@login_required
@require_POST
def framework_step_back_view(request, code):
    """Go back one phase with a reason; from published (reopening) the administrators only."""
    framework = get_framework_for_management(request.user, code)
    if framework.is_published and not request.user.is_superuser:
        raise PermissionDenied(_("Only an administrator reopens a published framework."))
    if request.POST.get("from") != framework.status:
        messages.error(request, _("The framework moved on meanwhile; here is where it stands now."))
        return redirect(_board_url(framework))
    form = StepBackForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_board_url(framework))
    try:
        framework = framework_step_back(
            framework=framework, reason=form.cleaned_data["reason"], actor=request.user, via=Via.WEB
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Framework %(code)s is back in the phase “%(phase)s”.")
            % {"code": framework.code, "phase": framework.get_status_display()},
        )
    return redirect(_board_url(framework))


EXCLUDE_PREFIX = "exclude-"


def _exclusions(data) -> dict[str, str]:
    """{unit code: reason} from the publication form's exclusion fields (a reason excludes the unit)."""
    return {
        name.removeprefix(EXCLUDE_PREFIX): value.strip()
        for name, value in data.items()
        if name.startswith(EXCLUDE_PREFIX) and value.strip()
    }


@login_required
@require_http_methods(["GET", "POST"])
def framework_publish(request, code):
    """Publication in two steps: the form (decision, units to exclude by name with a reason, and what
    will be locked), then a confirmation page listing exactly what publication locks; only the
    confirmation publishes. Every refusal of the service is listed at once."""
    if request.method == "POST":
        framework = get_framework_for_change(request.user, code)
        form = PublishForm(request.POST)
        exclusions = _exclusions(request.POST)
    else:
        framework = get_framework_for_management(request.user, code)
        form = PublishForm(
            initial={"decision_number": framework.decision_number, "decision_date": framework.decision_date}
        )
        exclusions = {}
    problems: list[str] = []
    confirming = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("confirm") == "1":
            try:
                publish_framework(
                    framework=framework,
                    decision_number=data["decision_number"],
                    decision_date=data["decision_date"],
                    exclusions=exclusions,
                    actor=request.user,
                    via=Via.WEB,
                )
            except ValidationError as error:
                problems = list(error.messages)
            else:
                messages.success(
                    request,
                    _("Framework %(code)s is published (decision %(number)s).")
                    % {"code": framework.code, "number": data["decision_number"]},
                )
                return redirect(_board_url(framework))
        else:
            problems = [
                error.text()
                for error in framework_publish_problems(
                    framework,
                    decision_number=data["decision_number"],
                    decision_date=data["decision_date"],
                    exclusions=exclusions,
                )
            ]
            confirming = not problems
    elif not framework.is_published:
        problems = [
            error.text()
            for error in framework_publish_problems(
                framework, decision_number="-", decision_date=timezone.localdate(), exclusions=exclusions
            )
            if error.field not in ("decision_number", "decision_date")
        ]
    lines = publication_lines(framework, exclusions)
    labels = status_labels()
    return render(
        request,
        "scoring/framework/publish.html",
        {
            "framework": framework,
            "form": form,
            "lines": [
                {
                    "line": line,
                    "status_label": labels[line.status or NOT_STARTED],
                    "field": f"{EXCLUDE_PREFIX}{line.unit.code}",
                }
                for line in lines
            ],
            "locked": sum(1 for line in lines if line.appraised and not line.excluded_reason),
            "excluded": [line for line in lines if line.excluded_reason],
            "waiting": sum(1 for line in lines if not line.appraised and not line.excluded_reason),
            "problems": problems,
            "confirming": confirming,
            "final": framework.status == FrameworkStatus.FINAL,
            "manages": True,
            "reopen_url": _reopen_url(request.user, framework),
        },
    )


# --- audit ------------------------------------------------------------------------------------------

ACTION_LABELS = {
    "framework_create": gettext_lazy("Framework created"),
    "framework_change": gettext_lazy("Framework changed"),
    "framework_publish": gettext_lazy("Published"),
    "framework_reopen": gettext_lazy("Reopened"),
    "framework_phase": gettext_lazy("Phase"),
    "framework_step_back": gettext_lazy("Phase stepped back"),
    "publication_exclusion": gettext_lazy("Left out of the publication"),
    "criterion_change": gettext_lazy("Criterion changed"),
    "gradeband_change": gettext_lazy("Grade band changed"),
    "gradeband_delete": gettext_lazy("Grade band deleted"),
    "assessment_create": gettext_lazy("Assessment opened"),
    "assessment_delete": gettext_lazy("Assessment deleted"),
    "self_score": gettext_lazy("Self-assessment"),
    "self_on_behalf": gettext_lazy("Self-assessment on the unit's behalf"),
    "appraise": gettext_lazy("Appraisal"),
    "not_applicable_decision": gettext_lazy("Decision on not applicable"),
    "explanation_request": gettext_lazy("Explanation requested"),
    "explain": gettext_lazy("Explanation"),
    "status": gettext_lazy("Status"),
    "survey": gettext_lazy("Survey points"),
    "deadline": gettext_lazy("Deadline"),
    "deadline_extension": gettext_lazy("Deadline extension"),
    "evidence": gettext_lazy("Evidence"),
    "evidence_add": gettext_lazy("Evidence added"),
    "evidence_change": gettext_lazy("Evidence changed"),
    "evidence_delete": gettext_lazy("Evidence removed"),
    "appeal_lodge": gettext_lazy("Appeal lodged"),
    "appeal_answer": gettext_lazy("Appeal answered"),
    "appeal_accept": gettext_lazy("Points changed by an accepted appeal"),
}

FIELD_LABELS = {
    "self_points": gettext_lazy("self-assessed points"),
    "appraised_points": gettext_lazy("appraised points"),
    "not_applicable": gettext_lazy("not applicable"),
    "appraised_not_applicable": gettext_lazy("not applicable (appraiser's decision)"),
    "survey_sample": gettext_lazy("survey sample size"),
    "note": gettext_lazy("note"),
    "evidence_reference": gettext_lazy("evidence reference"),
    "appraisal_reason": gettext_lazy("appraisal reason"),
    "explanation_request": gettext_lazy("explanation requested"),
    "explanation_requested_round": gettext_lazy("explanation requested in round"),
    "explanation": gettext_lazy("explanation"),
    "status": gettext_lazy("status"),
    "self_deadline": gettext_lazy("self-assessment deadline"),
    "appraisal_deadline": gettext_lazy("appraisal deadline"),
    "appeal_deadline": gettext_lazy("appeal deadline"),
    "excluded_reason": gettext_lazy("why left out of the publication"),
    "evidence": gettext_lazy("evidence"),
    "appeal": gettext_lazy("appeal"),
}

_NUMBER = re.compile(r"^-?\d+\.\d+$|^-?\d+$")


def display_value(field: str, value: str) -> str:
    """A stored audit value as a person reads it: statuses by name, numbers with the decimal comma."""
    if value == "":
        return ""
    if field in ("status", "appeal"):
        labels = {
            **{s.value: s.label for s in FrameworkStatus},
            **{s.value: s.label for s in AssessmentStatus},
            **{s.value: s.label for s in AppealStatus},
        }
        return str(labels.get(value, value))
    if value in ("True", "False"):
        return _("yes") if value == "True" else _("no")
    if _NUMBER.match(value):
        return format_decimal(Decimal(value))
    return value


@dataclass
class AuditLine:
    entry: AuditEntry
    action: str
    field: str
    old: str
    new: str
    unit_name: str = ""


def audit_lines(entries) -> list[AuditLine]:
    lines = []
    for entry in entries:
        field_label = FIELD_LABELS.get(entry.field, entry.field)
        if entry.action == "survey" and entry.field == "appraised_points":
            field_label = _("survey points")
        elif entry.action == "status":
            field_label = ""  # the action says it already
        lines.append(
            AuditLine(
                entry,
                str(ACTION_LABELS.get(entry.action, entry.action)),
                str(field_label),
                display_value(entry.field, entry.old_value),
                display_value(entry.field, entry.new_value),
            )
        )
    return lines


@login_required
def framework_activity(request, code):
    framework = get_framework_for_oversight(request.user, code)
    base = AuditEntry.objects.filter(framework_id=framework.pk)
    actions = [
        (a, str(ACTION_LABELS.get(a, a)))
        for a in base.order_by("action").values_list("action", flat=True).distinct()
    ]
    actors = list(
        base.filter(actor__isnull=False)
        .order_by("actor__username")
        .values_list("actor_id", "actor__username")
        .distinct()
    )
    form = ActivityFilterForm(
        request.GET or None, units=framework_units(framework), actions=actions, actors=actors
    )
    entries = base.select_related("actor").order_by("-created_at", "-id")
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["unit"]:
            entries = entries.filter(unit_code=data["unit"])
        code = data["criterion"].strip().rstrip(".")
        if code:  # a criterion and everything under it: "1.2" also finds 1.2.1, 1.2.2…
            entries = entries.filter(Q(criterion_code=code) | Q(criterion_code__startswith=code + "."))
        entries = trail_filtered(entries, data)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    lines = audit_lines(page.object_list)
    names = dict(
        Unit.objects.filter(code__in={line.entry.unit_code for line in lines}).values_list("code", "name")
    )
    for line in lines:
        line.unit_name = names.get(line.entry.unit_code, "")
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "scoring/framework/activity.html",
        {
            "framework": framework,
            "form": form,
            "page": page,
            "manages": can_manage_framework(request.user, framework),
            "lines": lines,
            "query": query.urlencode(),
        },
    )


@login_required
def score_history(request, pk, criterion_id):
    assessment, criterion = get_score_row_for_view(request.user, pk, criterion_id)
    entries = (
        AuditEntry.objects.filter(assessment_id=assessment.pk, criterion_id=criterion.pk)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
    context = {
        "assessment": assessment,
        "framework": assessment.framework,
        "criterion": criterion,
        "lines": audit_lines(entries),
        "appraises": reach(request.user).appraises(assessment.unit),
    }
    if request.htmx:
        return render(request, "scoring/framework/_score_history.html", context)
    return render(request, "scoring/framework/score_history.html", context)


# --- the criteria tree -------------------------------------------------------------------------------


@dataclass
class CriterionLine:
    criterion: Criterion
    source: str
    rule: str


@login_required
def framework_criteria(request, code):
    """The criteria tree with each leaf's source and scoring rule: everybody who sees the framework
    (its units' officers read how they are scored)."""
    framework = get_framework_for_view(request.user, code)
    lines = [
        CriterionLine(c, source_note(c) if c.is_leaf else "", rule_description(c))
        for c in criteria_tree(framework)
    ]
    context = {
        "framework": framework,
        "lines": lines,
        "manages": can_manage_framework(request.user, framework),
        "oversees": reach(request.user).oversees(framework.authority),
    }
    return render(request, "scoring/framework/criteria.html", context)


urlpatterns = [
    path("frameworks/", framework_list, name="framework_list"),
    path("frameworks/<str:code>/", framework_board, name="framework_board"),
    path("frameworks/<str:code>/survey/", survey_grid, name="survey_grid"),
    path("frameworks/<str:code>/deadlines/", framework_deadlines, name="framework_deadlines"),
    path("frameworks/<str:code>/publish/", framework_publish, name="framework_publish"),
    path("frameworks/<str:code>/step/", framework_step, name="framework_step"),
    path("frameworks/<str:code>/step-back/", framework_step_back_view, name="framework_step_back"),
    path("frameworks/<str:code>/activity/", framework_activity, name="framework_activity"),
    path("frameworks/<str:code>/criteria/", framework_criteria, name="framework_criteria"),
    path("assessments/<int:pk>/extend/", deadline_extend, name="deadline_extend"),
    path("assessments/<int:pk>/ranked/", assessment_ranked, name="assessment_ranked"),
    path("assessments/<int:pk>/rows/<int:criterion_id>/history/", score_history, name="score_history"),
]
