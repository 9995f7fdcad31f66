"""Workbooks ParIndex hands out: the self-assessment template of one assessment (DESIGN §5) and the
framework export. Both are read back by scoring.exchange.importers (the template round-trips, the export
re-imports to an identical tree).

The template is for people in Excel: a header block naming the unit, framework, year and deadline;
the table `Mã | Tiêu chí | Điểm tối đa | Điểm tự đánh giá | Tài liệu kiểm chứng | Ghi chú` with the
tree as outline levels; parent rows bold with SUM subtotals; only the cells a unit fills in are
unlocked (sheet protection without a password: it guards against slips, not against people), the
points cells with data validation; A4 landscape printing with the header row repeated; and a very
hidden sheet "_parindex" carrying the identifiers the import checks (assessment, unit, year,
framework and its version fingerprint, criterion codes).
"""

from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation

from parindex.csv_export import MACHINE, CsvDialect, csv_text, protect_sheet, protect_text_cells
from parindex.numbers import format_decimal, when_text
from scoring.exchange.importers import (
    FRAMEWORK_HEADER,
    METADATA_SHEET,
    evidence_cell,
    evidence_lines,
    framework_options,
    framework_version,
)
from scoring.frameworks.rules import BANDS, PERCENT, STEPS, YESNO, Rule, parse_rule
from scoring.frameworks.selectors import criteria_tree
from scoring.models import Assessment, CriterionSource, Framework, Score
from units.models import Unit

TEMPLATE_HEADER = [
    "Mã",
    "Tiêu chí",
    "Điểm tối đa",
    "Điểm tự đánh giá",
    "Tài liệu kiểm chứng",
    "Ghi chú",
    "Số liệu",
    "Lý do không áp dụng",
]
RAW_COLUMN = 7  # G: the raw figure of a leaf whose rule takes one; its points (D) are computed on import
NA_REASON_COLUMN = 8  # H: why the unit proposes the leaf not applicable
# Before the first import, what a row needs besides its points (DESIGN §3).
EVIDENCE_GUIDANCE = (
    "Mỗi tiêu chí có điểm phải có tài liệu kiểm chứng (mỗi dòng một tài liệu, ví dụ "
    '"số 12/QĐ-UBND, 05/03/2025, tr. 3") hoặc giải trình trong cột Ghi chú. Tài liệu đính kèm '
    "trên phần mềm được liệt kê sẵn; muốn xoá, xoá trên phần mềm. Tiêu chí không áp dụng ghi lý do ở cột H."
)
COMPUTED_FILL = PatternFill("solid", fgColor="EDEDED")
NOT_APPLICABLE_TEXT = "Không áp dụng"
# The words the data validation lets through besides a number; parindex.numbers.NOT_APPLICABLE_WORDS
# reads them back (Excel compares text case-insensitively, so "kad" passes too).
NOT_APPLICABLE_INPUTS = ("Không áp dụng", "Khong ap dung", "KAD", "N/A", "NA")
# Number formats in a file are locale-neutral codes: "," means "group thousands" and "." means "the
# decimal mark", and Excel or LibreOffice renders them with the reader's separators. So this shows
# "12,50" (and "1.234,50") in a Vietnamese Excel and "12.50" in an English one; writing "0,00" here
# would instead be a literal comma.
POINTS_FORMAT = "#,##0.00"
HEADER_ROW = 7
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
UNLOCKED = Protection(locked=False)


def _deadline_text(value) -> str:
    """dd/mm/yyyy hh:mm in local time. The time stays even at 00:00: "01/12/2024 00:00" is the end of
    30 November, which the date alone would hide."""
    return when_text(value) or "—"


def _points_validation(cell: str, max_points: Decimal, allows_not_applicable: bool = True) -> DataValidation:
    """Custom validation of one points cell: a number from 0 to max with at most two decimals, or a
    not-applicable word. A "decimal" validation cannot also accept a word, hence the formula
    (always written in Excel's English syntax; Excel shows it localised). IF, not AND/OR, because
    Excel evaluates every argument of AND, and ROUND("KAD", 2) is an error that would refuse the word."""
    maximum = format_decimal(max_points, language="vi")
    words = ",".join(f'{cell}="{word}"' for word in NOT_APPLICABLE_INPUTS) if allows_not_applicable else ""
    formula = (
        f"IF(ISNUMBER({cell}),AND({cell}>=0,{cell}<={max_points.normalize():f},ROUND({cell},2)={cell}),"
        f"{f'OR({words})' if words else 'FALSE'})"
    )
    error = f"Nhập số từ 0 đến {maximum} (tối đa hai chữ số thập phân)"
    prompt = f"Từ 0 đến {maximum} điểm"
    if allows_not_applicable:
        error += f' hoặc "{NOT_APPLICABLE_TEXT}"'
        prompt += f', hoặc "{NOT_APPLICABLE_TEXT}"'
    return DataValidation(
        type="custom",
        formula1=formula,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle="Điểm không hợp lệ",
        error=error + ".",
        promptTitle="Điểm tự đánh giá",
        prompt=prompt,
        showInputMessage=True,
        sqref=cell,
    )


def _na_words(cell: str) -> str:
    return ",".join(f'{cell}="{word}"' for word in NOT_APPLICABLE_INPUTS)


def _raw_validation(cell: str, rule: Rule, allows_not_applicable: bool) -> DataValidation:
    """Validation of a `Số liệu` cell that fits the leaf's rule: a list có/không for yes/no; a number
    from 0 to 100 for thresholds; a whole number of occurrences from 0 for deductions; for a
    percentage any entry (it may be "191/200", which no number validation lets through) with an
    input message. A not-applicable word passes where the leaf may be not applicable."""
    prompt = f"{rule.describe()}. Nhập: {rule.raw_hint()}"
    if allows_not_applicable:
        prompt += f', hoặc "{NOT_APPLICABLE_TEXT}"'
    common = {
        "allow_blank": True,
        "showErrorMessage": True,
        "errorStyle": "stop",
        "errorTitle": "Số liệu không hợp lệ",
        "promptTitle": "Số liệu",
        "prompt": prompt[:255],
        "showInputMessage": True,
        "sqref": cell,
    }
    if rule.kind == YESNO:
        choices = ["có", "không"] + ([NOT_APPLICABLE_TEXT] if allows_not_applicable else [])
        return DataValidation(
            type="list", formula1='"' + ",".join(choices) + '"', error="Chọn có hoặc không.", **common
        )
    if rule.kind == PERCENT:
        return DataValidation(type=None, **common)  # "any value": only the input message guides
    if rule.kind == BANDS:
        check, error = f"AND({cell}>=0,{cell}<=100)", "Nhập tỷ lệ phần trăm từ 0 đến 100 (ví dụ 95,5)."
        plain = DataValidation(
            type="decimal", operator="between", formula1="0", formula2="100", error=error, **common
        )
    else:
        check, error = f"AND({cell}>=0,INT({cell})={cell})", "Nhập số lần (số nguyên từ 0)."
        plain = DataValidation(
            type="whole", operator="greaterThanOrEqual", formula1="0", error=error, **common
        )
    if not allows_not_applicable:
        return plain
    return DataValidation(
        type="custom",
        formula1=f"IF(ISNUMBER({cell}),{check},OR({_na_words(cell)}))",
        error=error[:-1] + f' hoặc "{NOT_APPLICABLE_TEXT}".',
        **common,
    )


def _steps_validation(cell: str, rule: Rule, allows_not_applicable: bool) -> DataValidation:
    """The points cell of a steps leaf: a list of its levels (and the not-applicable word)."""
    choices = [format_decimal(v, language="vi") for v in rule.steps]
    if allows_not_applicable:
        choices.append(NOT_APPLICABLE_TEXT)
    return DataValidation(
        type="list",
        formula1='"' + ",".join(choices) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle="Điểm không hợp lệ",
        error="Chọn một trong các mức " + "; ".join(choices) + ".",
        promptTitle="Điểm tự đánh giá",
        prompt=rule.describe()[:255],
        showInputMessage=True,
        sqref=cell,
    )


