"""The annexes (Phụ lục) and the draft decision in Word and PDF (issue 16), on the demo: the published
2024 commune framework of a former district and the 2025 province-run one that ranks communes and
wards apart with one unit assessed but not ranked. The files are read back (Word with python-docx, PDF
with Poppler's pdftotext) and compared with the ranking selector row by row.

The PDF is the Word file converted by LibreOffice Writer: those tests are marked `libreoffice` (CI installs
libreoffice-writer-nogui and poppler-utils) and fail, never skip, without soffice or pdftotext."""

import io
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from pathlib import Path

import docx
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from lxml import etree

from parindex.errors import ServiceError
from parindex.numbers import format_decimal
from reports.annex.content import annex_document
from reports.annex.pdf import docx_to_pdf
from reports.jobs import annex_build_file, report_request, report_run
from reports.models import JobStatus, ReportFormat, ReportJob, ReportKind
from scoring.models import Criterion, CriterionKind, CriterionSource, Framework
from scoring.results.selectors import ranking

from .poppler import flat, page_sizes, pdf_fonts, pdf_pages, row_cells

libreoffice = pytest.mark.libreoffice
PUBLISHED = "DEMO-DT-XA-2024"
OPEN = "DEMO-XA-2025"
D = Decimal


@pytest.fixture(scope="module")
def demo_once(django_db_setup, django_db_blocker):
    """The demo, loaded once for this module inside a transaction rolled back at its end; each test
    runs in a savepoint of it (the `db` fixture)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("load_demo", stdout=StringIO())
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(demo_once, db):
    return {code: Framework.objects.select_related("authority").get(code=code) for code in (PUBLISHED, OPEN)}


def build_docx(framework, compare=None) -> docx.document.Document:
    out = io.BytesIO()
    annex_build_file(framework, compare, "docx", out)
    out.seek(0)
    return docx.Document(out)


def build_pdf(framework, compare=None) -> bytes:
    out = io.BytesIO()
    annex_build_file(framework, compare, "pdf", out)
    return out.getvalue()


def cells(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def ranking_tables(document) -> list[list[list[str]]]:
    """The Phụ lục I ranking tables: their header has STT, parts, Tổng điểm, Chỉ số, Xếp hạng, Xếp loại."""
    return [
        cells(t)
        for t in document.tables
        if t.rows[0].cells[0].text == "STT" and t.rows[0].cells[-1].text == "Xếp loại"
    ]


def vi(value: Decimal, places: int = 2) -> str:
    """As the annexes write a number: half up (6,765 → 6,77), decimal comma."""
    return f"{value.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP):f}".replace(".", ",")


def text_of(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


# --- Word: the tables against the ranking -----------------------------------------------------------------


def test_one_ranking_table_per_group_matching_the_ranking_row_by_row(demo):
    framework = demo[OPEN]
    board = ranking(framework)
    tables = ranking_tables(build_docx(framework))

    groups = board.groups()
    assert [name for name, _ in groups] == ["Xã", "Phường"]
    assert len(tables) == len(groups)  # one table per ranking group
    for table, (_name, lines) in zip(tables, groups, strict=True):
        ranked = [line for line in lines if line.ranked]
        body, average = table[1:-1], table[-1]
        # STT | Đơn vị | parts… | Tổng điểm | Chỉ số | Xếp hạng | Xếp loại, best first, as the selector says.
        assert [(row[0], row[1], row[-4], row[-3], row[-2], row[-1]) for row in body] == [
            (str(n), line.unit_name, vi(line.points), vi(line.index), str(line.rank), line.grade)
            for n, line in enumerate(ranked, start=1)
        ]
        # The parts of each unit's points, in the columns the header names.
        header = table[0]
        for row, line in zip(body, ranked, strict=True):
            for label, position in (("Điều tra xã hội học", 1), ("Điểm thưởng", 3), ("Điểm trừ", 4)):
                column = next(i for i, title in enumerate(header) if title.startswith(label))
                assert row[column] == vi(line.parts[position])
        # "Giá trị trung bình": the mean of the ranked units' total and index.
        assert average[1] == "Giá trị trung bình"
        assert average[-4] == vi(sum(line.points for line in ranked) / len(ranked))
        assert average[-3] == vi(sum(line.index for line in ranked) / len(ranked))
        assert average[-2] == average[-1] == ""


def test_header_names_every_part_with_its_maximum(demo):
    framework = demo[OPEN]
    header = ranking_tables(build_docx(framework))[0][0]

    def total(**conditions):
        leaves = Criterion.objects.filter(framework=framework, is_leaf=True, **conditions)
        return leaves.aggregate(s=Sum("max_points"))["s"]

    survey = total(kind=CriterionKind.SCORE, source=CriterionSource.SURVEY)
    appraised = total(kind=CriterionKind.SCORE, source=CriterionSource.SELF)
    score = total(kind=CriterionKind.SCORE)
    assert header[:2] == ["STT", "Đơn vị"]
    assert f"Tự đánh giá/thẩm định ({format_decimal(appraised, language='vi')})" in header
    assert f"Điều tra xã hội học ({format_decimal(survey, language='vi')})" in header
    assert f"Tổng điểm ({vi(score, 0)})" == "Tổng điểm (100)" and "Tổng điểm (100)" in header
    assert header[-3:] == ["Chỉ số (%)", "Xếp hạng", "Xếp loại"]
    # No "provisional" column in an official table, draft or not.
    assert not any("tạm" in title.lower() or "provisional" in title.lower() for title in header)


def test_a_unit_not_ranked_is_listed_after_without_a_place_with_the_reason(demo):
    framework = demo[OPEN]
    document = build_docx(framework)
    x20 = next(line for line in ranking(framework) if line.unit_code == "X20")
    assert not x20.ranked and x20.rank is None

    assert all(x20.unit_name not in [row[1] for row in table] for table in ranking_tables(document))
    apart = [cells(t) for t in document.tables if cells(t)[0][-1] == "Lý do không xếp hạng"]
    assert len(apart) == 1
    header, *rows = apart[0]
    assert "Xếp hạng" not in header
    assert rows == [["1", x20.unit_name, vi(x20.points), vi(x20.index), x20.not_ranked_reason]]


def test_grade_counts_with_percentages(demo):
    framework = demo[PUBLISHED]
    document = build_docx(framework)
    grades = next(cells(t) for t in document.tables if cells(t)[0][:2] == ["STT", "Xếp loại"])
    lines = [line for line in ranking(framework) if line.ranked]
    counted = {row[1]: (row[3], row[4]) for row in grades[1:-1]}
    for grade in {line.grade for line in lines}:
        n = sum(1 for line in lines if line.grade == grade)
        assert counted[grade] == (str(n), vi(D(n * 100) / len(lines)))
    assert grades[-1][1:] == ["Tổng cộng", "", str(len(lines)), "100,00"]


def test_published_annex_carries_the_decision_and_no_draft_mark(demo):
    document = build_docx(demo[PUBLISHED])
    text = text_of(document)
    assert (
        "(Kèm theo Quyết định số 4769/QĐ-UBND ngày 25/12/2024 của Ủy ban nhân dân huyện Đông Thành)" in text
    )
    assert "PHỤ LỤC I" in text and "PHỤ LỤC IV" in text
    assert (
        "KẾT QUẢ XẾP HẠNG CHỈ SỐ CẢI CÁCH HÀNH CHÍNH NĂM 2024 CỦA CÁC XÃ, THỊ TRẤN THUỘC HUYỆN ĐÔNG THÀNH"
        in text
    )
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Độc lập - Tự do - Hạnh phúc" in text
    assert "DỰ THẢO" not in text
    assert "Số: 4769/QĐ-UBND" in text


def test_draft_decision_has_the_legal_basis_articles_and_blanks_to_fill(demo):
    framework = demo[OPEN]
    document = build_docx(framework)
    paragraphs = [p.text for p in document.paragraphs]
    assert "DỰ THẢO" in paragraphs  # not published: a draft, marked in its title
    assert "Số: …/QĐ-UBND" in paragraphs
    assert "QUYẾT ĐỊNH" in paragraphs and "QUYẾT ĐỊNH:" in paragraphs
    basis = [line.strip() for line in framework.legal_basis.splitlines() if line.strip()]
    assert basis and all(
        any(line.rstrip(".;") in p and p.startswith("Căn cứ") for p in paragraphs) for line in basis
    )
    articles = [p for p in paragraphs if p.startswith("Điều ")]
    assert [a[:7] for a in articles] == ["Điều 1.", "Điều 2.", "Điều 3."]
    assert "Phụ lục I, II, III và IV" in articles[0]
    text = text_of(document)
    assert "Nơi nhận:" in text and "CHỦ TỊCH" in text and "TM. ỦY BAN NHÂN DÂN" in text
    assert "(Kèm theo Quyết định số …/QĐ-UBND ngày …/…/2026 của Ủy ban nhân dân tỉnh Sơn Hà)" in text


def test_year_on_year_names_merged_units_by_their_predecessors_names(demo):
    framework = demo[OPEN]
    board = {line.unit_code: line for line in ranking(framework)}
    document = build_docx(framework)
    years = next(cells(t) for t in document.tables if cells(t)[0][-1] == "Ghi chú")
    p01 = next(row for row in years[1:] if row[1] == board["P01"].unit_name)
    assert p01[-1] == "Hình thành từ: Thị trấn Đông Thành, Xã An Bình"  # names, not T01; X01
    assert "T01" not in text_of(document).split("PHỤ LỤC III")[-1]
    line = board["P01"]
    change = ("+" if line.points_change > 0 else "") + vi(line.points_change)
    assert p01[2:5] == [vi(line.previous_points), vi(line.points), change]
    assert p01[5:8] == [
        vi(line.previous_index),
        vi(line.index),
        ("+" if line.index_change > 0 else "") + vi(line.index_change),
    ]
    # The largest rises and falls are named.
    assert any(p.text.startswith("Tăng nhiều nhất: ") for p in document.paragraphs)
    assert any(p.text.startswith("Giảm nhiều nhất: ") for p in document.paragraphs)


def test_an_explicit_comparison_fills_the_change_of_place(demo):
    previous, current = demo[PUBLISHED], demo[OPEN]
    document = build_docx(previous, compare=Framework.objects.get(code="DEMO-TH-XA-2024"))
    years = next(cells(t) for t in document.tables if cells(t)[0][-1] == "Ghi chú")
    assert years[0][2] == "Tổng điểm 2024" and years[0][8] == "Xếp hạng 2024"
    # Another district's units have no result there: nothing to compare, said so.
    assert all(row[-1] == "Không có kết quả năm trước" for row in years[1:])
    document = build_docx(current, compare=previous)
    years = next(cells(t) for t in document.tables if cells(t)[0][-1] == "Ghi chú")
    p01 = next(row for row in years[1:] if row[1] == "Phường Đông Thành")
    assert p01[2] and p01[5] and p01[-1] == "Hình thành từ: Thị trấn Đông Thành, Xã An Bình"


def test_criteria_detail_for_every_unit(demo):
    framework = demo[PUBLISHED]
    document = build_docx(framework)
    lines = ranking(framework).lines
    detail = [
        cells(t) for t in document.tables if cells(t)[0] == ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm đạt"]
    ]
    assert len(detail) == len(lines)
    leaves = Criterion.objects.filter(framework=framework).count()
    for table, line in zip(detail, lines, strict=True):
        assert len(table) == 1 + leaves + 1
        assert table[-1][1:] == ["Tổng điểm", "100", vi(line.points)]
        areas = {a.code: a.points for a in line.areas}
        for row in table[1:-1]:
            if row[0] in areas:
                assert row[3] == vi(areas[row[0]])
    # A penalty taken is written with its minus sign; one not taken is "0,00", never "−0,00".
    penalties = {c.code for c in Criterion.objects.filter(framework=framework, kind=CriterionKind.PENALTY)}
    shown = [row[3] for table in detail for row in table[1:-1] if row[0] in penalties]
    assert "−0,00" not in shown and "0,00" in shown
    assert any(value.startswith("−") and value != "−0,00" for value in shown)


def test_word_fonts_page_setup_header_rows_and_page_numbers(demo):
    document = build_docx(demo[OPEN])
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(13)
    fonts = normal.element.rPr.rFonts
    assert {fonts.get(qn(f"w:{a}")) for a in ("ascii", "hAnsi", "eastAsia", "cs")} == {"Times New Roman"}
    sections = document.sections
    assert len(sections) == 5  # the decision, then Phụ lục I … IV
    orientation = [s.page_width > s.page_height for s in sections]
    assert orientation == [False, True, True, True, False]  # the wide tables in landscape
    for section in sections:
        assert {abs(section.page_width - Mm(210)) < Mm(1), abs(section.page_height - Mm(210)) < Mm(1)} == {
            True,
            False,
        }
        assert max(section.page_width, section.page_height) - Mm(297) < Mm(1)
    grid = [t for t in document.tables if t.style.name == "Table Grid"]
    assert grid and all(
        t.rows[0]._tr.trPr is not None and t.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
        for t in grid
    )
    footer = sections[0].footer.paragraphs[0]._p.xml
    assert "PAGE" in footer and 'w:fldCharType="begin"' in footer
    # A draft says so at the top of every page (the header of the first section, shared by the others).
    assert sections[0].header.paragraphs[0].text == "DỰ THẢO"
    assert all(section.header.is_linked_to_previous for section in sections[1:])
    # The document defaults name Times New Roman too: the template's theme fonts (Calibri, Cambria)
    # would otherwise win over the Normal style in Word.
    defaults = document.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    default_fonts = defaults.find(qn("w:rPr")).find(qn("w:rFonts"))
    assert {default_fonts.get(qn(f"w:{a}")) for a in ("ascii", "hAnsi", "eastAsia", "cs")} == {
        "Times New Roman"
    }
    assert default_fonts.get(qn("w:asciiTheme")) is None and default_fonts.get(qn("w:hAnsiTheme")) is None
    # Liberation Serif is named as Times New Roman's alternative in the font table.
    table = next(p for p in document.part.package.iter_parts() if p.partname == "/word/fontTable.xml")
    times = etree.fromstring(table.blob).find(f"{qn('w:font')}[@{qn('w:name')}='Times New Roman']")
    assert times[0].tag == qn("w:altName") and times[0].get(qn("w:val")) == "Liberation Serif"


def test_a_published_annex_has_no_draft_header(demo):
    document = build_docx(demo[PUBLISHED])
    assert all(not p.text for section in document.sections for p in section.header.paragraphs)


def test_the_document_model_reads_a_fixed_number_of_queries(demo):
    framework = demo[OPEN]
    with CaptureQueriesContext(connection) as queries:
        annex_document(framework)
    assert len(queries) <= 10


# --- PDF: the Word file converted by LibreOffice, read back with pdftotext ------------------------------


def page_of(pages: list[str], heading: str) -> int:
    """Index of the first page with a line that is exactly `heading` (a section's title)."""
    return next(
        i for i, text in enumerate(pages) if any(line.strip() == heading for line in text.splitlines())
    )


def row_of(page: str, name: str) -> list[str]:
    """The cells of the table row naming `name` (the unit's name stands alone in its cell)."""
    rows = [row_cells(line) for line in page.splitlines() if name in row_cells(line)]
    assert len(rows) == 1, f"{name!r} is on {len(rows)} rows of the page"
    return rows[0]


def expected_row(number: int, line, parts: list[int]) -> list[str]:
    return [
        str(number),
        line.unit_name,
        *[vi(line.parts[p]) for p in parts],
        vi(line.points),
        vi(line.index),
        str(line.rank),
        line.grade,
    ]


def average_row(lines, parts: list[int]) -> list[str]:
    def mean(values):
        return vi(sum(values) / len(values))

    return [
        AVERAGE_LABEL,
        *[mean([line.parts[p] for line in lines]) for p in parts],
        mean([line.points for line in lines]),
        mean([line.index for line in lines]),
    ]


AVERAGE_LABEL = "Giá trị trung bình"
VIETNAMESE = (
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "Phê duyệt và công bố Chỉ số cải cách hành chính",
    "Giá trị trung bình",
    "Số đơn vị theo xếp loại",
)


@libreoffice
def test_published_pdf_ranking_in_order_with_parts_averages_and_the_decision(demo):
    framework = demo[PUBLISHED]
    content = build_pdf(framework)
    assert content.startswith(b"%PDF-")
    pages = pdf_pages(content)
    whole = "\n".join(pages)

    # The draft decision comes first, numbered and dated as published; no draft mark anywhere.
    decision = flat(pages[0])
    assert "QUYẾT ĐỊNH" in decision and "Số: 4769/QĐ-UBND" in decision
    assert "Đông Thành, ngày 25 tháng 12 năm 2024" in decision
    assert "Căn cứ Quyết định số 876/QĐ-BNV" in decision
    assert all(f"Điều {n}." in decision for n in (1, 2, 3))
    assert "DỰ THẢO" not in whole

    # Phụ lục I: the decision it goes with, one row per ranked unit in ranking order, as the selector says.
    first = page_of(pages, "PHỤ LỤC I")
    annex = pages[first]
    assert "(Kèm theo Quyết định số 4769/QĐ-UBND ngày 25/12/2024 của Ủy ban nhân dân huyện Đông Thành)" in (
        flat(annex)
    )
    lines = [line for line in ranking(framework) if line.ranked]
    parts = [0, 1, 3, 4]  # self/appraised, survey, bonus, penalty: the parts this framework has
    for number, line in enumerate(lines, start=1):
        assert row_of(annex, line.unit_name) == expected_row(number, line, parts)
    positions = [annex.index(f"  {line.unit_name}  ") for line in lines]
    assert positions == sorted(positions)
    average = next(row_cells(text) for text in annex.splitlines() if AVERAGE_LABEL in text)
    assert average == average_row(lines, parts)
    # The grade counts, with their share of the ranked units (the table may go on over the next page).
    following = "\n".join(pages[first : page_of(pages, "PHỤ LỤC II")])
    counts = following[following.index("Số đơn vị theo xếp loại") :]
    for grade in {line.grade for line in lines}:
        n = sum(1 for line in lines if line.grade == grade)
        assert row_of(counts, grade)[-2:] == [str(n), vi(D(n * 100) / len(lines))]
    assert "Tổng cộng 9 100,00" in flat(counts)

    # Each annex carries the decision's reference; the Word file's four annexes are all there.
    for number in ("I", "II", "III", "IV"):
        assert "Kèm theo Quyết định số 4769/QĐ-UBND" in flat(pages[page_of(pages, f"PHỤ LỤC {number}")])

    # The Word layout: A4, the decision in portrait, Phụ lục I in landscape, numbered pages.
    sizes = page_sizes(content)
    assert len(sizes) == len(pages)
    assert abs(sizes[0][0] - 595.3) < 1 and abs(sizes[0][1] - 841.9) < 1
    assert abs(sizes[first][0] - 841.9) < 1 and abs(sizes[first][1] - 595.3) < 1
    for number, text in enumerate(pages, start=1):
        assert text.strip().splitlines()[-1].strip() == str(number)  # the footer's PAGE field

    # Vietnamese letters come back as written: the embedded font holds them (no boxes, no lost marks).
    for phrase in VIETNAMESE:
        assert phrase in flat(whole)
    fonts = pdf_fonts(content)
    assert fonts and all(font["emb"] == "yes" and font["uni"] == "yes" for font in fonts)
    assert {font["name"].split("+")[-1].split("-")[0] for font in fonts} <= {
        "LiberationSerif",
        "TimesNewRoman",
    }


@libreoffice
def test_draft_pdf_has_one_table_per_group_the_draft_mark_and_repeated_header_rows(demo):
    framework = demo[OPEN]
    pages = pdf_pages(build_pdf(framework))

    # Not published: "DỰ THẢO" at the top of every page, the decision's number and date left blank.
    assert all(text.strip().splitlines()[0].strip() == "DỰ THẢO" for text in pages)
    assert "Số: …/QĐ-UBND" in pages[0] and "ngày … tháng … năm 2026" in pages[0]
    first = page_of(pages, "PHỤ LỤC I")
    assert "(Kèm theo Quyết định số …/QĐ-UBND ngày …/…/2026 của Ủy ban nhân dân tỉnh Sơn Hà)" in flat(
        pages[first]
    )

    # One table per ranking group, under its heading, in ranking order, each with its average row.
    annex = "\n".join(pages[first : page_of(pages, "PHỤ LỤC II")])
    parts = [0, 1, 2, 3, 4]
    for name, group in ranking(framework).groups():
        ranked = [line for line in group if line.ranked]
        start = annex.index(f"Nhóm {name} ({len(ranked)} đơn vị được xếp hạng)")
        table = annex[start:]
        for number, line in enumerate(ranked, start=1):
            assert row_of(table.split(AVERAGE_LABEL)[0], line.unit_name) == expected_row(number, line, parts)
        average = next(row_cells(text) for text in table.splitlines() if AVERAGE_LABEL in text)
        assert average == average_row(ranked, parts)
    # The unit assessed but not ranked is listed apart, with its reason and no place.
    x20 = next(line for line in ranking(framework) if line.unit_code == "X20")
    apart = annex.index("Đơn vị được đánh giá nhưng không xếp hạng")
    row = row_of(annex[apart:], x20.unit_name)  # the reason, centred on several lines, may join the index
    assert row[:3] == ["1", x20.unit_name, vi(x20.points)] and row[3].startswith(vi(x20.index))
    assert "Lý do không xếp hạng" in annex[apart:] and x20.unit_name not in annex[:apart]

    # Phụ lục IV's tables run over several pages: every page of it shows the header row (repeated).
    detail = pages[page_of(pages, "PHỤ LỤC IV") :]
    assert len(detail) > 3
    header = re.compile(r"^\s*Mã\s{2,}Tiêu chí\s{2,}", re.MULTILINE)
    assert all(header.search(text) for text in detail)
    continued = [text for text in detail[1:] if not re.search(r"^\d+\. .+ — Chỉ số", text, re.MULTILINE)]
    assert continued  # some pages hold only the rest of a unit's table: their header was repeated


@libreoffice
def test_parallel_conversions_each_use_a_profile_of_their_own(demo):
    word = io.BytesIO()
    annex_build_file(demo[PUBLISHED], None, "docx", word)
    outs = [io.BytesIO(), io.BytesIO()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda out: docx_to_pdf(word.getvalue(), out), outs))
    texts = [flat("\n".join(pdf_pages(out.getvalue()))) for out in outs]
    assert texts[0] == texts[1] and "PHỤ LỤC IV" in texts[0]


