"""Comparative report jobs: the workbook against the ranking and hand-computed figures,
reuse of unchanged reports, failures, stale jobs, retries, permissions and query counts (eager Celery)."""

import io
import json
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports import jobs
from reports.jobs import report_claim, report_fail_stale, report_request, report_retry, report_run
from reports.models import JobStatus, ReportJob
from reports.report_workbook import (
    SHEET_APPRAISAL,
    SHEET_AREAS,
    SHEET_COVER,
    SHEET_LOST,
    SHEET_RANKING,
    SHEET_YEARS,
    build_workbook,
)
from reports.tasks import build_report_task
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.models import Assessment, AssessmentStatus, Framework
from scoring.results import selectors
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

D = Decimal
SPEC = [("1", 60), ("1.1", 40), ("1.2", 20), ("2", 40), ("2.1", 40)]


def _entries(a, b, c):
    return {
        "1.1": SelfEntry(D(str(a))),
        "1.2": SelfEntry(D(str(b))),
        "2.1": SelfEntry(None, not_applicable=True) if c is None else SelfEntry(D(str(c))),
    }


def _assess(framework, unit, a, b, c):
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(assessment=assessment, entries=_entries(a, b, c))
    return assessment


@pytest.fixture
def years(district, commune, other_commune):
    """2024: X1 70, X2 90, X8 80, X9 40. 2025: X1 80 self, appraised 75; X2 50 of 60 (2.1 n/a);
    X3, formed from X8 and X9, 60."""
    x8 = make_unit("X8", parent=district, name="Xã Tám")
    x9 = make_unit("X9", parent=district, name="Xã Chín")
    previous = make_framework(district, rows=rows_from_spec(SPEC), year=2024, code="H-2024")
    for unit, scores in (
        (commune, (30, 20, 20)),
        (other_commune, (40, 20, 30)),
        (x8, (40, 15, 25)),
        (x9, (20, 10, 10)),
    ):
        _assess(previous, unit, *scores)
    x3 = make_unit("X3", parent=district, name="Xã Ba", predecessors=[x8, x9])
    current = make_framework(district, rows=rows_from_spec(SPEC), year=2025, code="H-2025")
    x1 = _assess(current, commune, 40, 10, 30)
    _assess(current, other_commune, 30, 20, None)
    _assess(current, x3, 20, 20, 20)
    Assessment.objects.filter(pk=x1.pk).update(status=AssessmentStatus.SUBMITTED)  # appraised once submitted
    scores_apply_appraisal(
        assessment=x1,
        entries={
            "1.2": AppraisalEntry(D("5"), "Thiếu tài liệu kiểm chứng"),
            "2.1": AppraisalEntry(D("30")),
        },
    )
    return Framework.objects.get(pk=previous.pk), Framework.objects.get(pk=current.pk)