def assessment_workbook(
    *, assessment: Assessment | None = None, unit: Unit | None = None, framework: Framework | None = None
) -> Workbook:
    """The self-assessment workbook of an assessment, or of a unit in a framework (no scores yet)."""
    if assessment is not None:
        unit, framework = assessment.unit, assessment.framework
    elif unit is None or framework is None:
        raise ValueError("an assessment, or a unit and a framework, is needed")
    else:
        assessment = Assessment.objects.filter(unit=unit, framework=framework).first()
    tree = criteria_tree(framework)
    scores = {}
    if assessment is not None:
        scores = {s.criterion_id: s for s in Score.objects.filter(assessment=assessment)}
    attached = evidence_lines(assessment)

    wb = Workbook()
    ws = wb.active
    ws.title = "Tự đánh giá"
    ws["A1"] = "BẢNG TỰ ĐÁNH GIÁ, CHẤM ĐIỂM CHỈ SỐ CẢI CÁCH HÀNH CHÍNH"
    ws["A1"].font = Font(bold=True, size=13)
    ws.merge_cells("A1:F1")
    block = [
        ("Mã đơn vị", unit.code, "Tên đơn vị", unit.name),
        ("Mã bộ chỉ số", framework.code, "Bộ chỉ số", framework.name),
        ("Năm", framework.year, "Hạn tự đánh giá", _deadline_text(framework.self_deadline)),
    ]
    for offset, (label1, value1, label2, value2) in enumerate(block, start=2):
        ws.cell(offset, 1, label1).font = BOLD
        ws.cell(offset, 2, value1)
        ws.cell(offset, 3, label2).font = BOLD
        ws.cell(offset, 4, value2)
    ws.cell(
        5,
        1,
        "Nhập điểm vào các ô màu vàng; dùng dấu phẩy thập phân (ví dụ 12,5) hoặc ghi "
        f'"{NOT_APPLICABLE_TEXT}". Các dòng in đậm tự cộng điểm.',
    ).font = Font(italic=True)
    ws.cell(6, 1, EVIDENCE_GUIDANCE).font = Font(italic=True)

    for column, title in enumerate(TEMPLATE_HEADER, start=1):
        cell = ws.cell(HEADER_ROW, column, title)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")

    row_of = {criterion.pk: HEADER_ROW + 1 + index for index, criterion in enumerate(tree)}
    for criterion in tree:
        r = row_of[criterion.pk]
        ws.cell(r, 1, criterion.code)
        ws.cell(r, 2, criterion.title).alignment = Alignment(
            wrap_text=True, vertical="top", indent=criterion.depth
        )
        max_cell = ws.cell(r, 3, criterion.max_points)
        max_cell.number_format = POINTS_FORMAT
        points = ws.cell(r, 4)
        points.number_format = POINTS_FORMAT
        if criterion.depth:
            ws.row_dimensions[r].outline_level = min(criterion.depth, 7)
        if not criterion.is_leaf:
            refs = ",".join(f"D{row_of[child.pk]}" for child in tree.children_of(criterion))
            points.value = f"=SUM({refs})"
            for column in range(1, 7):
                ws.cell(r, column).font = BOLD
            continue
        if criterion.source == CriterionSource.SURVEY:
            ws.cell(r, 6, "Điểm điều tra xã hội học do cơ quan đánh giá chấm").font = Font(italic=True)
            continue
        if criterion.source == CriterionSource.OFFICE:
            ws.cell(r, 6, "Do cơ quan nội vụ chấm (thẩm định)").font = Font(italic=True)
            continue
        rule = parse_rule(criterion.rule)
        score = scores.get(criterion.pk)
        raw = ws.cell(r, RAW_COLUMN)
        if score is not None:
            if score.not_applicable:
                (raw if rule.takes_raw else points).value = NOT_APPLICABLE_TEXT
            elif score.self_points is not None:
                points.value = score.self_points
                raw.value = score.self_raw or None
            ws.cell(r, 6, score.note or None)
            if score.not_applicable:
                ws.cell(r, NA_REASON_COLUMN, score.not_applicable_reason or None)
        evidence = evidence_cell(score.evidence_reference if score else "", attached.get(criterion.code, []))
        ws.cell(r, 5, evidence or None).alignment = Alignment(wrap_text=True, vertical="top")
        for column in (5, 6, NA_REASON_COLUMN):
            ws.cell(r, column).protection = UNLOCKED
        if rule.takes_raw:
            # The points follow from the figure on import (scoring.frameworks.rules); the cell only
            # shows the points last computed, locked so that nobody types over them.
            points.fill = COMPUTED_FILL
            raw.protection = UNLOCKED
            raw.fill = INPUT_FILL
            if rule.kind == PERCENT:
                raw.number_format = "@"  # "191/200" and "95,5%" stay as typed (not a date, not 0,955)
            ws.add_data_validation(_raw_validation(raw.coordinate, rule, criterion.allows_not_applicable))
            continue
        points.protection = UNLOCKED
        points.fill = INPUT_FILL
        if rule.kind == STEPS:
            ws.add_data_validation(
                _steps_validation(points.coordinate, rule, criterion.allows_not_applicable)
            )
        else:
            ws.add_data_validation(
                _points_validation(points.coordinate, criterion.max_points, criterion.allows_not_applicable)
            )

    for column, width in zip("ABCDEFGH", (9, 60, 12, 14, 36, 28, 14, 28), strict=True):
        ws.column_dimensions[column].width = width
    # Frozen under the header row and right of the titles, so both stay in view while scrolling.
    ws.freeze_panes = f"C{HEADER_ROW + 1}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.sheet_properties.outlinePr.summaryBelow = False
    # The unit's own text (titles, evidence, notes, figures, reasons) never turns into a formula; the
    # subtotals of column D are the only formulas.
    protect_text_cells(
        cell
        for row in ws.iter_rows(min_row=2, min_col=1, max_col=len(TEMPLATE_HEADER))
        for cell in row
        if cell.column != 4
    )
    # Protection without a password: it guards against slips, not against people.
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False

    meta = wb.create_sheet(METADATA_SHEET)
    # "veryHidden": not listed under Unhide in Excel (LibreOffice keeps it as a plain hidden sheet).
    meta.sheet_state = "veryHidden"
    for key, value in (
        ("assessment", assessment.pk if assessment else ""),
        ("framework", framework.code),
        ("framework_version", framework_version(framework)),
        ("unit", unit.code),
        ("year", str(framework.year)),
        ("criteria", ";".join(c.code for c in tree)),
    ):
        meta.append([key, str(value)])
    meta.protection.sheet = True
    return wb


