"""Pages of inspections: the office's (plans, a visit with its team, findings, draft, conclusion and
recommendations), the unit's (its visits once the draft findings are shared: respond, report fixed) and
the overview for leaders. Access first (scoring.access: 404/403); the rules are the services'. A refusal
of the actor themself (ErrorCode.FORBIDDEN) is answered with 403 and its reason, the others with a
message on the page they came from."""

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from parindex.errors import ErrorCode, ServiceError
from scoring.access import (
    ensure_inspections_reader,
    get_finding_file_for_view,
    get_plan_for_change,
    get_plan_for_view,
    get_recommendation_for_view,
    get_unit_for_inspections,
    get_visit_for_office,
    get_visit_for_unit,
    inspection_plans_visible_to,
    reach,
    units_under_authority,
)
from scoring.inspections import selectors, services
from scoring.inspections.models import Finding, InspectionVisit, RecommendationStatus, VisitStatus
from scoring.inspections.scope import office_of, team_role
from scoring.models import Criterion, Via
from units.models import Role, Unit, UnitKind


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


class PlanForm(forms.Form):
    authority = forms.ModelChoiceField(
        label=gettext_lazy("Authority"), queryset=Unit.objects.none(), required=False
    )
    year = forms.IntegerField(label=gettext_lazy("Year"), min_value=2000, max_value=2100, required=False)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=300)
    document_number = forms.CharField(
        label=gettext_lazy("Plan document number"), max_length=100, required=False
    )
    document_date = forms.DateField(
        label=gettext_lazy("Plan document date"), required=False, widget=_date_input()
    )


class VisitForm(forms.Form):
    unit = forms.CharField(label=gettext_lazy("Unit code"), max_length=40)
    start_date = forms.DateField(label=gettext_lazy("From"), widget=_date_input())
    end_date = forms.DateField(label=gettext_lazy("To"), widget=_date_input())


def _date(text) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


class Refused(Exception):
    def __init__(self, reason: str, back: str):
        super().__init__(reason)
        self.reason, self.back = reason, back


def _refused(request, error: Refused):
    return render(
        request, "scoring/inspections/refused.html", {"reason": error.reason, "back": error.back}, status=403
    )


def _apply(request, back: str, call, success: str):
    """Run a service; its refusals shown as a message (or 403 for a refusal of the actor); back to `back`."""
    try:
        call()
    except ServiceError as error:
        forbidden = [e.text() for e in error.all() if e.error_code == ErrorCode.FORBIDDEN]
        if forbidden:
            return _refused(request, Refused(" ".join(forbidden), back))
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    return redirect(back)


def _file(handle_field):
    if not handle_field:
        raise Http404
    try:
        handle = handle_field.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=handle_field.name.rsplit("/", 1)[-1])


# --- the home: plans and the overview ------------------------------------------------------------------


def _planning_authorities(user):
    return (
        units_under_authority(user, roles=(Role.APPRAISER,)).exclude(kind=UnitKind.COMMUNE).order_by("path")
    )


@login_required
def inspection_home(request):
    """Plans the user reaches, visits by status and open (overdue) recommendations; appraisers create plans."""
    ensure_inspections_reader(request.user)
    authorities = _planning_authorities(request.user)
    form = None
    if authorities.exists():
        form = PlanForm(request.POST or None, initial={"year": timezone.localdate().year})
        form.fields["authority"].queryset = authorities
        form.fields["authority"].required = form.fields["year"].required = True
    status = 200
    if request.method == "POST":
        if form is None:
            return _refused(
                request, Refused(_("Only appraisers plan inspections."), reverse("scoring:inspection_home"))
            )
        if form.is_valid():
            data = form.cleaned_data
            try:
                plan = services.plan_create(
                    authority=data["authority"],
                    year=data["year"],
                    name=data["name"],
                    document_number=data["document_number"],
                    document_date=data["document_date"],
                    actor=request.user,
                    via=Via.WEB,
                )
            except ServiceError as error:
                for problem in error.all():
                    form.add_error(problem.field if problem.field in form.fields else None, problem.text())
            else:
                messages.success(request, _("The inspection plan is created."))
                return redirect("scoring:inspection_plan", plan_id=plan.pk)
        status = 400
    plans = inspection_plans_visible_to(request.user).order_by("-year", "authority__code")
    visits = InspectionVisit.objects.filter(plan__in=plans)
    context = {"plans": plans, "form": form, "overview": selectors.overview(visits)}
    return render(request, "scoring/inspections/home.html", context, status=status)