def _request(django_capture_on_commit_callbacks, framework, compare=None, actor=None, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        job = report_request(framework=framework, compare=compare, actor=actor, **kwargs)
    job.refresh_from_db()
    return job


def _open(job):
    with default_storage.open(job.file.name, "rb") as stream:
        return openpyxl.load_workbook(io.BytesIO(stream.read()))


def _rows(ws, first=2):
    return [row for row in ws.iter_rows(min_row=first, values_only=True) if any(v is not None for v in row)]


def _num(value):
    return None if value is None else D(str(value))


def _units(ws, header_row=1):
    """The rows of a sheet that name a unit (a code in column B), as dicts by header: group captions
    and average rows left out."""
    header = [c.value for c in ws[header_row]]
    return [
        dict(zip(header, row, strict=False))
        for row in ws.iter_rows(min_row=header_row + 1, values_only=True)
        if row[1]
    ]


def _letter(number):
    return openpyxl.utils.get_column_letter(number)


# --- the workbook --------------------------------------------------------------------------------------


def test_workbook_matches_the_ranking_and_hand_computed_figures(
    years, leader, django_capture_on_commit_callbacks
):
    previous, current = years
    job = _request(django_capture_on_commit_callbacks, current, previous, actor=leader)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.progress == 100 and job.attempts == 1 and job.file.name.endswith(".xlsx")
    wb = _open(job)
    assert wb.sheetnames == [
        SHEET_COVER,
        SHEET_RANKING,
        SHEET_AREAS,
        SHEET_YEARS,
        SHEET_LOST,
        SHEET_APPRAISAL,
    ]

    ranking = wb[SHEET_RANKING]
    lines = selectors.ranking(current)
    header = [c.value for c in ranking[1]]
    units = _units(ranking)
    cells = [
        (
            r["Xếp hạng"],
            r["Mã đơn vị"],
            _num(r["Điểm (100)"]),
            _num(r["Điểm tối đa"]),
            _num(r["Chỉ số"]),
            r["Xếp loại"],
            _num(r["Tăng/giảm điểm"]),
            r["Tăng/giảm bậc"],
        )
        for r in units
    ]
    assert cells == [
        (
            line.rank,
            line.unit_code,
            line.points,
            line.max_points,
            line.index,
            line.grade or None,
            line.points_change,
            line.rank_change,
        )
        for line in lines
    ]
    # Hand-computed: X2 50/60 → 83.33; X1 40 + 5 (appraised) + 30 = 75; X3 60.
    assert [(r["Mã đơn vị"], _num(r["Điểm (100)"]), _num(r["Chỉ số"]), r["Xếp hạng"]) for r in units] == [
        ("X2", D("50"), D("83.33"), 1),
        ("X1", D("75"), D("75"), 2),
        ("X3", D("60"), D("60"), 3),
    ]
    # The parts follow the unit, with their maxima in the headers as in the annexes: only the parts
    # the framework has (all leaves here are self-sourced: 100 points), so X1's part is its whole
    # total: 40 + 5 (appraised) + 30 = 75.
    assert header[3:5] == ["Tự đánh giá/thẩm định (100)", "Điểm (100)"]
    assert [(r["Mã đơn vị"], _num(r["Tự đánh giá/thẩm định (100)"])) for r in units] == [
        ("X2", D("50")),
        ("X1", D("75")),
        ("X3", D("60")),
    ]
    # Not published: the provisional column is there. The ranking group and the reason a unit is not
    # ranked close the row (no groups here: empty).
    assert "Tạm tính" in header
    assert header[-2:] == ["Nhóm xếp hạng", "Không xếp hạng: lý do"]
    assert [(r["Nhóm xếp hạng"], r["Không xếp hạng: lý do"]) for r in units] == [(None, None)] * 3
    # The average row closes the table: the mean over the units holding a place.
    average = [r for r in ranking.iter_rows(min_row=2, values_only=True) if r[2] == "Giá trị trung bình"]
    assert len(average) == 1
    assert _num(average[0][header.index("Điểm (100)")]) == D("61.67")  # (50 + 75 + 60) / 3
    assert _num(average[0][header.index("Chỉ số")]) == D("72.78")  # (83.33 + 75 + 60) / 3
    last = len(units) + 2
    assert ranking.freeze_panes == "C2" and ranking.auto_filter.ref == f"A1:{_letter(len(header))}{last}"
    index_letter = _letter(header.index("Chỉ số") + 1)
    assert ranking[f"{index_letter}2"].number_format == "0.00" and ranking["D2"].number_format == "0.00"
    assert ranking.print_title_rows == "$1:$1"
    assert ranking.page_setup.orientation == "landscape" and int(ranking.page_setup.paperSize) == 9
    assert len(ranking._charts) == 1 and ranking._charts[0].tagname == "barChart"

    areas = wb[SHEET_AREAS]
    assert areas["D1"].value.startswith("1.") and areas["H1"].value.startswith("2.")
    by_unit = {r[1]: r for r in _rows(areas, first=3)}
    # X1, area 1: 40 + 5 of 60 → 75.00, ranked 2nd (X2 83.33, X3 66.67); area 2: 30 of 40 → 75, 1st.
    assert [_num(v) for v in by_unit["X1"][3:7]] == [D("45"), D("60"), D("75"), D("2")]
    assert [_num(v) for v in by_unit["X1"][7:11]] == [D("30"), D("40"), D("75"), D("1")]
    assert by_unit["X2"][7:11] == (0, 0, None, None) or by_unit["X2"][9] is None  # 2.1 not applicable

    yoy = {r[1]: r for r in _rows(wb[SHEET_YEARS])}
    assert wb[SHEET_YEARS]["E1"].value.endswith("2025") and wb[SHEET_YEARS]["F1"].value.endswith("2024")
    # X1: 70 → 75, 3rd → 2nd. X2: 90 → 50 points, 90.00 → 83.33. X3 against X8 + X9: points averaged
    # (80 + 40) / 2 = 60, index pooled 120 / 200 = 60.00, place of 60.00 among the others of 2024: 3rd.
    assert [yoy["X1"][3]] + [_num(v) for v in yoy["X1"][4:13]] == [
        None,  # compared with itself
        D("75"),
        D("70"),
        D("5"),
        D("75"),
        D("70"),
        D("5"),
        D("2"),
        D("3"),
        D("1"),
    ]
    assert [_num(v) for v in yoy["X2"][4:13]] == [
        D("50"),
        D("90"),
        D("-40"),
        D("83.33"),
        D("90"),
        D("-6.67"),
        D("1"),
        D("1"),
        D("0"),
    ]
    assert yoy["X3"][3] == "Xã Tám; Xã Chín"  # the predecessors by name, not "X8; X9"
    assert [_num(v) for v in yoy["X3"][4:13]] == [
        D("60"),
        D("60"),
        D("0"),
        D("60"),
        D("60"),
        D("0"),
        D("3"),
        D("3"),
        D("0"),
    ]

    # Points lost: 1.1 → 0 + 10 + 20 = 30 (3 counted, 2 losing); 2.1 → 10 + 20 = 30 (X2 n/a: 2 counted);
    # 1.2 → 15 (X1 appraised 5 of 20). Sorted by points lost, then code.
    lost = [(r[0], _num(r[3]), r[4], r[5], _num(r[6])) for r in _rows(wb[SHEET_LOST])]
    assert lost == [
        ("1.1", D("40"), 3, 2, D("30")),
        ("2.1", D("40"), 2, 2, D("30")),
        ("1.2", D("20"), 3, 1, D("15")),
    ]

    appraisal = wb[SHEET_APPRAISAL]
    differences = [r[:9] for r in _rows(appraisal) if r[0]]
    assert [(r[0], r[2], _num(r[5]), _num(r[6]), _num(r[7]), r[8]) for r in differences] == [
        ("X1", "1.2", D("10"), D("5"), D("-5"), "Thiếu tài liệu kiểm chứng")
    ]
    summary = {r[11]: r for r in _rows(appraisal) if r[11]}
    assert (
        _num(summary["X1"][14]) == D("80") and _num(summary["X1"][15]) == D("-5") and summary["X1"][16] == 1
    )
    assert summary["X2"][16] == 0

    cover = {r[0]: r[1] for r in _rows(wb[SHEET_COVER], first=3) if r[0]}
    assert "H-2025" in cover["Bộ chỉ số"] and "H-2024" in cover["So sánh với"]
    assert cover["Người lập"] == "leader"


def test_ranking_sheet_matches_the_ranking_command(years, appraiser, django_capture_on_commit_callbacks):
    previous, current = years
    out = io.StringIO()
    call_command("ranking", framework=current.code, format="json", stdout=out)
    expected = json.loads(out.getvalue())
    job = _request(django_capture_on_commit_callbacks, current, previous, actor=appraiser)
    rows = _units(_open(job)[SHEET_RANKING])
    assert len(rows) == len(expected) == 3
    for row, item in zip(rows, expected, strict=True):
        assert (row["Xếp hạng"], row["Mã đơn vị"], row["Đơn vị"]) == (
            item["rank"],
            item["unit_code"],
            item["unit_name"],
        )
        assert _num(row["Điểm (100)"]) == D(item["points"]) and _num(row["Chỉ số"]) == D(item["index"])
        assert row["Xếp loại"] == item["grade"]
        assert _num(row["Tăng/giảm điểm"]) == D(item["change"]["points"])
        assert row["Tăng/giảm bậc"] == item["change"]["rank"]


def test_without_comparison_the_year_sheet_says_so(years, leader, django_capture_on_commit_callbacks):
    _, current = years
    job = _request(django_capture_on_commit_callbacks, current, None, actor=leader)
    assert job.status == JobStatus.SUCCEEDED
    assert _open(job)[SHEET_YEARS]["A1"].value


def test_build_query_count_does_not_grow_with_units(province):
    def framework_with(n):
        authority = make_unit(kind=UnitKind.DISTRICT, parent=province)
        frameworks = []
        for year in (2024, 2025):
            fw = make_framework(authority, rows=rows_from_spec(SPEC), year=year)
            for i in range(n):
                unit = make_unit(f"{authority.code}-{i}", parent=authority)
                _assess(fw, unit, 10 + i % 30, 15, 20 + i % 7)
            frameworks.append(fw)
        return frameworks

    counts = []
    for n in (5, 25):
        previous, current = framework_with(n)
        with CaptureQueriesContext(connection) as ctx:
            stream = io.BytesIO()
            build_workbook(current, previous).save(stream)
        # The units, then the average row.
        assert len(_units(openpyxl.load_workbook(stream)[SHEET_RANKING])) == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 10


# --- reuse, failures, retries, stale jobs -------------------------------------------------------------------


def test_unchanged_inputs_reuse_the_last_file_and_a_change_rebuilds(
    years, leader, appraiser, monkeypatch, django_capture_on_commit_callbacks
):
    previous, current = years
    built = []
    real = jobs.build_workbook
    monkeypatch.setattr(jobs, "build_workbook", lambda *a, **kw: built.append(1) or real(*a, **kw))

    first = _request(django_capture_on_commit_callbacks, current, previous, actor=leader)
    second = _request(django_capture_on_commit_callbacks, current, previous, actor=appraiser)

    assert len(built) == 1
    assert second.pk != first.pk and second.status == JobStatus.SUCCEEDED and second.progress == 100
    assert second.file.name == first.file.name and second.parameters["reused_from"] == first.pk
    assert second.requested_by == appraiser

    # Another comparison is another report.
    _request(django_capture_on_commit_callbacks, current, None, actor=leader)
    assert len(built) == 2

    # A changed score recomputes the results: the next request builds a new file.
    x2 = current.assessments.get(unit__code="X2")
    scores_apply_self(assessment=x2, entries={"1.1": SelfEntry(D("35"))})
    third = _request(
        django_capture_on_commit_callbacks, Framework.objects.get(pk=current.pk), previous, actor=leader
    )
    assert len(built) == 3 and third.file.name != first.file.name
    rows = {r[1]: r for r in _rows(_open(third)[SHEET_RANKING])}
    assert _num(rows["X2"][3]) == D("55")


def test_same_user_asking_twice_while_building_gets_the_same_job(years, leader):
    previous, current = years
    job = report_request(framework=current, compare=previous, actor=leader)  # on_commit never runs here
    again = report_request(framework=current, compare=previous, actor=leader)
    assert job.status == JobStatus.QUEUED and again.pk == job.pk


def fail_first_build(monkeypatch, error: Exception) -> list:
    """The first workbook build raises `error`; later ones build for real. Returns the list of calls."""
    real = jobs.build_workbook
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "build_workbook", flaky)
    return calls


def test_a_failed_build_is_recorded_and_can_be_retried(
    years, leader, monkeypatch, django_capture_on_commit_callbacks
):
    previous, current = years
    fail_first_build(monkeypatch, RuntimeError("disk on fire"))
    job = _request(django_capture_on_commit_callbacks, current, previous, actor=leader)
    assert job.status == JobStatus.FAILED and "disk on fire" in job.error and not job.file
    assert job.finished_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        report_retry(job)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.error == "" and job.attempts == 2
    assert _rows(_open(job)[SHEET_RANKING])

    with pytest.raises(ValidationError):
        report_retry(job)  # only a failed job is retried


def test_a_transient_error_is_retried_by_the_task_with_the_same_task_id(
    years, leader, monkeypatch, django_capture_on_commit_callbacks
):
    previous, current = years
    calls = fail_first_build(monkeypatch, OperationalError("database is locked"))
    job = report_request(framework=current, compare=previous, actor=leader)
    # apply(throw=False) runs the retry in process as a worker would (eager propagation stops at Retry).
    outcome = build_report_task.apply((job.pk,), task_id=job.task_id, throw=False)
    assert outcome.get()["status"] == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and len(calls) == 2


def test_a_job_is_claimed_once(years, leader):
    previous, current = years
    job = report_request(framework=current, compare=previous, actor=leader)
    assert report_claim(job.pk, "another-task") is True
    assert report_claim(job.pk, "yet-another-task") is False  # running for another task
    assert report_run(job.pk, task_id="yet-another-task") is None
    # The same task id (a redelivered message) takes its job over.
    assert report_run(job.pk, task_id="another-task").status == JobStatus.SUCCEEDED
    assert report_run(job.pk, task_id="another-task") is None  # finished: nothing to do


