"""Pages of the appraisal council: the council of a framework (members, their offices and areas,
the chair's "done", the minutes) and the cross-unit grid that appraises one criterion for every unit.

Access first (scoring.access: 404 for who does not see the framework, 403 for who sees it but may not
act); the rules are the services' and their refusals are shown as they are: a refusal of the actor
themself (ErrorCode.FORBIDDEN, e.g. a leaf outside a member's areas) is answered with 403. Grid rows
save through the per-unit appraisal page's own row path (appraisal_views.save_row)."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from parindex.errors import ErrorCode, ServiceError
from scoring.access import (
    appraisal_lock,
    can_manage_framework,
    can_oversee_framework,
    ensure_not_published,
    get_assessment_for_leaf_appraisal,
    get_framework_for_change,
    get_framework_for_council,
    get_framework_for_council_appraisal,
)
from scoring.assessments.appraisal_views import save_row
from scoring.concurrency import reload_url, version_of
from scoring.council import services
from scoring.council.forms import MemberAddForm, MemberAreasForm, MinutesForm
from scoring.council.models import CouncilMember, CouncilMinutes, CouncilSignOff
from scoring.council.scope import council_areas, council_member, council_scope_errors
from scoring.council.selectors import (
    appraisable_leaves,
    council_members,
    council_minutes,
    criterion_grid,
    open_council_leaves,
)
from scoring.models import Criterion, Via


def _areas(framework):
    return Criterion.objects.filter(framework=framework, parent__isnull=True).order_by("order")


def _council_url(framework) -> str:
    return reverse("scoring:council_page", args=[framework.code])


class CouncilRefused(PermissionDenied):
    """A refusal of the actor themself, answered with 403 and its reason (answers_refusals)."""

    def __init__(self, framework, reason: str):
        super().__init__(reason)
        self.framework, self.reason = framework, reason


def answers_refusals(view):
    """Turn a CouncilRefused raised by the view into the 403 page (or htmx fragment) with its reason."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except CouncilRefused as error:
            if request.htmx:
                return render(
                    request, "scoring/appraisal/refused_partial.html", {"reason": error.reason}, status=403
                )
            context = {"framework": error.framework, "reason": error.reason}
            return render(request, "scoring/council/refused.html", context, status=403)

    return wrapped


def _forbidden_text(error: ValidationError) -> str | None:
    if not isinstance(error, ServiceError):
        return None
    texts = [e.text() for e in error.all() if e.error_code == ErrorCode.FORBIDDEN]
    return " ".join(texts) or None


def _message(request, framework, error: ValidationError) -> None:
    forbidden = _forbidden_text(error)
    if forbidden:
        raise CouncilRefused(framework, forbidden)
    messages.error(request, " ".join(error.messages))


@login_required
def council_page(request, code, *, add_form=None, minutes_form=None):
    framework = get_framework_for_council(request.user, code)
    members = council_members(framework)
    me = council_member(request.user, framework)
    open_to_change = not framework.is_published
    manages = can_manage_framework(request.user, framework) and open_to_change
    areas = _areas(framework)
    signoff = CouncilSignOff.objects.filter(framework=framework).select_related("done_by").first()
    chair = me is not None and me.is_chair
    records_minutes = open_to_change and services.minutes_refusal(request.user, framework) is None
    member_qs = CouncilMember.objects.filter(framework=framework).select_related("user")
    context = {
        "framework": framework,
        "members": members,
        "me": me,
        "manages": manages,
        "oversees": can_oversee_framework(request.user, framework),
        "signoff": signoff,
        "can_mark_done": chair and signoff is None and open_to_change,
        "open_leaves": open_council_leaves(framework) if (chair or manages) and signoff is None else None,
        "minutes": council_minutes(framework),
        "add_form": (add_form or MemberAddForm(areas=areas)) if manages else None,
        "area_forms": {m.pk: MemberAreasForm(areas=areas, member=m) for m in members} if manages else {},
        "minutes_form": (minutes_form or MinutesForm(members=member_qs)) if records_minutes else None,
        "grid_url": reverse("scoring:council_grid", args=[framework.code]),
    }
    context["member_rows"] = [(m, context["area_forms"].get(m.pk)) for m in members]
    status = 200 if add_form is None and minutes_form is None else 400
    return render(request, "scoring/council/page.html", context, status=status)


