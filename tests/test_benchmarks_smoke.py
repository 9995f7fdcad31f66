"""benchmarks/run.py keeps working: a tiny --quick run on SQLite prints one JSON object per line,
with the figures each measurement promises, and exits 0."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "setup": {"units", "score_rows", "build_seconds", "database"},
    "first_recompute": {"seconds", "warm_seconds", "ratio"},
    "recompute": {"seconds", "floor_seconds", "ratio"},
    "forecast": {"units", "seconds", "recompute_seconds", "ratio"},
    "save_recompute": {"seconds", "rank_job_seconds"},
    # The pages as the one who sees every unit of the framework (units_visible: all of them).
    "ranking_page": {"seconds", "queries", "html_bytes", "status", "units_visible"},
    "areas_page": {"seconds", "queries", "html_bytes", "status", "units_visible"},
    "progress_page": {"seconds", "queries", "html_bytes", "status", "units_visible"},
    "ranking_page_search": {"seconds", "queries", "html_bytes", "status"},
    "unit_profile_page": {"seconds", "queries", "html_bytes", "status"},
    "report": {"seconds", "floor_seconds", "ratio", "cells"},
    "import_workbook": {"seconds", "floor_seconds", "ratio", "changes", "queries"},
    "deadline_rush": {"skipped"},  # SQLite: the rush needs PostgreSQL and Redis
}


def test_quick_benchmark_prints_json_lines_and_exits_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PARINDEX_TEST_DB_NAME"}}
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--units", "30", "--repeat", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]  # every line is JSON
    by_name = {line["name"]: line for line in lines}
    assert list(by_name) == list(EXPECTED), done.stdout
    for name, keys in EXPECTED.items():
        assert keys <= set(by_name[name]), (name, by_name[name])
    assert by_name["setup"]["units"] == 30 and by_name["setup"]["database"].startswith("SQLite")
    assert by_name["recompute"]["floor_seconds"] > 0 and by_name["recompute"]["ratio"] > 0
    fc = by_name["forecast"]
    assert fc["units"] == 30 and fc["seconds"] > 0 and fc["recompute_seconds"] > 0
    assert fc["ratio"] == pytest.approx(
        fc["seconds"] / fc["recompute_seconds"], abs=0.01 + 0.01 * fc["ratio"]
    )
    assert fc["uncertain_units"] > 0  # a third of the scores left out: there was something to forecast
    for measured in ("report", "import_workbook"):
        assert by_name[measured]["floor_seconds"] > 0 and by_name[measured]["ratio"] > 0
    assert by_name["import_workbook"]["changes"] > 0 and by_name["report"]["units"] == 30
    for page in ("ranking_page", "areas_page", "progress_page"):
        assert by_name[page]["status"] == 200 and by_name[page]["queries"] > 0
        assert by_name[page]["units_visible"] == 30
