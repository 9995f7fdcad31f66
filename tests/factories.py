"""Factories per domain object. Frameworks are built from the real-shaped CSVs in shared/data or
from a small explicit tree, always through the services so that derived fields are right."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from scoring.demo import DEMO_DATA, rows_from_csv  # noqa: F401 (re-exported for tests)
from scoring.frameworks.services import CriterionRow, framework_create, parse_bands
from units.models import Role, Unit, UnitKind
from units.services import membership_grant, unit_save

# Copies of ../shared/data ship with the code so that a clone anywhere can load the demo and test.
SHARED_DATA = DEMO_DATA
BANDS = "Xuất sắc:90,Tốt:80,Khá:70,Trung bình:50,Yếu:0"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("pw-12345")


_unit_seq = iter(range(1, 10**9))


def make_unit(code=None, kind=UnitKind.COMMUNE, parent=None, name=None, predecessors=None, **extra) -> Unit:
    code = code or f"U{next(_unit_seq)}"
    unit, _ = unit_save(
        code=code, name=name or f"Đơn vị {code}", kind=kind, parent=parent, predecessors=predecessors, **extra
    )
    return unit


def make_member(unit: Unit, role: str = Role.OFFICER, username: str | None = None):
    user = UserFactory(username=username) if username else UserFactory()
    membership_grant(user=user, unit=unit, role=role)
    return user


class SpecRows(list):
    """Rows of rows_from_spec; `rules` holds the rules CriterionRow cannot carry (yet): make_framework
    sets them on the created criteria."""

    rules: dict[str, str]


def rows_from_spec(spec) -> list[CriterionRow]:
    """spec: [(code, max, kind, source, rule), …] with kind/source/rule optional."""
    rows = SpecRows()
    rows.rules = {}
    for item in spec:
        code, max_points, *rest = item
        kind = rest[0] if len(rest) > 0 else "score"
        source = rest[1] if len(rest) > 1 else "self"
        extra = {"rule": rest[2]} if len(rest) > 2 and rest[2] else {}
        if extra and "rule" not in CriterionRow.__dataclass_fields__:
            extra = {}
            rows.rules[code] = rest[2]
        rows.append(
            CriterionRow(
                code=code,
                title=f"Tiêu chí {code}",
                max_points=Decimal(str(max_points)),
                kind=kind,
                source=source,
                **extra,
            )
        )
    return rows


_framework_seq = iter(range(1, 10**9))


def make_framework(
    authority: Unit,
    *,
    rows=None,
    csv_name=None,
    unit_kind=UnitKind.COMMUNE,
    year=2024,
    decimals=2,
    bands=BANDS,
    code=None,
):
    if rows is None:
        rows = rows_from_csv(csv_name or "framework-commune.csv")
    rules = getattr(rows, "rules", {})
    framework = framework_create(
        code=code or f"FW{next(_framework_seq)}",
        authority=authority,
        unit_kind=unit_kind,
        year=year,
        name=f"Bộ chỉ số {year}",
        rows=rows,
        bands=parse_bands(bands) if bands else (),
        index_decimals=decimals,
    )
    for leaf_code, rule in rules.items():
        framework.criteria.filter(code=leaf_code).update(rule=rule)
    return framework
