"""The audit trail in the admin: read-only, filtered by what it describes, how, by whom and when."""

from django.contrib import admin

from parindex.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "who",
        "via",
        "subject_type",
        "action",
        "framework_code",
        "unit_code",
        "criterion_code",
        "field",
        "old_value",
        "new_value",
        "reason",
    ]
    list_filter = ["subject_type", "action", "via", ("actor", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["actor"]
    search_fields = [
        "framework_code",
        "unit_code",
        "criterion_code",
        "actor_name",
        "subject_label",
        "old_value",
        "new_value",
        "reason",
    ]
    date_hierarchy = "created_at"
    list_per_page = 100

    @admin.display(description=AuditEntry._meta.get_field("actor").verbose_name)
    def who(self, entry):
        return entry.who

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
