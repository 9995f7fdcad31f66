"""The whole year in a browser: an officer fills in and submits; the appraiser returns two
criteria with reasons; the officer explains and resubmits; the appraiser appraises (accepting the self
scores, changing one with a reason); the framework is published and is then read-only.

A screenshot of every step goes to test-artifacts/screenshots/test_the_whole_year/ at 1366×768, and the
self-assessment page also at phone size (390×844)."""

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core import mail
from django.utils import timezone, translation

from parindex.templatetags.parindex import fixed
from scoring.assessments.services import assessment_get_or_create
from scoring.frameworks.services import framework_advance_to
from scoring.models import Assessment, AssessmentStatus, Criterion, Framework, FrameworkStatus, Score

from ..factories import make_framework, rows_from_spec
from .conftest import PHONE, sign_in

pytestmark = pytest.mark.browser

# A small framework: two self-assessed areas (one leaf may be not applicable) and a survey area.
TREE = [
    ("1", 20),
    ("1.1", 12.5),
    ("1.2", 7.5),
    ("2", 50),
    ("2.1", 30),
    ("2.2", 20),
    ("3", 30, "score", "survey"),
    ("3.1", 30, "score", "survey"),
]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def year(district, commune, other_commune, officer, other_officer, appraiser, leader):
    framework = make_framework(district, rows=rows_from_spec(TREE), code="CCHC-2024")
    now = timezone.now()
    Framework.objects.filter(pk=framework.pk).update(
        self_deadline=now + timedelta(days=10), appraisal_deadline=now + timedelta(days=20)
    )
    framework.refresh_from_db()
    x1 = assessment_get_or_create(unit=commune, framework=framework)
    assessment_get_or_create(unit=other_commune, framework=framework)
    leaves = {c.code: c.pk for c in Criterion.objects.filter(framework=framework, is_leaf=True)}
    return {"framework": framework, "x1": x1, "leaf": leaves}


def status_of(assessment) -> str:
    return Assessment.objects.get(pk=assessment.pk).status


def htmx_idle(page):
    """Wait until no htmx request is in flight (htmx marks the requesting element with .htmx-request)."""
    page.wait_for_function("() => document.querySelectorAll('.htmx-request').length === 0")


def save_row(page, selector_to_change, action):
    """Do `action` on a field of an htmx form and wait for the server's answer (the row is swapped)."""
    with page.expect_response(lambda r: r.request.method == "POST" and "/rows/" in r.url) as answer:
        action()
    response = answer.value
    assert response.status < 400, (
        f"saving {selector_to_change} answered {response.status}: {response.text()[:300]}"
    )
    htmx_idle(page)
    return response


def open_all(page):
    """Unfold every area, so that a screenshot shows the whole tree."""
    page.evaluate("document.querySelectorAll('details.area').forEach(d => { d.open = true; })")


def summary_text(page) -> str:
    return " ".join(page.locator("#summary").inner_text().split())


