"""Admin for report jobs (read-only, with a retry action) and remediation items."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .jobs import report_retry
from .models import JobStatus, RemediationItem, ReportJob


@admin.register(ReportJob)
class ReportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "framework", "compare_framework", "status", "progress", "attempts", "requested_by",
                    "created_at", "finished_at")
    list_filter = ("status", "kind")
    search_fields = ("framework__code", "requested_by__username", "error")
    list_select_related = ("framework", "compare_framework", "requested_by")
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = [field.name for field in ReportJob._meta.fields]

    def has_add_permission(self, request):
        return False  # reports are requested through reports.jobs.report_request (the page or the command)

    @admin.action(description=_("Retry the selected failed reports"))
    def retry(self, request, queryset):
        retried = 0
        for job in queryset.filter(status=JobStatus.FAILED):
            try:
                report_retry(job, actor=request.user)
                retried += 1
            except ValidationError:
                pass  # retried meanwhile by someone else
        skipped = queryset.count() - retried
        self.message_user(request, ngettext("%(n)d report queued again.", "%(n)d reports queued again.", retried)
                          % {"n": retried}, messages.SUCCESS)
        if skipped:
            self.message_user(request, _("Only failed reports can be retried; the others were left as they are."),
                              messages.WARNING)


@admin.register(RemediationItem)
class RemediationItemAdmin(admin.ModelAdmin):
    list_display = ("assessment", "criterion", "points_lost", "status", "responsible", "due_date", "updated_at")
    list_filter = ("status",)
    search_fields = ("assessment__unit__code", "assessment__unit__name", "criterion__code", "action", "responsible")
    list_select_related = ("assessment__unit", "assessment__framework", "criterion")
    raw_id_fields = ("assessment", "criterion")
    readonly_fields = ("updated_by", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
