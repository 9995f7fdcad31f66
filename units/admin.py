"""Admin of the unit tree and of memberships. Every write goes through units.services (unit_save,
unit_delete, membership_grant/change/revoke), which check the change, keep the materialised paths
that every "units under this authority" filter relies on, and record who did it (via "admin").

Units are also imported and exported as xlsx/csv (django-import-export, UnitResource, with what
every admin import and export shares from parindex.spreadsheet_admin)."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin

from parindex.admin_services import ServiceRefusals
from parindex.audit.models import Via
from parindex.spreadsheet_admin import SpreadsheetAdminMixin
from units.models import Membership, Unit
from units.resources import UnitResource
from units.services import (
    membership_change,
    membership_grant,
    membership_revoke,
    unit_delete,
    unit_save,
)


def save_membership_formset(request, formset) -> None:
    """Memberships edited inline (on a unit's or a user's page), each change through the services."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    parent = formset.instance
    for form in formset.forms:
        membership = form.instance
        if not getattr(form, "cleaned_data", None):
            continue
        if formset.can_delete and formset._should_delete_form(form):
            if membership.pk:
                membership_revoke(
                    membership=Membership.objects.select_related("user", "unit").get(pk=membership.pk),
                    actor=request.user,
                    via=Via.ADMIN,
                )
                formset.deleted_objects.append(membership)
            continue
        if not form.has_changed():
            continue
        data = form.cleaned_data
        user = parent if formset.fk.name == "user" else data["user"]
        unit = parent if formset.fk.name == "unit" else data["unit"]
        if membership.pk:
            saved = membership_change(
                membership=membership,
                user=user,
                unit=unit,
                role=data["role"],
                actor=request.user,
                via=Via.ADMIN,
            )
            formset.changed_objects.append((saved, form.changed_data))
        else:
            saved = membership_grant(
                user=user, unit=unit, role=data["role"], actor=request.user, via=Via.ADMIN
            )
            formset.new_objects.append(saved)
        form.instance = saved


class UnitAdminForm(forms.ModelForm):
    """The unit form. Its rules are the service's: a refusal of unit_save comes back on the field it
    names (parindex.admin_services.ServiceRefusals)."""

    class Meta:
        model = Unit
        fields = ["code", "name", "kind", "parent", "active_from", "active_to", "predecessors"]


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
class UnitAdmin(ServiceRefusals, SpreadsheetAdminMixin, ImportExportMixin, admin.ModelAdmin):
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
    resource_classes = [UnitResource]
    form = UnitAdminForm

    def has_import_permission(self, request):
        # An import both creates and changes units.
        return super().has_import_permission(request) and self.has_add_permission(request)

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
            actor=request.user,
            via=Via.ADMIN,
        )
        # The admin goes on with `obj` (memberships inline, log entry, redirect): make it the saved row.
        obj.pk, obj.path, obj.created_at, obj.updated_at = (
            unit.pk,
            unit.path,
            unit.created_at,
            unit.updated_at,
        )

    def save_related(self, request, form, formsets, change):
        # Predecessors were set by unit_save; memberships go through their services.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        save_membership_formset(request, formset)

    def delete_model(self, request, obj):
        unit_delete(unit=obj, actor=request.user, via=Via.ADMIN)

    def delete_queryset(self, request, queryset):
        for unit in queryset:
            unit_delete(unit=unit, actor=request.user, via=Via.ADMIN)


@admin.register(Membership)
class MembershipAdmin(ServiceRefusals, admin.ModelAdmin):
    list_display = ["user", "unit", "role", "created_at"]
    list_filter = ["role", "unit__kind"]
    list_select_related = ["user", "unit"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "unit__code", "unit__name"]
    autocomplete_fields = ["user", "unit"]
    fields = ["user", "unit", "role"]

    def save_model(self, request, obj, form, change):
        if change:
            membership = membership_change(
                membership=obj, user=obj.user, unit=obj.unit, role=obj.role, actor=request.user, via=Via.ADMIN
            )
        else:
            membership = membership_grant(
                user=obj.user, unit=obj.unit, role=obj.role, actor=request.user, via=Via.ADMIN
            )
        obj.pk, obj.created_at = membership.pk, membership.created_at

    def delete_model(self, request, obj):
        membership_revoke(membership=obj, actor=request.user, via=Via.ADMIN)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "unit"):
            membership_revoke(membership=membership, actor=request.user, via=Via.ADMIN)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class ParIndexUserAdmin(ServiceRefusals, UserAdmin):
    """Django's user admin, with the user's memberships (role in which unit) on the same page."""

    inlines = [UserMembershipInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_formset(self, request, form, formset, change):
        if formset.model is Membership:
            save_membership_formset(request, formset)
        else:
            super().save_formset(request, form, formset, change)

    def delete_model(self, request, obj):
        # The account's roles end with it: revoke each through the service, so the trail says so.
        for membership in obj.memberships.select_related("user", "unit"):
            membership_revoke(membership=membership, actor=request.user, via=Via.ADMIN)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            self.delete_model(request, user)