def test_the_whole_year(new_page, screenshot, year, live_server, tmp_path):
    framework, x1, leaf = year["framework"], year["x1"], year["leaf"]
    self_url = f"/assessments/{x1.pk}/"
    evidence_file = tmp_path / "bien-ban-hop.pdf"
    evidence_file.write_bytes(PDF)

    # --- 1. The officer signs in: Vietnamese UI, lands on the unit's assessments ----------------------
    officer = new_page()
    sign_in(officer, "officer_x1")
    assert officer.locator("html").get_attribute("lang") == "vi"
    assert officer.url.endswith("/assessments/"), officer.url
    assert "Chưa nộp" in officer.locator("main").inner_text()
    screenshot(officer, "01-officer-assessments")

    officer.click(f"a[href='{self_url}']")
    officer.wait_for_url(f"**{self_url}")
    assert "Đăng xuất" in officer.content()
    before = summary_text(officer)
    open_all(officer)
    screenshot(officer, "02-officer-self-empty")

    # --- 2. Every self leaf: points ("12,1" with a decimal comma), not applicable, note, evidence -------
    save_row(
        officer,
        "1.1",
        lambda: (officer.fill(f"#pts-{leaf['1.1']}", "12,1"), officer.press(f"#pts-{leaf['1.1']}", "Tab")),
    )
    officer.locator(f"#row-{leaf['1.1']} .saved").wait_for()
    after_first = summary_text(officer)
    assert after_first != before, "the self-assessed part did not update after the first row"
    # Before appraisal and survey the unit sees its self-assessed part, never an index as if final.
    assert "12,1 / 70" in after_first and "Chỉ số —" in after_first

    # Submitting too early lists what is missing, with links to the rows; nothing changes.
    with officer.expect_navigation():
        officer.click("#checklist button.primary")
    missing = officer.locator("#missing")
    assert missing.is_visible()
    links = missing.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert links == ["#c-1.1", "#c-1.2", "#c-2.1", "#c-2.2"], links  # 1.1 has points but no evidence yet
    assert status_of(x1) == AssessmentStatus.DRAFT
    screenshot(officer, "03-officer-submit-refused", full_page=False)

    save_row(
        officer,
        "1.2",
        lambda: (officer.fill(f"#pts-{leaf['1.2']}", "7.5"), officer.press(f"#pts-{leaf['1.2']}", "Tab")),
    )
    save_row(
        officer,
        "1.2 note",
        lambda: (
            officer.fill(f"#note-{leaf['1.2']}", "Đã tổ chức 3 hội nghị tuyên truyền"),
            officer.press(f"#note-{leaf['1.2']}", "Tab"),
        ),
    )
    save_row(
        officer,
        "2.1",
        lambda: (officer.fill(f"#pts-{leaf['2.1']}", "25,75"), officer.press(f"#pts-{leaf['2.1']}", "Tab")),
    )
    # Not applicable is a proposal with its reason: the mark asks for the reason, which then saves both.
    save_row(officer, "2.2", lambda: officer.check(f"#na-{leaf['2.2']}"))
    save_row(
        officer,
        "2.2 reason",
        lambda: (
            officer.fill(f"#nar-{leaf['2.2']}", "Xã không có đơn vị sự nghiệp trực thuộc"),
            officer.press(f"#nar-{leaf['2.2']}", "Tab"),
        ),
    )

    # Evidence: a file on 1.1, an issued document on 2.1.
    officer.click(f"#ev-{leaf['1.1']} details.evidence-add > summary")
    officer.set_input_files(f"#file-{leaf['1.1']}", str(evidence_file))
    with officer.expect_response(lambda r: r.request.method == "POST" and "/evidence/" in r.url) as answer:
        officer.click(f"#ev-{leaf['1.1']} form:has(input[name=kind][value=file]) button[type=submit]")
    assert answer.value.status < 400
    officer.locator(f"#ev-{leaf['1.1']} a:has-text('bien-ban-hop.pdf')").wait_for()

    officer.click(f"#ev-{leaf['2.1']} details.evidence-add > summary")
    officer.fill(f"#dno-{leaf['2.1']}", "125/QĐ-UBND")
    officer.fill(f"#ddate-{leaf['2.1']}", "15/03/2024")
    officer.fill(f"#dpage-{leaf['2.1']}", "4")
    with officer.expect_response(lambda r: r.request.method == "POST" and "/evidence/" in r.url) as answer:
        officer.click(f"#ev-{leaf['2.1']} form:has(input[name=kind][value=document]) button[type=submit]")
    assert answer.value.status < 400
    officer.locator(f"#ev-{leaf['2.1']}", has_text="125/QĐ-UBND").wait_for()

    scores = {s.criterion.code: s for s in Score.objects.filter(assessment=x1).select_related("criterion")}
    assert scores["1.1"].self_points == D("12.1") and scores["1.2"].self_points == D("7.5")
    assert scores["2.1"].self_points == D("25.75") and scores["2.2"].not_applicable
    assert (
        scores["1.1"].evidence.count() == 1 and scores["2.1"].evidence.get().document_number == "125/QĐ-UBND"
    )

    # The self-assessed part on the page is the stored one, written the Vietnamese way; no index yet.
    officer.reload()
    x1_result = Assessment.objects.get(pk=x1.pk).result
    with translation.override("vi"):
        shown_index = fixed(x1_result.self_index, framework.index_decimals)
    assert "," in shown_index and shown_index in summary_text(officer)
    assert fixed(x1_result.index, framework.index_decimals) not in summary_text(officer)
    assert (
        "Mọi tiêu chí" in officer.locator("#checklist").inner_text()
        or not officer.locator("#checklist .problems").count()
    )
    open_all(officer)
    screenshot(officer, "04-officer-self-filled")

    phone = new_page(viewport=PHONE)
    sign_in(phone, "officer_x1")
    phone.goto(self_url)
    open_all(phone)
    screenshot(phone, "05-officer-self-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the self-assessment page scrolls sideways on a phone ({width}px)"

    # --- 3. Submit ----------------------------------------------------------------------------------
    mail.outbox.clear()
    with officer.expect_navigation():
        officer.click("#checklist button.primary")
    assert status_of(x1) == AssessmentStatus.SUBMITTED
    assert "Đã nộp" in officer.locator("main").inner_text()
    assert officer.locator("input.pts").count() == 0, "the submitted self-assessment is still editable"
    assert [m.to for m in mail.outbox] == [["appraiser@example.test"]]
    screenshot(officer, "06-officer-submitted")

    # --- 4. The appraiser: board, appraisal page, return two criteria with reasons -------------------
    appraiser = new_page()
    sign_in(appraiser, "appraiser")
    assert appraiser.url.endswith("/frameworks/"), appraiser.url
    appraiser.click(f"a[href='/frameworks/{framework.code}/']")
    appraiser.wait_for_url(f"**/frameworks/{framework.code}/")
    board = appraiser.locator("main").inner_text()
    assert "Xã Một" in board and "Xã Hai" in board
    screenshot(appraiser, "07-appraiser-board")

    appraiser.click(f"a[href='/assessments/{x1.pk}/appraisal/']")
    appraiser.wait_for_url(f"**/assessments/{x1.pk}/appraisal/")
    screenshot(appraiser, "08-appraiser-appraisal")

    appraiser.goto(f"/assessments/{x1.pk}/return/")
    appraiser.check(f"#id_pick_{leaf['1.1']}")
    appraiser.fill(f"#id_reason_{leaf['1.1']}", "Biên bản chưa có chữ ký")
    appraiser.check(f"#id_pick_{leaf['2.1']}")
    appraiser.fill(f"#id_reason_{leaf['2.1']}", "Quyết định 125 không nêu số liệu")
    appraiser.fill("#id_message", "Đề nghị xã giải trình hai tiêu chí 1.1 và 2.1.")
    screenshot(appraiser, "09-appraiser-return-form")
    mail.outbox.clear()
    with appraiser.expect_navigation():
        appraiser.click("form.return-form button.primary")
    assert status_of(x1) == AssessmentStatus.RETURNED
    assert [m.to for m in mail.outbox] == [["officer_x1@example.test"]]
    assert "1.1, 2.1" in mail.outbox[0].body
    screenshot(appraiser, "10-appraiser-returned")

    # --- 5. The officer sees the two criteria highlighted, explains, resubmits -----------------------
    officer.goto(self_url)
    assert officer.locator("#returned").is_visible()
    flagged = officer.locator("article.crit.row-flag")
    assert sorted(flagged.evaluate_all("els => els.map(e => e.id)")) == ["c-1.1", "c-2.1"]
    screenshot(officer, "11-officer-returned")
    for code, text in (
        ("1.1", "Đã bổ sung biên bản có chữ ký"),
        ("2.1", "Số liệu tại trang 4 của quyết định"),
    ):
        officer.fill(f"#expl-{leaf[code]}", text)
        with officer.expect_response(lambda r: r.request.method == "POST" and "/explain/" in r.url) as answer:
            officer.click(f"#ex-{leaf[code]} button[type=submit]")
        assert answer.value.status < 400
        officer.locator(f"#ex-{leaf[code]} .saved").wait_for()
    assert (
        Score.objects.get(assessment=x1, criterion_id=leaf["2.1"]).explanation
        == "Số liệu tại trang 4 của quyết định"
    )
    screenshot(officer, "12-officer-explained")
    with officer.expect_navigation():
        officer.click("#checklist button.primary")
    assert status_of(x1) == AssessmentStatus.SUBMITTED
    screenshot(officer, "13-officer-resubmitted")

    # --- 6. The appraiser changes one row with a reason, accepts the rest → appraised ----------------
    appraiser.goto(f"/assessments/{x1.pk}/appraisal/")
    row = leaf["2.1"]
    # Points that differ from the self score without a reason: refused inline, nothing saved.
    with appraiser.expect_response(lambda r: r.request.method == "POST" and "/appraisal/rows/" in r.url):
        appraiser.fill(f"#points-{row}", "20,5")
        appraiser.press(f"#points-{row}", "Tab")
    appraiser.locator(f"#row-{row} .field-error").wait_for()
    assert Score.objects.get(assessment=x1, criterion_id=row).appraised_points is None
    screenshot(appraiser, "14-appraiser-reason-required")
    with appraiser.expect_response(lambda r: r.request.method == "POST" and "/appraisal/rows/" in r.url):
        appraiser.fill(f"#reason-{row}", "Chỉ đạt 2/3 chỉ tiêu")
        appraiser.press(f"#reason-{row}", "Tab")
    appraiser.locator(f"#row-{row} .saved").wait_for()
    changed = Score.objects.get(assessment=x1, criterion_id=row)
    assert (changed.appraised_points, changed.appraisal_reason) == (D("20.5"), "Chỉ đạt 2/3 chỉ tiêu")
    # The unit's not-applicable proposal on 2.2 is the appraiser's to decide: confirmed.
    with appraiser.expect_response(
        lambda r: r.request.method == "POST" and "/not-applicable/" in r.url
    ) as answer:
        appraiser.click(f"#na-{leaf['2.2']} button[name=decision][value=confirm]")
    assert answer.value.status < 400
    htmx_idle(appraiser)
    assert Score.objects.get(assessment=x1, criterion_id=leaf["2.2"]).appraised_not_applicable is True
    mail.outbox.clear()
    with appraiser.expect_response(lambda r: r.request.method == "POST" and "/appraisal/accept/" in r.url):
        appraiser.click(f"form[action='/assessments/{x1.pk}/appraisal/accept/'] button[type=submit]")
    htmx_idle(appraiser)
    assert status_of(x1) == AssessmentStatus.APPRAISED
    assert [m.to for m in mail.outbox] == [["officer_x1@example.test"]]
    appraiser.reload()
    assert "Đã thẩm định" in appraiser.locator("main").inner_text()
    screenshot(appraiser, "15-appraiser-appraised")

    # --- 7. Publication with a decision number and date ---------------------------------------------
    # The self-assessment deadline passes and the year walks through its phases (the board's steps
    # are walked in the browser by tests/browser/test_publication.py); X2 never submitted: it is left
    # out of the publication by name, with the reason, on the confirmation page.
    Framework.objects.filter(pk=framework.pk).update(self_deadline=timezone.now() - timedelta(minutes=1))
    framework_advance_to(framework=framework, phase=FrameworkStatus.FINAL)
    appraiser.goto(f"/frameworks/{framework.code}/publish/")
    appraiser.fill("#id_decision_number", "4769/QĐ-UBND")
    appraiser.fill("#id_decision_date", "2024-12-21")
    appraiser.fill("#exclude-X2", "Không nộp báo cáo tự đánh giá")
    screenshot(appraiser, "16-appraiser-publish-form")
    with appraiser.expect_navigation():
        appraiser.click("main form button[type=submit].primary")
    appraiser.locator("#publish-confirm").wait_for()
    mail.outbox.clear()
    with appraiser.expect_navigation():
        appraiser.click("#publish-confirm button.danger")
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.PUBLISHED and framework.decision_number == "4769/QĐ-UBND"
    assert str(framework.decision_date) == "2024-12-21"
    assert sorted(m.to[0] for m in mail.outbox) == [
        "leader@example.test",
        "officer_x1@example.test",
        "officer_x2@example.test",
    ]
    assert "4769/QĐ-UBND" in appraiser.locator("main").inner_text()
    screenshot(appraiser, "17-appraiser-published")

    # --- 8. Read-only: no inputs on the officer's page, and a POST is refused ------------------------
    officer.goto(self_url)
    assert "Đã công bố" in officer.locator("main").inner_text()
    assert officer.locator("input.pts, #checklist button, details.evidence-add").count() == 0
    token = next(c["value"] for c in officer.context.cookies() if c["name"] == "csrftoken")
    refused = officer.request.post(
        f"{live_server.url}/assessments/{x1.pk}/rows/{leaf['1.1']}/",
        form={"points": "12,5"},
        headers={"X-CSRFToken": token, "Referer": live_server.url + self_url},
    )
    assert refused.status == 403, refused.status
    assert Score.objects.get(assessment=x1, criterion_id=leaf["1.1"]).self_points == D("12.1")
    open_all(officer)
    screenshot(officer, "18-officer-read-only")

    # --- 9. The same page in English, through the language switch ------------------------------------
    with officer.expect_navigation():
        officer.click("form.lang button[value=en]")
    assert officer.locator("html").get_attribute("lang") == "en"
    main = officer.locator("main").inner_text()
    assert "Published" in main and "Self-assessment" in main, main[:300]
    open_all(officer)
    screenshot(officer, "19-officer-read-only-english")

    assert not new_page.errors, f"JavaScript errors on the pages: {new_page.errors}"
    names = [path.name for path in screenshot.taken]
    assert len(names) == 19 and all(re.fullmatch(r"\d\d-[a-z-]+\.png", name) for name in names), names
