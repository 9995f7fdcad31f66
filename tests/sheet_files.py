"""Building spreadsheet files inside tests (no binary fixtures): xlsx through openpyxl, csv as text."""

import csv
import io
from pathlib import Path

import openpyxl
import pytest


def write_xlsx(path: Path, rows, *, title: str = "Sheet1") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def write_csv(path: Path, rows, *, delimiter: str = ",", bom: bool = False) -> Path:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8-sig" if bom else "utf-8")
    return path


def call(command: str, *args):
    """Run a management command; return (stdout, stderr). Raises CommandError like the real thing."""
    from django.core.management import call_command

    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(command, *[str(a) for a in args], stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def call_failing(command: str, *args):
    """Run a command that must fail; return (stderr text, CommandError)."""
    import pytest
    from django.core.management import CommandError, call_command

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(command, *[str(a) for a in args], stdout=stdout, stderr=stderr)
    return stderr.getvalue(), info.value


@pytest.fixture(autouse=True)
def vietnamese():
    """Autouse in the importer tests (imported there): messages are asserted in Vietnamese, the default
    language, whatever an earlier test left active (the test client keeps the language a request chose)."""
    from django.utils.translation import override

    with override("vi"):
        yield
