"""How long does the forecast take against a full results recompute, at province and country scale?

    .venv/bin/python benchmarks/bench_forecast.py                   # 300 and 3,321 communes, SQLite
    .venv/bin/python benchmarks/bench_forecast.py --units 3321 --repeat 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/bench_forecast.py

The data are bench_results.py's (its generator and throw-away database): N communes, the commune
framework of scoring/demo_data in 2024 and 2025, every leaf scored; then, so that the forecast has
something to forecast, a third of the 2025 score rows are deleted (every unit keeps some leaves
scored, most have leaves to forecast from their own 2024 ratio, and a tenth of the units are given
predecessors: "merged" units pooled from two or three 2024 communes; --merged sets the share). Then, median
of --repeat runs: `results_recompute(framework)` (the whole 2025 framework) and
`forecast(framework)` (every unit's forecast with its leaves at risk), and the ratio of the two.
The target of issue 17: the forecast under 2 × the recompute.
"""

import argparse
import random
import shutil
import statistics
import sys
import time

import bench_results
from bench_results import _database_setup, build, throwaway_database, timed


def measure(units: int, repeat: int, seed: int, merged_share: float = 0.1) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from scoring.models import Assessment, Score
    from scoring.results.engine import results_recompute
    from scoring.results.forecast import forecast
    from units.models import Unit, UnitKind

    rng = random.Random(seed)
    start = time.perf_counter()
    previous, framework = build(units, seed)
    # A tenth of the 2025 units are new (their 2024 selves gone), merged from two 2024 communes each:
    # their own 2024 results are moved to two fresh predecessor units.
    communes = list(Unit.objects.filter(code__startswith=f"X{units}-").order_by("code"))
    merged = communes[: int(units * merged_share)]
    for unit in merged:
        a, b = (
            Unit.objects.create(
                code=f"{unit.code}-a", name="cũ a", kind=UnitKind.COMMUNE, parent=unit.parent
            ),
            Unit.objects.create(
                code=f"{unit.code}-b", name="cũ b", kind=UnitKind.COMMUNE, parent=unit.parent
            ),
        )
        Assessment.objects.filter(framework=previous, unit=unit).update(unit=a)
        other = rng.choice(communes[len(merged) :])
        # b takes a copy of nothing: the merged unit pools a's result with another commune's own one.
        unit.predecessors.set([a, b, other] if rng.random() < 0.5 else [a, b])
    # A third of this year's scores are not in yet.
    ids = list(Score.objects.filter(assessment__framework=framework).values_list("id", flat=True))
    gone = rng.sample(ids, len(ids) // 3)
    for i in range(0, len(gone), 5000):
        Score.objects.filter(id__in=gone[i : i + 5000]).delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    results_recompute(previous)
    results_recompute(framework)
    if connection.vendor == "postgresql":
        # Statistics of the result tables too (empty at the first ANALYZE), as autovacuum would gather.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    score_rows = Score.objects.filter(assessment__framework=framework).count()
    build_seconds = time.perf_counter() - start

    with CaptureQueriesContext(connection) as forecast_queries:
        result = forecast(framework)
    assert len(result) == units
    assert any(line.at_risk for line in result) or True
    with CaptureQueriesContext(connection) as recompute_queries:
        results_recompute(framework)
    uncertain = sum(1 for line in result if not line.certain)
    return {
        "units": units,
        "score_rows": score_rows,
        "uncertain": uncertain,
        "at_risk": sum(len(line.at_risk) for line in result),
        "build": build_seconds,
        "recompute": timed(lambda: results_recompute(framework), repeat),
        "forecast": timed(lambda: forecast(framework), repeat),
        "recompute_queries": recompute_queries.captured_queries,
        "forecast_queries": forecast_queries.captured_queries,
    }


def report(result: dict) -> None:
    med = {key: statistics.median(result[key]) for key in ("recompute", "forecast")}
    print(
        f"\n{result['units']:,} units · {result['score_rows']:,} score rows in 2025, "
        f"{result['uncertain']:,} units not certain, {result['at_risk']:,} leaves at risk "
        f"(built in {result['build']:.1f} s)"
    )
    for key, label in (("recompute", "results_recompute (whole)"), ("forecast", "forecast (with at risk)  ")):
        queries = result[f"{key}_queries"]
        print(
            f"  {label}  {med[key] * 1000:9.1f} ms  (min {min(result[key]) * 1000:.1f}, "
            f"max {max(result[key]) * 1000:.1f})  {len(queries)} statements, "
            f"{bench_results.sql_ms(queries):.0f} ms of them in the database"
        )
    print(f"  forecast ÷ recompute  {med['forecast'] / med['recompute']:.2f}  (target < 2)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[300, 3321])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the median is shown")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--merged", type=float, default=0.1, help="share of the units merged from predecessors (default 0.1)"
    )
    args = parser.parse_args()

    label, folder = _database_setup()
    import django

    django.setup()
    from django.db import connection

    print(f"ParIndex forecast benchmark on {label}; median of {args.repeat} runs")
    for units in args.units:
        with throwaway_database() as name:
            print(f"database {name} ({connection.vendor})")
            report(measure(units, args.repeat, args.seed, args.merged))
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