@login_required
@require_POST
def council_member_add(request, code):
    framework = get_framework_for_change(request.user, code)
    form = MemberAddForm(request.POST, areas=_areas(framework))
    if form.is_valid():
        try:
            member = services.council_member_add(
                framework=framework,
                user=form.cleaned_data["username"],
                unit=form.cleaned_data["office"],
                role=form.cleaned_data["role"],
                areas=form.cleaned_data["areas"],
                actor=request.user,
                via=Via.WEB,
            )
        except ServiceError as error:
            for problem in error.all():
                form.add_error(problem.field if problem.field in form.fields else None, problem.text())
        else:
            messages.success(request, _("%(user)s is on the council.") % {"user": member.user.username})
            return redirect(_council_url(framework))
    return council_page(request, code, add_form=form)


def _member(framework, member_id) -> CouncilMember:
    member = (
        CouncilMember.objects.select_related("framework__authority", "user", "unit")
        .filter(pk=member_id, framework=framework)
        .first()
    )
    if member is None:
        raise Http404
    return member


@login_required
@require_POST
@answers_refusals
def council_member_change(request, code, member_id):
    framework = get_framework_for_change(request.user, code)
    member = _member(framework, member_id)
    form = MemberAreasForm(request.POST, areas=_areas(framework), member=member)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(_council_url(framework))
    try:
        services.council_assign_areas(
            member=member,
            areas=form.cleaned_data["areas"],
            role=form.cleaned_data["role"],
            actor=request.user,
            via=Via.WEB,
        )
    except ServiceError as error:
        _message(request, framework, error)
    else:
        messages.success(request, _("The areas of %(user)s are saved.") % {"user": member.user.username})
    return redirect(_council_url(framework))


@login_required
@require_POST
@answers_refusals
def council_member_remove(request, code, member_id):
    framework = get_framework_for_change(request.user, code)
    member = _member(framework, member_id)
    try:
        services.council_member_remove(member=member, actor=request.user, via=Via.WEB)
    except ServiceError as error:
        _message(request, framework, error)
    else:
        messages.success(request, _("%(user)s is off the council.") % {"user": member.user.username})
    return redirect(_council_url(framework))


@login_required
@require_POST
@answers_refusals
def council_done(request, code):
    framework = get_framework_for_council(request.user, code)
    ensure_not_published(framework)
    try:
        services.council_mark_done(framework=framework, actor=request.user, via=Via.WEB)
    except ServiceError as error:
        _message(request, framework, error)
    else:
        messages.success(request, _("The council's appraisal is marked done."))
    return redirect(_council_url(framework))


@login_required
@require_POST
@answers_refusals
def council_minutes_record(request, code):
    framework = get_framework_for_council(request.user, code)
    ensure_not_published(framework)
    refusal = services.minutes_refusal(request.user, framework)
    if refusal is not None:
        raise CouncilRefused(framework, refusal.text())
    members = CouncilMember.objects.filter(framework=framework).select_related("user")
    form = MinutesForm(request.POST, request.FILES, members=members)
    if form.is_valid():
        try:
            services.minutes_record(
                framework=framework,
                meeting_date=form.cleaned_data["meeting_date"],
                present=form.cleaned_data["present"],
                conclusions=form.cleaned_data["conclusions"],
                file=form.cleaned_data["file"],
                actor=request.user,
                via=Via.WEB,
            )
        except ServiceError as error:
            if _forbidden_text(error):
                raise CouncilRefused(framework, _forbidden_text(error)) from error
            for problem in error.all():
                form.add_error(problem.field if problem.field in form.fields else None, problem.text())
        else:
            messages.success(request, _("The minutes are recorded."))
            return redirect(_council_url(framework))
    return council_page(request, code, minutes_form=form)


@login_required
def council_minutes_file(request, code, minutes_id):
    """Stream the file of the minutes, to whoever sees the council page."""
    framework = get_framework_for_council(request.user, code)
    minutes = CouncilMinutes.objects.filter(pk=minutes_id, framework=framework).first()
    if minutes is None or not minutes.file:
        raise Http404
    try:
        handle = minutes.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=minutes.file.name.rsplit("/", 1)[-1])


# --- the cross-unit grid -----------------------------------------------------------------------------


def _grid_leaf(framework, leaves, user, criterion_id) -> Criterion:
    """The leaf the grid shows: one of the user's (403 with the council's refusal for a leaf outside
    their areas, 404 for anything that is not an appraised leaf of the framework)."""
    if criterion_id is None:
        if not leaves:
            raise Http404
        return leaves[0]
    for leaf in leaves:
        if leaf.pk == criterion_id:
            return leaf
    leaf = Criterion.objects.filter(framework=framework, pk=criterion_id, is_leaf=True).first()
    if leaf is None:
        raise Http404
    refusals = council_scope_errors(user, framework, [leaf])
    raise CouncilRefused(
        framework, " ".join(e.text() for e in refusals) or _("This criterion is not appraised.")
    )


