"""Self-assessment pages for unit officers (and appraisers entering on a unit's behalf).

Every view calls an access helper first (scoring.access): 404 for what the user may not see,
PermissionDenied (403, with the reason) for what they may see but not change. Writes go through
scoring.assessments.services; the page reads the stored results (AssessmentResult/AreaResult) that the services
recompute. Row-level changes answer htmx requests with the re-rendered part of the row plus
out-of-band swaps of the area subtotal, the page summary and (when it changed) the submission
checklist; without JavaScript the same forms post normally and redirect back to the row (POST-redirect-GET).
"""

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from parindex.errors import ServiceError
from parindex.numbers import format_decimal
from scoring.access import (
    Refused,
    acts_on_behalf,
    assessments_visible_to,
    frameworks_visible_to,
    get_assessment_for_self_edit,
    get_assessment_for_view,
    get_evidence_for_change,
    get_evidence_for_view,
    get_score_row_for_self_edit,
    reach,
    self_edit_refusal,
)
from scoring.assessments.forms import EvidenceDocumentForm, EvidenceFileForm, ExplanationForm, SelfRowForm
from scoring.assessments.selectors import assessment_sheet
from scoring.assessments.services import (
    SelfEntry,
    assessment_submit,
    evidence_add,
    evidence_delete,
    score_explain,
    scores_apply_self,
    submission_problem,
    submission_problems,
)
from scoring.concurrency import reload_url, stale_in, version_of
from scoring.frameworks.rules import YESNO, Rule, parse_rule
from scoring.frameworks.selectors import rule_description, source_note
from scoring.inspections.selectors import notices_for
from scoring.models import (
    AreaResult,
    Assessment,
    AssessmentResult,
    AssessmentStatus,
    Criterion,
    CriterionKind,
    CriterionSource,
    Evidence,
    Score,
    Via,
)

LIST_PAGE_SIZE = 50
# A service refusal's field → the row form's field that shows it.
SELF_ROW_FIELDS = {
    "self_points": "points",
    "raw": "raw",
    "not_applicable": "not_applicable",
    "not_applicable_reason": "not_applicable_reason",
    "note": "note",
}