def test_a_stale_running_job_is_failed_and_can_be_retried(years, leader, django_capture_on_commit_callbacks):
    previous, current = years
    stale = report_request(framework=current, compare=previous, actor=leader)
    fresh = report_request(framework=current, compare=None, actor=leader)
    assert report_claim(stale.pk, "t1") and report_claim(fresh.pk, "t2")
    now = timezone.now()
    ReportJob.objects.filter(pk=stale.pk).update(heartbeat_at=now - jobs.stale_after() - timedelta(seconds=5))

    assert report_fail_stale(now) == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == JobStatus.FAILED and "retry" in stale.error
    assert fresh.status == JobStatus.RUNNING

    # The lost worker, should it come back, cannot overwrite the failure.
    assert report_run(stale.pk, task_id="t-other") is None
    with django_capture_on_commit_callbacks(execute=True):
        report_retry(stale)
    stale.refresh_from_db()
    assert stale.status == JobStatus.SUCCEEDED


def test_a_job_failed_as_stale_while_building_keeps_no_file(years, leader, monkeypatch):
    previous, current = years
    job = report_request(framework=current, compare=previous, actor=leader)
    real = jobs.build_workbook

    def fail_meanwhile(*args, **kwargs):
        ReportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error="stale")
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "build_workbook", fail_meanwhile)
    result = report_run(job.pk, task_id=job.task_id)
    assert result.status == JobStatus.FAILED and not result.file