def framework_workbook(framework: Framework) -> Workbook:
    """The framework as a framework file (first sheet), re-importable by import_framework."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Bộ chỉ số"
    ws.append(FRAMEWORK_HEADER)
    for cell in ws[1]:
        cell.font = BOLD
    tree = criteria_tree(framework)
    for criterion in tree:
        ws.append(
            [
                criterion.code,
                criterion.title,
                criterion.max_points,
                criterion.kind,
                criterion.source,
                criterion.rule or None,
                _parent_code(tree, criterion) or None,
                criterion.guidance or None,
            ]
        )
        r = ws.max_row
        ws.cell(r, 1).number_format = "@"  # keep "1.10" a code, not a number
        ws.cell(r, 7).number_format = "@"
        ws.cell(r, 3).number_format = POINTS_FORMAT
        if not criterion.is_leaf:
            for column in range(1, 4):
                ws.cell(r, column).font = BOLD
        if criterion.depth:
            ws.row_dimensions[r].outline_level = min(criterion.depth, 7)
    for column, width in zip("ABCDEFGH", (9, 60, 12, 10, 10, 24, 12, 60), strict=True):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A2"
    protect_sheet(ws)
    # The framework's options, read back by import_framework when its command line does not say.
    meta = wb.create_sheet(METADATA_SHEET)
    meta.sheet_state = "veryHidden"
    meta.append(["framework", framework.code])
    for key, value in framework_options(framework).items():
        meta.append([key, value])
    return wb


def framework_csv(framework: Framework, dialect: CsvDialect = MACHINE) -> str:
    """The framework as CSV text in `dialect` (by default "," and decimal points, no BOM: the file
    writer adds it), re-importable by import_framework whatever the dialect."""
    tree = criteria_tree(framework)
    rows = [
        [
            criterion.code,
            criterion.title,
            criterion.max_points.normalize(),
            criterion.kind,
            criterion.source,
            criterion.rule,
            _parent_code(tree, criterion),
            criterion.guidance,
        ]
        for criterion in tree
    ]
    return csv_text(FRAMEWORK_HEADER, rows, dialect)


def _parent_code(tree, criterion) -> str:
    """The parent's code as the framework file's "Mã cấp trên" column writes it ("" for an area)."""
    return tree.by_id[criterion.parent_id].code if criterion.parent_id else ""


def framework_export(framework: Framework, path) -> None:
    """Write the framework to path: .csv as CSV UTF-8, anything else as .xlsx."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        path.write_text(framework_csv(framework), encoding="utf-8-sig")
    else:
        framework_workbook(framework).save(path)
