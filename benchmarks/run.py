"""ParIndex at national scale: one JSON object per line, exit status 0.

    .venv/bin/python benchmarks/run.py --quick                 # about 500 units, SQLite, < 3 min
    .venv/bin/python benchmarks/run.py                         # 3,321 units (the country since 2025)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python benchmarks/run.py                     # the figures that count

Builds, in a throw-away database (a temporary SQLite file, or a fresh PostgreSQL database on the
DATABASE_URL server, dropped at the end), 34 provinces with N communes and wards between them, the
commune framework (covering communes and wards) in two consecutive years, every leaf scored; then
prints one line per measurement (`name` says which), medians of `--repeat` runs:

- `setup`: units, score rows, build seconds, database;
- `first_recompute`: the first whole-framework recompute right after the bulk load (planner
  statistics not gathered: autovacuum is switched off on the throw-away tables), `ratio` to a warm one;
- `recompute`: a warm whole-framework recompute, `floor_seconds` of a hand-written SQL pass computing
  and writing the same outputs (points, index, grade, rank, area points/index/rank, year on year)
  into temporary tables, measured in turns with it, and `ratio`;
- `forecast`: every unit's forecast with its leaves at risk, mid-year (a third of this year's score
  rows left out, in a transaction rolled back after), against a whole-framework recompute of the same
  data measured in turns with it: `seconds`, `recompute_seconds`, `ratio` (issue 17: under 2);
- `save_recompute`: what a save does now (its own results), and `rank_job` (the coalesced ranking job);
- `ranking_page`, `areas_page`, `progress_page`: server time through the Django test client, queries,
  HTML bytes, signed in as a leader of the authority;
- `deadline_rush` (PostgreSQL and Redis only, gunicorn with 4 workers plus one Celery worker on
  127.0.0.1): 50 signed-in officers saving rows through the self-assessment page's own row endpoint
  for `--rush-seconds`: p50/p95 seconds, errors, lost saves (acknowledged but not in the database
  afterwards), requests, saves per second, and ranking_lag_seconds (from a save's answer to a ranking
  that includes it).
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parindex.settings_test")

from benchmarks.bench_results import _database_setup, score_every_leaf, throwaway_database  # noqa: E402

HUNDREDTH = Decimal("0.01")
PROVINCES = 34
FULL_UNITS = 3321
QUICK_UNITS = 500


def emit(name: str, **figures) -> None:
    print(json.dumps({"name": name, **figures}, ensure_ascii=False, default=str), flush=True)


def median_time(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- data -----------------------------------------------------------------------------------------


def _no_autovacuum() -> None:
    """PostgreSQL: no autovacuum/autoanalyze on the throw-away tables, so that the first recompute
    meets a bulk load whose statistics were never gathered (the worst case, reproducibly)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in (
            "scoring_score",
            "scoring_assessment",
            "scoring_assessmentresult",
            "scoring_arearesult",
        ):
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")


def build(units: int, seed: int):
    """34 provinces, `units` communes and wards spread over them (one in three a ward), the commune
    framework in 2024 and 2025 covering both kinds, every score leaf scored (3 % not applicable),
    bonus and penalty leaves for some units, half the assessments appraised."""
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    from scoring.demo import rows_from_csv
    from scoring.frameworks.services import framework_create, parse_bands
    from scoring.models import Assessment, AssessmentStatus
    from tests.factories import BANDS
    from units.models import Unit, UnitKind
    from units.services import unit_save

    rng = random.Random(seed)
    provinces = [
        unit_save(code=f"T{p:02d}", name=f"Tỉnh {p:02d}", kind=UnitKind.PROVINCE)[0]
        for p in range(1, PROVINCES + 1)
    ]
    Unit.objects.bulk_create(
        Unit(
            code=f"X{i:05d}",
            name=f"{'Phường' if i % 3 == 2 else 'Xã'} số {i}",
            kind=UnitKind.WARD if i % 3 == 2 else UnitKind.COMMUNE,
            parent=provinces[i % PROVINCES],
        )
        for i in range(units)
    )
    for province in provinces:
        Unit.objects.filter(parent=province).update(
            path=Concat(Value(province.path), Cast("id", CharField()), Value("/"))
        )
    local = list(Unit.objects.filter(parent__in=provinces).order_by("code"))
    rows = rows_from_csv("framework-commune.csv")
    frameworks = []
    for year in (2024, 2025):
        framework = framework_create(
            code=f"QG{year}",
            authority=provinces[0],
            unit_kind=UnitKind.COMMUNE,
            unit_kinds=[UnitKind.WARD],
            year=year,
            name=f"Bộ chỉ số cấp xã {year}",
            rows=rows,
            bands=parse_bands(BANDS),
            index_decimals=2,
        )
        statuses = [AssessmentStatus.SUBMITTED, AssessmentStatus.APPRAISED]
        Assessment.objects.bulk_create(
            Assessment(unit=unit, framework=framework, status=rng.choice(statuses)) for unit in local
        )
        score_every_leaf(framework, rng, batch_size=5000)
        frameworks.append(framework)
    return provinces, frameworks


# --- the floor: one hand-written SQL pass writing the same outputs into temporary tables -----------


def floor_pass(framework, previous) -> None:
    from django.db import connection, transaction

    decimals = int(framework.index_decimals)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TEMP TABLE floor_leaf AS
            SELECT s.assessment_id AS aid, c.area_id AS area_id, c.kind AS kind,
                   CASE WHEN COALESCE(s.appraised_not_applicable, s.not_applicable) THEN 0
                        ELSE COALESCE(s.appraised_points, s.self_points, 0) END AS pts,
                   CASE WHEN COALESCE(s.appraised_not_applicable, s.not_applicable) THEN 0
                        ELSE c.max_points END AS mx
            FROM scoring_score s JOIN scoring_criterion c ON c.id = s.criterion_id
            WHERE c.framework_id = %s AND c.is_leaf
            """,
            [framework.pk],
        )
        cursor.execute(
            f"""
            CREATE TEMP TABLE floor_area AS
            SELECT t.*, RANK() OVER (PARTITION BY t.area_id ORDER BY t.idx DESC) AS rnk
            FROM (SELECT aid, area_id, SUM(pts) AS points, SUM(mx) AS max_points,
                         ROUND(SUM(pts) * 100.0 / SUM(mx), {decimals}) AS idx
                  FROM floor_leaf WHERE kind = 'score' GROUP BY aid, area_id HAVING SUM(mx) > 0) t
            """
        )
        cursor.execute(
            f"""
            CREATE TEMP TABLE floor_result AS
            SELECT t.*, RANK() OVER (ORDER BY t.idx DESC) AS rnk,
                   (SELECT b.name FROM scoring_gradeband b WHERE b.framework_id = %s AND b.min_index <= t.idx
                    ORDER BY b.min_index DESC LIMIT 1) AS grade
            FROM (SELECT aid, SUM(CASE WHEN kind = 'penalty' THEN -pts ELSE pts END) AS points,
                         SUM(CASE WHEN kind = 'score' THEN mx ELSE 0 END) AS max_points,
                         ROUND(SUM(CASE WHEN kind = 'penalty' THEN -pts ELSE pts END) * 100.0
                               / SUM(CASE WHEN kind = 'score' THEN mx ELSE 0 END), {decimals}) AS idx
                  FROM floor_leaf GROUP BY aid) t
            """,
            [framework.pk],
        )
        cursor.execute(
            """
            CREATE TEMP TABLE floor_yoy AS
            SELECT f.aid, p.points AS previous_points, p."index" AS previous_index, p."rank" AS previous_rank,
                   f.points - p.points AS points_change, f.idx - p."index" AS index_change,
                   p."rank" - f.rnk AS rank_change
            FROM floor_result f
            JOIN scoring_assessment a ON a.id = f.aid
            JOIN scoring_assessment pa ON pa.unit_id = a.unit_id AND pa.framework_id = %s
            JOIN scoring_assessmentresult p ON p.assessment_id = pa.id
            """,
            [previous.pk],
        )
        for table in ("floor_yoy", "floor_result", "floor_area", "floor_leaf"):
            cursor.execute(f"DROP TABLE {table}")


# --- the forecast (issue 17) ---------------------------------------------------------------------


def measure_forecast(framework, repeat: int, seed: int) -> dict:
    """The forecast of every unit with its leaves at risk, mid-year: a third of this year's score rows
    not in yet (deleted in a transaction rolled back afterwards, so that the measurements after this
    one see the full data). Against a whole-framework recompute of the same data, measured in turns
    with it (medians)."""
    from django.db import transaction

    from scoring.models import Score
    from scoring.results.engine import results_recompute
    from scoring.results.forecast import forecast

    rng = random.Random(seed)
    with transaction.atomic():
        ids = list(Score.objects.filter(assessment__framework=framework).values_list("id", flat=True))
        gone = rng.sample(ids, len(ids) // 3)
        for i in range(0, len(gone), 5000):
            Score.objects.filter(id__in=gone[i : i + 5000]).delete()
        results_recompute(framework)  # warm: the statistics of the smaller score table gathered
        forecast(framework)
        recompute_times, forecast_times = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            results_recompute(framework)
            recompute_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = forecast(framework)
            forecast_times.append(time.perf_counter() - start)
        uncertain = sum(1 for line in result if not line.certain)
        at_risk = sum(len(line.at_risk) for line in result)
        transaction.set_rollback(True)
    seconds, recompute_seconds = statistics.median(forecast_times), statistics.median(recompute_times)
    return {
        "seconds": round(seconds, 4),
        "recompute_seconds": round(recompute_seconds, 4),
        "ratio": round(seconds / recompute_seconds, 2),
        "score_rows_left_out": len(gone),
        "uncertain_units": uncertain,
        "leaves_at_risk": at_risk,
    }


# --- pages ----------------------------------------------------------------------------------------


def measure_pages(framework, repeat: int) -> None:
    """The dashboards as the one who sees every unit of the framework (an administrator: a national
    view), so that the pages meet all `units` of the country, not one province's share; and the
    profile of one unit."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from scoring.models import Assessment, Framework
    from tests.factories import UserFactory

    admin = UserFactory(username="quantri-trang", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    unit_code = (
        Assessment.objects.filter(framework=framework).order_by("id").values_list("unit__code", flat=True)[0]
    )
    visible = Assessment.objects.filter(framework=framework).count()
    pages = {
        "ranking_page": f"/dashboards/?framework={framework.code}",
        "areas_page": f"/dashboards/frameworks/{framework.code}/areas/",
        "progress_page": f"/dashboards/frameworks/{framework.code}/progress/",
        "ranking_page_search": f"/dashboards/?framework={framework.code}&kind=ward&q=1&page=2",
        "unit_profile_page": f"/dashboards/units/{unit_code}/?framework={framework.code}",
    }
    for name, url in pages.items():
        client.get(url)  # warm the template and translation caches
        # A new version of the results (what a recompute or a ranking job does): the aggregates the
        # pages keep by that version are read again by the first request.
        Framework.objects.filter(pk=framework.pk).update(results_computed_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            client.get(url)
            cold_seconds = time.perf_counter() - start
        cold_count = len(queries.captured_queries)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        count = len(queries.captured_queries)  # now: the next request resets the log
        seconds = median_time(lambda url=url: client.get(url), repeat)
        emit(
            name,
            url=url,
            status=response.status_code,
            units_visible=visible,
            seconds=round(seconds, 4),
            queries=count,
            html_bytes=len(response.content),
            first_after_results_change_seconds=round(cold_seconds, 4),
            first_after_results_change_queries=cold_count,
        )


# --- upload and report ----------------------------------------------------------------------------


def median_times_interleaved(measured, floor, repeat: int) -> tuple[float, float]:
    """Medians of `measured` and of its `floor`, run in turns (floor, measured, floor, …) after one
    warm-up of each: on a shared machine the load then drifts alike under both, and their ratio
    compares like with like."""
    floor()
    measured()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for func, out in ((floor, times[1]), (measured, times[0])):
            start = time.perf_counter()
            func()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def measure_import_workbook(framework, repeat: int, workdir: Path) -> None:
    """`import_workbook`: checking and previewing one unit's filled-in template, as the web upload does
    (scoring.exchange.uploads.import_start), against the floor measured on the same file: openpyxl
    loading it read-only and reading every cell."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from openpyxl import load_workbook

    from benchmarks.bench_upload import filled_workbook
    from scoring.exchange.uploads import import_start
    from scoring.models import Assessment, AssessmentStatus, ImportKind, ImportStatus

    assessment = Assessment.objects.filter(framework=framework).order_by("id")[1]
    Assessment.objects.filter(pk=assessment.pk).update(status=AssessmentStatus.DRAFT)
    assessment = Assessment.objects.select_related("unit", "framework").get(pk=assessment.pk)
    content, filled = filled_workbook(assessment)

    def floor() -> None:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        for sheet in workbook.worksheets:
            for _row in sheet.iter_rows(values_only=True):
                pass
        workbook.close()

    records = []

    def check_and_preview() -> None:
        upload = SimpleUploadedFile("tu-danh-gia.xlsx", content)
        records.append(import_start(kind=ImportKind.SELF, upload=upload, actor=None, assessment=assessment))

    media = workdir / "media"
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    from django.conf import settings

    with override_settings(MEDIA_ROOT=str(media), STORAGES={**settings.STORAGES, **storages}):
        with CaptureQueriesContext(connection) as queries:
            check_and_preview()
        if records[-1].status != ImportStatus.PREVIEW:
            raise SystemExit(f"import_workbook: the filled template was refused: {records[-1].problems}")
        seconds, floor_seconds = median_times_interleaved(check_and_preview, floor, max(repeat, 7))
    emit(
        "import_workbook",
        units=Assessment.objects.filter(framework=framework).count(),
        bytes=len(content),
        rows_filled=filled,
        changes=records[-1].preview["changes"],
        queries=len(queries.captured_queries),
        seconds=round(seconds, 4),
        floor_seconds=round(floor_seconds, 4),
        ratio=round(seconds / floor_seconds, 2),
    )


def measure_report(framework, previous, repeat: int) -> None:
    """`report`: the comparative report workbook written from its data and saved (reads apart, shown as
    `reads_seconds`), against the floor measured in the same run: the same cells written write-only
    with no styling logic."""
    import io

    from openpyxl import Workbook

    from reports.report_workbook import report_data, sheet_rows, write_workbook

    data = report_data(framework, previous)
    reads = median_time(lambda: report_data(framework, previous), repeat)
    sheets = sheet_rows(data)
    cells = sum(len(row) for _title, rows in sheets for row in rows)

    def floor() -> None:
        workbook = Workbook(write_only=True)
        for title, rows in sheets:
            sheet = workbook.create_sheet(title)
            for row in rows:
                sheet.append(row)
        workbook.save(io.BytesIO())

    def written() -> None:
        write_workbook(data).save(io.BytesIO())

    seconds, floor_seconds = median_times_interleaved(written, floor, repeat)
    emit(
        "report",
        units=len(data.lines),
        cells=cells,
        reads_seconds=round(reads, 4),
        seconds=round(seconds, 4),
        floor_seconds=round(floor_seconds, 4),
        ratio=round(seconds / floor_seconds, 2),
    )


# --- the deadline rush ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    from django.db import connection

    d = connection.settings_dict
    user = urllib.parse.quote(d.get("USER") or "", safe="")
    host = d.get("HOST") or "127.0.0.1"
    port = d.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{urllib.parse.quote(str(d['NAME']), safe='')}"


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def rush(framework, officers: list, duration: float, workdir: Path) -> dict:
    """50 officers (threads, one keep-alive-less HTTP client each) saving rows of their own unit's
    self-assessment through POST /assessments/<pk>/rows/<criterion>/ (htmx), as fast as answers come,
    for `duration` seconds; gunicorn with 4 sync workers, ranks by one Celery worker."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.crypto import get_random_string

    from scoring.models import AssessmentResult, Score
    from scoring.results.engine import RANKS_AS_OF_KEY

    redis_url = os.environ["REDIS_URL"]
    queue = f"bench-{os.getpid()}"
    settings_dir = workdir / "settings"
    settings_dir.mkdir()
    (settings_dir / "bench_settings.py").write_text(
        "from parindex.settings import *  # noqa\n"
        f"CELERY_TASK_DEFAULT_QUEUE = {queue!r}\n"
        f"CACHES['default']['KEY_PREFIX'] = {queue!r}\n"
        "RESULTS_RANKS_INLINE = False\n",
        encoding="utf-8",
    )
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench_settings",
        PYTHONPATH=f"{settings_dir}{os.pathsep}{PROJECT_ROOT}",
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        DJANGO_SECRET_KEY=settings.SECRET_KEY,  # the sessions below are signed here
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_COOKIES="0",
        PARINDEX_SSL_REDIRECT="0",  # plain HTTP on 127.0.0.1: a redirect to https would hang every client
        CELERY_TASK_ALWAYS_EAGER="0",
    )
    env.pop("PARINDEX_TEST_DB_NAME", None)
    # This process reads the servers' cache (ranks "as of") with the same key prefix.
    from django.core.cache.backends.redis import RedisCache

    cache = RedisCache(redis_url, {"KEY_PREFIX": queue})

    port = _free_port()
    bin_dir = Path(sys.executable).parent
    logs = {name: open(workdir / f"{name}.log", "w", encoding="utf-8") for name in ("gunicorn", "celery")}  # noqa: SIM115
    web = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "parindex.wsgi", "-w", "4", "-b", f"127.0.0.1:{port}", "--timeout", "120"],
        cwd=PROJECT_ROOT, env=env, stdout=logs["gunicorn"], stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(bin_dir / "celery"), "-A", "parindex", "worker", "-Q", queue, "--pool=solo", "-l", "warning",
         "-n", f"{queue}@localhost", "--without-gossip", "--without-mingle"],
        cwd=PROJECT_ROOT, env=env, stdout=logs["celery"], stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/health/", web)
        plans = []
        for officer, assessment, leaves in officers:
            session = SessionStore()
            session["_auth_user_id"] = str(officer.pk)
            session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
            session["_auth_user_hash"] = officer.get_session_auth_hash()
            session.save()
            plans.append((session.session_key, get_random_string(32), assessment, leaves))
        acknowledged: dict[tuple[int, int], Decimal] = {}
        latencies: list[float] = []
        errors: list[str] = []
        lags: list[float] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + duration

        def officer_loop(index: int) -> None:
            session_key, csrf, assessment, leaves = plans[index]
            rng = random.Random(index)
            headers = {
                "Cookie": f"sessionid={session_key}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
                "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded",
            }
            while time.monotonic() < stop_at:
                leaf = rng.choice(leaves)
                points = (leaf.max_points * Decimal(rng.randint(0, 4)) / 4).quantize(HUNDREDTH)
                body = urllib.parse.urlencode({"points": str(points), "note": f"lần {rng.randint(1, 10**6)}"})
                request = urllib.request.Request(
                    f"{base}/assessments/{assessment.pk}/rows/{leaf.pk}/", data=body.encode(), headers=headers
                )
                started = time.monotonic()
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        html = response.read().decode("utf-8", "replace")
                        ok = (
                            response.status == 200
                            and response.geturl() == request.full_url  # not sent to the sign-in page
                            and "errorlist" not in html
                            and 'role="alert"' not in html
                        )
                except OSError as error:
                    ok, html = False, str(error)
                elapsed = time.monotonic() - started
                with lock:
                    latencies.append(elapsed)
                    if ok:
                        acknowledged[(assessment.pk, leaf.pk)] = points
                    else:
                        errors.append(html[:200])
                if ok and index == 0 and rng.random() < 0.5:
                    answered = time.time()
                    while time.monotonic() < stop_at + 10:
                        as_of = cache.get(RANKS_AS_OF_KEY.format(framework.pk))
                        if as_of is not None and as_of >= answered:
                            lags.append(time.time() - answered)
                            break
                        time.sleep(0.02)

        waiting: list[int] = []
        waits: dict[str, int] = {}

        def sample_lock_waits() -> None:
            """How many server backends wait on a lock (row, advisory …), twice a second."""
            import psycopg2

            d = connection.settings_dict
            conn = psycopg2.connect(
                dbname=d["NAME"],
                user=d.get("USER") or None,
                host=d.get("HOST") or None,
                port=d.get("PORT") or None,
            )
            conn.autocommit = True
            with conn.cursor() as cursor:
                while time.monotonic() < stop_at:
                    cursor.execute(
                        "SELECT w.wait_event, left(regexp_replace(w.query, '\\s+', ' ', 'g'), 70),"
                        " left(regexp_replace(b.query, '\\s+', ' ', 'g'), 70)"
                        " FROM pg_stat_activity w LEFT JOIN pg_stat_activity b"
                        " ON b.pid = (pg_blocking_pids(w.pid))[1]"
                        " WHERE w.datname = current_database() AND w.wait_event_type = 'Lock'"
                    )
                    rows = cursor.fetchall()
                    waiting.append(len(rows))
                    for row in rows:
                        waits[" | ".join(str(part) for part in row)] = (
                            waits.get(" | ".join(str(part) for part in row), 0) + 1
                        )
                    time.sleep(0.5)
            conn.close()

        from django.db import connection

        threads = [threading.Thread(target=officer_loop, args=(i,)) for i in range(len(plans))]
        threads.append(threading.Thread(target=sample_lock_waits))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        stored = {
            (s.assessment_id, s.criterion_id): s.self_points
            for s in Score.objects.filter(assessment_id__in=[p[2].pk for p in plans])
        }
        lost = sum(1 for key, points in acknowledged.items() if stored.get(key) != points)
        # The ranks once the last job ran: every assessment ranked.
        time.sleep(3)
        unranked = AssessmentResult.objects.filter(framework=framework, rank__isnull=True).count()
        latencies.sort()
        return {
            "officers": len(plans),
            "duration_seconds": round(wall, 1),
            "requests": len(latencies),
            "errors": len(errors),
            "lost": lost,
            "p50_seconds": round(latencies[len(latencies) // 2], 3) if latencies else None,
            "p95_seconds": round(latencies[int(len(latencies) * 0.95)], 3) if latencies else None,
            "saves_per_second": round((len(latencies) - len(errors)) / wall, 1),
            "ranking_lag_seconds": round(statistics.median(lags), 3) if lags else None,
            "ranking_lag_max_seconds": round(max(lags), 3) if lags else None,
            "unranked_after": unranked,
            "lock_waiting_backends_max": max(waiting, default=0),
            "lock_waiting_backends_mean": round(statistics.mean(waiting), 2) if waiting else 0,
            "lock_waits_top": sorted(waits.items(), key=lambda item: -item[1])[:3],
            "first_error": errors[0] if errors else None,
        }
    finally:
        for process in (web, worker):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (web, worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs.values():
            log.close()


def prepare_rush(framework, count: int):
    """`count` officers, each of a unit whose assessment is back in draft in the open framework."""
    from scoring.models import Assessment, AssessmentStatus, CriterionSource, Framework, FrameworkStatus
    from tests.factories import UserFactory
    from units.models import Role
    from units.services import membership_grant

    Framework.objects.filter(pk=framework.pk).update(status=FrameworkStatus.OPEN)
    framework.refresh_from_db()
    assessments = list(
        Assessment.objects.filter(framework=framework).select_related("unit").order_by("id")[:count]
    )
    Assessment.objects.filter(pk__in=[a.pk for a in assessments]).update(status=AssessmentStatus.DRAFT)
    leaves = list(
        framework.criteria.filter(is_leaf=True, source=CriterionSource.SELF, kind="score", rule="").order_by(
            "order"
        )
    )
    officers = []
    for assessment in assessments:
        user = UserFactory(username=f"officer-{assessment.unit.code}")
        membership_grant(user=user, unit=assessment.unit, role=Role.OFFICER)
        officers.append((user, assessment, leaves))
    return officers


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"about {QUICK_UNITS} units (under 3 minutes)")
    parser.add_argument(
        "--units", type=int, help=f"number of units (default {FULL_UNITS}, --quick {QUICK_UNITS})"
    )
    parser.add_argument(
        "--repeat", type=int, help="timed runs per measurement, median shown (default 5, --quick 3)"
    )
    parser.add_argument(
        "--rush-seconds", type=float, help="length of the deadline rush (default 60, --quick 15)"
    )
    parser.add_argument("--no-rush", action="store_true", help="leave the deadline rush out")
    parser.add_argument("--no-pages", action="store_true", help="leave the page measurements out")
    parser.add_argument(
        "--rush-only",
        action="store_true",
        help="build and rank, then only the deadline rush (no recompute, forecast, page, report, upload lines)",
    )
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    units = args.units or (QUICK_UNITS if args.quick else FULL_UNITS)
    repeat = args.repeat or (3 if args.quick else 5)
    rush_seconds = args.rush_seconds or (15.0 if args.quick else 60.0)

    label, folder = _database_setup()
    import django

    django.setup()
    from django.db import connection

    from scoring.models import Assessment, AssessmentResult, Score
    from scoring.results.engine import _results_own, results_rank_job, results_recompute

    workdir = Path(tempfile.mkdtemp(prefix="parindex-run-"))
    try:
        with throwaway_database() as name:
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SHOW server_version")
                    version = f"PostgreSQL {cursor.fetchone()[0]}"
            else:
                import sqlite3

                version = f"SQLite {sqlite3.sqlite_version}"
            _no_autovacuum()
            start = time.perf_counter()
            provinces, (previous, framework) = build(units, args.seed)
            build_seconds = time.perf_counter() - start
            score_rows = Score.objects.filter(assessment__framework__in=[previous, framework]).count()
            emit(
                "setup",
                database=label,
                version=version,
                db_name=name,
                units=units,
                provinces=PROVINCES,
                score_rows=score_rows,
                build_seconds=round(build_seconds, 1),
                repeat=repeat,
                shared_machine=True,
            )

            # First recompute after the bulk load: statistics never gathered.
            start = time.perf_counter()
            results_recompute(previous)
            first_previous = time.perf_counter() - start
            start = time.perf_counter()
            results_recompute(framework)
            first = time.perf_counter() - start
            assert AssessmentResult.objects.filter(framework=framework, rank__isnull=False).count() == units
            if args.rush_only:
                args.no_pages = True
                warm = floor = 0.0
            else:
                # Warm recompute and floor in turns (after one warm-up of each): on a shared machine
                # the load drifts alike under both.
                warm, floor = median_times_interleaved(
                    lambda: results_recompute(framework), lambda: floor_pass(framework, previous), repeat
                )
            emit(
                "first_recompute",
                units=units,
                seconds=round(first, 4),
                first_of_the_database_seconds=round(first_previous, 4),
                warm_seconds=round(warm, 4),
                ratio=round(max(first, first_previous) / warm, 2) if warm else None,
            )
            if not args.rush_only:
                emit(
                    "recompute",
                    units=units,
                    seconds=round(warm, 4),
                    floor_seconds=round(floor, 4),
                    ratio=round(warm / floor, 2),
                )

                emit("forecast", units=units, **measure_forecast(framework, repeat, args.seed))

                one = Assessment.objects.filter(framework=framework).order_by("id")[units // 2].pk
                emit(
                    "save_recompute",
                    units=units,
                    seconds=round(median_time(lambda: _results_own(framework, [one]), repeat), 4),
                    rank_job_seconds=round(median_time(lambda: results_rank_job(framework.pk), repeat), 4),
                )

                if not args.no_pages:
                    measure_pages(framework, repeat)

                measure_report(framework, previous, repeat)
                measure_import_workbook(framework, repeat, workdir)

            if not args.no_rush:
                if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
                    emit("deadline_rush", skipped="needs DATABASE_URL (PostgreSQL) and REDIS_URL")
                else:
                    officers = prepare_rush(framework, 50)
                    connection.close()  # the servers open their own connections
                    emit("deadline_rush", units=units, **rush(framework, officers, rush_seconds, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
