"""Admin of the unit tree and of memberships. Unit writes go through units.services.unit_save,
which keeps the materialised paths that every "units under this authority" filter relies on."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Membership, Unit
from .services import membership_grant, unit_save


class UnitMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "unit"
    fields = ["user", "role"]
    autocomplete_fields = ["user"]
    extra = 0
    verbose_name = _("member")
    verbose_name_plural = _("members")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "unit")


class UserMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    fields = ["unit", "role"]
    autocomplete_fields = ["unit"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "unit")


class PredecessorListFilter(admin.SimpleListFilter):
    title = _("reorganisation")
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("yes", _("Formed from other units")), ("no", _("Not formed from other units"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(predecessors__isnull=False).distinct()
        if self.value() == "no":
            return queryset.filter(predecessors__isnull=True)
        return queryset


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent", "active_from", "active_to"]
    list_display_links = ["code", "name"]
    list_filter = ["kind", PredecessorListFilter, "active_to"]
    list_select_related = ["parent"]
    search_fields = ["code", "name"]
    ordering = ["path", "code"]
    autocomplete_fields = ["parent", "predecessors"]
    fields = ["code", "name", "kind", "parent", "active_from", "active_to", "predecessors"]
    inlines = [UnitMembershipInline]
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None):
        # The code is how files and commands name a unit, and unit_save finds the unit by it.
        return ["code"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        unit, _created = unit_save(
            code=obj.code,
            name=data["name"],
            kind=data["kind"],
            parent=data.get("parent"),
            active_from=data.get("active_from"),
            active_to=data.get("active_to"),
            predecessors=data.get("predecessors"),
        )
        # The admin goes on with `obj` (memberships inline, log entry, redirect): make it the saved row.
        obj.pk, obj.path, obj.created_at, obj.updated_at = unit.pk, unit.path, unit.created_at, unit.updated_at


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "unit", "role", "created_at"]
    list_filter = ["role", "unit__kind"]
    list_select_related = ["user", "unit"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "unit__code", "unit__name"]
    autocomplete_fields = ["user", "unit"]
    fields = ["user", "unit", "role"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        membership = membership_grant(user=obj.user, unit=obj.unit, role=obj.role)
        obj.pk, obj.created_at = membership.pk, membership.created_at


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class ParIndexUserAdmin(UserAdmin):
    """Django's user admin, with the user's memberships (role in which unit) on the same page."""

    inlines = [UserMembershipInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []
