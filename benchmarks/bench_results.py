"""How long does a results recompute take at the scale of a province, or of the whole country?

    .venv/bin/python benchmarks/bench_results.py                   # 300 and 3,321 communes, SQLite
    .venv/bin/python benchmarks/bench_results.py --units 3321      # one size
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parindex .venv/bin/python benchmarks/bench_results.py

For each size it builds, in a throw-away database (a temporary SQLite file, or a fresh PostgreSQL
database `parindex_bench_<pid>` on the DATABASE_URL server), N communes assessed with the commune
framework of scoring/demo_data in two consecutive years (so year-on-year change is computed too),
scores inserted in bulk, then times `results_recompute` for the whole framework and for one
assessment. Times are also given as ratios to floors measured in the same run on the same rows: a
plain COUNT(*) of the framework's score rows, and reading all of them into Python.
"""

import argparse
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parindex.settings_test")

HUNDREDTH = Decimal("0.01")


def score_every_leaf(framework, rng, batch_size: int = 2000) -> None:
    """Score every leaf of every assessment of the framework as units and appraisers would (most units
    without bonus or penalty, 3 % of self leaves not applicable, appraised units cut a little), in bulk.
    Shared by this script and benchmarks/run.py."""
    from scoring.models import Assessment, AssessmentStatus, CriterionSource, Score

    leaves = list(framework.criteria.filter(is_leaf=True).order_by("order"))
    scores = []
    for assessment in Assessment.objects.filter(framework=framework).only("id", "status"):
        appraised = assessment.status == AssessmentStatus.APPRAISED
        for leaf in leaves:
            if leaf.kind != "score" and rng.random() < 0.7:
                continue  # most units have no bonus or penalty
            if leaf.source == CriterionSource.SELF and rng.random() < 0.03:
                scores.append(Score(assessment_id=assessment.id, criterion=leaf, not_applicable=True))
                continue
            points = (leaf.max_points * Decimal(rng.uniform(0.4, 1.0))).quantize(HUNDREDTH)
            if leaf.source == CriterionSource.SURVEY:
                scores.append(Score(assessment_id=assessment.id, criterion=leaf, appraised_points=points))
            else:
                cut = Decimal(rng.choice([0, 0, 0, 25, 50])) / 100
                scores.append(
                    Score(
                        assessment_id=assessment.id,
                        criterion=leaf,
                        self_points=points,
                        appraised_points=max(points - cut, Decimal(0)) if appraised else None,
                    )
                )
    Score.objects.bulk_create(scores, batch_size=batch_size)


