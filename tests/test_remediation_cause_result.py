"""Remediation items carry the cause of the lost points (nguyên nhân) and the result the unit reports;
the result is the unit's own report: its officer writes it, on the service and on the page."""

from datetime import date

import pytest

from parindex.audit.models import AuditEntry
from parindex.errors import ErrorCode, ServiceError
from reports.models import RemediationItem, RemediationStatus
from reports.remediation import remediation_update

from .test_dashboards import suggested, years  # noqa: F401 - fixtures


@pytest.fixture
def item(suggested, commune):  # noqa: F811
    return RemediationItem.objects.filter(assessment__unit=commune).first()


def fill(item, actor, **extra):
    return remediation_update(
        item=item,
        action="Bổ sung quy chế",
        responsible="Nguyễn Văn A",
        due_date=date(2025, 6, 30),
        status=RemediationStatus.DONE,
        actor=actor,
        **extra,
    )


def test_the_officer_records_the_cause_and_reports_the_result(item, officer):
    fill(item, officer, cause="Chưa ban hành quy chế", result="Đã ban hành Quy chế số 5/QC-UBND")
    item.refresh_from_db()
    assert item.cause == "Chưa ban hành quy chế"
    assert item.result == "Đã ban hành Quy chế số 5/QC-UBND"
    assert item.result_reported_at is not None
    fields = AuditEntry.objects.filter(action="remediation_update", subject_id=item.pk)
    assert {"cause", "result"} <= set(fields.values_list("field", flat=True))


def test_leaving_cause_and_result_out_keeps_them(item, officer):
    fill(item, officer, cause="Nguyên nhân", result="Kết quả")
    fill(item, officer)
    item.refresh_from_db()
    assert (item.cause, item.result) == ("Nguyên nhân", "Kết quả")


def test_the_appraiser_records_a_cause_but_not_the_units_result(item, appraiser):
    fill(item, appraiser, cause="Thiếu tài liệu")
    item.refresh_from_db()
    assert item.cause == "Thiếu tài liệu"
    with pytest.raises(ServiceError) as refused:
        fill(item, appraiser, result="Đã khắc phục")
    assert refused.value.error_code == ErrorCode.FORBIDDEN and refused.value.field == "result"
    item.refresh_from_db()
    assert item.result == ""


def test_the_officer_reports_the_result_on_the_page(item, client, officer):
    client.force_login(officer)
    page = client.get(f"/dashboards/remediation/{item.pk}/").content.decode()
    assert 'name="cause"' in page and 'name="result"' in page
    assert "Nguyên nhân" in page and "Kết quả đơn vị báo cáo" in page
    response = client.post(
        f"/dashboards/remediation/{item.pk}/",
        {
            "action": "Bổ sung quy chế",
            "status": "done",
            "cause": "Chưa ban hành quy chế",
            "result": "Đã ban hành quy chế",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.cause, item.result) == ("Chưa ban hành quy chế", "Đã ban hành quy chế")
    listing = client.get("/dashboards/remediation/").content.decode()
    assert "Chưa ban hành quy chế" in listing and "Đã ban hành quy chế" in listing


def test_the_appraisers_form_has_no_result_field(item, client, officer, appraiser):
    fill(item, officer, result="Đã khắc phục")
    client.force_login(appraiser)
    page = client.get(f"/dashboards/remediation/{item.pk}/").content.decode()
    assert 'name="cause"' in page and 'name="result"' not in page
    assert "Đã khắc phục" in page  # shown, not editable
    client.post(f"/dashboards/remediation/{item.pk}/", {"action": "x", "status": "done", "result": "Khác"})
    item.refresh_from_db()
    assert item.result == "Đã khắc phục"


def test_the_admin_records_a_cause_and_shows_the_units_result(item, officer, admin_client):
    from django.urls import reverse

    fill(item, officer, result="Đã ban hành quy chế")
    change = reverse("admin:reports_remediationitem_change", args=[item.pk])
    page = admin_client.get(change).content.decode()
    assert 'name="cause"' in page and 'name="result"' not in page and "Đã ban hành quy chế" in page
    response = admin_client.post(
        change,
        {"action": "Bổ sung quy chế", "responsible": "", "due_date": "", "status": "done", "cause": "Thiếu"},
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.cause, item.result) == ("Thiếu", "Đã ban hành quy chế")