def _messages_of(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


def _row_url(assessment: Assessment, criterion: Criterion) -> str:
    return f"{reverse('scoring:assessment_self', args=[assessment.pk])}#c-{criterion.code}"


def _refused(request, error: Refused):
    """403 that says why, so that a person who posts without JavaScript reads the reason."""
    return render(
        request,
        "scoring/self/refused.html",
        {"assessment": error.assessment, "reason": error.reason},
        status=403,
    )


def answers_refusals(view):
    """Turn a Refused raised by the view into the 403 page with its reason."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Refused as error:
            return _refused(request, error)

    return wrapped


# --- reading the page ------------------------------------------------------------------------------


@dataclass
class Row:
    """One node of the criteria tree as the page shows it. Leaves carry their score and form state."""

    criterion: Criterion
    score: Score | None = None
    values: dict | None = None  # what was typed, when re-rendering a refused entry
    errors: dict = field(default_factory=dict)
    saved: bool = False
    flagged: bool = False
    conflict: bool = False  # refused: another person changed the row after it was read (StaleEdit)

    @property
    def version(self) -> int:
        """The row's version its forms send back: the one read, also when a refused entry is shown
        again (a reload, not a resubmission, brings in what the other person saved)."""
        if self.values is not None and self.values.get("version") is not None:
            return self.values["version"]
        return self.score.version if self.score else 0

    @property
    def is_survey(self) -> bool:
        return self.criterion.source == CriterionSource.SURVEY

    @property
    def is_office(self) -> bool:
        return self.criterion.source == CriterionSource.OFFICE

    @property
    def rule(self) -> Rule:
        return parse_rule(self.criterion.rule)

    @property
    def source_note(self) -> str:
        """Who scores the leaf, worded as the criteria tree words it (the guidance)."""
        return source_note(self.criterion)

    @property
    def rule_description(self) -> str:
        """How the leaf's points are given, worded as the criteria tree words it (the guidance)."""
        return rule_description(self.criterion)

    @property
    def takes_raw(self) -> bool:
        return self.rule.takes_raw

    @property
    def is_yesno(self) -> bool:
        return self.rule.kind == YESNO

    @property
    def raw_text(self) -> str:
        if self.values is not None:
            return self.values.get("raw", "")
        return self.score.self_raw if self.score else ""

    @property
    def answered_yes(self) -> bool | None:
        """The yes/no answer stored or typed (None when not answered): the select shows it."""
        text = self.raw_text
        if not text:
            return None
        try:
            return self.rule.yes(text)
        except ServiceError:
            return None

    @property
    def not_applicable_reason(self) -> str:
        if self.values is not None:
            return self.values.get("not_applicable_reason", "")
        return self.score.not_applicable_reason if self.score else ""

    @cached_property
    def evidence(self) -> list[Evidence]:
        """Read once per row (the save counts it for the checklist, the template lists it)."""
        items = list(self.score.evidence.all()) if self.score else []
        for item in items:
            item.filename = item.file.name.rsplit("/", 1)[-1] if item.file else ""
        return items

    @property
    def points_text(self) -> str:
        if self.values is not None:
            return self.values.get("points", "")
        points = self.score.self_points if self.score else None
        return format_decimal(points) if points is not None else ""

    @property
    def not_applicable(self) -> bool:
        if self.values is not None:
            return bool(self.values.get("not_applicable"))
        return bool(self.score and self.score.not_applicable)

    @property
    def note(self) -> str:
        if self.values is not None:
            return self.values.get("note", "")
        return self.score.note if self.score else ""


@dataclass
class AreaBlock:
    criterion: Criterion
    rows: list[Row]
    points: Decimal | None
    max_points: Decimal
    self_points: Decimal | None
    open: bool = False


def _flagged(assessment: Assessment, score: Score | None) -> bool:
    return bool(
        score
        and assessment.explanation_round
        and score.explanation_requested_round == assessment.explanation_round
        and score.explanation_request
    )


def _area_totals(area: Criterion, area_result: AreaResult | None, leaf_scores: list[Score | None]):
    """(points, max, self points) of an area: stored results for score areas; bonus and penalty
    areas are not part of the stored area results, so their points are added up from the leaves."""
    if area.kind != CriterionKind.SCORE:
        points = sum(
            (
                s.final_points
                for s in leaf_scores
                if s and not s.is_not_applicable and s.final_points is not None
            ),
            Decimal("0"),
        )
        return points, area.max_points, None
    if area_result is None:
        return None, area.max_points, None
    return area_result.points, area_result.max_points, area_result.self_points


def _area_blocks(assessment: Assessment, problem_codes: set[str]) -> list[AreaBlock]:
    """The tree as the appraisal page reads it (assessment_sheet), with the stored area totals: a fixed
    number of queries whatever the number of criteria and evidence items."""
    sheet = assessment_sheet(assessment)
    area_results = {r.area_id: r for r in AreaResult.objects.filter(assessment=assessment)}
    blocks = [
        AreaBlock(
            area.area,
            [Row(row.criterion, row.score, flagged=_flagged(assessment, row.score)) for row in area.rows],
            None,
            area.area.max_points,
            None,
        )
        for area in sheet.areas
    ]
    for block in blocks:
        leaf_scores = [row.score for row in block.rows if row.criterion.is_leaf]
        block.points, block.max_points, block.self_points = _area_totals(
            block.criterion, area_results.get(block.criterion.pk), leaf_scores
        )
        block.open = any(row.flagged or row.criterion.code in problem_codes for row in block.rows)
    return blocks


def _max_mb() -> str:
    return (
        format_decimal(Decimal(settings.PARINDEX_EVIDENCE_MAX_BYTES) / (1024 * 1024), places=1)
        .rstrip("0")
        .rstrip(",.")
    )


def _result(assessment: Assessment) -> AssessmentResult | None:
    return AssessmentResult.objects.filter(assessment=assessment).select_related("framework").first()


def _page_context(request, assessment: Assessment) -> dict:
    user = request.user
    refusal = self_edit_refusal(user, assessment)
    r = reach(user)
    problems = (
        submission_problems(assessment)
        if assessment.status in (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED)
        else []
    )
    problem_codes = {p.criterion.code for p in problems}
    return {
        "assessment": assessment,
        "framework": assessment.framework,
        "unit": assessment.unit,
        "result": _result(assessment),
        "areas": _area_blocks(assessment, problem_codes),
        "editable": refusal is None,
        "refusal": refusal,
        "on_behalf": refusal is None and acts_on_behalf(user, assessment),
        "problems": problems,
        "show_missing": request.GET.get("missing") == "1" and bool(problems),
        "returned": assessment.status == AssessmentStatus.RETURNED,
        "can_appraise": r.appraises(assessment.unit),
        "max_mb": _max_mb(),
    }


# --- pages ---------------------------------------------------------------------------------------------


@login_required
def my_assessments(request):
    """The officer's assessments (newest framework first); overseers get those under their authority,
    filtered by framework and paginated so that the page stays small."""
    frameworks = list(frameworks_visible_to(request.user).order_by("-year", "code"))
    chosen = next((f for f in frameworks if f.code == request.GET.get("framework")), None)
    assessments = (
        assessments_visible_to(request.user)
        .select_related("result")
        .order_by("-framework__year", "framework__code", "unit__code")
    )
    if chosen is not None:
        assessments = assessments.filter(framework=chosen)
    page = Paginator(assessments, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    for assessment in page.object_list:
        try:
            assessment.stored_result = assessment.result
            # all_parts_in reads the framework's survey option: the one already loaded, not a query per row.
            assessment.stored_result.framework = assessment.framework
        except AssessmentResult.DoesNotExist:
            assessment.stored_result = None
    return render(
        request,
        "scoring/self/list.html",
        {
            "page": page,
            "frameworks": frameworks,
            "chosen": chosen,
            "statuses": AssessmentStatus,
            "inspection_notices": notices_for(request.user, reach(request.user).officer_unit_ids),
        },
    )


@login_required
def assessment_self(request, pk):
    assessment = get_assessment_for_view(request.user, pk)
    return render(request, "scoring/self/assessment.html", _page_context(request, assessment))


def _oob_context(assessment: Assessment, area: Criterion, *, checklist: bool = True) -> dict:
    """Context of the out-of-band parts refreshed after a row change (read after the recompute).
    `checklist`: the submission checklist changed too (read and re-rendered only then)."""
    if area.kind == CriterionKind.SCORE:
        area_result = AreaResult.objects.filter(assessment=assessment, area=area).first()
        leaf_scores = []
    else:
        area_result = None
        leaf_scores = list(
            Score.objects.filter(assessment=assessment, criterion__area=area).select_related("criterion")
        )
    points, max_points, self_points = _area_totals(area, area_result, leaf_scores)
    return {
        "framework": assessment.framework,
        "area_block": AreaBlock(area, [], points, max_points, self_points),
        "result": _result(assessment),
        "problems": submission_problems(assessment) if checklist else [],
        "checklist": checklist,
        "editable": True,
        "oob": True,
        "max_mb": _max_mb(),
    }


def _area_of(criterion: Criterion) -> Criterion:
    """The criterion's area (loaded with it by scoring.access: no query)."""
    return criterion.area if criterion.area is not None and criterion.area_id != criterion.pk else criterion


@login_required
@require_POST
@answers_refusals
def self_row_save(request, pk, criterion_id):
    assessment, criterion = get_score_row_for_self_edit(request.user, pk, criterion_id)
    on_behalf = acts_on_behalf(request.user, assessment)
    if criterion.source == CriterionSource.OFFICE:
        raise Refused(
            assessment, _("%(code)s is scored by the office, not by the unit.") % {"code": criterion.code}
        )
    if criterion.source != CriterionSource.SELF:
        raise Refused(
            assessment, _("%(code)s is scored by the survey, not by the unit.") % {"code": criterion.code}
        )
    form = SelfRowForm(request.POST, criterion=criterion)
    errors: dict[str, list[str]] = {}
    conflict = False
    result = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = scores_apply_self(
                assessment=assessment,
                entries={
                    criterion.code: SelfEntry(
                        data["points"],
                        not_applicable=data["not_applicable"],
                        note=data["note"],
                        raw=data["raw"],
                        not_applicable_reason=data["not_applicable_reason"],
                    )
                },
                actor=request.user,
                via=Via.WEB,
                on_behalf=on_behalf,
                versions={criterion.code: version_of(request.POST.get("version"))},
                criteria={criterion.code: criterion},
            )
        except ServiceError as error:
            conflict = bool(stale_in(error))
            # The service's refusal goes beside the field it names (points, not applicable, note).
            for refusal in error.all():
                key = SELF_ROW_FIELDS.get(refusal.field or "", "general")
                errors.setdefault(key, []).append(refusal.text())
    else:
        errors = {
            ("general" if name == "__all__" else name): list(texts) for name, texts in form.errors.items()
        }
    if not request.htmx:
        return _redirect_with_messages(
            request,
            assessment,
            criterion,
            [m for ms in errors.values() for m in ms],
            _("Criterion %(code)s saved."),
        )
    # The row as the service stored it (read under its lock), else (refused) as it is now.
    score = result.rows.get((assessment.pk, criterion.code)) if result is not None else None
    if score is None or score.pk is None:
        score = Score.objects.filter(assessment=assessment, criterion=criterion).first()
    row = Row(criterion, score, flagged=_flagged(assessment, score), errors=errors, saved=not errors)
    row.conflict = conflict
    # The checklist is read and re-rendered only when this row's answer to it changed (a refused
    # save changed nothing). Evidence is not changed by a row save: the row's own list counts it.
    checklist = result is not None and submission_problem(
        result.before.get(criterion.code), len(row.evidence)
    ) != submission_problem(score, len(row.evidence))
    if errors:
        row.values = {
            "points": request.POST.get("points", ""),
            "raw": request.POST.get("raw", ""),
            "not_applicable": bool(request.POST.get("not_applicable")),
            "not_applicable_reason": request.POST.get("not_applicable_reason", ""),
            "note": request.POST.get("note", ""),
            "version": version_of(request.POST.get("version")),
        }
    context = {
        "assessment": assessment,
        "row": row,
        "editable": True,
        "reload_url": reload_url(
            reverse("scoring:assessment_self", args=[assessment.pk]), f"c-{criterion.code}"
        ),
        **_oob_context(assessment, _area_of(criterion), checklist=checklist),
    }
    # A stale row is answered 409 (the row is still swapped in: static/js/parindex.js).
    return render(request, "scoring/self/_entry_response.html", context, status=409 if conflict else 200)


@login_required
@require_POST
@answers_refusals
def explain_save(request, pk, criterion_id):
    assessment, criterion = get_score_row_for_self_edit(request.user, pk, criterion_id)
    form = ExplanationForm(request.POST)
    errors: list[str] = []
    conflict = False
    if form.is_valid():
        try:
            score_explain(
                assessment=assessment,
                code=criterion.code,
                explanation=form.cleaned_data["explanation"],
                actor=request.user,
                via=Via.WEB,
                version=version_of(request.POST.get("version")),
            )
        except ValidationError as error:
            errors = _messages_of(error)
            conflict = isinstance(error, ServiceError) and bool(stale_in(error))
    else:
        errors = [m for ms in form.errors.values() for m in ms]
    if not request.htmx:
        return _redirect_with_messages(
            request, assessment, criterion, errors, _("The explanation of %(code)s is saved.")
        )
    score = Score.objects.filter(assessment=assessment, criterion=criterion).first()
    row = Row(criterion, score, flagged=_flagged(assessment, score), saved=not errors, conflict=conflict)
    if errors:
        row.errors = {"explanation": errors}
        row.values = {
            "explanation": request.POST.get("explanation", ""),
            "version": version_of(request.POST.get("version")),
        }
    context = {
        "assessment": assessment,
        "row": row,
        "editable": True,
        "reload_url": reload_url(
            reverse("scoring:assessment_self", args=[assessment.pk]), f"c-{criterion.code}"
        ),
    }
    return render(request, "scoring/self/_explain_response.html", context, status=409 if conflict else 200)


def _redirect_with_messages(request, assessment, criterion, errors: list[str], success: str):
    """Without JavaScript a row's form posts a whole page: flash its errors (or `success`, a text with
    %(code)s) and go back to the row."""
    for text in errors:
        messages.error(request, f"{criterion.code}: {text}")
    if not errors:
        messages.success(request, success % {"code": criterion.code})
    return redirect(_row_url(assessment, criterion))


def _evidence_response(request, assessment, criterion, *, errors=None, saved=False):
    """The row's evidence part, and the submission checklist out of band (evidence changes no points)."""
    score = (
        Score.objects.filter(assessment=assessment, criterion=criterion)
        .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("created_at", "id")))
        .first()
    )
    row = Row(criterion, score, flagged=_flagged(assessment, score), errors=errors or {}, saved=saved)
    context = {
        "assessment": assessment,
        "row": row,
        "editable": True,
        "max_mb": _max_mb(),
        "problems": submission_problems(assessment),
        "oob": True,
    }
    return render(request, "scoring/self/_evidence_response.html", context)


