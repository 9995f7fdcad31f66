"""Preliminary results and appeals in a browser: the framework's preliminary results are notified;
the officer of X1 sees the banner on the unit's page, opens its preliminary results and lodges two
appeals (one with an evidence file); the appraiser opens the appeals from the board, accepts one with
new points (the results change) and refuses the other with a reason; the officer reads the answers.

Screenshots go to test-artifacts/screenshots/test_appeal_accepted_and_refused/ at 1366×768, the
officer's page also at phone size."""

from decimal import Decimal as D

import pytest

from scoring.assessments.services import survey_apply
from scoring.models import Appeal, AppealStatus, AssessmentResult, FrameworkStatus, Score

from ..factories import make_framework, rows_from_spec
from ..test_appeals import TREE, _appraised, set_phase
from .conftest import PHONE, sign_in

pytestmark = pytest.mark.browser
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def preliminary(district, commune, other_commune, officer, other_officer, appraiser, leader):
    framework = make_framework(district, rows=rows_from_spec(TREE), code="CCHC-2024")
    x1 = _appraised(framework, commune, officer, appraiser, (D(10), D(20), D(15)), (D(8), D(20), D(10)))
    x2 = _appraised(
        framework, other_commune, other_officer, appraiser, (D(9), D(18), D(14)), (D(9), D(18), D(14))
    )
    survey_apply(framework=framework, entries={"X1": {"3.1": D(20)}, "X2": {"3.1": D(20)}})
    set_phase(framework, FrameworkStatus.PRELIMINARY)
    leaves = {c.code: c.pk for c in framework.criteria.filter(is_leaf=True)}
    return {"framework": framework, "x1": x1, "x2": x2, "leaf": leaves}


def text_of(page, selector="main") -> str:
    return " ".join(page.locator(selector).inner_text().split())


