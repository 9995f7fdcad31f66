from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from reports.models import RemediationStatus

DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"]


class RemediationForm(forms.Form):
    """What the unit writes in a remediation item."""

    action = forms.CharField(
        label=pgettext_lazy("remediation", "Action"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
    )
    responsible = forms.CharField(label=_("Person responsible"), required=False, max_length=200)
    due_date = forms.DateField(
        label=_("Due date"),
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("e.g. 30/06/2025"),
    )
    status = forms.ChoiceField(label=_("Status"), choices=RemediationStatus.choices)
    cause = forms.CharField(
        label=_("Cause (why the points were not achieved)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=4000,
    )
    result = forms.CharField(
        label=_("Result reported by the unit"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text=_("What the unit has done and achieved; reported by the unit's officer."),
    )

    def __init__(self, *args, can_report_result: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_report_result:
            # The result is the unit's own report (reports.remediation.remediation_update).
            del self.fields["result"]

    def clean(self):
        data = super().clean()
        planned = data.get("status") in (
            RemediationStatus.PLANNED,
            RemediationStatus.IN_PROGRESS,
            RemediationStatus.DONE,
        )
        if planned and not (data.get("action") or "").strip():
            self.add_error("action", _("Describe the action before planning it."))
        return data


class RemediationFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All statuses")), *RemediationStatus.choices]
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