def _database_setup() -> tuple[str, str | None]:
    """Point the test-database name at a throw-away database; return a label and a folder to remove."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        # PARINDEX_BENCH_DB_PREFIX: a shared server's naming rule (default parindex_bench).
        prefix = os.environ.get("PARINDEX_BENCH_DB_PREFIX", "parindex_bench")
        os.environ["PARINDEX_TEST_DB_NAME"] = f"{prefix}_{os.getpid()}"
        return "PostgreSQL", None
    os.environ.pop("DATABASE_URL", None)
    folder = tempfile.mkdtemp(prefix="parindex-bench-")
    os.environ["PARINDEX_TEST_DB_NAME"] = str(Path(folder) / "bench.sqlite3")
    return "SQLite (file)", folder


@contextlib.contextmanager
def throwaway_database():
    """Create a fresh (test) database for one measurement and drop it afterwards; yields its name."""
    from django.db import connection

    original_name = connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)


def timed(func, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def build(units: int, seed: int):
    """N communes, a framework per year (2024, 2025) and every leaf scored for every unit."""
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    from scoring.frameworks.services import framework_create, parse_bands
    from scoring.models import Assessment, AssessmentStatus
    from tests.factories import BANDS, rows_from_csv
    from units.models import Unit, UnitKind
    from units.services import unit_save

    rng = random.Random(seed)
    province, _ = unit_save(code=f"P{units}", name=f"Tỉnh {units} xã", kind=UnitKind.PROVINCE)
    Unit.objects.bulk_create(
        Unit(code=f"X{units}-{i:05d}", name=f"Xã số {i}", kind=UnitKind.COMMUNE, parent=province)
        for i in range(units)
    )
    Unit.objects.filter(parent=province).update(
        path=Concat(Value(province.path), Cast("id", CharField()), Value("/"))
    )
    communes = list(Unit.objects.filter(parent=province).order_by("code"))
    rows = rows_from_csv("framework-commune.csv")
    frameworks = []
    for year in (2024, 2025):
        framework = framework_create(
            code=f"BENCH{units}-{year}",
            authority=province,
            unit_kind=UnitKind.COMMUNE,
            year=year,
            name=f"Bộ chỉ số cấp xã {year}",
            rows=rows,
            bands=parse_bands(BANDS),
            index_decimals=2,
        )
        statuses = [AssessmentStatus.SUBMITTED, AssessmentStatus.APPRAISED]
        Assessment.objects.bulk_create(
            Assessment(unit=unit, framework=framework, status=rng.choice(statuses)) for unit in communes
        )
        score_every_leaf(framework, rng)
        frameworks.append(framework)
    return frameworks


def measure(units: int, repeat: int, seed: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from scoring.models import Assessment, AssessmentResult, Score
    from scoring.results.engine import results_recompute

    start = time.perf_counter()
    previous, framework = build(units, seed)
    if connection.vendor == "postgresql":
        # Fresh bulk-loaded tables have no planner statistics yet; autovacuum would gather them soon.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    results_recompute(previous)  # the earlier year first, as in real life; also warms the caches
    score_rows = Score.objects.filter(assessment__framework=framework).count()
    build_seconds = time.perf_counter() - start

    with CaptureQueriesContext(connection) as whole_queries:
        results_recompute(framework)
    assert AssessmentResult.objects.filter(framework=framework).count() == units
    assert AssessmentResult.objects.filter(framework=framework, rank=1).exists()
    assert AssessmentResult.objects.filter(framework=framework).exclude(rank_change=None).count() == units
    one = Assessment.objects.filter(framework=framework).order_by("id")[units // 2].id
    with CaptureQueriesContext(connection) as one_queries:
        results_recompute(framework, assessment_ids=[one])

    def count():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM scoring_score s JOIN scoring_assessment a ON a.id = s.assessment_id "
                "WHERE a.framework_id = %s",
                [framework.id],
            )
            cursor.fetchone()

    def read_all():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.assessment_id, s.criterion_id, s.self_points, s.appraised_points, s.not_applicable "
                "FROM scoring_score s JOIN scoring_assessment a ON a.id = s.assessment_id WHERE a.framework_id = %s",
                [framework.id],
            )
            cursor.fetchall()

    return {
        "units": units,
        "score_rows": score_rows,
        "build": build_seconds,
        "count": timed(count, repeat),
        "read": timed(read_all, repeat),
        "whole": timed(lambda: results_recompute(framework), repeat),
        "one": timed(lambda: results_recompute(framework, assessment_ids=[one]), repeat),
        "whole_queries": whole_queries.captured_queries,
        "one_queries": one_queries.captured_queries,
    }


def sql_ms(queries) -> float:
    return sum(float(q["time"]) for q in queries) * 1000


def report(result: dict) -> None:
    med = {key: statistics.median(result[key]) for key in ("count", "read", "whole", "one")}
    print(
        f"\n{result['units']:,} units · {result['score_rows']:,} score rows (built in {result['build']:.1f} s)"
    )
    print(f"  floor  COUNT(*) of the score rows       {med['count'] * 1000:9.1f} ms")
    print(f"  floor  read all score rows into Python  {med['read'] * 1000:9.1f} ms")
    for key, label, queries in (
        ("whole", "recompute whole framework", result["whole_queries"]),
        ("one", "recompute one assessment ", result["one_queries"]),
    ):
        print(
            f"  {label}  {med[key] * 1000:9.1f} ms  (min {min(result[key]) * 1000:.1f})  "
            f"{med[key] / med['count']:7.1f}× COUNT  {med[key] / med['read']:5.2f}× read  "
            f"{len(queries)} statements, {sql_ms(queries):.0f} ms of them in the database"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--units", type=int, nargs="+", default=[300, 3321], help="numbers of units (default 300 3321)"
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs per measurement; the median is shown"
    )
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    label, folder = _database_setup()
    import django

    django.setup()
    from django.db import connection

    print(f"ParIndex results benchmark on {label}; median of {args.repeat} runs")
    for units in args.units:
        with throwaway_database() as name:
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT version()")
                    version = cursor.fetchone()[0].split(" on ")[0]
            else:
                import sqlite3

                version = f"SQLite {sqlite3.sqlite_version}"
            print(f"database {name} ({version})")
            report(measure(units, args.repeat, args.seed))
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