def _criterion_id(text) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        raise Http404 from None


@login_required
@answers_refusals
def council_grid(request, code):
    """One leaf for every unit of the framework: its appraisers see every appraised leaf, a council
    member the leaves of their areas. A fixed number of queries whatever the number of units."""
    framework = get_framework_for_council_appraisal(request.user, code)
    leaves = appraisable_leaves(framework, council_areas(request.user, framework))
    criterion = _grid_leaf(framework, leaves, request.user, _criterion_id(request.GET.get("criterion")))
    rows = criterion_grid(framework, criterion)
    for row in rows:
        row.lock = appraisal_lock(request.user, row.assessment)
    context = {
        "framework": framework,
        "criterion": criterion,
        "leaves": leaves,
        "rows": rows,
        "oversees": can_manage_framework(request.user, framework),
    }
    return render(request, "scoring/council/grid.html", context)


@login_required
@require_POST
@answers_refusals
def council_grid_row(request, code, criterion_id, pk):
    """Save one unit's row of the grid through the appraisal page's row path; the row again (htmx)."""
    framework = get_framework_for_council_appraisal(request.user, code)
    assessment = get_assessment_for_leaf_appraisal(request.user, pk)
    if assessment.framework_id != framework.pk:
        raise Http404
    criterion = Criterion.objects.filter(framework=framework, pk=criterion_id, is_leaf=True).first()
    if criterion is None:
        raise Http404
    grid_row = criterion_grid(framework, criterion, assessment_ids=[assessment.pk])[0]
    assessment = grid_row.assessment
    refusal = appraisal_lock(request.user, assessment)
    if refusal is None and not grid_row.row.appraisable:
        refusal = _(
            "%(code)s is not appraised here: it is scored by the survey or not applicable to the unit."
        ) % {"code": criterion.code}
    saved, errors, forbidden = (
        (False, [], refusal) if refusal else save_row(request, assessment, grid_row.row)
    )
    if forbidden:
        raise CouncilRefused(framework, forbidden)
    grid_url = f"{reverse('scoring:council_grid', args=[framework.code])}?criterion={criterion.pk}"
    if not request.htmx:
        if saved:
            messages.success(request, _("Appraisal of %(code)s saved.") % {"code": criterion.code})
        else:
            messages.error(request, f"{assessment.unit.name}: {' '.join(errors)}")
        return redirect(f"{grid_url}#unit-{assessment.pk}")
    if saved:
        grid_row = criterion_grid(framework, criterion, assessment_ids=[assessment.pk])[0]
        grid_row.saved = True
    else:
        grid_row.errors = errors
        grid_row.entered = {key: request.POST.get(key, "") for key in ("points", "raw", "reason")}
        grid_row.entered["version"] = version_of(request.POST.get("version"))
    grid_row.lock = appraisal_lock(request.user, grid_row.assessment)
    context = {
        "framework": framework,
        "criterion": criterion,
        "g": grid_row,
        "reload_url": reload_url(grid_url, f"unit-{assessment.pk}"),
    }
    # Another person saved the row after it was read: the row with the message and a reload link, 409.
    status = 409 if getattr(grid_row.row, "conflict", False) else 200
    return render(request, "scoring/council/_grid_row.html", context, status=status)


urlpatterns = [
    path("frameworks/<str:code>/council/", council_page, name="council_page"),
    path("frameworks/<str:code>/council/members/", council_member_add, name="council_member_add"),
    path(
        "frameworks/<str:code>/council/members/<int:member_id>/",
        council_member_change,
        name="council_member_change",
    ),
    path(
        "frameworks/<str:code>/council/members/<int:member_id>/remove/",
        council_member_remove,
        name="council_member_remove",
    ),
    path("frameworks/<str:code>/council/done/", council_done, name="council_done"),
    path("frameworks/<str:code>/council/minutes/", council_minutes_record, name="council_minutes"),
    path(
        "frameworks/<str:code>/council/minutes/<int:minutes_id>/file/",
        council_minutes_file,
        name="council_minutes_file",
    ),
    path("frameworks/<str:code>/council/grid/", council_grid, name="council_grid"),
    path(
        "frameworks/<str:code>/council/grid/<int:criterion_id>/<int:pk>/",
        council_grid_row,
        name="council_grid_row",
    ),
]
