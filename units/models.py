import functools
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

unit_code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    _("A unit code uses letters, digits, dot, dash or underscore."),
)


class UnitKind(models.TextChoices):
    PROVINCE = "province", _("Province")
    DISTRICT = "district", _("District")
    DEPARTMENT = "department", _("Department")
    COMMUNE = "commune", _("Commune")
    WARD = "ward", _("Ward")
    SPECIAL_ZONE = "special_zone", _("Special zone")
    TOWNSHIP = "township", _("Township")

    @classmethod
    def parse_list(cls, text) -> "tuple[list[UnitKind], list[str]]":
        """Several kinds separated by "," or ";" ("commune,special_zone", "xã; đặc khu"): the kinds
        known (in the order given, each once) and the names not understood."""
        whole = cls.parse(text)
        if whole is not None:  # a name that holds a comma itself ("sở, ban, ngành")
            return [whole], []
        kinds: list[UnitKind] = []
        unknown: list[str] = []
        for name in re.split(r"[,;]", str(text or "")):
            if not name.strip():
                continue
            kind = cls.parse(name)
            if kind is None:
                unknown.append(name.strip())
            elif kind not in kinds:
                kinds.append(kind)
        return kinds, unknown

    @classmethod
    def parse(cls, text) -> "UnitKind | None":
        """The kind a person means by a name: the code, the English or Vietnamese label, or a usual
        Vietnamese name of that level ("quận", "phường" …); case- and accent-insensitive. None if unknown.
        Every entry path that reads a kind by name (units file, framework import) uses this."""
        from parindex.spreadsheets import normalize_name

        return _unit_kind_names().get(normalize_name(text))


# Names of each kind besides its code and its labels (Vietnamese administrative levels).
UNIT_KIND_SYNONYMS = {
    UnitKind.PROVINCE: ("tỉnh", "thành phố trực thuộc trung ương"),
    UnitKind.DISTRICT: ("huyện", "quận", "thị xã", "thành phố thuộc tỉnh"),
    UnitKind.DEPARTMENT: ("sở", "phòng", "ban", "sở, ban, ngành", "phòng, ban", "cơ quan"),
    UnitKind.COMMUNE: ("xã",),
    UnitKind.WARD: ("phường",),
    UnitKind.SPECIAL_ZONE: ("đặc khu",),
    UnitKind.TOWNSHIP: ("thị trấn",),
}

# The commune level (cấp xã): the kinds a province assesses directly since 1 July 2025 (and, before,
# a district: communes and townships).
COMMUNE_LEVEL_KINDS = (UnitKind.COMMUNE, UnitKind.WARD, UnitKind.SPECIAL_ZONE, UnitKind.TOWNSHIP)


@functools.cache
def _unit_kind_names() -> dict[str, UnitKind]:
    from django.utils.translation import override

    from parindex.spreadsheets import normalize_name

    names: dict[str, UnitKind] = {}
    for kind in UnitKind:
        spellings = [kind.value, *UNIT_KIND_SYNONYMS[kind]]
        for language in ("en", "vi"):
            with override(language):
                spellings.append(str(kind.label))
        for spelling in spellings:
            names.setdefault(normalize_name(spelling), kind)
    return names


# Unit kinds assessed at the same level (the commune level before and after the 2025 reform): a
# unit's previous-year result counts from any framework of its level, whoever issued it.
COMMUNE_LEVEL_KINDS = ("commune", "ward", "special_zone", "township")


def unit_kinds_of_level(kind: str) -> list[str]:
    """The unit kinds of the same level as `kind` (itself alone outside the commune level)."""
    return list(COMMUNE_LEVEL_KINDS) if kind in COMMUNE_LEVEL_KINDS else [kind]


class Unit(models.Model):
    """A unit in the administrative tree: an authority, a department or a commune.

    `path` is a materialised path of ids ("/1/4/17/") so that "this unit and everything under it"
    is one indexed prefix filter. It is maintained by units.services, never by hand.
    """

    code = models.CharField(_("code"), max_length=40, unique=True, validators=[unit_code_validator])
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=UnitKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(
        max_length=500, db_index=True, editable=False, default="", verbose_name=_("tree path")
    )
    active_from = models.PositiveSmallIntegerField(_("active from year"), null=True, blank=True)
    active_to = models.PositiveSmallIntegerField(_("active until year"), null=True, blank=True)
    predecessors = models.ManyToManyField(
        "self",
        verbose_name=_("formed from (before reorganisation)"),
        symmetrical=False,
        blank=True,
        related_name="successors",
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["path", "code"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [
            models.CheckConstraint(
                condition=Q(active_to__isnull=True)
                | Q(active_from__isnull=True)
                | Q(active_to__gte=models.F("active_from")),
                name="unit_active_years_ordered",
            ),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="unit_not_own_parent"),
        ]

    def __str__(self):
        return f"{self.code} — {self.name}"

    def clean(self):
        if self.active_from and self.active_to and self.active_to < self.active_from:
            raise ValidationError({"active_to": _("The last active year is before the first.")})
        if self.parent_id and self.pk:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": _("A unit cannot be its own parent.")})
            if self.parent.path.startswith(self.path) and self.path:
                raise ValidationError(
                    {"parent": _("A unit cannot be placed under one of its own descendants.")}
                )

    @property
    def home_affairs_office(self) -> str:
        """The name of this authority's Home Affairs office, as texts, e-mails and documents write
        it: "Sở Nội vụ tỉnh …" for a province, "Phòng Nội vụ huyện …" for a district, else the
        unit's own name (a department or commune running an index itself)."""
        office = {UnitKind.PROVINCE: "Sở Nội vụ", UnitKind.DISTRICT: "Phòng Nội vụ"}.get(self.kind)
        if office is None:
            return self.name
        name = self.name.strip()
        # Inside a phrase the level is written in lower case: "Sở Nội vụ tỉnh Ninh Bình".
        for level in ("Tỉnh ", "Thành phố ", "Huyện ", "Quận ", "Thị xã "):
            if name.startswith(level):
                name = level.lower() + name[len(level) :]
                break
        return f"{office} {name}"

    def is_active_in(self, year: int) -> bool:
        return (self.active_from is None or self.active_from <= year) and (
            self.active_to is None or year <= self.active_to
        )


class Role(models.TextChoices):
    OFFICER = "officer", _("Unit officer")
    APPRAISER = "appraiser", _("Appraiser")
    LEADER = "leader", _("Leader")


class Membership(models.Model):
    """A user's role in a unit. Appraisers and leaders reach the unit and its descendants."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    unit = models.ForeignKey(
        Unit, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("unit")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], name="membership_unique_role")
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.unit.code}"