def fake_soffice(folder: Path, script: str, *, writer: bool = True) -> Path:
    """A program folder holding a `soffice` that runs `script` (and Writer's library, unless not)."""
    folder.mkdir()
    program = folder / "soffice"
    program.write_text("#!/bin/sh\n" + script + "\n")
    program.chmod(0o755)
    if writer:
        (folder / "libswlo.so").write_bytes(b"")
    return program


def test_pdf_is_refused_clearly_without_libreoffice(demo, tmp_path, settings):
    settings.PARINDEX_SOFFICE = str(tmp_path / "no-such-soffice")
    out = tmp_path / "phu-luc.pdf"
    with pytest.raises(CommandError) as refused:
        call_command("build_annex", framework=PUBLISHED, file_format="pdf", out=str(out))
    message = str(refused.value)
    assert "Chưa cài LibreOffice" in message and "LibreOffice is not installed" in message
    assert "apt-get install -y libreoffice-writer-nogui" in message
    assert not out.exists()
    # The Word file needs no LibreOffice.
    call_command("build_annex", framework=PUBLISHED, file_format="docx", out=str(tmp_path / "a.docx"))
    # The job records the same refusal instead of a traceback.
    job = report_run(report_request(framework=demo[PUBLISHED], kind=ReportKind.ANNEX, file_format="pdf").pk)
    assert job.status == JobStatus.FAILED and not job.file
    assert "Chưa cài LibreOffice" in job.error and "LibreOffice is not installed" in job.error