# --- a plan --------------------------------------------------------------------------------------------


@login_required
def inspection_plan(request, plan_id):
    plan = get_plan_for_view(request.user, plan_id)
    manages = office_of(request.user, plan.authority)
    form = PlanForm(
        initial={
            "name": plan.name,
            "document_number": plan.document_number,
            "document_date": plan.document_date,
        }
    )
    status = 200
    if request.method == "POST":
        plan = get_plan_for_change(request.user, plan_id)
        form = PlanForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.plan_update(
                    plan=plan,
                    name=data["name"],
                    document_number=data["document_number"],
                    document_date=data["document_date"],
                    actor=request.user,
                    via=Via.WEB,
                )
            except ServiceError as error:
                for problem in error.all():
                    form.add_error(problem.field if problem.field in form.fields else None, problem.text())
            else:
                messages.success(request, _("The plan is saved."))
                return redirect("scoring:inspection_plan", plan_id=plan.pk)
        status = 400
    del form.fields["authority"], form.fields["year"]
    context = {
        "plan": plan,
        "manages": manages,
        "form": form if manages else None,
        "visit_form": VisitForm() if manages else None,
        "visits": selectors.plan_visits(plan),
    }
    return render(request, "scoring/inspections/plan.html", context, status=status)


@login_required
@require_POST
def inspection_visit_add(request, plan_id):
    plan = get_plan_for_change(request.user, plan_id)
    back = reverse("scoring:inspection_plan", args=[plan.pk])
    form = VisitForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    unit = Unit.objects.filter(code=form.cleaned_data["unit"].strip()).first()
    if unit is None:
        messages.error(request, _("There is no unit %(code)s.") % {"code": form.cleaned_data["unit"]})
        return redirect(back)
    return _apply(
        request,
        back,
        lambda: services.visit_schedule(
            plan=plan,
            unit=unit,
            start_date=form.cleaned_data["start_date"],
            end_date=form.cleaned_data["end_date"],
            actor=request.user,
        ),
        _("The visit of %(unit)s is scheduled.") % {"unit": unit.name},
    )


# --- a visit, the office's side ------------------------------------------------------------------------


def _visit_url(visit) -> str:
    return reverse("scoring:inspection_visit", args=[visit.pk])


@login_required
def inspection_visit(request, visit_id):
    visit = get_visit_for_office(request.user, visit_id)
    visit = selectors.visit_detail(visit.pk)
    role = team_role(request.user, visit)
    areas, leaves = selectors.unit_criteria(visit.unit, visit.plan.year)
    open_visit = not visit.is_concluded
    context = {
        "visit": visit,
        "plan": visit.plan,
        "team_role": role,
        "manages": office_of(request.user, visit.plan.authority),
        "records": role is not None and open_visit,
        "leads": role == "leader",
        "areas": areas,
        "leaves": leaves,
        "team_text": "\n".join(f"{m.user.username} {m.office.code}" for m in visit.team.all()),
        "team_leader": next((m.user.username for m in visit.team.all() if m.is_leader), ""),
        "today": timezone.localdate(),
        "statuses": VisitStatus,
        "closes": office_of(request.user, visit.plan.authority) or role == "leader",
    }
    return render(request, "scoring/inspections/visit.html", context)


@login_required
@require_POST
def inspection_team(request, visit_id):
    """The team from a text: one member a line, "username office-code"; the leader's username apart."""
    visit = get_visit_for_office(request.user, visit_id)
    back = _visit_url(visit)
    members, problems = [], []
    for line in request.POST.get("members", "").splitlines():
        parts = line.split()
        if not parts:
            continue
        user = User.objects.filter(username=parts[0]).first()
        office = Unit.objects.filter(code=parts[1]).first() if len(parts) > 1 else None
        if user is None or office is None:
            problems.append(line.strip())
        else:
            members.append((user, office))
    if problems:
        messages.error(request, _("Unknown user or office: %(lines)s") % {"lines": "; ".join(problems)})
        return redirect(back)
    leader = User.objects.filter(username=request.POST.get("leader", "").strip()).first()
    if leader is None and members:
        leader = members[0][0]
    return _apply(
        request,
        back,
        lambda: services.team_set(visit=visit, members=members, leader=leader or User(), actor=request.user),
        _("The team is saved."),
    )


