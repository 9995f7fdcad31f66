import os

# python-docx (the Word annexes, reports/annex) brings lxml, and openpyxl switches to lxml when it finds
# it: its `fromstring` then drops XML entities silently instead of refusing the file through defusedxml,
# as parindex/spreadsheets.py relies on (tests/test_spreadsheets.py). Keep openpyxl on the standard
# library with defusedxml; python-docx uses lxml directly and is not affected.
os.environ.setdefault("OPENPYXL_LXML", "False")

from parindex.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