def test_pdf_is_refused_clearly_when_libreoffice_has_no_writer(demo, tmp_path, settings):
    settings.PARINDEX_SOFFICE = str(fake_soffice(tmp_path / "program", "exit 0", writer=False))
    with pytest.raises(CommandError) as refused:
        call_command("build_annex", framework=PUBLISHED, file_format="pdf", out=str(tmp_path / "a.pdf"))
    message = str(refused.value)
    assert "Chưa cài LibreOffice Writer" in message and "LibreOffice Writer is not installed" in message
    assert "libswlo.so" in message and str(tmp_path / "program") in message


def test_a_conversion_that_hangs_is_killed_at_the_timeout(tmp_path, settings, monkeypatch):
    pid_file = tmp_path / "pid"
    monkeypatch.setenv("FAKE_SOFFICE_PID", str(pid_file))
    # soffice starts a child that never ends, as soffice.bin may when it hangs.
    settings.PARINDEX_SOFFICE = str(
        fake_soffice(tmp_path / "program", 'sleep 60 & echo $! > "$FAKE_SOFFICE_PID"; wait')
    )
    started = time.monotonic()
    with pytest.raises(ServiceError) as refused:
        docx_to_pdf(b"PK", io.BytesIO(), timeout=1)
    assert time.monotonic() - started < 10
    assert "trong 1 giây" in refused.value.text("vi") and "within 1 seconds" in refused.value.text("en")
    child = int(pid_file.read_text())
    for _ in range(50):  # the whole process group was killed: the child is gone too
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, 9)
        pytest.fail("the child of soffice outlived the timeout")


