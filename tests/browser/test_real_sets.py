"""A real criteria set in a browser: leaves scored by rule (a percentage, occurrences deducted, yes/no,
listed steps), a leaf the office scores alone and a survey leaf, mixed inside one area.

The officer enters the raw figures and reads the computed points beside each row, proposes a leaf not
applicable with a reason, is refused 0,73 on a 0 / 0,5 / 1 leaf, and submits; the appraiser refuses
the not-applicable proposal (scoring the leaf with a reason), scores the office leaf, accepts the rest,
and enters the survey as a percentage; the officer then reads the final figures and the leader the
ranking with its parts.

Worked by hand (max 18):
  1.1 percent, max 2, "95,5"    → 2 × 95,5 ÷ 100 = 1,91
  1.2 percent, max 2, "191/200" → 95,5 % → 1,91
  1.3 deduct:0,5, max 2, 3 late → 2 − 3 × 0,5 = 0,5
  1.4 yesno, max 1, có          → 1
  1.5 steps:0;0,5;1, max 1      → 0,73 refused, 0,5 kept
  2.1 points, max 3: N/A proposed, refused by the appraiser and scored 2,5
  2.2 office, max 2             → 1,5 (the appraiser)
  2.3 survey, max 5, 80 %       → 5 × 80 ÷ 100 = 4
  self-assessed/appraised part 5,82 + 2,5 = 8,32; office 1,5; survey 4; total 13,82 / 18
  index 13,82 ÷ 18 × 100 = 76,777… → 76,78 (Khá: 70 ≤ index < 80).

Screenshots go to test-artifacts/screenshots/test_real_set_walk/ at 1366×768."""

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from scoring.assessments.services import assessment_get_or_create
from scoring.models import Assessment, AssessmentResult, AssessmentStatus, Criterion, Framework, Score

from ..factories import make_framework, rows_from_spec
from .conftest import sign_in

pytestmark = pytest.mark.browser

CODE = "CCHC-XA-2025"
# (code, max, kind, source, rule): area 1 self-assessed leaves under each rule; area 2 mixes a
# self-assessed leaf (which the unit proposes not applicable), an office leaf and a survey leaf.
TREE = [
    ("1", 8),
    ("1.1", 2, "score", "self", "percent"),
    ("1.2", 2, "score", "self", "percent"),
    ("1.3", 2, "score", "self", "deduct:0,5"),
    ("1.4", 1, "score", "self", "yesno"),
    ("1.5", 1, "score", "self", "steps:0;0,5;1"),
    ("2", 10),
    ("2.1", 3),
    ("2.2", 2, "score", "office"),
    ("2.3", 5, "score", "survey"),
]
NOTES = {
    "1.1": "Báo cáo số 12/BC-UBND: 191/200 hồ sơ đúng hạn",
    "1.2": "Sổ theo dõi một cửa",
    "1.3": "3 báo cáo nộp muộn trong năm",
    "1.4": "Kế hoạch 05/KH-UBND đã ban hành",
    "1.5": "Thực hiện một phần",
}


@pytest.fixture
def real_set(district, commune, officer, appraiser, leader):
    framework = make_framework(district, rows=rows_from_spec(TREE), code=CODE, year=2025)
    now = timezone.now()
    Framework.objects.filter(pk=framework.pk).update(
        self_deadline=now + timedelta(days=10), appraisal_deadline=now + timedelta(days=20)
    )
    framework.refresh_from_db()
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    leaves = {c.code: c for c in Criterion.objects.filter(framework=framework, is_leaf=True)}
    # The set is stored as built: each leaf with its rule and source.
    assert {code: (c.source, c.rule) for code, c in leaves.items()} == {
        "1.1": ("self", "percent"),
        "1.2": ("self", "percent"),
        "1.3": ("self", "deduct:0,5"),
        "1.4": ("self", "yesno"),
        "1.5": ("self", "steps:0;0,5;1"),
        "2.1": ("self", ""),
        "2.2": ("office", ""),
        "2.3": ("survey", ""),
    }
    return {"framework": framework, "assessment": assessment, "leaf": {k: c.pk for k, c in leaves.items()}}


def htmx_idle(page):
    page.wait_for_function("() => document.querySelectorAll('.htmx-request').length === 0")


def posted(page, part: str, action):
    """Do `action` and wait for the answer of the POST whose URL contains `part`; return it."""
    with page.expect_response(lambda r: r.request.method == "POST" and part in r.url) as answer:
        action()
    response = answer.value
    assert response.status < 400, f"{part} answered {response.status}: {response.text()[:300]}"
    htmx_idle(page)
    return response


