"""Forms of the scoring pages. They only read and check what a person typed; the services write."""

from datetime import datetime
from decimal import Decimal

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from parindex.errors import Quoted
from parindex.numbers import NotANumber, parse_decimal
from scoring.assessments.services import evidence_file_problem
from scoring.frameworks.rules import parse_rule
from scoring.models import Criterion


def clean_points(text: str) -> Decimal | None:
    """Points typed by a person ("12,1" or "12.1"), read as a number. Their limits (not negative, two
    decimals, at most the maximum) are the service's rule: a refusal comes back on this field."""
    try:
        return parse_decimal(text)
    except NotANumber:
        raise forms.ValidationError(
            _("%(value)r is not a number.") % {"value": Quoted(text.strip())}
        ) from None


class SelfRowForm(forms.Form):
    """One leaf of the self-assessment: points, or the raw figure of a leaf whose rule takes one (or
    not applicable, with its reason) and a written explanation. The rule is the service's."""

    points = forms.CharField(required=False, max_length=20)
    raw = forms.CharField(required=False, max_length=50)
    not_applicable = forms.BooleanField(required=False)
    not_applicable_reason = forms.CharField(required=False, max_length=5000)
    note = forms.CharField(required=False, max_length=5000)

    def __init__(self, *args, criterion: Criterion, **kwargs):
        super().__init__(*args, **kwargs)
        self.criterion = criterion
        self.takes_raw = parse_rule(criterion.rule).takes_raw

    def clean_points(self):
        if self.takes_raw:
            return None  # computed from the raw figure; a points field is not shown for this leaf
        return clean_points(self.cleaned_data.get("points") or "")

    def clean(self):
        cleaned = super().clean()
        cleaned["raw"] = (cleaned.get("raw") or "").strip() or None
        if cleaned.get("not_applicable"):
            cleaned["points"] = cleaned["raw"] = None  # a not-applicable leaf has no points
        cleaned["note"] = (cleaned.get("note") or "").strip()
        cleaned["not_applicable_reason"] = (cleaned.get("not_applicable_reason") or "").strip() or None
        return cleaned


class EvidenceFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"), error_messages={"required": gettext_lazy("Choose a file to upload.")}
    )
    description = forms.CharField(label=gettext_lazy("Description"), required=False, max_length=300)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = evidence_file_problem(upload)
        if problem:
            raise forms.ValidationError(problem)
        return upload


class EvidenceDocumentForm(forms.Form):
    """A reference to an issued document: number, date (dd/mm/yyyy) and page."""

    document_number = forms.CharField(
        label=gettext_lazy("Document number"),
        max_length=100,
        error_messages={"required": gettext_lazy("Give the number of the document.")},
    )
    document_date = forms.CharField(label=gettext_lazy("Date"), required=False, max_length=20)
    page = forms.CharField(label=gettext_lazy("Page"), required=False, max_length=50)
    description = forms.CharField(label=gettext_lazy("Description"), required=False, max_length=300)

    def clean_document_number(self):
        value = self.cleaned_data["document_number"].strip()
        if not value:
            raise forms.ValidationError(_("Give the number of the document."))
        return value

    def clean_document_date(self):
        text = (self.cleaned_data.get("document_date") or "").strip()
        if not text:
            return None
        for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
            try:
                return datetime.strptime(text, pattern).date()  # noqa: DTZ007 (a calendar date, no time)
            except ValueError:
                continue
        raise forms.ValidationError(_("%(value)s is not a date; write it as dd/mm/yyyy.") % {"value": text})


class ExplanationForm(forms.Form):
    explanation = forms.CharField(
        label=gettext_lazy("Explanation"),
        max_length=5000,
        error_messages={"required": gettext_lazy("Write the explanation.")},
    )

    def clean_explanation(self):
        value = self.cleaned_data["explanation"].strip()
        if not value:
            raise forms.ValidationError(_("Write the explanation."))
        return value