def test_a_failed_conversion_says_what_libreoffice_said(tmp_path, settings):
    settings.PARINDEX_SOFFICE = str(
        fake_soffice(tmp_path / "program", "echo 'Error: source file could not be loaded'; exit 1")
    )
    out = io.BytesIO()
    with pytest.raises(ServiceError) as refused:
        docx_to_pdf(b"PK", out, timeout=30)
    assert "Error: source file could not be loaded" in refused.value.text("en")
    assert "(exit code 1)" in refused.value.text("en") and "(mã thoát 1)" in refused.value.text("vi")
    assert out.getvalue() == b""


# --- the command ------------------------------------------------------------------------------------------


@libreoffice
def test_build_annex_command_writes_word_and_pdf(demo, tmp_path):
    for file_format in ("docx", "pdf"):
        out = tmp_path / f"phu-luc.{file_format}"
        stdout = StringIO()
        call_command("build_annex", framework=OPEN, file_format=file_format, out=str(out), stdout=stdout)
        assert out.stat().st_size > 1000
        assert "Đã ghi phụ lục vào" in stdout.getvalue()
    assert docx.Document(str(tmp_path / "phu-luc.docx")).tables
    assert pdf_pages((tmp_path / "phu-luc.pdf").read_bytes())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"framework": "NOPE", "file_format": "docx", "out": "x.docx"}, "NOPE"),
        ({"framework": OPEN, "file_format": "docx", "out": "x.pdf"}, ".docx"),
        ({"framework": OPEN, "file_format": "pdf", "out": "/no/such/folder/x.pdf"}, "/no/such/folder"),
        ({"framework": OPEN, "compare": OPEN, "file_format": "docx", "out": "x.docx"}, "chính nó"),
        ({"framework": OPEN, "compare": "NOPE", "file_format": "docx", "out": "x.docx"}, "NOPE"),
    ],
)
def test_build_annex_command_errors(demo, tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError) as refused:
        call_command("build_annex", **arguments)
    assert message in str(refused.value)
    assert not list(tmp_path.iterdir())


