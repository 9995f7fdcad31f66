from decimal import Decimal

from scoring.models import AssessmentResult
from scoring.services import SelfEntry, assessment_get_or_create, scores_apply_self

from .factories import make_framework


def test_index_of_published_district_case(province, district):
    framework = make_framework(province, csv_name="framework-department.csv", unit_kind="district", decimals=3)
    assessment = assessment_get_or_create(unit=district, framework=framework)
    entries, left = {}, Decimal("82.58")
    for leaf in framework.criteria.filter(is_leaf=True).order_by("order"):
        if leaf.code == "8.1":
            entries[leaf.code] = SelfEntry(None, not_applicable=True)
            continue
        if leaf.source == "survey":
            continue
        value = min(leaf.max_points, left)
        entries[leaf.code] = SelfEntry(value)
        left -= value
    assert left == Decimal("82.58") - Decimal("81.50")  # self leaves cap at 81.5 without 8.1