def test_fail_stale_task_runs(years, leader):
    from reports.tasks import fail_stale_reports

    assert fail_stale_reports.delay().get() == 0


# --- pages and permissions -------------------------------------------------------------------------------


@pytest.fixture
def other_leader(province):
    other = make_unit("H9", kind=UnitKind.DISTRICT, parent=province, name="Huyện Khác")
    return make_member(other, Role.LEADER, "leader_h9")


def _done_job(years, user, django_capture_on_commit_callbacks):
    previous, current = years
    return _request(django_capture_on_commit_callbacks, current, previous, actor=user)


@pytest.mark.parametrize("persona", ["leader", "appraiser"])
def test_leader_and_appraiser_request_follow_and_download(
    persona, years, request, client, django_capture_on_commit_callbacks
):
    previous, current = years
    user = request.getfixturevalue(persona)
    client.force_login(user)
    page = client.get(reverse("reports:job_list"))
    assert page.status_code == 200
    assert f'value="{current.code}"' in page.content.decode()
    chosen = client.get(reverse("reports:job_list"), {"framework": current.code}, HTTP_HX_REQUEST="true")
    assert "(H-2024)" in chosen.content.decode()  # the previous year of the chosen framework

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:job_request"), {"framework": current.code, "compare": "auto"})
    assert (
        response.status_code == 302
        and response.url == reverse("reports:job_list") + f"?framework={current.code}"
    )
    job = ReportJob.objects.get(requested_by=user)
    assert job.compare_framework == previous and job.status == JobStatus.SUCCEEDED

    listing = client.get(reverse("reports:job_list")).content.decode()
    assert reverse("reports:job_download", args=[job.pk]) in listing

    download = client.get(reverse("reports:job_download", args=[job.pk]))
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert SHEET_RANKING in book.sheetnames


def test_request_without_comparison_and_with_a_chosen_one(
    years, leader, client, django_capture_on_commit_callbacks
):
    previous, current = years
    client.force_login(leader)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reports:job_request"), {"framework": current.code, "compare": ""})
        client.post(reverse("reports:job_request"), {"framework": previous.code, "compare": current.code})
    first, second = ReportJob.objects.order_by("id")
    assert first.compare_framework is None and second.compare_framework == current
    same = client.post(reverse("reports:job_request"), {"framework": current.code, "compare": current.code})
    assert same.status_code == 400 and ReportJob.objects.count() == 2