def test_build_annex_command_refuses_an_unknown_format(demo):
    with pytest.raises(CommandError):
        call_command("build_annex", "--framework", OPEN, "--format", "xlsx", "--out", "x.xlsx")


# --- the job ----------------------------------------------------------------------------------------------


@libreoffice
def test_annex_job_builds_a_downloadable_file(demo, django_capture_on_commit_callbacks, client):
    from units.models import Membership

    leader = Membership.objects.filter(user__username="lanhdao").get().user
    client.force_login(leader)
    for file_format, magic in (("docx", b"PK"), ("pdf", b"%PDF")):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("reports:job_request"), {"framework": PUBLISHED, "compare": "", "output": file_format}
            )
        assert response.status_code == 302
        job = ReportJob.objects.filter(requested_by=leader).first()
        assert (job.kind, job.file_format, job.status) == (ReportKind.ANNEX, file_format, JobStatus.SUCCEEDED)
        assert job.progress == 100 and job.file.name.endswith(f".{file_format}")
        assert "phu-luc-DEMO-DT-XA-2024" in job.file.name
        download = client.get(reverse("reports:job_download", args=[job.pk]))
        assert download.status_code == 200
        content = b"".join(download.streaming_content)
        assert content.startswith(magic)
    page = client.get(reverse("reports:job_list"))
    assert "Phụ lục · Word" in page.content.decode() and "Phụ lục · PDF" in page.content.decode()
    # The form redrawn for another framework (htmx) keeps the output chosen.
    redrawn = client.get(reverse("reports:job_list"), {"framework": OPEN, "output": "pdf"}).content.decode()
    assert '<option value="pdf" selected>' in redrawn