@login_required
@require_POST
@answers_refusals
def evidence_add_view(request, pk, criterion_id):
    """Attach a file (multipart) or a reference to an issued document to a leaf."""
    assessment, criterion = get_score_row_for_self_edit(request.user, pk, criterion_id)
    is_file = "file" in request.FILES or request.POST.get("kind") == "file"
    form = EvidenceFileForm(request.POST, request.FILES) if is_file else EvidenceDocumentForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        data = form.cleaned_data
        try:
            if is_file:
                evidence_add(
                    assessment=assessment,
                    code=criterion.code,
                    upload=data["file"],
                    description=data["description"],
                    actor=request.user,
                    via=Via.WEB,
                )
            else:
                evidence_add(
                    assessment=assessment,
                    code=criterion.code,
                    document_number=data["document_number"],
                    document_date=data["document_date"],
                    page=data["page"],
                    description=data["description"],
                    actor=request.user,
                    via=Via.WEB,
                )
        except ValidationError as error:
            errors = _messages_of(error)
    else:
        errors = [m for ms in form.errors.values() for m in ms]
    if not request.htmx:
        return _redirect_with_messages(
            request, assessment, criterion, errors, _("Evidence added to %(code)s.")
        )
    key = "file" if is_file else "document"
    return _evidence_response(
        request, assessment, criterion, errors={key: errors} if errors else None, saved=not errors
    )