def _criterion(visit, value) -> Criterion | None:
    try:
        pk = int(value) if value else None
    except ValueError:
        raise Http404 from None
    return Criterion.objects.filter(pk=pk).first() if pk else None


@login_required
@require_POST
def inspection_finding_add(request, visit_id):
    visit = get_visit_for_office(request.user, visit_id)
    return _apply(
        request,
        _visit_url(visit) + "#findings",
        lambda: services.finding_add(
            visit=visit,
            text=request.POST.get("text", ""),
            area=_criterion(visit, request.POST.get("area")),
            criterion=_criterion(visit, request.POST.get("criterion")),
            files=request.FILES.getlist("files"),
            actor=request.user,
        ),
        _("The finding is recorded."),
    )


def _finding(user, finding_id) -> Finding:
    finding = Finding.objects.filter(pk=finding_id).first()
    if finding is None:
        raise Http404
    finding.visit = get_visit_for_office(user, finding.visit_id)
    return finding


@login_required
@require_POST
def inspection_finding_edit(request, finding_id):
    finding = _finding(request.user, finding_id)
    return _apply(
        request,
        _visit_url(finding.visit) + "#findings",
        lambda: services.finding_update(
            finding=finding,
            text=request.POST.get("text", ""),
            area=_criterion(finding.visit, request.POST.get("area")),
            criterion=_criterion(finding.visit, request.POST.get("criterion")),
            files=request.FILES.getlist("files"),
            actor=request.user,
        ),
        _("The finding is saved."),
    )


@login_required
@require_POST
def inspection_finding_delete(request, finding_id):
    finding = _finding(request.user, finding_id)
    return _apply(
        request,
        _visit_url(finding.visit) + "#findings",
        lambda: services.finding_delete(finding=finding, actor=request.user),
        _("The finding is deleted."),
    )


@login_required
def inspection_finding_file(request, file_id):
    return _file(get_finding_file_for_view(request.user, file_id).file)


@login_required
@require_POST
def inspection_share(request, visit_id):
    visit = get_visit_for_office(request.user, visit_id)
    return _apply(
        request,
        _visit_url(visit),
        lambda: services.draft_share(visit=visit, actor=request.user),
        _("The draft findings are shared with %(unit)s.") % {"unit": visit.unit.name},
    )


@login_required
@require_POST
def inspection_recommendation_add(request, visit_id):
    visit = get_visit_for_office(request.user, visit_id)
    return _apply(
        request,
        _visit_url(visit) + "#recommendations",
        lambda: services.recommendation_add(
            visit=visit,
            text=request.POST.get("text", ""),
            owner=request.POST.get("owner", ""),
            deadline=_date(request.POST.get("deadline")),
            criterion=_criterion(visit, request.POST.get("criterion")),
            actor=request.user,
        ),
        _("The recommendation is added."),
    )


@login_required
@require_POST
def inspection_recommendation_delete(request, rec_id):
    recommendation = get_recommendation_for_view(request.user, rec_id)
    visit = get_visit_for_office(request.user, recommendation.visit.pk)
    return _apply(
        request,
        _visit_url(visit) + "#recommendations",
        lambda: services.recommendation_delete(recommendation=recommendation, actor=request.user),
        _("The recommendation is removed."),
    )


@login_required
@require_POST
def inspection_conclude(request, visit_id):
    visit = get_visit_for_office(request.user, visit_id)
    return _apply(
        request,
        _visit_url(visit),
        lambda: services.visit_conclude(
            visit=visit,
            conclusion_date=_date(request.POST.get("conclusion_date")),
            text=request.POST.get("text", ""),
            no_recommendations=bool(request.POST.get("no_recommendations")),
            actor=request.user,
        ),
        _("The inspection of %(unit)s is concluded.") % {"unit": visit.unit.name},
    )


@login_required
@require_POST
def inspection_close(request, rec_id):
    recommendation = get_recommendation_for_view(request.user, rec_id)
    visit = get_visit_for_office(request.user, recommendation.visit.pk)
    return _apply(
        request,
        _visit_url(visit) + "#recommendations",
        lambda: services.recommendation_close(recommendation=recommendation, actor=request.user),
        _("The recommendation is closed."),
    )