@libreoffice
def test_an_unchanged_annex_is_reused_and_formats_are_kept_apart(demo, django_capture_on_commit_callbacks):
    framework = demo[PUBLISHED]
    with django_capture_on_commit_callbacks(execute=True):
        first = report_request(framework=framework, kind=ReportKind.ANNEX, file_format="docx")
    first.refresh_from_db()
    again = report_request(framework=framework, kind=ReportKind.ANNEX, file_format="docx")
    assert again.status == JobStatus.SUCCEEDED and again.file.name == first.file.name
    assert again.parameters["reused_from"] == first.pk
    with django_capture_on_commit_callbacks(execute=True):
        other = report_request(framework=framework, kind=ReportKind.ANNEX, file_format="pdf")
    other.refresh_from_db()
    assert other.file.name != first.file.name and other.file.name.endswith(".pdf")
    workbook = report_request(framework=framework)  # the comparative report is still an xlsx
    assert workbook.kind == ReportKind.COMPARATIVE and workbook.file_format == ReportFormat.XLSX
    assert default_storage.exists(first.file.name)


def test_an_annex_is_not_written_as_xlsx_nor_a_workbook_as_word(demo):
    with pytest.raises(ServiceError):
        report_request(framework=demo[PUBLISHED], kind=ReportKind.ANNEX, file_format="xlsx")
    with pytest.raises(ServiceError):
        report_request(framework=demo[PUBLISHED], kind=ReportKind.COMPARATIVE, file_format="docx")


