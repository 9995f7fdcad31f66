"""Forms of the council page: a member (user, office, role, areas), a member's areas, the minutes.
They read what a person typed; the rules are the council services'."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from scoring.council.models import CouncilMember, CouncilRole
from scoring.frameworks.forms import DATE_INPUT_FORMATS, DateInput
from units.models import Unit


class _AreasField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code}. {obj.title}"


def _areas_field(areas):
    return _AreasField(
        queryset=areas, required=False, widget=forms.CheckboxSelectMultiple, label=_("Areas appraised")
    )


class MemberAddForm(forms.Form):
    username = forms.CharField(label=_("User (username)"), max_length=150)
    office = forms.CharField(label=_("Office (unit code)"), max_length=50)
    role = forms.ChoiceField(label=_("Role"), choices=CouncilRole.choices, initial=CouncilRole.MEMBER)

    def __init__(self, *args, areas, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["areas"] = _areas_field(areas)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(_("No user is named %(name)s."), params={"name": username})
        return user

    def clean_office(self):
        code = self.cleaned_data["office"].strip()
        unit = Unit.objects.filter(code=code).first()
        if unit is None:
            raise forms.ValidationError(_("No unit has the code %(code)s."), params={"code": code})
        return unit


class MemberAreasForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=CouncilRole.choices)

    def __init__(self, *args, areas, member: CouncilMember, **kwargs):
        kwargs.setdefault("initial", {"role": member.role, "areas": list(member.areas.all())})
        kwargs.setdefault("prefix", f"m{member.pk}")
        super().__init__(*args, **kwargs)
        self.fields["areas"] = _areas_field(areas)


class MinutesForm(forms.Form):
    meeting_date = forms.DateField(
        label=_("Meeting date"), input_formats=DATE_INPUT_FORMATS, widget=DateInput()
    )
    conclusions = forms.CharField(
        label=_("Conclusions"), max_length=20000, widget=forms.Textarea(attrs={"rows": 4})
    )
    file = forms.FileField(label=_("File of the minutes (optional)"), required=False)

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["present"] = forms.ModelMultipleChoiceField(
            queryset=members, required=False, widget=forms.CheckboxSelectMultiple, label=_("Members present")
        )
        self.fields["present"].label_from_instance = lambda m: m.user.get_full_name() or m.user.username