def test_appeal_accepted_and_refused(new_page, screenshot, preliminary, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    framework, x1, x2, leaf = (preliminary[k] for k in ("framework", "x1", "x2", "leaf"))
    evidence = tmp_path / "ket-qua-kiem-tra.pdf"
    evidence.write_bytes(PDF)
    page_url = f"/assessments/{x1.pk}/preliminary/"

    # --- 1. The officer: the banner on the unit's page, then the preliminary results ------------------
    officer = new_page()
    sign_in(officer, "officer_x1")
    officer.goto(f"/assessments/{x1.pk}/")
    banner = officer.locator("#preliminary-banner")
    assert "Đã thông báo kết quả sơ bộ." in text_of(officer, "#preliminary-banner")
    assert framework.appeal_deadline.astimezone().strftime("%d/%m/%Y") in banner.inner_text()
    screenshot(officer, "01-officer-banner", full_page=False)
    with officer.expect_navigation():
        banner.locator(f"a[href='{page_url}']").click()
    summary = text_of(officer, "#summary")
    assert "78 / 100" in summary and "2/2" in summary, summary
    screenshot(officer, "02-officer-preliminary")

    # --- 2. Two appeals: 2.1 with an evidence file, 1.1 with a document reference ---------------------
    row = officer.locator("#c-2\\.1")
    row.locator("summary").click()
    officer.fill(f"#appeal-text-{leaf['2.1']}", "Kết quả kiểm tra năm 2024 đạt 100%, đề nghị chấm 14,5 điểm")
    officer.set_input_files(f"#appeal-file-{leaf['2.1']}", str(evidence))
    screenshot(officer, "03-officer-appeal-form", full_page=False)
    with officer.expect_navigation():
        row.locator("button[type=submit]").click()
    assert "Đã gửi kiến nghị về tiêu chí 2.1." in text_of(officer, ".messages")
    row = officer.locator("#c-1\\.1")
    row.locator("summary").click()
    # An empty appeal is refused beside its form, in Vietnamese, and nothing is saved.
    with officer.expect_navigation():
        row.locator("button[type=submit]").click()
    assert "Hãy nêu nội dung kiến nghị và lý do." in text_of(officer, "#c-1\\.1")
    assert Appeal.objects.count() == 1
    officer.fill(f"#appeal-text-{leaf['1.1']}", "Đơn vị đã ban hành kế hoạch đúng hạn")
    officer.fill(f"#appeal-ref-{leaf['1.1']}", "Kế hoạch 25/KH-UBND ngày 10/01/2024, tr.1")
    with officer.expect_navigation():
        officer.locator("#c-1\\.1 button[type=submit]").click()
    assert "ket-qua-kiem-tra.pdf" in text_of(officer, "#c-2\\.1")
    assert "Đã gửi, chờ trả lời" in text_of(officer, "#c-1\\.1")
    screenshot(officer, "04-officer-two-appeals")
    phone = new_page(viewport=PHONE)
    sign_in(phone, "officer_x1")
    phone.goto(page_url)
    screenshot(phone, "05-officer-preliminary-phone")

    # --- 3. The appraiser: the appeals from the board; accept 2.1, refuse 1.1 --------------------------
    appraiser = new_page()
    sign_in(appraiser, "appraiser")
    appraiser.goto(f"/frameworks/{framework.code}/")
    with appraiser.expect_navigation():
        appraiser.click("a:has-text('Kiến nghị (2)')")
    first, second = Appeal.objects.order_by("criterion__order")
    assert (first.criterion.code, second.criterion.code) == ("1.1", "2.1")
    screenshot(appraiser, "06-appraiser-appeals")
    accepted = appraiser.locator(f"#appeal-{second.pk}")
    accepted.locator("input[value=accept]").check()
    appraiser.fill(f"#answer-points-{second.pk}", "14,5")
    appraiser.fill(f"#answer-reason-{second.pk}", "Đủ căn cứ theo kết quả kiểm tra")
    with appraiser.expect_response(lambda r: r.request.method == "POST" and "/answer/" in r.url) as answer:
        accepted.locator("button[type=submit]").click()
    assert answer.value.status == 200
    appraiser.locator(f"#appeal-{second.pk} .saved").wait_for()
    assert "14,5" in text_of(appraiser, f"#appeal-{second.pk}")
    refused = appraiser.locator(f"#appeal-{first.pk}")
    refused.locator("input[value=refuse]").check()
    appraiser.fill(f"#answer-reason-{first.pk}", "Kế hoạch ban hành sau thời hạn quy định")
    with appraiser.expect_response(lambda r: r.request.method == "POST" and "/answer/" in r.url):
        refused.locator("button[type=submit]").click()
    appraiser.locator(f"#appeal-{first.pk} .saved").wait_for()
    assert text_of(appraiser, "#appeal-counts").startswith("0 Chờ trả lời 2 Đã trả lời")
    screenshot(appraiser, "07-appraiser-answered")
    with appraiser.expect_navigation():
        appraiser.click("#appeal-counts a[href$='?state=answered']")
    assert "Được chấp nhận" in text_of(appraiser) and "Kế hoạch ban hành sau thời hạn" in text_of(appraiser)
    screenshot(appraiser, "08-appraiser-answered-list")

    # --- 4. The results moved only by the accepted appeal; the officer reads both answers --------------
    assert {a.criterion.code: a.status for a in Appeal.objects.all()} == {
        "1.1": AppealStatus.REFUSED,
        "2.1": AppealStatus.ACCEPTED,
    }
    assert Score.objects.get(assessment=x1, criterion__code="2.1").appraised_points == D("14.5")
    assert Score.objects.get(assessment=x1, criterion__code="1.1").appraised_points == D(8)
    assert AssessmentResult.objects.get(assessment=x1).points == D("82.5")
    assert AssessmentResult.objects.get(assessment=x1).rank == 1  # 82,5 against X2's 81
    officer.goto(page_url)
    summary = text_of(officer, "#summary")
    assert "82,5 / 100" in summary and "1/2" in summary, summary
    assert "10 → 14,5" in text_of(officer, "#c-2\\.1")
    assert "Không được chấp nhận" in text_of(officer, "#c-1\\.1")
    assert "Kế hoạch ban hành sau thời hạn quy định" in text_of(officer, "#c-1\\.1")
    screenshot(officer, "09-officer-answers")
    assert not new_page.errors, new_page.errors
