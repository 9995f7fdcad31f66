"""Forms of the appraisal pages. They read what a person typed; the rules (limits, a reason for
every change, workflow status) are the services' and their messages are shown as they are."""

from django import forms
from django.utils.translation import gettext_lazy as _

from parindex.numbers import NotANumber, parse_decimal
from scoring.concurrency import version_of


class AppraisalRowForm(forms.Form):
    """Appraised points of one leaf ("12,1" or "12.1"; empty clears them) and the reason."""

    points = forms.CharField(label=_("Appraised points"), required=False, max_length=20)
    raw = forms.CharField(label=_("Appraised raw figure"), required=False, max_length=50)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=4000)
    accept_self = forms.BooleanField(required=False)

    def clean_points(self):
        try:
            return parse_decimal(self.cleaned_data["points"])
        except NotANumber:
            raise forms.ValidationError(
                _("“%(value)s” is not a number; write points like 12,5."),
                params={"value": self.cleaned_data["points"]},
                code="invalid",
            ) from None


class ReturnForm(forms.Form):
    """Return for explanation: a message and, per chosen leaf, the reason it must be explained.

    One checkbox `pick_<id>` and one text `reason_<id>` per self-assessed leaf."""

    message = forms.CharField(
        label=_("Message to the unit"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Say what needs explaining when returning an assessment.")},
    )

    def __init__(self, *args, leaves=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.leaves = list(leaves)
        for criterion in self.leaves:
            self.fields[f"pick_{criterion.pk}"] = forms.BooleanField(required=False, label=criterion.code)
            self.fields[f"reason_{criterion.pk}"] = forms.CharField(
                required=False, max_length=4000, label=_("Reason for %(code)s") % {"code": criterion.code}
            )

    def clean(self):
        cleaned = super().clean()
        for criterion in self.leaves:
            reason = (cleaned.get(f"reason_{criterion.pk}") or "").strip()
            cleaned[f"reason_{criterion.pk}"] = reason
            if cleaned.get(f"pick_{criterion.pk}") and not reason:
                self.add_error(
                    f"reason_{criterion.pk}",
                    _("Give the reason why %(code)s must be explained.") % {"code": criterion.code},
                )
        return cleaned

    def criteria(self) -> dict[str, str]:
        """{criterion code: reason} of the chosen leaves, for services.assessment_return."""
        return {
            criterion.code: self.cleaned_data[f"reason_{criterion.pk}"]
            for criterion in self.leaves
            if self.cleaned_data.get(f"pick_{criterion.pk}")
        }

    def versions(self) -> dict[str, int | None]:
        """{criterion code: the row's version the page showed} of the chosen leaves (hidden
        `version_<id>`; not sent: None, not checked), which services.assessment_return compares."""
        return {
            criterion.code: version_of(self.data.get(f"version_{criterion.pk}"))
            for criterion in self.leaves
            if self.cleaned_data.get(f"pick_{criterion.pk}")
        }

    def lines(self):
        """(criterion, checkbox, reason field) per leaf, for the template."""
        return [(c, self[f"pick_{c.pk}"], self[f"reason_{c.pk}"]) for c in self.leaves]