@libreoffice
def test_only_the_authoritys_leaders_and_appraisers_get_annexes(
    demo, client, django_capture_on_commit_callbacks
):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    url = reverse("reports:job_request")
    data = {"framework": OPEN, "compare": "", "output": "pdf"}
    response = client.post(url, data)  # anonymous
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(users.get(username="x05"))  # an officer of one commune
    assert client.post(url, data).status_code in (403, 404)
    client.force_login(users.get(username="noivu_dt"))  # the former district's appraiser: not the province's
    assert client.post(url, data).status_code in (403, 404)
    assert not ReportJob.objects.exists()
    client.force_login(users.get(username="noivu"))  # the province's appraiser
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, data).status_code == 302
    job = ReportJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED
    client.force_login(users.get(username="x05"))
    assert client.get(reverse("reports:job_download", args=[job.pk])).status_code in (403, 404)
    client.force_login(users.get(username="lanhdao"))
    assert client.get(reverse("reports:job_download", args=[job.pk])).status_code == 200
    client.force_login(users.get(username="noivu"))
    assert client.post(url, {**data, "output": "odt"}).status_code == 404


@libreoffice
def test_a_framework_without_results_still_gives_both_files(district, tmp_path):
    from .factories import make_framework, rows_from_spec

    framework = make_framework(district, rows=rows_from_spec([("1", 100), ("1.1", 100)]), code="EMPTY")
    for file_format in ("docx", "pdf"):
        out = tmp_path / f"empty.{file_format}"
        call_command(
            "build_annex", framework="EMPTY", file_format=file_format, out=str(out), stdout=StringIO()
        )
        assert out.stat().st_size > 1000
    document = docx.Document(str(tmp_path / "empty.docx"))
    assert framework.status != "published"
    assert not ranking_tables(document) and "DỰ THẢO" in [p.text for p in document.paragraphs]


def test_openpyxl_keeps_reading_through_defusedxml_although_lxml_is_installed():
    import lxml.etree  # python-docx's dependency
    import openpyxl

    assert lxml.etree.LXML_VERSION and openpyxl.LXML is False and openpyxl.DEFUSEDXML is True
