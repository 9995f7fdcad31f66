"""The province leader's view in headless Chromium (issue 12, deliverable 6): from the dashboards to the
province summary (one row per framework × ranking group), a unit found by name in the table of all the
province's units, then a group's ranking with its units and places.

The data is built here with the factories (tests/test_province_dashboard.build_province), not the demo.
Screenshots go to test-artifacts/screenshots/<test name>/."""

import pytest

from units.models import Role

from ..factories import make_member
from ..test_province_dashboard import build_province
from .conftest import PHONE, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def province_data(province):
    data = build_province(province)
    make_member(province, Role.LEADER, "leader_t")
    return data


def cells(row) -> list[str]:
    return [text.strip() for text in row.locator("td").all_inner_texts()]


def ranking_rows(page) -> list[tuple[str, str, str, str]]:
    """(place, group, unit code, the unit cell's text) of every row of the ranking table."""
    rows = []
    for row in page.locator("#ranking tbody tr").all():
        texts = cells(row)
        code = row.locator("td").nth(2).locator("span.muted").first.inner_text().strip()
        rows.append((texts[0], texts[1], code, texts[2]))
    return rows


def test_province_leader_summary_search_and_group_ranking(new_page, screenshot, province_data):
    page = new_page()
    sign_in(page, "leader_t")
    assert page.url.endswith("/dashboards/"), page.url  # the leader's landing page
    page.click("#province-links a:has-text('Tổng hợp cấp tỉnh')")
    page.wait_for_url("**/dashboards/province/T/")
    assert page.locator("h1").inner_text() == "Tổng hợp cấp tỉnh — Tỉnh Thử"

    # One row per framework × ranking group of the latest year.
    headers = [h.strip() for h in page.locator("#province-rows thead th").all_inner_texts()]
    assert headers[:8] == [
        "Bộ chỉ số",
        "Nhóm xếp hạng",
        "Đơn vị",
        "Đã nộp",
        "Đã thẩm định",
        "Không xếp hạng",
        "Chỉ số bình quân",
        "Phân bố xếp loại",
    ]
    rows = page.locator("#province-rows tbody tr")
    assert rows.count() == 3
    communes, wards, departments = (cells(rows.nth(i)) for i in range(3))
    assert communes[1:6] == ["Xã", "4", "3", "2", "1"] and communes[6].startswith("75,00")
    assert "Xuất sắc: 1" in communes[7] and "Trung bình: 1" in communes[7] and "Yếu: 0" in communes[7]
    assert wards[1:6] == ["Phường", "2", "2", "1", "0"] and wards[6].startswith("91,50")
    assert departments[1:6] == ["—", "1", "0", "0", "0"]
    screenshot(page, "01-province-summary")

    # The table of all the province's units, searched by name (htmx swaps the table in place).
    table = page.locator("#province-unit-table tbody tr")
    assert table.count() == 9
    page.fill("#province-q", "Cẩm Giang")
    page.press("#province-q", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#province-unit-table tbody tr').length === 1")
    found = cells(table.first)
    assert found[1] == "Xã Cẩm Giang tạm tính"  # a draft: its figures are provisional
    assert found[:1] + found[2:6] == ["XC", "Xã", "Huyện Cũ Hai, Huyện Cũ Một", "CX-2025", "Xã"]
    assert found[6:] == ["60,00", "Trung bình", "3/3"]
    assert "q=" in page.url  # the search stays in the address (back, reload, share)
    assert page.locator("#province-rows tbody tr").count() == 3  # the summary stays on the page
    screenshot(page, "02-unit-found")

    # A unit not ranked: no place, the reason on hover.
    page.fill("#province-q", "")
    page.select_option("#province-kind", "special_zone")
    page.locator("#province-unit-table tbody tr[data-unit='DK']").wait_for()
    assert table.count() == 1
    dk = table.first
    assert cells(dk)[0] == "DK" and cells(dk)[-1] == "—"
    assert dk.locator("td.rank span").get_attribute("title") == "Không xếp hạng: Mới thành lập"

    # The communes' group ranking: its units, their places out of the group's, the unranked last.
    page.click("#province-rows tr[data-group='Xã'] a:has-text('Xếp hạng')")
    page.wait_for_url("**/dashboards/?framework=CX-2025&group=*")
    assert page.locator("#group").input_value() == "Xã"
    ranking = ranking_rows(page)
    assert [row[:3] for row in ranking] == [
        ("1/3", "Xã", "XA"),
        ("2/3", "Xã", "XB"),
        ("3/3", "Xã", "XC"),
        ("—", "Xã", "DK"),  # no ward in the communes' group; the unit not ranked last, with its reason
    ]
    assert "không xếp hạng" in ranking[3][3] and "Mới thành lập" in ranking[3][3]
    screenshot(page, "03-group-ranking-communes")

    # And the wards' group, from the summary's row.
    page.goto("/dashboards/province/T/")
    page.click("#province-rows tr[data-group='Phường'] a:has-text('Xếp hạng')")
    page.wait_for_url("**/dashboards/?framework=CX-2025&group=*")
    assert page.locator("#group").input_value() == "Phường"
    assert [row[:3] for row in ranking_rows(page)] == [("1/2", "Phường", "PB"), ("2/2", "Phường", "PA")]
    screenshot(page, "04-group-ranking-wards")

    # On a phone the summary and the table stack into cards: nothing scrolls sideways.
    phone = new_page(viewport=PHONE)
    sign_in(phone, "leader_t")
    phone.goto("/dashboards/province/T/")
    assert phone.locator("#province-rows tbody tr").count() == 3
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
    screenshot(phone, "05-province-summary-phone")
