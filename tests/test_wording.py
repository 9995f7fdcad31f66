"""Words and screens as the office reads them (issue 13, item 8): the pages say the new Vietnamese
wording and no longer the old; values are shown by their labels, numbers the Vietnamese way; the
dashboard opens on the set just published; officers reach their unit's profile; columns carry names;
reports compare only units of one level."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from parindex.errors import ServiceError, bilingual
from reports.jobs import report_request
from scoring.assessments.services import assessment_get_or_create
from scoring.frameworks.services import framework_code_problems, tree_problems
from scoring.models import Framework, GradeBand
from tests.publishing import walk_and_publish
from units.models import UnitKind

from .factories import make_framework, make_unit, rows_from_spec

TREE = [
    ("1", 60),
    ("1.1", 30),
    ("1.2", 30),
    ("2", 40, "score", "survey"),
    ("2.1", 40, "score", "survey"),
    ("3", 2, "bonus"),
    ("3.1", 2, "bonus"),
]


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="XA-2024")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def page(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def publish(framework, day=date(2024, 12, 21)):
    return walk_and_publish(framework=framework, decision_number="4769/QĐ-UBND", decision_date=day)


# --- words on the pages -------------------------------------------------------------------------------


def test_officer_pages_say_the_new_words(client, officer, assessment):
    html = page(client, officer, reverse("scoring:assessment_self", args=[assessment.pk]))
    assert "Chuyển đến nội dung chính" in html and "Bỏ qua đến nội dung" not in html
    assert "Tự đánh giá của đơn vị" in html and "Bản tự đánh giá của tôi" not in html
    assert "Nộp kết quả tự đánh giá" in html
    assert "Gửi bản tự đánh giá" not in html and "Gửi Phòng Nội vụ" not in html
    # The unit's note and the explanation asked by the appraiser are two distinct things.
    assert "Ghi chú của đơn vị" in html and "Thuyết minh (ghi chú)" not in html


def test_overseers_menu_names_the_results_pages(client, leader, assessment):
    html = page(client, leader, reverse("scoring:my_assessments"))
    assert "Tổng hợp, phân tích kết quả" in html and "Bảng điều khiển" not in html
    assert "đợt phát triển" not in html


def test_points_not_achieved_are_not_called_deducted(client, leader, assessment):
    publish(assessment.framework)
    html = page(client, leader, reverse("reports:remediation_list"))
    assert "Điểm không đạt" in html and "bị trừ" not in html and "Điểm bị mất" not in html


@pytest.mark.parametrize(
    ("msgid", "new", "old"),
    [
        ("Being applied", "Đang cập nhật", "Đang ghi"),
        ("Applied", "Đã cập nhật", "Đã ghi"),
        ("Only leaf criteria take points.", "Chỉ chấm điểm ở tiêu chí cấp cuối cùng.", "Chỉ tiêu chí"),
        ("Points lost", "Điểm không đạt", "bị trừ"),
        ("Submit the selected self-assessments", "Nộp kết quả tự đánh giá đã chọn", "Gửi"),
    ],
)
def test_status_and_rule_words(msgid, new, old):
    with translation.override("vi"):
        assert gettext(msgid) == new and old not in gettext(msgid)


def test_an_interrupted_report_asks_to_try_again():
    text = bilingual("The report stopped responding (its worker stopped mid-way); retry it.")
    assert "Việc lập báo cáo bị gián đoạn, vui lòng thử lại" in text
    assert "máy xử lý" not in text


# --- values by their labels --------------------------------------------------------------------------


def test_a_taken_code_names_the_set_that_holds_it(framework):
    [problem] = framework_code_problems("XA-2024")
    assert (
        problem.text() == "Mã XA-2024 đã được dùng cho bộ chỉ số Bộ chỉ số 2024 (năm 2024); hãy chọn mã khác."
    )
    duplicate = Framework(code="XA-2024", name="Khác", year=2025, authority=framework.authority)
    with pytest.raises(ValidationError) as refused:
        duplicate.validate_unique()
    [message] = refused.value.message_dict["code"]
    assert "Bộ chỉ số 2024" in message and "đã tồn tại" not in message


def test_kinds_are_named_not_coded_in_messages():
    rows = rows_from_spec([("3", 2, "bonus"), ("3.1", 2, "penalty")])
    text = " ".join(problem.text() for problem in tree_problems(rows))
    assert "Điểm trừ" in text and "Điểm thưởng" in text
    assert "penalty" not in text and "bonus" not in text


def test_lists_and_texts_in_messages_have_no_python_quotes():
    error = ServiceError("%(value)r is not a number.", params={"value": "năm"})
    assert error.text() == "“năm” không phải là số."
    listed = ServiceError("Unknown unit kind %(kind)s.", params={"kind": ["village", "hamlet"]})
    assert "village, hamlet" in listed.text() and "[" not in listed.text() and "'" not in listed.text()


# --- numbers on the screens ------------------------------------------------------------------------


def test_grade_bands_read_as_whole_numbers(framework):
    band = GradeBand.objects.get(framework=framework, min_index=D("90"))
    assert str(band) == "Xuất sắc ≥ 90"


def test_the_grade_band_admin_list_writes_90_not_90_thousand(admin_client, framework):
    html = admin_client.get(reverse("admin:scoring_gradeband_changelist")).content.decode()
    assert ">90<" in html and "90,000" not in html and "90.000" not in html


def test_no_minus_zero_beside_a_bonus(client, appraiser, officer, assessment):
    from scoring.assessments.services import SelfEntry, assessment_submit, scores_apply_self

    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("30"), evidence_reference="QĐ 1"),
            "1.2": SelfEntry(D("30"), evidence_reference="QĐ 1"),
            "3.1": SelfEntry(D("1"), evidence_reference="QĐ 1"),
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    html = page(client, appraiser, reverse("scoring:assessment_appraise", args=[assessment.pk]))
    assert "+1 / 0" in html and "−0" not in html


# --- screens -------------------------------------------------------------------------------------------


def test_the_dashboard_opens_on_the_set_published_last(client, leader, district, commune):
    published = make_framework(district, rows=rows_from_spec(TREE), year=2024, code="XA-2024")
    assessment_get_or_create(unit=commune, framework=published)
    publish(published)
    newer = make_framework(district, rows=rows_from_spec(TREE), year=2025, code="XA-2025")
    assessment_get_or_create(unit=commune, framework=newer)
    client.force_login(leader)
    response = client.get(reverse("reports:dashboard"))
    assert response.context["framework"] == published  # not the 2025 set still being assessed
    assert client.get(reverse("reports:dashboard") + "?framework=XA-2025").context["framework"] == newer


def test_officers_reach_their_units_profile_and_rank(client, officer, assessment):
    html = page(client, officer, reverse("scoring:my_assessments"))
    profile = reverse("reports:unit_profile", args=["X1"]) + "?framework=XA-2024"
    assert f'href="{profile}"' in html and "Hồ sơ, kết quả và xếp hạng của đơn vị" in html
    assert client.get(profile).status_code == 200
    html = page(client, officer, reverse("scoring:assessment_self", args=[assessment.pk]))
    assert f'href="{profile}"' in html


def test_survey_grid_and_heatmap_columns_carry_names(client, appraiser, leader, assessment):
    html = page(client, appraiser, reverse("scoring:survey_grid", args=["XA-2024"]))
    assert '<span class="col-name">Tiêu chí 2.1</span>' in html
    assert 'data-label="2.1 Tiêu chí 2.1 (≤ 40)"' in html  # what a phone shows beside each cell
    html = page(client, leader, reverse("reports:areas", args=["XA-2024"]))
    assert '<span class="col-name">Tiêu chí 1</span>' in html


def test_a_report_never_compares_communes_with_departments(client, appraiser, district, framework):
    office = make_unit("PNV", kind=UnitKind.DEPARTMENT, parent=district, name="Phòng Nội vụ")
    departments = make_framework(
        district, rows=rows_from_spec(TREE), unit_kind=UnitKind.DEPARTMENT, code="PB-2024"
    )
    assessment_get_or_create(unit=office, framework=departments)
    with pytest.raises(ServiceError) as refused:
        report_request(framework=framework, compare=departments)
    assert refused.value.field == "compare"
    vi, en = refused.value.text("vi"), refused.value.text("en")
    assert vi == (
        "Bộ chỉ số 2024 (XA-2024) đánh giá Xã còn Bộ chỉ số 2024 (PB-2024) đánh giá Sở, phòng: "
        "chỉ so sánh được các bộ chỉ số của đơn vị cùng cấp."
    )
    assert "only frameworks of units of the same level can be compared" in en
    client.force_login(appraiser)
    response = client.post(reverse("reports:job_request"), {"framework": "XA-2024", "compare": "PB-2024"})
    assert response.status_code == 400
    assert "chỉ so sánh được các bộ chỉ số của đơn vị cùng cấp" in response.content.decode()


def test_a_commune_set_compares_with_a_ward_set_of_the_same_level(district, framework, appraiser):
    wards = make_framework(district, rows=rows_from_spec(TREE), unit_kind=UnitKind.WARD, code="PH-2024")
    assert report_request(framework=framework, compare=wards, actor=appraiser).compare_framework == wards


# --- admin labels ----------------------------------------------------------------------------------------


def test_admin_columns_have_vietnamese_labels(admin_client, framework):
    html = admin_client.get(reverse("admin:scoring_criterion_changelist")).content.decode()
    assert "Tiêu chí cấp cuối cùng" in html and "is leaf" not in html.lower().replace("is_leaf", "")


def test_audited_booleans_and_nothing_read_as_words():
    from parindex.templatetags.parindex import audit_value

    with translation.override("vi"):
        assert [audit_value(v) for v in ("True", "False", "None", None, "12,5")] == [
            "Có",
            "Không",
            "",
            "",
            "12,5",
        ]