@login_required
@require_POST
@answers_refusals
def evidence_delete_view(request, evidence_id):
    evidence = get_evidence_for_change(request.user, evidence_id)
    assessment = evidence.score.assessment
    criterion = evidence.score.criterion
    errors: list[str] = []
    try:
        evidence_delete(evidence=evidence, actor=request.user, via=Via.WEB)
    except ValidationError as error:
        errors = _messages_of(error)
    if not request.htmx:
        return _redirect_with_messages(
            request, assessment, criterion, errors, _("Evidence removed from %(code)s.")
        )
    return _evidence_response(request, assessment, criterion, errors={"delete": errors} if errors else None)


@login_required
def evidence_download(request, evidence_id):
    """Stream a stored evidence file, only to those who may view its assessment."""
    evidence = get_evidence_for_view(request.user, evidence_id)
    if not evidence.file:
        raise Http404
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=evidence.file.name.rsplit("/", 1)[-1])


@login_required
@require_POST
@answers_refusals
def submit(request, pk):
    assessment = get_assessment_for_self_edit(request.user, pk)
    page = reverse("scoring:assessment_self", args=[assessment.pk])
    try:
        assessment_submit(assessment=assessment, actor=request.user, via=Via.WEB)
    except ValidationError as error:
        messages.error(
            request, _("The self-assessment was not submitted:") + " " + " ".join(_messages_of(error))
        )
        return redirect(f"{page}?missing=1#missing")
    messages.success(
        request,
        _("The self-assessment of %(unit)s is submitted to %(office)s.")
        % {"unit": assessment.unit.name, "office": assessment.framework.authority.home_affairs_office},
    )
    return redirect(page)


urlpatterns = [
    path("assessments/", my_assessments, name="my_assessments"),
    path("assessments/<int:pk>/", assessment_self, name="assessment_self"),
    path("assessments/<int:pk>/rows/<int:criterion_id>/", self_row_save, name="self_row_save"),
    path("assessments/<int:pk>/rows/<int:criterion_id>/evidence/", evidence_add_view, name="evidence_add"),
    path("assessments/<int:pk>/rows/<int:criterion_id>/explain/", explain_save, name="explain_save"),
    path("assessments/<int:pk>/submit/", submit, name="assessment_submit"),
    path("evidence/<int:evidence_id>/", evidence_download, name="evidence_download"),
    path("evidence/<int:evidence_id>/delete/", evidence_delete_view, name="evidence_delete"),
]