def fill_and_leave(page, selector: str, value: str):
    """An action: type a value into a field and leave it with Tab (its change event saves the row)."""
    return lambda: (page.fill(selector, value), page.press(selector, "Tab"))


def text_of(page, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


def scores_of(assessment) -> dict[str, Score]:
    return {
        s.criterion.code: s for s in Score.objects.filter(assessment=assessment).select_related("criterion")
    }


def open_all(page):
    page.evaluate("document.querySelectorAll('details.area').forEach(d => { d.open = true; })")


def test_real_set_walk(new_page, screenshot, real_set):
    framework, x1, leaf = real_set["framework"], real_set["assessment"], real_set["leaf"]
    self_url = f"/assessments/{x1.pk}/"
    rows_url = f"{self_url}rows/"

    # --- 1. The officer enters raw figures and reads the computed points ------------------------------
    officer = new_page()
    sign_in(officer, "officer_x1")
    officer.goto(self_url)
    open_all(officer)
    # Raw-figure leaves ask for the figure, with the rule and a hint; the steps leaf asks for points;
    # the office and survey leaves are read-only to the unit.
    assert (
        officer.locator(f"#raw-{leaf['1.1']}").get_attribute("placeholder") == "95,5 hoặc 95,5% hoặc 191/200"
    )
    assert officer.locator(f"select#raw-{leaf['1.4']}").count() == 1
    assert officer.locator(f"#pts-{leaf['1.5']}").count() == 1
    assert officer.locator(f"#row-{leaf['2.2']} input, #row-{leaf['2.3']} input").count() == 0
    assert (
        "Do Phòng Nội vụ huyện Thử chấm; đơn vị không tự chấm"
    )  # the office named from data in text_of(officer, f"#row-{leaf['2.2']}")
    assert "Chấm qua điều tra xã hội học" in text_of(officer, f"#row-{leaf['2.3']}")
    screenshot(officer, "01-officer-self-empty")

    # 1.1: typed as a person types; the points appear once typing pauses (no Tab, no Save).
    def type_percentage():
        officer.click(f"#raw-{leaf['1.1']}")
        officer.keyboard.type("95,5")

    assert posted(officer, rows_url, type_percentage).status == 200
    officer.locator(f"#computed-{leaf['1.1']}", has_text="1,91").wait_for()
    assert text_of(officer, f"#computed-{leaf['1.1']}") == "= 1,91 / 2 điểm"

    posted(officer, rows_url, fill_and_leave(officer, f"#raw-{leaf['1.2']}", "191/200"))
    posted(officer, rows_url, fill_and_leave(officer, f"#raw-{leaf['1.3']}", "3"))
    posted(officer, rows_url, lambda: officer.select_option(f"#raw-{leaf['1.4']}", "có"))
    assert text_of(officer, f"#computed-{leaf['1.2']}") == "= 1,91 / 2 điểm"
    assert text_of(officer, f"#computed-{leaf['1.3']}") == "= 0,5 / 2 điểm"
    assert text_of(officer, f"#computed-{leaf['1.4']}") == "= 1 / 1 điểm"
    stored = scores_of(x1)
    assert {c: (stored[c].self_raw, stored[c].self_points) for c in ("1.1", "1.2", "1.3", "1.4")} == {
        "1.1": ("95,5", D("1.91")),
        "1.2": ("191/200", D("1.91")),
        "1.3": ("3", D("0.5")),
        "1.4": ("có", D("1")),
    }, {c: (s.self_raw, s.self_points) for c, s in stored.items()}

    # 1.5: 0,73 is not one of the levels 0 / 0,5 / 1: refused beside the field, nothing stored.
    posted(officer, rows_url, fill_and_leave(officer, f"#pts-{leaf['1.5']}", "0,73"))
    refusal = officer.locator(f"#err-pts-{leaf['1.5']}")
    refusal.wait_for()
    assert refusal.inner_text() == "0,73 không thuộc các mức 0; 0,5; 1.", refusal.inner_text()
    assert officer.locator(f"#pts-{leaf['1.5']}").get_attribute("aria-invalid") == "true"
    assert officer.locator(f"#pts-{leaf['1.5']}").input_value() == "0,73"
    assert not Score.objects.filter(
        assessment=x1, criterion_id=leaf["1.5"], self_points__isnull=False
    ).exists()
    screenshot(officer, "02-officer-steps-refused")
    posted(officer, rows_url, fill_and_leave(officer, f"#pts-{leaf['1.5']}", "0,5"))
    assert officer.locator(f"#err-pts-{leaf['1.5']}").count() == 0
    assert Score.objects.get(assessment=x1, criterion_id=leaf["1.5"]).self_points == D("0.5")

    # A written explanation on every scored leaf (a submission needs evidence or a note).
    for code, note in NOTES.items():
        posted(officer, rows_url, fill_and_leave(officer, f"#note-{leaf[code]}", note))
        officer.locator(f"#row-{leaf[code]} .saved").wait_for()

    # 2.1: proposed not applicable, with the reason.
    posted(officer, rows_url, lambda: officer.check(f"#na-{leaf['2.1']}"))
    posted(
        officer,
        rows_url,
        fill_and_leave(officer, f"#nar-{leaf['2.1']}", "Xã không có đơn vị sự nghiệp công lập trực thuộc"),
    )
    officer.locator(f"#row-{leaf['2.1']} .saved").wait_for()
    proposal = Score.objects.get(assessment=x1, criterion_id=leaf["2.1"])
    assert proposal.not_applicable and proposal.appraised_not_applicable is None
    assert proposal.not_applicable_reason == "Xã không có đơn vị sự nghiệp công lập trực thuộc"

    # Computed points beside each row and the self-assessed part in the summary: 5,82 of 8 applicable.
    officer.reload()
    open_all(officer)
    for code, shown in (("1.1", "1,91"), ("1.2", "1,91"), ("1.3", "0,5"), ("1.4", "1")):
        assert shown in text_of(officer, f"#computed-{leaf[code]}"), code
    assert officer.locator(f"#raw-{leaf['1.2']}").input_value() == "191/200"
    assert officer.locator(f"#na-{leaf['2.1']}").is_checked()
    result = AssessmentResult.objects.get(assessment=x1)
    assert (result.self_points, result.self_max_points) == (D("5.82"), D("8"))
    summary = text_of(officer, "#summary-self")
    assert "5,82 / 8" in summary and "72,75" in summary, summary  # 5,82 ÷ 8 × 100
    assert "—" in text_of(officer, "#summary-final")  # no final index before appraisal and survey
    assert "Tất cả tiêu chí đã được chấm điểm" in text_of(officer, "#checklist")
    screenshot(officer, "03-officer-self-filled")

    with officer.expect_navigation():
        officer.click("#checklist button.primary")
    assert Assessment.objects.get(pk=x1.pk).status == AssessmentStatus.SUBMITTED
    assert "Đã nộp" in text_of(officer, "main")
    screenshot(officer, "04-officer-submitted")

    # --- 2. The appraiser: refuses the N/A proposal, scores the office leaf, accepts the rest -----------
    appraiser = new_page()
    sign_in(appraiser, "appraiser")
    appraisal_url = f"/assessments/{x1.pk}/appraisal/"
    appraiser.goto(appraisal_url)
    na_row = f"#na-{leaf['2.1']}"
    assert "Đơn vị đề nghị: không áp dụng." in text_of(appraiser, na_row)
    assert "Xã không có đơn vị sự nghiệp công lập trực thuộc" in text_of(appraiser, na_row)
    # The raw figures the unit entered are shown beside its points.
    assert "191/200" in text_of(appraiser, f"#row-{leaf['1.2']}")
    screenshot(appraiser, "05-appraiser-appraisal")

    appraiser.fill(f"#na-reason-{leaf['2.1']}", "Xã có trường mầm non công lập trực thuộc")
    appraiser.fill(f"#na-points-{leaf['2.1']}", "2,5")
    response = posted(
        appraiser,
        "/not-applicable/",
        lambda: appraiser.click(f"{na_row} button[name=decision][value=refuse]"),
    )
    assert response.status == 200, response.text()[:300]
    refused = Score.objects.get(assessment=x1, criterion_id=leaf["2.1"])
    assert (refused.appraised_not_applicable, refused.appraised_points, refused.appraisal_reason) == (
        False,
        D("2.5"),
        "Xã có trường mầm non công lập trực thuộc",
    )
    assert "Cán bộ thẩm định không chấp nhận: tiêu chí được chấm điểm." in text_of(appraiser, na_row)

    posted(appraiser, "/appraisal/rows/", fill_and_leave(appraiser, f"#points-{leaf['2.2']}", "1,5"))
    appraiser.locator(f"#row-{leaf['2.2']} .saved").wait_for()
    assert Score.objects.get(assessment=x1, criterion_id=leaf["2.2"]).appraised_points == D("1.5")
    screenshot(appraiser, "06-appraiser-na-refused-office-scored")

    posted(
        appraiser,
        "/appraisal/accept/",
        lambda: appraiser.click(f"form[action='{appraisal_url}accept/'] button[type=submit]"),
    )
    assert Assessment.objects.get(pk=x1.pk).status == AssessmentStatus.APPRAISED
    appraised = scores_of(x1)
    assert {c: appraised[c].appraised_points for c in ("1.1", "1.2", "1.3", "1.4", "1.5")} == {
        "1.1": D("1.91"),
        "1.2": D("1.91"),
        "1.3": D("0.5"),
        "1.4": D("1"),
        "1.5": D("0.5"),
    }
    assert appraised["1.2"].appraised_raw == "191/200"
    appraiser.reload()
    assert "Đã thẩm định" in text_of(appraiser, "main")
    screenshot(appraiser, "07-appraiser-appraised")

    # Appraised, the survey not in yet: the unit is not shown an index that counts the survey as 0.
    officer.goto(self_url)
    assert "Đã thẩm định" in text_of(officer, "main")
    waiting = text_of(officer, "#summary-final")
    assert "—" in waiting and "điều tra xã hội học" in waiting, waiting

    # --- 3. The survey grid: entered as a percentage, converted to points -----------------------------
    appraiser.goto(f"/frameworks/{framework.code}/survey/")
    cell = f"#c-{x1.unit_id}-{leaf['2.3']}"
    appraiser.check("#survey-mode input[name=as][value=percent]")
    appraiser.fill(cell, "80")
    screenshot(appraiser, "08-appraiser-survey-percent")
    with appraiser.expect_navigation():
        appraiser.click("main form button[type=submit].primary")
    assert "Đã lưu điểm điều tra xã hội học: 1 điểm thay đổi." in text_of(appraiser, "main")
    survey = Score.objects.get(assessment=x1, criterion_id=leaf["2.3"])
    assert survey.appraised_points == D("4.00"), survey.appraised_points  # 5 × 80 ÷ 100
    assert appraiser.locator(cell).input_value() == "4"
    survey_row = appraiser.locator("table.survey tbody tr", has_text="Xã Một")
    assert survey_row.locator("td").last.inner_text().strip() == "4"
    screenshot(appraiser, "09-appraiser-survey-saved")

    result = AssessmentResult.objects.get(assessment=x1)
    assert (
        result.self_part_points,
        result.office_points,
        result.survey_points,
        result.points,
        result.max_points,
        result.index,
        result.grade,
        result.provisional,
    ) == (D("8.32"), D("1.5"), D("4"), D("13.82"), D("18"), D("76.78"), "Khá", False)

    # --- 4. The officer's final figures, and the ranking with its parts ------------------------------
    officer.goto(self_url)
    open_all(officer)
    final = text_of(officer, "#summary")
    assert "13,82 / 18" in final and "76,78" in final and "Khá" in final, final
    assert "4 / 5" in text_of(officer, f"#row-{leaf['2.3']}")
    assert "1,5 / 2" in text_of(officer, f"#row-{leaf['2.2']}")
    screenshot(officer, "10-officer-final")

    leader = new_page()
    sign_in(leader, "leader")
    leader.goto(f"/dashboards/?framework={framework.code}")
    headers = [" ".join(t.split()) for t in leader.locator("#ranking thead th").all_text_contents()]
    row = leader.locator("#ranking tbody tr", has_text="Xã Một")
    cells = dict(zip(headers, row.locator("td").all_text_contents(), strict=True))
    shown = {k: " ".join(v.split()) for k, v in cells.items()}
    assert shown["Tự đánh giá/thẩm định"] == "8,32" and shown["Điều tra xã hội học"] == "4", shown
    assert shown["Cơ quan chấm"] == "1,5" and shown["Tổng điểm / tối đa"] == "13,82 / 18", shown
    assert shown["Chỉ số"] == "76,78" and "Khá" in shown["Xếp loại"], shown
    screenshot(leader, "11-leader-ranking")

    assert not new_page.errors, f"JavaScript errors on the pages: {new_page.errors}"
    names = [path.name for path in screenshot.taken]
    assert all(re.fullmatch(r"\d\d-[a-z-]+\.png", name) for name in names), names