def test_officer_is_refused_and_other_district_gets_404(
    years, leader, officer, other_leader, client, django_capture_on_commit_callbacks
):
    _, current = years
    job = _done_job(years, leader, django_capture_on_commit_callbacks)
    client.force_login(officer)
    assert client.get(reverse("reports:job_list")).status_code == 404  # no report of theirs to list
    # The officer sees the framework (their unit is assessed in it) but not its reports: 403.
    assert client.post(reverse("reports:job_request"), {"framework": current.code}).status_code == 403
    assert client.get(reverse("reports:job_download", args=[job.pk])).status_code == 403
    assert client.get(reverse("reports:job_status", args=[job.pk]), HTTP_HX_REQUEST="true").status_code == 403
    assert client.post(reverse("reports:job_retry", args=[job.pk])).status_code == 403

    client.force_login(other_leader)
    page = client.get(reverse("reports:job_list"))
    assert page.status_code == 200 and current.code not in page.content.decode()
    assert client.post(reverse("reports:job_request"), {"framework": current.code}).status_code == 404
    assert client.get(reverse("reports:job_download", args=[job.pk])).status_code == 404
    assert client.get(reverse("reports:job_status", args=[job.pk]), HTTP_HX_REQUEST="true").status_code == 404
    assert client.post(reverse("reports:job_retry", args=[job.pk])).status_code == 404
    assert ReportJob.objects.count() == 1


def test_anonymous_is_sent_to_login(years, leader, client, django_capture_on_commit_callbacks):
    job = _done_job(years, leader, django_capture_on_commit_callbacks)
    for url in (reverse("reports:job_list"), reverse("reports:job_download", args=[job.pk])):
        response = client.get(url)
        assert response.status_code == 302 and reverse("login") in response.url
    response = client.post(reverse("reports:job_request"), {"framework": "H-2025"})
    assert response.status_code == 302 and reverse("login") in response.url


def test_status_row_polls_while_running_and_stops_when_done(years, leader, client):
    previous, current = years
    job = report_request(framework=current, compare=previous, actor=leader)
    client.force_login(leader)
    row = client.get(reverse("reports:job_status", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in row and "<progress" in row
    report_run(job.pk, task_id=job.task_id)
    row = client.get(reverse("reports:job_status", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in row and reverse("reports:job_download", args=[job.pk]) in row
    assert client.get(reverse("reports:job_status", args=[job.pk])).status_code == 302  # not htmx: the list


def test_retry_button_requeues_a_failed_job(
    years, leader, client, monkeypatch, django_capture_on_commit_callbacks
):
    previous, current = years
    job = report_request(framework=current, compare=previous, actor=leader)
    jobs.report_mark_failed(job.pk, "boom")
    client.force_login(leader)
    assert "boom" in client.get(reverse("reports:job_list")).content.decode()
    assert client.get(reverse("reports:job_retry", args=[job.pk])).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:job_retry", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    # Retrying a job that did not fail says so and changes nothing.
    client.post(reverse("reports:job_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED


def test_admin_retry_action(years, leader, admin_client, django_capture_on_commit_callbacks):
    previous, current = years
    job = report_request(framework=current, compare=previous, actor=leader)
    jobs.report_mark_failed(job.pk, "boom")
    assert admin_client.get(reverse("admin:reports_reportjob_changelist")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:reports_reportjob_changelist"), {"action": "retry", "_selected_action": [job.pk]}
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert admin_client.get(reverse("admin:reports_remediationitem_changelist")).status_code == 200


# --- the command -------------------------------------------------------------------------------------------


def test_build_report_command_writes_the_same_workbook(years, tmp_path):
    previous, current = years
    out = tmp_path / "bao-cao.xlsx"
    call_command(
        "build_report", framework=current.code, compare=previous.code, out=str(out), stdout=io.StringIO()
    )
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[1:] == [SHEET_RANKING, SHEET_AREAS, SHEET_YEARS, SHEET_LOST, SHEET_APPRAISAL]
    assert [r["Mã đơn vị"] for r in _units(wb[SHEET_RANKING])] == [
        line.unit_code for line in selectors.ranking(current)
    ]


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"framework": "NOPE", "out": "x.xlsx"}, "NOPE"),
        ({"framework": "H-2025", "compare": "NOPE", "out": "x.xlsx"}, "NOPE"),
        ({"framework": "H-2025", "out": "x.csv"}, ".xlsx"),
        ({"framework": "H-2025", "out": "/no/such/folder/x.xlsx"}, "/no/such/folder"),
        ({"framework": "H-2025", "compare": "H-2025", "out": "x.xlsx"}, "itself"),
    ],
)
def test_build_report_command_errors_are_bilingual(years, tmp_path, options, fragment):
    if not options["out"].startswith("/"):
        options = {**options, "out": str(tmp_path / options["out"])}
    with pytest.raises(CommandError) as exc:
        call_command("build_report", **options)
    assert fragment in str(exc.value) and " / " in str(exc.value)