# --- the unit's side -----------------------------------------------------------------------------------


@login_required
def inspection_unit(request, unit_code):
    """A unit's inspections: the visits whose draft findings were shared, the findings, its response,
    the conclusion and the recommendations it reports fixed."""
    unit = get_unit_for_inspections(request.user, unit_code)
    context = {
        "unit": unit,
        "visits": selectors.unit_visits(unit),
        "officer": reach(request.user).is_officer_of(unit),
        "today": timezone.localdate(),
        "statuses": VisitStatus,
        "open_status": RecommendationStatus.OPEN,
    }
    return render(request, "scoring/inspections/unit.html", context)


def _unit_url(visit) -> str:
    return reverse("scoring:inspection_unit", args=[visit.unit.code])


@login_required
@require_POST
def inspection_respond(request, visit_id):
    visit = get_visit_for_unit(request.user, visit_id)
    return _apply(
        request,
        _unit_url(visit) + f"#visit-{visit.pk}",
        lambda: services.visit_respond(
            visit=visit, text=request.POST.get("text", ""), file=request.FILES.get("file"), actor=request.user
        ),
        _("The unit's response is sent."),
    )


@login_required
def inspection_response_file(request, visit_id):
    return _file(get_visit_for_unit(request.user, visit_id).response_file)


@login_required
@require_POST
def inspection_fixed(request, rec_id):
    recommendation = get_recommendation_for_view(request.user, rec_id)
    return _apply(
        request,
        _unit_url(recommendation.visit) + f"#rec-{recommendation.pk}",
        lambda: services.recommendation_report_fixed(
            recommendation=recommendation,
            report=request.POST.get("report", ""),
            file=request.FILES.get("file"),
            fix_date=_date(request.POST.get("fix_date")),
            actor=request.user,
        ),
        _("The fix is reported."),
    )


@login_required
def inspection_fix_file(request, rec_id):
    return _file(get_recommendation_for_view(request.user, rec_id).fix_file)


urlpatterns = [
    path("inspections/", inspection_home, name="inspection_home"),
    path("inspections/plans/<int:plan_id>/", inspection_plan, name="inspection_plan"),
    path("inspections/plans/<int:plan_id>/visits/", inspection_visit_add, name="inspection_visit_add"),
    path("inspections/visits/<int:visit_id>/", inspection_visit, name="inspection_visit"),
    path("inspections/visits/<int:visit_id>/team/", inspection_team, name="inspection_team"),
    path(
        "inspections/visits/<int:visit_id>/findings/", inspection_finding_add, name="inspection_finding_add"
    ),
    path("inspections/findings/<int:finding_id>/", inspection_finding_edit, name="inspection_finding_edit"),
    path(
        "inspections/findings/<int:finding_id>/delete/",
        inspection_finding_delete,
        name="inspection_finding_delete",
    ),
    path("inspections/files/<int:file_id>/", inspection_finding_file, name="inspection_finding_file"),
    path("inspections/visits/<int:visit_id>/share/", inspection_share, name="inspection_share"),
    path("inspections/visits/<int:visit_id>/respond/", inspection_respond, name="inspection_respond"),
    path(
        "inspections/visits/<int:visit_id>/response/file/",
        inspection_response_file,
        name="inspection_response_file",
    ),
    path(
        "inspections/visits/<int:visit_id>/recommendations/",
        inspection_recommendation_add,
        name="inspection_recommendation_add",
    ),
    path(
        "inspections/recommendations/<int:rec_id>/delete/",
        inspection_recommendation_delete,
        name="inspection_recommendation_delete",
    ),
    path("inspections/visits/<int:visit_id>/conclude/", inspection_conclude, name="inspection_conclude"),
    path("inspections/recommendations/<int:rec_id>/fixed/", inspection_fixed, name="inspection_fixed"),
    path(
        "inspections/recommendations/<int:rec_id>/fix-file/", inspection_fix_file, name="inspection_fix_file"
    ),
    path("inspections/recommendations/<int:rec_id>/close/", inspection_close, name="inspection_close"),
    path("units/<str:unit_code>/inspections/", inspection_unit, name="inspection_unit"),
]
