from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from scoring.frameworks.services import DEFAULT_BANDS
from scoring.models import Framework, ImportKind
from units.models import UnitKind


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Workbook (.xlsx)"))
    stage = forms.ChoiceField(
        label=_("What the file holds"),
        choices=[
            (ImportKind.SELF, _("Self-assessed points (Điểm tự đánh giá)")),
            (ImportKind.APPRAISAL, _("Appraised points (Điểm thẩm định) with reasons")),
        ],
        initial=ImportKind.SELF,
    )

    def __init__(self, *args, stages=(ImportKind.SELF,), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [c for c in self.fields["stage"].choices if c[0] in stages]
        if len(stages) == 1:
            self.fields["stage"].widget = forms.HiddenInput()
            self.fields["stage"].initial = stages[0]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.PARINDEX_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than the limit of %(mb)s MB.")
                % {"mb": settings.PARINDEX_UPLOAD_MAX_BYTES // (1024 * 1024)}
            )
        return upload


class SurveyUploadForm(forms.Form):
    file = forms.FileField(label=_("Survey file (.xlsx or .csv)"))


class FrameworkImportForm(forms.Form):
    file = forms.FileField(label=_("Framework file (.xlsx or .csv)"))
    code = forms.SlugField(label=_("Code"), max_length=50, help_text=_("e.g. XA-2026"))
    name = forms.CharField(label=_("Name"), max_length=300)
    authority = forms.ChoiceField(label=_("Issuing authority"))
    unit_kind = forms.MultipleChoiceField(
        label=_("Units assessed"),
        choices=UnitKind.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("One or more kinds of unit (the first one ticked is the framework's level)."),
    )
    groups = forms.CharField(
        label=_("Ranking groups"),
        required=False,
        max_length=500,
        help_text=_('Optional, e.g. "Xã:commune,special_zone;Phường:ward" (unit kinds or unit codes).'),
    )
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    bands = forms.CharField(label=_("Grade bands"), initial=DEFAULT_BANDS, max_length=300)
    decimals = forms.IntegerField(label=_("Index decimals"), min_value=0, max_value=4, initial=2)
    index_cap = forms.ChoiceField(
        label=_("Index cap"),
        choices=[
            ("", _("As an exported workbook says, else at most 100")),
            ("100", _("At most 100 (bonus points never lift it higher)")),
            ("none", _("No cap")),
        ],
        initial="",
        required=False,
    )
    survey = forms.ChoiceField(
        label=_("Survey"),
        choices=[
            ("", _("As an exported workbook says, else required")),
            ("required", _("Required")),
            ("optional", _("Optional: a unit without survey results is indexed on its remaining maximum")),
        ],
        initial="",
        required=False,
    )
    legal_basis = forms.CharField(
        label=_("Legal basis"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, authorities=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["authority"].choices = [(u.code, f"{u.code} — {u.name}") for u in authorities]

    def clean_code(self):
        code = self.cleaned_data["code"]
        if Framework.objects.filter(code=code).exists():
            raise forms.ValidationError(_("A framework with this code already exists."))
        return code


class FrameworkCopyForm(forms.Form):
    code = forms.SlugField(label=_("Code of the copy"), max_length=50)
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    name = forms.CharField(label=_("Name"), max_length=300)

    def clean_code(self):
        code = self.cleaned_data["code"]
        if Framework.objects.filter(code=code).exists():
            raise forms.ValidationError(_("A framework with this code already exists."))
        return code
