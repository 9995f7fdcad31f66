"""Django admin for frameworks, assessments, scores, evidence, the audit trail and stored results.

Rules the admin keeps, like every other way into the data:
- Every write goes through a service of scoring.frameworks.services or scoring.assessments.services (via="admin"): settings, deadlines, criteria
  and grade bands of a framework, reopening, assessments, scores, evidence. The services validate,
  audit and recompute; the admin checks no rule itself. A refusal is shown on the form it came from
  (parindex.admin_services.ServiceRefusals): the transaction is rolled back and the page rendered
  again with the service's message on its field.
- Everything of a published framework is read-only here: the framework, its criteria, grade bands,
  assessments, scores and evidence. Reopening is an explicit act with a reason (framework_reopen).
- The audit trail and the computed results are never edited by hand.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin, ImportExportMixin

from parindex.admin_services import ServiceRefusals, refusal_errors, refusal_text
from parindex.errors import ServiceError
from parindex.numbers import NotANumber, format_decimal, parse_decimal
from parindex.spreadsheet_admin import SpreadsheetAdminMixin
from scoring.assessments.services import (
    assessment_delete,
    assessment_get_or_create,
    assessment_mark_appraised,
    assessment_submit,
    evidence_add,
    evidence_delete,
    scores_apply_fields,
)
from scoring.concurrency import ROW, SNAPSHOT_FIELDS, StaleEdit, framework_stale
from scoring.exchange.resources import SCORE_FORMATS, CriterionResource, ScoreResource
from scoring.frameworks.services import (
    DEFAULT_BANDS,
    FRAMEWORK_SETTINGS,
    Band,
    criterion_rows,
    criterion_update,
    framework_create,
    framework_delete,
    framework_reopen,
    framework_set_deadlines,
    framework_update,
    grade_bands_set,
    parse_bands,
)
from scoring.models import (
    AreaResult,
    Assessment,
    AssessmentResult,
    Criterion,
    CriterionSource,
    DeadlineReminder,
    Evidence,
    Framework,
    FrameworkStatus,
    GradeBand,
    ImportRecord,
    RankingGroup,
    Score,
    Via,
)
from scoring.results.engine import results_recompute
from units.models import UnitKind


class PointsField(forms.DecimalField):
    """Points typed the Vietnamese or the English way ("13,5" or "13.5"), shown the active language's way.

    Django's localized input would read "13.5" as thirteen thousand five hundred in Vietnamese, where
    the dot groups thousands; points never need a thousands separator, so both marks mean decimals."""

    widget = forms.TextInput(attrs={"size": 7, "inputmode": "decimal"})

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_decimal(value)
        except NotANumber as error:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error

    def prepare_value(self, value):
        return format_decimal(value) if isinstance(value, Decimal) else value


POINTS_INPUT = {models.DecimalField: {"form_class": PointsField}}
WIDE_TEXT = {models.TextField: {"widget": forms.TextInput(attrs={"size": 60})}, **POINTS_INPUT}


# --- locks: nothing of a published framework changes -------------------------------------------


def _framework_id_of(obj) -> int:
    if isinstance(obj, Framework):
        return obj.pk
    if isinstance(obj, Score):
        return obj.assessment.framework_id
    if isinstance(obj, Evidence):
        return obj.score.assessment.framework_id
    return obj.framework_id


def is_locked(request, obj) -> bool:
    """True when obj belongs to a published framework. Statuses are cached on the request, since
    the delete confirmation asks about every related object."""
    if obj is None or obj.pk is None:
        return False
    framework_id = _framework_id_of(obj)
    if framework_id is None:
        return False
    cache = request.__dict__.setdefault("_parindex_published", {})
    if framework_id not in cache:
        cache[framework_id] = Framework.objects.filter(
            pk=framework_id, status=FrameworkStatus.PUBLISHED
        ).exists()
    return cache[framework_id]


class LockedWhenPublished:
    """Read-only (no change, no delete, no new children) for objects of a published framework.

    On a ModelAdmin `obj` is the object itself; on an inline it is the parent object. Either way
    it leads to one framework."""

    def has_add_permission(self, request, *args):
        obj = args[0] if args else None
        return super().has_add_permission(request, *args) and not is_locked(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not is_locked(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not is_locked(request, obj)


class DeletesOwnRecords:
    """Deleting a framework or an assessment also deletes its scores, audit entries and results,
    which are read-only on their own: only the lock of the deleted objects themselves counts."""

    def get_deleted_objects(self, objs, request):
        to_delete, model_count, _perms, protected = super().get_deleted_objects(objs, request)
        refused = [obj for obj in objs if not self.has_delete_permission(request, obj)]
        perms_needed = {self.model._meta.verbose_name} if refused else set()
        return to_delete, model_count, perms_needed, protected


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records nobody edits by hand: the audit trail and computed results."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- helpers -----------------------------------------------------------------------------------------


# Levels of the criteria tree indented on their own in the admin (static/css/admin.css .tree-code.level-N);
# deeper ones share the last step. Classes, not style attributes: the Content-Security-Policy forbids them.
TREE_LEVELS = 6


class TreeCodeMedia:
    """The stylesheet of indented_code, for the admins and inlines that show it."""

    class Media:
        css = {"all": ["css/admin.css"]}


def indented_code(criterion: Criterion):
    return format_html(
        '<span class="tree-code level-{}">{}</span>', min(criterion.depth, TREE_LEVELS), criterion.code
    )


def _points(value):
    return format_decimal(value) if value is not None else "—"


# --- optimistic concurrency: every change form sends the version it read -----------------------------


class VersionedForm(forms.ModelForm):
    """A change form that sends back, hidden, the version of the row it showed (scoring.concurrency).
    The form refuses a version that moved since (another person saved the row meanwhile: their
    values, who and when are named); the service checks it again under its lock when saving."""

    # Not named "version": that model field is not editable, and a form never writes it.
    read_version = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "read_version" in self.fields:
            self.fields["read_version"].initial = self.instance.version

    def has_changed(self):
        return bool([name for name in self.changed_data if name != "read_version"])

    def stale_error(self) -> ServiceError | None:
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        sent = data.get("read_version")
        if self.instance.pk and sent is not None and sent != self.instance.version:
            error = self.stale_error()
            if error is not None:
                raise ValidationError(error.text())
        return data


class ScoreVersionedForm(VersionedForm):
    def stale_error(self) -> ServiceError | None:
        return StaleEdit.of_score(self.instance, self.instance.criterion, part=ROW)


class ScoreInlineForm(ScoreVersionedForm):
    class Meta:
        model = Score
        fields = ["self_points", "not_applicable", "appraised_points", "appraisal_reason"]


def sent_versions(forms_: list) -> dict[str, int | None]:
    """{leaf code: the version each changed score form read}, as scores_apply_fields takes them."""
    return {form.instance.criterion.code: form.cleaned_data.get("read_version") for form in forms_}


# --- scores: the one path from admin forms to the services -----------------------------------------


def score_changes(form) -> dict[str, object]:
    """The score fields a form changed, with their new values (a new row: every field that holds something)."""
    names = (
        form.changed_data
        if form.instance.pk
        else [n for n in form.changed_data if n not in ("assessment", "criterion")]
    )
    return {name: form.cleaned_data.get(name) for name in names if name in SCORE_FIELDS}


# The fields a person edits here: those an import may write (scoring.concurrency), survey samples aside.
SCORE_FIELDS = tuple(name for name in SNAPSHOT_FIELDS if name != "survey_sample")


class ScoreInlineFormSet(forms.BaseInlineFormSet):
    def changed_forms(self):
        return [f for f in self.forms if hasattr(f, "cleaned_data") and f.instance.pk and f.has_changed()]

    def changes(self) -> dict[str, dict[str, object]]:
        """{leaf code: {field: new value}} of the rows changed on the assessment page."""
        return {form.instance.criterion.code: score_changes(form) for form in self.changed_forms()}


class ScoreInline(TreeCodeMedia, LockedWhenPublished, admin.TabularInline):
    model = Score
    formset = ScoreInlineFormSet
    form = ScoreInlineForm
    fields = [
        "read_version",
        "criterion_code",
        "criterion_title",
        "self_points",
        "not_applicable",
        "appraised_points",
        "appraisal_reason",
    ]
    readonly_fields = ["criterion_code", "criterion_title"]
    formfield_overrides = WIDE_TEXT
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        # The unit and framework too: each row shows the score's name, which mentions them.
        return (
            super()
            .get_queryset(request)
            .select_related("criterion", "assessment__unit", "assessment__framework")
            .order_by("criterion__order")
        )

    def has_add_permission(self, request, obj=None):
        return False  # a leaf without a score row is added from the Score page

    @admin.display(description=_("code"))
    def criterion_code(self, score):
        return indented_code(score.criterion)

    @admin.display(description=_("criterion"))
    def criterion_title(self, score):
        label = score.criterion.title
        if score.criterion.source == CriterionSource.SURVEY:
            label += " " + gettext("(survey)")
        return f"{label} (≤ {format_decimal(score.criterion.max_points)})"


# --- frameworks ------------------------------------------------------------------------------------------


class GradeBandInline(LockedWhenPublished, admin.TabularInline):
    model = GradeBand
    fields = ["name", "min_index"]
    formfield_overrides = POINTS_INPUT
    extra = 0


class RankingGroupInline(admin.TabularInline):
    """The framework's ranking groups, read-only: they are set with the framework
    (import_framework --groups, the import page) through scoring.frameworks.groups."""

    model = RankingGroup
    fields = ["order", "name", "kinds", "unit_codes"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("unit kinds"))
    def kinds(self, group):
        return ", ".join(str(UnitKind(kind).label) for kind in group.unit_kinds if kind in UnitKind.values)

    @admin.display(description=_("units"))
    def unit_codes(self, group):
        return ", ".join(sorted(unit.code for unit in group.units.all()))


class CriterionInline(TreeCodeMedia, LockedWhenPublished, admin.TabularInline):
    """The criteria tree, in order. Its shape (codes, max points, kinds, sources) comes from the
    framework file and is read-only here; titles, leaves' scoring rules and the not-applicable
    switch can be corrected."""

    model = Criterion
    fields = ["tree_code", "title", "max_points", "kind", "source", "rule", "allows_not_applicable"]
    readonly_fields = ["tree_code", "max_points", "kind", "source"]
    formfield_overrides = {models.TextField: {"widget": forms.TextInput(attrs={"size": 80})}}
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["order"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("code"))
    def tree_code(self, criterion):
        return indented_code(criterion)


class FrameworkChangeForm(VersionedForm):
    """The change form of a framework: its settings, with the version read (VersionedForm)."""

    class Meta:
        model = Framework
        # The admin builds the form from change_fieldsets; these are the editable ones among them.
        fields = [
            "name",
            "index_decimals",
            "index_capped",
            "survey_optional",
            "legal_basis",
            "self_deadline",
            "appraisal_deadline",
        ]

    def stale_error(self) -> ServiceError | None:
        return framework_stale(self.instance, -1)


class FrameworkAddForm(forms.ModelForm):
    """A new framework takes its criteria tree from an existing one (typically last year's);
    a framework file is loaded with `manage.py import_framework` instead."""

    copy_from = forms.ModelChoiceField(
        queryset=Framework.objects.order_by("-year", "code"),
        label=_("copy criteria from"),
        help_text=_("The new framework gets the criteria tree of this framework."),
    )
    bands = forms.CharField(
        label=_("grade bands"),
        required=False,
        initial=DEFAULT_BANDS,
        help_text=_(
            "Name:minimum index, separated by commas. Empty: the bands of the framework copied from."
        ),
    )

    class Meta:
        model = Framework
        fields = [
            "code",
            "name",
            "authority",
            "unit_kind",
            "year",
            "legal_basis",
            "index_decimals",
            "index_capped",
            "survey_optional",
            "self_deadline",
            "appraisal_deadline",
        ]

    def clean_bands(self):
        text = self.cleaned_data["bands"].strip()
        return parse_bands(text) if text else None


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("reason for reopening"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("Recorded in the audit trail, e.g. the decision that orders the correction."),
    )


@admin.register(Framework)
class FrameworkAdmin(ServiceRefusals, DeletesOwnRecords, LockedWhenPublished, admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "year",
        "kinds_display",
        "authority",
        "status",
        "decision_number",
        "assessment_count",
    ]
    list_filter = ["year", "status", "unit_kind", ("authority", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["authority"]
    search_fields = ["code", "name", "decision_number", "authority__code", "authority__name"]
    autocomplete_fields = ["authority"]
    actions = ["reopen_published"]
    inlines = [GradeBandInline, RankingGroupInline, CriterionInline]
    add_fieldsets = [
        (
            None,
            {
                "fields": [
                    "code",
                    "name",
                    "authority",
                    "unit_kind",
                    "year",
                    "copy_from",
                    "bands",
                    "index_decimals",
                    "index_capped",
                    "survey_optional",
                    "legal_basis",
                ]
            },
        ),
        (_("Deadlines"), {"fields": ["self_deadline", "appraisal_deadline"]}),
    ]
    change_fieldsets = [
        (
            None,
            {
                "fields": [
                    "code",
                    "name",
                    "authority",
                    "unit_kind",
                    "kinds_display",
                    "year",
                    "index_decimals",
                    "index_capped",
                    "survey_optional",
                    "legal_basis",
                ]
            },
        ),
        (
            _("Workflow"),
            {
                "fields": [
                    "status",
                    "self_deadline",
                    "appraisal_deadline",
                    "results_computed_at",
                    "read_version",
                ]
            },
        ),
        (
            _("Publication"),
            {"fields": ["decision_number", "decision_date", "published_at", "published_by", "reopen_link"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_assessments=models.Count("assessments"))

    @admin.display(description=_("assessments"), ordering="_assessments")
    def assessment_count(self, framework):
        return framework._assessments

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.change_fieldsets

    @admin.display(description=_("unit kinds covered"))
    def kinds_display(self, framework):
        return framework.kinds_display

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = FrameworkAddForm if obj is None else FrameworkChangeForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = [
            "code",
            "authority",
            "unit_kind",
            "kinds_display",
            "year",
            "decision_number",
            "decision_date",
            "published_at",
            "published_by",
            "results_computed_at",
            "reopen_link",
        ]
        return [*fields, "status"]  # the phase moves through its steps (the framework's board)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    @admin.display(description=_("reopen"))
    def reopen_link(self, framework):
        if not framework.pk or not framework.is_published:
            return "—"
        url = reverse("admin:scoring_framework_reopen", args=[framework.pk])
        return format_html(
            '<a class="button" href="{}">{}</a>', url, gettext("Reopen this published framework…")
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            source = data["copy_from"]
            rows = criterion_rows(source)
            bands = data["bands"]
            if bands is None:
                bands = [Band(b.name, b.min_index) for b in source.grade_bands.all()]
            framework = framework_create(
                code=data["code"],
                authority=data["authority"],
                unit_kind=data["unit_kind"],
                year=data["year"],
                name=data["name"],
                rows=rows,
                bands=bands,
                index_decimals=data["index_decimals"],
                legal_basis=data["legal_basis"],
                index_capped=data["index_capped"],
                survey_optional=data["survey_optional"],
                actor=request.user,
                via=Via.ADMIN,
            )
        else:
            framework = framework_update(
                framework=obj,
                changes={name: data[name] for name in form.changed_data if name in FRAMEWORK_SETTINGS},
                actor=request.user,
                via=Via.ADMIN,
                version=data.get("read_version"),
            )
        if {"self_deadline", "appraisal_deadline"} & set(form.changed_data):
            framework = framework_set_deadlines(
                framework=framework,
                self_deadline=data.get("self_deadline"),
                appraisal_deadline=data.get("appraisal_deadline"),
                actor=request.user,
                via=Via.ADMIN,
                # Checked by framework_update above (under the same lock), which may have added one.
                version=framework.version if change and data.get("read_version") is not None else None,
            )
        obj.pk, obj.status, obj.created_at = framework.pk, framework.status, framework.created_at

    def save_formset(self, request, form, formset, change):
        if formset.model is GradeBand:
            if formset.has_changed():
                kept = [f for f in formset.forms if f.has_changed() or f.instance.pk]
                bands = [
                    Band(f.cleaned_data["name"], f.cleaned_data["min_index"])
                    for f in kept
                    if not (formset.can_delete and formset._should_delete_form(f))
                ]
                grade_bands_set(framework=form.instance, bands=bands, actor=request.user, via=Via.ADMIN)
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        changed = [f for f in formset.forms if f.instance.pk and f.has_changed()]
        for f in changed:
            criterion_update(
                criterion=f.instance,
                changes={name: f.cleaned_data[name] for name in f.changed_data},
                actor=request.user,
                via=Via.ADMIN,
            )
        # What the admin's change message reads; the services did the saving.
        formset.new_objects, formset.deleted_objects = [], []
        formset.changed_objects = [(f.instance, f.changed_data) for f in changed]

    def delete_model(self, request, obj):
        framework_delete(framework=obj, actor=request.user, via=Via.ADMIN)

    def delete_queryset(self, request, queryset):
        self.delete_each(
            request,
            queryset,
            lambda framework: framework_delete(framework=framework, actor=request.user, via=Via.ADMIN),
        )

    # Reopening: the only way to change a published framework, with a reason, through the service.

    def has_reopen_permission(self, request):
        return request.user.has_perm("scoring.change_framework")

    def get_urls(self):
        return [
            path(
                "<path:object_id>/reopen/",
                self.admin_site.admin_view(self.reopen_view),
                name="scoring_framework_reopen",
            ),
            *super().get_urls(),
        ]

    @admin.action(description=_("Reopen published frameworks…"), permissions=["reopen"])
    def reopen_published(self, request, queryset):
        return self._reopen(request, list(queryset.select_related("authority")), from_action=True)

    def reopen_view(self, request, object_id):
        if not self.has_reopen_permission(request):
            raise PermissionDenied
        framework = get_object_or_404(Framework, pk=object_id)
        return self._reopen(request, [framework], from_action=False)

    def _reopen_all(self, request, frameworks, form) -> bool:
        """Reopen every framework, or none: a refusal goes on the form."""
        try:
            with transaction.atomic():
                for framework in frameworks:
                    framework_reopen(
                        framework=framework,
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                        via=Via.ADMIN,
                    )
        except ValidationError as error:
            for name, texts in refusal_errors(error).items():
                for text in texts:
                    form.add_error(name if name in form.fields else None, text)
            return False
        return True

    def _reopen(self, request, frameworks, *, from_action):
        published = [f for f in frameworks if f.is_published]
        if not published:
            self.message_user(
                request, gettext("None of the selected frameworks is published."), messages.WARNING
            )
            return None if from_action else redirect("admin:scoring_framework_change", frameworks[0].pk)
        submitted = request.method == "POST" and "reason" in request.POST
        form = ReopenForm(request.POST if submitted else None)
        if submitted and form.is_valid() and self._reopen_all(request, published, form):
            self.message_user(
                request,
                gettext("Reopened: %(codes)s. The change is recorded in the audit trail.")
                % {"codes": ", ".join(f.code for f in published)},
                messages.SUCCESS,
            )
            if from_action:
                return None
            return redirect("admin:scoring_framework_change", published[0].pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reopen published frameworks"),
            "opts": self.model._meta,
            "frameworks": published,
            "form": form,
            "from_action": from_action,
            "action_name": "reopen_published",
            "selected": [f.pk for f in frameworks],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/scoring/framework/reopen.html", context)


@admin.register(Criterion)
class CriterionAdmin(
    TreeCodeMedia, ServiceRefusals, SpreadsheetAdminMixin, ExportMixin, LockedWhenPublished, admin.ModelAdmin
):
    resource_classes = [CriterionResource]  # export only: see scoring.exchange.resources
    list_display = ["tree_code", "title", "framework", "max_points", "kind", "source", "is_leaf"]
    list_display_links = ["tree_code", "title"]
    list_filter = ["framework", "kind", "source", "depth", "is_leaf"]
    list_select_related = ["framework"]
    search_fields = ["code", "title", "framework__code"]
    ordering = ["framework", "order"]
    fields = [
        "framework",
        "code",
        "title",
        "guidance",
        "max_points",
        "kind",
        "source",
        "rule",
        "allows_not_applicable",
        "order",
        "depth",
        "is_leaf",
    ]
    readonly_fields = ["framework", "code", "max_points", "kind", "source", "order", "depth", "is_leaf"]

    def has_add_permission(self, request):
        return False  # criteria come with their framework, as a whole tree

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("code"), ordering="order")
    def tree_code(self, criterion):
        return indented_code(criterion)

    def save_model(self, request, obj, form, change):
        criterion_update(
            criterion=obj,
            changes={name: form.cleaned_data[name] for name in form.changed_data},
            actor=request.user,
            via=Via.ADMIN,
        )


@admin.register(GradeBand)
class GradeBandAdmin(ServiceRefusals, LockedWhenPublished, admin.ModelAdmin):
    list_display = ["name", "min_index_display", "framework"]
    list_filter = ["framework"]
    list_select_related = ["framework"]
    search_fields = ["name", "framework__code"]
    autocomplete_fields = ["framework"]
    ordering = ["framework", "-min_index"]
    formfield_overrides = POINTS_INPUT

    @admin.display(description=_("minimum index"), ordering="min_index")
    def min_index_display(self, band):
        return format_decimal(band.min_index)  # "90", never "90,000" (ninety thousand to a Vietnamese reader)

    def get_readonly_fields(self, request, obj=None):
        return ["framework"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "framework":
            kwargs["queryset"] = Framework.objects.exclude(status=FrameworkStatus.PUBLISHED)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # A framework's bands are set as a whole (grade_bands_set): the others as they are, this one
    # added, changed or left out.

    def _others(self, framework, obj=None) -> list[Band]:
        return [Band(b.name, b.min_index) for b in framework.grade_bands.exclude(pk=getattr(obj, "pk", None))]

    def save_model(self, request, obj, form, change):
        bands = grade_bands_set(
            framework=obj.framework,
            bands=[*self._others(obj.framework, obj), Band(obj.name, obj.min_index)],
            actor=request.user,
            via=Via.ADMIN,
        )
        obj.pk = next(b.pk for b in bands if b.name == obj.name)

    def delete_model(self, request, obj):
        grade_bands_set(
            framework=obj.framework, bands=self._others(obj.framework, obj), actor=request.user, via=Via.ADMIN
        )

    def delete_queryset(self, request, queryset):
        by_framework: dict[Framework, set[int]] = {}
        for band in queryset.select_related("framework"):
            by_framework.setdefault(band.framework, set()).add(band.pk)
        for framework, removed in by_framework.items():
            try:
                with transaction.atomic():
                    grade_bands_set(
                        framework=framework,
                        actor=request.user,
                        via=Via.ADMIN,
                        bands=[
                            Band(b.name, b.min_index)
                            for b in framework.grade_bands.all()
                            if b.pk not in removed
                        ],
                    )
            except ValidationError as error:
                self.message_user(request, f"{framework.code}: {refusal_text(error)}", messages.ERROR)


# --- assessments, scores, evidence -------------------------------------------------------------------


class AssessmentAddForm(forms.ModelForm):
    class Meta:
        model = Assessment
        fields = ["unit", "framework"]


@admin.register(Assessment)
class AssessmentAdmin(ServiceRefusals, DeletesOwnRecords, LockedWhenPublished, admin.ModelAdmin):
    list_display = [
        "unit_code",
        "unit_name",
        "framework",
        "status",
        "explanation_round",
        "result_index",
        "result_rank",
        "result_grade",
        "submitted_at",
        "appraised_at",
    ]
    list_filter = ["framework", "status", "unit__kind", "ranked", "ranking_group"]
    list_select_related = ["unit", "framework", "result", "ranking_group"]
    search_fields = ["unit__code", "unit__name", "framework__code"]
    autocomplete_fields = ["unit", "framework"]
    ordering = ["framework", "unit__code"]
    actions = ["submit_selected", "mark_appraised_selected"]
    inlines = [ScoreInline]
    readonly_fields = [
        "unit",
        "framework",
        "status",
        "explanation_round",
        "return_message",
        "self_deadline_extended_to",
        "submitted_at",
        "appraised_at",
        "ranking_group",
        "ranked",
        "not_ranked_reason",
        "result_summary",
    ]
    change_fields = readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AssessmentAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["unit", "framework"] if obj is None else self.change_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "framework":
            kwargs["queryset"] = Framework.objects.exclude(status=FrameworkStatus.PUBLISHED)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("unit code"), ordering="unit__code")
    def unit_code(self, assessment):
        return assessment.unit.code

    @admin.display(description=_("unit"), ordering="unit__name")
    def unit_name(self, assessment):
        return assessment.unit.name

    def _result(self, assessment):
        try:
            return assessment.result
        except AssessmentResult.DoesNotExist:
            return None

    @admin.display(description=_("index"), ordering="result__index")
    def result_index(self, assessment):
        result = self._result(assessment)
        if result is None or result.index is None:
            return "—"
        text = format_decimal(result.index, assessment.framework.index_decimals)
        return f"{text} *" if result.provisional else text

    @admin.display(description=_("rank"), ordering="result__rank")
    def result_rank(self, assessment):
        result = self._result(assessment)
        return result.rank if result and result.rank else "—"

    @admin.display(description=_("grade"))
    def result_grade(self, assessment):
        result = self._result(assessment)
        return result.grade if result else ""

    @admin.display(description=_("result"))
    def result_summary(self, assessment):
        result = self._result(assessment)
        if result is None:
            return "—"
        return gettext(
            "%(points)s / %(max)s points, index %(index)s, rank %(rank)s, %(grade)s%(provisional)s"
        ) % {
            "points": _points(result.points),
            "max": _points(result.max_points),
            "index": format_decimal(result.index, assessment.framework.index_decimals)
            if result.index is not None
            else "—",
            "rank": result.rank or "—",
            "grade": result.grade or "—",
            "provisional": " " + gettext("(provisional)") if result.provisional else "",
        }

    def save_model(self, request, obj, form, change):
        if change:
            return  # the fields shown are read-only; scores are saved by save_formset
        assessment = assessment_get_or_create(
            unit=obj.unit, framework=obj.framework, actor=request.user, via=Via.ADMIN
        )
        results_recompute(assessment.framework, assessment_ids=[assessment.pk])
        obj.pk, obj.status, obj.created_at = assessment.pk, assessment.status, assessment.created_at

    def save_formset(self, request, form, formset, change):
        if formset.model is not Score:
            return super().save_formset(request, form, formset, change)
        changed = formset.changed_forms()
        changes = formset.changes()
        if changes:
            scores_apply_fields(
                assessment=form.instance,
                changes=changes,
                actor=request.user,
                via=Via.ADMIN,
                versions=sent_versions(changed),
            )
        # What the admin's change message reads; the services did the saving.
        formset.new_objects, formset.deleted_objects = [], []
        formset.changed_objects = [(f.instance, f.changed_data) for f in changed]

    def delete_model(self, request, obj):
        assessment_delete(assessment=obj, actor=request.user, via=Via.ADMIN)

    def delete_queryset(self, request, queryset):
        self.delete_each(
            request,
            queryset.select_related("framework", "unit"),
            lambda assessment: assessment_delete(assessment=assessment, actor=request.user, via=Via.ADMIN),
        )

    def _workflow(self, request, queryset, service, done_message):
        done, refused = [], []
        for assessment in queryset.select_related("framework", "unit"):
            try:
                with transaction.atomic():
                    service(assessment=assessment, actor=request.user, via=Via.ADMIN)
                done.append(assessment.unit.code)
            except ValidationError as error:
                refused.append(f"{assessment.unit.code}: {refusal_text(error)}")
        if done:
            self.message_user(request, done_message % {"units": ", ".join(done)}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description=_("Submit the selected self-assessments"), permissions=["change"])
    def submit_selected(self, request, queryset):
        self._workflow(request, queryset, assessment_submit, gettext("Submitted: %(units)s."))

    @admin.action(description=_("Mark the selected assessments appraised"), permissions=["change"])
    def mark_appraised_selected(self, request, queryset):
        self._workflow(request, queryset, assessment_mark_appraised, gettext("Marked appraised: %(units)s."))


class EvidenceInline(LockedWhenPublished, admin.TabularInline):
    """Evidence is added or removed (evidence_add / evidence_delete), never edited in place, as on the
    self-assessment page."""

    model = Evidence
    fields = ["document_number", "document_date", "page", "description", "file", "uploaded_by", "created_at"]
    readonly_fields = ["uploaded_by", "created_at"]
    extra = 0

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")


# The score fields a person edits in the admin (each change goes through scores_apply_fields).
SCORE_FORM_FIELDS = [
    "assessment",
    "criterion",
    "self_points",
    "self_raw",
    "not_applicable",
    "not_applicable_reason",
    "note",
    "evidence_reference",
    "appraised_points",
    "appraised_raw",
    "appraised_not_applicable",
    "appraisal_reason",
]


class ScoreForm(ScoreVersionedForm):
    class Meta:
        model = Score
        fields = SCORE_FORM_FIELDS

    def clean(self):
        # What the form itself must know to name one score row; every rule about the points is the services'.
        data = super().clean()
        if self.errors or self.instance.pk:
            return data
        if data["criterion"].framework_id != data["assessment"].framework_id:
            raise ValidationError(gettext("The criterion belongs to another framework than the assessment."))
        if not score_changes(self):
            raise ValidationError(gettext("Enter the points, or mark the criterion not applicable."))
        return data


def _add_evidence(request, score: Score, data: dict) -> Evidence:
    return evidence_add(
        assessment=score.assessment,
        code=score.criterion.code,
        upload=data.get("file") or None,
        document_number=data.get("document_number") or "",
        document_date=data.get("document_date"),
        page=data.get("page") or "",
        description=data.get("description") or "",
        actor=request.user,
        via=Via.ADMIN,
    )


@admin.register(Score)
class ScoreAdmin(
    ServiceRefusals, SpreadsheetAdminMixin, ImportExportMixin, LockedWhenPublished, admin.ModelAdmin
):
    form = ScoreForm
    formats = SCORE_FORMATS  # formula cells are refused, as in every other import
    resource_classes = [ScoreResource]  # imports go through the services, like this form
    list_display = [
        "unit_code",
        "framework_code",
        "criterion_code",
        "self_points",
        "not_applicable",
        "appraised_points",
        "appraisal_reason",
        "updated_at",
        "updated_by",
    ]
    list_filter = ["assessment__framework", "not_applicable", "criterion__source", "criterion__kind"]
    list_select_related = ["assessment__unit", "assessment__framework", "criterion", "updated_by"]
    search_fields = [
        "assessment__unit__code",
        "assessment__unit__name",
        "criterion__code",
        "appraisal_reason",
    ]
    autocomplete_fields = ["assessment", "criterion"]
    ordering = ["assessment__framework", "assessment__unit__code", "criterion__order"]
    formfield_overrides = WIDE_TEXT
    inlines = [EvidenceInline]

    def get_fields(self, request, obj=None):
        return SCORE_FORM_FIELDS + (["read_version", *self.change_only_fields] if obj is not None else [])

    change_only_fields = [
        "explanation_request",
        "explanation_requested_round",
        "explanation",
        "updated_at",
        "updated_by",
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["assessment", "criterion", *self.change_only_fields] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # a score is cleared (emptied), which is audited, not deleted

    @admin.display(description=_("unit"), ordering="assessment__unit__code")
    def unit_code(self, score):
        return score.assessment.unit.code

    @admin.display(description=_("framework"), ordering="assessment__framework__code")
    def framework_code(self, score):
        return score.assessment.framework.code

    @admin.display(description=_("criterion"), ordering="criterion__order")
    def criterion_code(self, score):
        return score.criterion.code

    def save_model(self, request, obj, form, change):
        assessment, criterion = obj.assessment, obj.criterion
        scores_apply_fields(
            assessment=assessment,
            changes={criterion.code: score_changes(form)},
            actor=request.user,
            via=Via.ADMIN,
            versions={criterion.code: form.cleaned_data.get("read_version")} if change else None,
        )
        # The services saved the row; the admin goes on with `obj` (evidence inline, log, redirect).
        obj.pk = Score.objects.get(assessment=assessment, criterion=criterion).pk

    def save_formset(self, request, form, formset, change):
        score = Score.objects.select_related("assessment", "criterion").get(pk=form.instance.pk)
        added = [f for f in formset.extra_forms if f.has_changed() and not formset._should_delete_form(f)]
        removed = [
            f.instance for f in formset.initial_forms if formset.can_delete and formset._should_delete_form(f)
        ]
        formset.new_objects = [_add_evidence(request, score, f.cleaned_data) for f in added]
        for evidence in removed:
            evidence_delete(evidence=evidence, actor=request.user, via=Via.ADMIN)
        formset.changed_objects, formset.deleted_objects = [], removed


class EvidenceForm(forms.ModelForm):
    class Meta:
        model = Evidence
        fields = ["score", "document_number", "document_date", "page", "description", "file"]


@admin.register(Evidence)
class EvidenceAdmin(ServiceRefusals, LockedWhenPublished, admin.ModelAdmin):
    """Evidence is added (evidence_add: the assessment must still be open to the unit, files of the
    accepted types and size) or removed (evidence_delete), never edited in place."""

    form = EvidenceForm
    refusal_field = "score"  # the score decides the framework and the assessment a refusal is about
    list_display = [
        "__str__",
        "unit_code",
        "framework_code",
        "criterion_code",
        "document_date",
        "page",
        "description",
        "uploaded_by",
        "created_at",
    ]
    list_filter = ["score__assessment__framework"]
    list_select_related = [
        "score__assessment__unit",
        "score__assessment__framework",
        "score__criterion",
        "uploaded_by",
    ]
    search_fields = [
        "document_number",
        "description",
        "score__assessment__unit__code",
        "score__criterion__code",
    ]
    autocomplete_fields = ["score"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and obj is None

    def get_readonly_fields(self, request, obj=None):
        return ["score", "uploaded_by", "created_at"] if obj is not None else []

    @admin.display(description=_("unit"), ordering="score__assessment__unit__code")
    def unit_code(self, evidence):
        return evidence.score.assessment.unit.code

    @admin.display(description=_("framework"))
    def framework_code(self, evidence):
        return evidence.score.assessment.framework.code

    @admin.display(description=_("criterion"))
    def criterion_code(self, evidence):
        return evidence.score.criterion.code

    def save_model(self, request, obj, form, change):
        score = Score.objects.select_related("assessment", "criterion").get(pk=obj.score_id)
        evidence = _add_evidence(request, score, form.cleaned_data)
        obj.pk, obj.file, obj.created_at = evidence.pk, evidence.file, evidence.created_at

    def delete_model(self, request, obj):
        evidence_delete(evidence=obj, actor=request.user, via=Via.ADMIN)

    def delete_queryset(self, request, queryset):
        self.delete_each(
            request,
            queryset.select_related("score__assessment__framework", "score__criterion"),
            lambda evidence: evidence_delete(evidence=evidence, actor=request.user, via=Via.ADMIN),
        )


# --- the audit trail and computed results: read-only ------------------------------------------------


@admin.register(DeadlineReminder)
class DeadlineReminderAdmin(ReadOnlyAdmin):
    list_display = ["sent_at", "unit_code", "framework_code", "phase", "deadline"]
    list_filter = ["phase", "assessment__framework"]
    list_select_related = ["assessment__unit", "assessment__framework"]
    search_fields = ["assessment__unit__code", "assessment__unit__name"]
    date_hierarchy = "sent_at"

    @admin.display(description=_("unit"), ordering="assessment__unit__code")
    def unit_code(self, reminder):
        return reminder.assessment.unit.code

    @admin.display(description=_("framework"), ordering="assessment__framework__code")
    def framework_code(self, reminder):
        return reminder.assessment.framework.code


@admin.register(AssessmentResult)
class AssessmentResultAdmin(ReadOnlyAdmin):
    list_display = [
        "rank",
        "unit_code",
        "unit_name",
        "framework",
        "points",
        "max_points",
        "index",
        "grade",
        "provisional",
        "points_change",
        "rank_change",
    ]
    list_display_links = ["rank", "unit_code"]
    list_filter = ["framework", "provisional", "grade"]
    list_select_related = ["assessment__unit", "framework"]
    search_fields = ["assessment__unit__code", "assessment__unit__name"]
    ordering = ["framework", models.F("rank").asc(nulls_last=True)]
    fields = [
        "assessment",
        "framework",
        "points",
        "max_points",
        "index",
        "grade",
        "rank",
        "provisional",
        "self_points",
        "score_points",
        "bonus_points",
        "penalty_points",
        "leaves_applicable",
        "leaves_scored",
        "previous_points",
        "previous_index",
        "previous_rank",
        "points_change",
        "index_change",
        "rank_change",
        "computed_at",
        "areas",
    ]

    @admin.display(description=_("unit code"), ordering="assessment__unit__code")
    def unit_code(self, result):
        return result.assessment.unit.code

    @admin.display(description=_("unit"), ordering="assessment__unit__name")
    def unit_name(self, result):
        return result.assessment.unit.name

    @admin.display(description=_("areas"))
    def areas(self, result):
        rows = (
            AreaResult.objects.filter(assessment_id=result.pk).select_related("area").order_by("area__order")
        )
        return format_html_join(
            "",
            "<div>{}. {} — {} / {} · {} · #{}</div>",
            (
                (
                    r.area.code,
                    r.area.title,
                    _points(r.points),
                    _points(r.max_points),
                    format_decimal(r.index, result.framework.index_decimals) if r.index is not None else "—",
                    r.rank or "—",
                )
                for r in rows
            ),
        )


@admin.register(AreaResult)
class AreaResultAdmin(ReadOnlyAdmin):
    list_display = ["unit_code", "area_code", "framework", "points", "max_points", "index", "rank"]
    list_filter = ["framework"]
    list_select_related = ["assessment__unit", "area", "framework"]
    search_fields = ["assessment__unit__code", "assessment__unit__name", "area__code"]
    ordering = ["framework", "area__order", models.F("rank").asc(nulls_last=True)]

    @admin.display(description=_("unit code"), ordering="assessment__unit__code")
    def unit_code(self, result):
        return result.assessment.unit.code

    @admin.display(description=_("area"), ordering="area__order")
    def area_code(self, result):
        return f"{result.area.code}. {result.area.title}"


# --- uploaded files: the import history -------------------------------------------------------------


@admin.register(ImportRecord)
class ImportRecordAdmin(ReadOnlyAdmin):
    """Uploads of workbooks, survey and framework files: who, when, what, with which result. Files are
    private (media is never served directly): the kept original is downloaded through this admin,
    for users with the view permission of imports."""

    list_display = [
        "created_at",
        "original_name",
        "kind",
        "status",
        "framework_code",
        "unit_code",
        "changed",
        "unchanged",
        "problem_count",
        "size",
        "requested_by",
        "applied_at",
    ]
    list_filter = ["kind", "status", "framework"]
    list_select_related = ["framework", "assessment__unit", "requested_by"]
    search_fields = ["original_name", "requested_by__username", "assessment__unit__code", "framework__code"]
    date_hierarchy = "created_at"
    fields = [
        "kind",
        "status",
        "framework",
        "assessment",
        "original_name",
        "file_link",
        "size",
        "progress",
        "changed",
        "unchanged",
        "problem_list",
        "requested_by",
        "created_at",
        "applied_at",
    ]

    def get_urls(self):
        return [
            path(
                "<int:pk>/file/", self.admin_site.admin_view(self.file_view), name="scoring_importrecord_file"
            ),
            *super().get_urls(),
        ]

    def file_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        record = get_object_or_404(ImportRecord, pk=pk)
        if not record.file or not record.file.storage.exists(record.file.name):
            raise Http404
        return FileResponse(record.file.open("rb"), as_attachment=True, filename=record.original_name)

    @admin.display(description=_("file"))
    def file_link(self, record):
        if not record.pk or not record.file:
            return "—"
        url = reverse("admin:scoring_importrecord_file", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, record.original_name)

    @admin.display(description=_("framework"), ordering="framework__code")
    def framework_code(self, record):
        return record.framework.code if record.framework_id else ""

    @admin.display(description=_("unit"), ordering="assessment__unit__code")
    def unit_code(self, record):
        return record.assessment.unit.code if record.assessment_id else ""

    @admin.display(description=_("problems"))
    def problem_count(self, record):
        return len(record.problems or [])

    @admin.display(description=_("problems"))
    def problem_list(self, record):
        language = "en" if (get_language() or "vi").startswith("en") else "vi"
        items = [
            (p.get(language) or p.get("vi") or "") if isinstance(p, dict) else str(p)
            for p in record.problems or []
        ]
        return format_html_join("", "<div>{}</div>", ((item,) for item in items)) if items else "—"
