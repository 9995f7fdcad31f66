"""How long does the comparative report workbook take, for the demo and for 3,321 communes?

    .venv/bin/python benchmarks/bench_report.py                    # demo and 3,321 communes, SQLite
    .venv/bin/python benchmarks/bench_report.py --units 300 3321 --repeat 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/bench_report.py

Each size is built in a throw-away database (the helpers of bench_results.py): the demo data
(`load_demo`), or N communes assessed with the commune framework in two consecutive years, scores
bulk-inserted, results recomputed for both years. Then, median of --repeat runs, the report of the
later year compared with the earlier one, as the job builds it:
  - reads: reports.report_workbook.report_data (every figure of the six sheets);
  - workbook: build_workbook (reads + sheets in memory) and saving it as .xlsx;
and floors measured in the same run on the same rows: scoring.results.selectors.ranking (what the dashboard reads) and
reading all the framework's score rows into Python. Ratios are against those floors.
"""

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_results import _database_setup, build, throwaway_database, timed  # noqa: E402  (sets DJANGO_SETTINGS_MODULE, sys.path)


def prepare_demo():
    from django.core.management import call_command

    from scoring.models import Framework

    call_command("load_demo", stdout=io.StringIO())
    return Framework.objects.get(code="DEMO-DT-XA-2024"), Framework.objects.get(code="DEMO-XA-2025")


def prepare_units(units: int, seed: int):
    from django.db import connection

    from scoring.results.engine import results_recompute

    previous, framework = build(units, seed)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    results_recompute(previous)
    results_recompute(framework)
    return previous, framework


def measure(label: str, prepare, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports.report_workbook import build_workbook, report_data
    from scoring.models import Framework, Score
    from scoring.results.selectors import ranking

    start = time.perf_counter()
    previous, framework = prepare()
    framework = Framework.objects.select_related("authority").get(pk=framework.pk)
    units = framework.results.count()
    score_rows = Score.objects.filter(assessment__framework=framework).count()
    prepared = time.perf_counter() - start

    def read_scores():
        list(
            Score.objects.filter(assessment__framework=framework).values_list(
                "assessment_id", "criterion_id", "self_points", "appraised_points", "not_applicable"
            )
        )

    def whole():
        stream = io.BytesIO()
        build_workbook(framework, previous).save(stream)
        whole.size = stream.tell()

    build_workbook(framework, previous)  # warm up
    with CaptureQueriesContext(connection) as queries:
        build_workbook(framework, previous)
    return {
        "label": label,
        "units": units,
        "score_rows": score_rows,
        "prepared": prepared,
        "ranking": timed(lambda: ranking(framework), repeat),
        "scores": timed(read_scores, repeat),
        "reads": timed(lambda: report_data(framework, previous), repeat),
        "build": timed(lambda: build_workbook(framework, previous), repeat),
        "whole": timed(whole, repeat),
        "queries": queries.captured_queries,
        "size": whole.size,
    }


def report(result: dict) -> None:
    med = {key: statistics.median(result[key]) for key in ("ranking", "scores", "reads", "build", "whole")}
    print(
        f"\n{result['label']}: {result['units']:,} units · {result['score_rows']:,} score rows "
        f"(prepared in {result['prepared']:.1f} s)"
    )
    print(f"  floor  ranking (the dashboard's read)        {med['ranking'] * 1000:9.1f} ms")
    print(f"  floor  read all score rows into Python       {med['scores'] * 1000:9.1f} ms")
    for key, label in (
        ("reads", "report reads (report_data)        "),
        ("build", "workbook in memory (build_workbook)"),
        ("whole", "workbook built and saved as .xlsx  "),
    ):
        print(
            f"  {label}  {med[key] * 1000:9.1f} ms  (min {min(result[key]) * 1000:.1f})  "
            f"{med[key] / med['ranking']:6.1f}× ranking  {med[key] / med['scores']:5.2f}× score rows"
        )
    sql = sum(float(q["time"]) for q in result["queries"]) * 1000
    print(
        f"  {len(result['queries'])} queries per build ({sql:.0f} ms in the database); "
        f"file {result['size'] / 1024:.0f} KiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--units", type=int, nargs="*", default=[3321], help="numbers of communes (default 3321)"
    )
    parser.add_argument("--no-demo", action="store_true", help="leave the demo data out")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per measurement; the median is shown"
    )
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    label, folder = _database_setup()
    import django

    django.setup()
    import shutil

    print(f"ParIndex report benchmark on {label}; median of {args.repeat} runs")
    sizes = ([] if args.no_demo else [("demo (DEMO-XA-2025 vs DEMO-DT-XA-2024)", prepare_demo)]) + [
        (f"{n:,} communes", lambda n=n: prepare_units(n, args.seed)) for n in args.units
    ]
    for size_label, prepare in sizes:
        with throwaway_database() as name:
            print(f"database {name}")
            report(measure(size_label, prepare, args.repeat))
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
