"""Admin for report jobs (read-only, with a retry action) and remediation items.

Every write goes through the reports services: a failed job is queued again by reports.jobs.report_retry,
a remediation item is filled in by reports.remediation.remediation_update (audited). Items are created
by remediation_suggest after publication, and jobs by report_request; neither is added or deleted here.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from parindex.admin_services import ServiceRefusals, refusal_text
from reports.jobs import report_retry
from reports.models import RemediationItem, ReportJob
from reports.remediation import EDITABLE_FIELDS, remediation_update
from scoring.models import Via


@admin.register(ReportJob)
class ReportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "framework",
        "compare_framework",
        "status",
        "progress",
        "attempts",
        "requested_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("framework__code", "requested_by__username", "error")
    list_select_related = ("framework", "compare_framework", "requested_by")
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = [field.name for field in ReportJob._meta.fields]

    def has_add_permission(self, request):
        return False  # reports are requested through reports.jobs.report_request (the page or the command)

    def has_delete_permission(self, request, obj=None):
        return False  # a job is the record of a request; its file is replaced by a new request

    @admin.action(description=_("Retry the selected failed reports"))
    def retry(self, request, queryset):
        retried, refused = 0, []
        for job in queryset:
            try:
                report_retry(job, actor=request.user)
                retried += 1
            except ValidationError as error:  # not failed (any more): the service says so
                refused.append(f"#{job.pk}: {refusal_text(error)}")
        if retried:
            self.message_user(
                request,
                ngettext("%(n)d report queued again.", "%(n)d reports queued again.", retried)
                % {"n": retried},
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)


@admin.register(RemediationItem)
class RemediationItemAdmin(ServiceRefusals, admin.ModelAdmin):
    list_display = (
        "assessment",
        "criterion",
        "points_lost",
        "status",
        "responsible",
        "due_date",
        "updated_at",
    )
    list_filter = ("status",)
    search_fields = (
        "assessment__unit__code",
        "assessment__unit__name",
        "criterion__code",
        "action",
        "responsible",
    )
    list_select_related = ("assessment__unit", "assessment__framework", "criterion")
    fields = (
        "assessment",
        "criterion",
        "points_lost",
        *EDITABLE_FIELDS,
        "result_reported_at",
        "updated_by",
        "created_at",
        "updated_at",
    )
    # The result is the unit's own report (its officers write it on the item's page).
    readonly_fields = (
        "assessment",
        "criterion",
        "points_lost",
        "result",
        "result_reported_at",
        "updated_by",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False  # items are suggested after publication (remediation_suggest)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        remediation_update(
            item=obj,
            action=data["action"],
            responsible=data["responsible"],
            due_date=data["due_date"],
            status=data["status"],
            cause=data.get("cause"),
            actor=request.user,
            via=Via.ADMIN,
        )
