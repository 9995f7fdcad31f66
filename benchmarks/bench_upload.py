"""How long does checking and previewing an uploaded self-assessment workbook take?

    .venv/bin/python benchmarks/bench_upload.py                    # SQLite
    .venv/bin/python benchmarks/bench_upload.py --repeat 9
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/bench_upload.py

In a throw-away database (the helpers of bench_results.py) one commune is assessed with the commune
framework of scoring/demo_data (50 leaves, 43 of them self-assessed). Its generated template is
filled in with new points for every self-assessed leaf, the way an officer would, and uploaded:
`scoring.exchange.uploads.import_start` keeps the file, reads it (size, zip and formula checks, identity and
version fingerprint, every cell validated) and stores the preview of its changes, which is what the
web upload does before the officer sees the preview page. Median of --repeat runs, with the number
of SQL statements, and ratios to floors measured in the same run on the same file: openpyxl
opening it read-only and reading every cell, and generating the template itself.
"""

import argparse
import io
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_results import _database_setup, build, throwaway_database, timed  # noqa: E402  (sets DJANGO_SETTINGS_MODULE, sys.path)


def filled_workbook(assessment) -> tuple[bytes, int]:
    """The template of the assessment with every self-assessed leaf given new points (comma decimals as text)."""
    from scoring.exchange.workbooks import assessment_workbook
    from scoring.models import Criterion

    leaves = {
        c.code: c.max_points
        for c in Criterion.objects.filter(
            framework=assessment.framework, is_leaf=True, source="self", kind="score"
        )
    }
    workbook = assessment_workbook(assessment=assessment)
    sheet = workbook.worksheets[0]
    header_row = points_col = None
    for row in sheet.iter_rows(min_row=1, max_row=25):
        for cell in row:
            if cell.value == "Điểm tự đánh giá":
                header_row, points_col = cell.row, cell.column
    if header_row is None:
        raise SystemExit("the template has no self-assessment column")
    filled = 0
    for row in range(header_row + 1, sheet.max_row + 1):
        code = str(sheet.cell(row, 1).value or "").strip()
        if code in leaves:
            value = (leaves[code] * Decimal("0.75")).quantize(Decimal("0.01"))
            sheet.cell(row, points_col).value = str(value).replace(".", ",") if filled % 2 else float(value)
            filled += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), filled


def measure(repeat: int, seed: int) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from openpyxl import load_workbook

    from scoring.exchange.workbooks import assessment_workbook
    from scoring.models import Assessment, ImportKind, ImportRecord, ImportStatus

    frameworks = build(1, seed)
    assessment = Assessment.objects.select_related("unit", "framework").get(framework=frameworks[1])
    Assessment.objects.filter(pk=assessment.pk).update(status="draft")
    assessment.refresh_from_db()
    content, filled = filled_workbook(assessment)

    def read_floor():
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        for sheet in workbook.worksheets:
            for _row in sheet.iter_rows(values_only=True):
                pass
        workbook.close()

    def template():
        assessment_workbook(assessment=assessment).save(io.BytesIO())

    records = []

    def check_and_preview():
        from scoring.exchange.uploads import import_start

        upload = SimpleUploadedFile("tu-danh-gia.xlsx", content)
        records.append(import_start(kind=ImportKind.SELF, upload=upload, actor=None, assessment=assessment))

    with CaptureQueriesContext(connection) as queries:
        check_and_preview()
    record = records[-1]
    if record.status != ImportStatus.PREVIEW:
        raise SystemExit(f"the filled template was not accepted: {record.status} {record.problems}")
    result = {
        "bytes": len(content),
        "filled": filled,
        "changes": record.preview["changes"],
        "queries": len(queries),
        "read": statistics.median(timed(read_floor, repeat)),
        "template": statistics.median(timed(template, repeat)),
        "check": statistics.median(timed(check_and_preview, repeat)),
    }
    for record in ImportRecord.objects.all():
        record.file.delete(save=False)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=7, help="timed runs per measurement; the median is shown"
    )
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    label, folder = _database_setup()
    import shutil
    import tempfile

    import django
    from django.conf import settings

    django.setup()
    media = tempfile.mkdtemp(prefix="parindex-bench-media-")
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": media}},
    }
    try:
        with throwaway_database() as name:
            started = time.perf_counter()
            result = measure(args.repeat, args.seed)
            print(f"ParIndex upload benchmark on {label} ({name}); median of {args.repeat} runs")
            print(
                f"workbook: {result['bytes']:,} bytes, 50 leaves, {result['filled']} self-assessed leaves filled in "
                f"(half as comma-decimal text); preview: {result['changes']} changes"
            )
            floor = result["read"]
            print(f"  floor: openpyxl read-only, every cell     {floor * 1000:8.1f} ms")
            print(
                f"  template generation (download)            {result['template'] * 1000:8.1f} ms"
                f"  ({result['template'] / floor:4.1f}x read floor)"
            )
            print(
                f"  check + preview (import_start)            {result['check'] * 1000:8.1f} ms"
                f"  ({result['check'] / floor:4.1f}x read floor), {result['queries']} SQL statements"
            )
            print(f"(whole run {time.perf_counter() - started:.1f} s)")
    finally:
        shutil.rmtree(media, ignore_errors=True)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
