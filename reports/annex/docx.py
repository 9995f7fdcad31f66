"""The annexes as a Word file (python-docx), written from reports.annex.content's document model.
This file is also the PDF's layout: reports.annex.pdf converts it with LibreOffice Writer.

As offices type them (Nghị định 30/2020/NĐ-CP on official documents): Times New Roman 13 (the
east-asian and complex-script font names set too, and on the document defaults, whose theme fonts
would otherwise win over the Normal style's in Word), A4, margins 20/20/30/15 mm, landscape sections
for the wide tables, the header row of every table repeated on each page, page numbers in the footer,
"DỰ THẢO" at the top of every page of a draft. The font table names Liberation Serif as Times New
Roman's alternative: where Times is missing (a Linux worker) LibreOffice lays the text out with
Liberation Serif, metrically the same and holding the Vietnamese letters (fonts-liberation2).
"""

from typing import IO

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_ALIGN_VERTICAL, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from lxml import etree

from reports.annex.content import DRAFT, AnnexDocument, Masthead, Paragraph, Section, Signature, Table

FONT = "Times New Roman"
FALLBACK_FONT = "Liberation Serif"
SIZE = Pt(13)
TABLE_SIZE = Pt(11)
ALIGN = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
    "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
}
SIZES = {"title": Pt(14), "heading": Pt(13), "body": SIZE, "note": SIZE}
A4 = (Mm(210), Mm(297))
KEEP_TOGETHER_ROWS = 12  # tables with at most this many rows are kept on one page
MARGINS = {"top": Mm(20), "bottom": Mm(20), "left": Mm(30), "right": Mm(15)}


def _set_fonts(rpr_owner, name: str = FONT) -> None:
    """ascii, hAnsi, eastAsia and cs font names on a style's or run's run properties."""
    rpr = rpr_owner.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), name)


def _page(section, landscape: bool) -> None:
    width, height = A4
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (height, width) if landscape else (width, height)
    section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
    section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    if landscape:  # the binding edge stays on the left of the page as it is held
        section.left_margin, section.right_margin = Mm(20), Mm(15)


def _document_defaults(document) -> None:
    """Times New Roman and Vietnamese on the document defaults (python-docx's template has the theme's
    Calibri/Cambria there, which Word prefers to the Normal style's explicit font names)."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
    fonts = rpr.find(qn("w:rFonts"))
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), FONT)
    language = rpr.find(qn("w:lang"))
    if language is not None:
        language.set(qn("w:val"), "vi-VN")


def _font_fallback(document) -> None:
    """<w:altName w:val="Liberation Serif"/> on Times New Roman in the font table, the place a Word
    file says which font to use when its own is missing. python-docx has no API for the font table:
    its XML is edited in place."""
    part = next(p for p in document.part.package.iter_parts() if p.partname == "/word/fontTable.xml")
    table = etree.fromstring(part.blob)
    font = next((f for f in table.findall(qn("w:font")) if f.get(qn("w:name")) == FONT), None)
    if font is None:
        font = etree.SubElement(table, qn("w:font"))
        font.set(qn("w:name"), FONT)
    for old in font.findall(qn("w:altName")):
        font.remove(old)
    alternative = etree.Element(qn("w:altName"))
    alternative.set(qn("w:val"), FALLBACK_FONT)
    font.insert(0, alternative)  # the schema puts altName first
    part._blob = etree.tostring(table, xml_declaration=True, encoding="UTF-8", standalone=True)


def _draft_mark(section) -> None:
    """ "DỰ THẢO" at the top right of every page (the header is shared by the sections that follow)."""
    paragraph = section.header.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = paragraph.add_run(DRAFT)
    run.bold = True
    run.font.size = Pt(12)


def _page_number(section) -> None:
    """A PAGE field, centred in the footer (the footer is shared by the sections that follow)."""
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run()
    begin, instruction, end = OxmlElement("w:fldChar"), OxmlElement("w:instrText"), OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    instruction.set(qn("xml:space"), "preserve")
    instruction.text = "PAGE"
    end.set(qn("w:fldCharType"), "end")
    run._r.append(begin)
    run._r.append(instruction)
    run._r.append(end)


def _text(paragraph, text: str, *, bold=False, italic=False, size=None, align="left") -> None:
    paragraph.alignment = ALIGN[align]
    lines = text.split("\n")
    for i, line in enumerate(lines):
        run = paragraph.add_run(line)
        run.bold, run.italic = bold or None, italic or None
        if size is not None:
            run.font.size = size
        if i < len(lines) - 1:
            run.add_break()
    paragraph.paragraph_format.space_after = Pt(3)


def _repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def _keep_whole(row) -> None:
    """A row is never cut across two pages (a unit's line stays readable)."""
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _table(document, table: Table, usable_width) -> None:
    columns = len(table.header)
    out = document.add_table(rows=1, cols=columns)
    out.style = "Table Grid"
    out.alignment = WD_TABLE_ALIGNMENT.CENTER
    out.autofit = False
    total = sum(table.widths)
    widths = [int(usable_width * table.share * w / total) for w in table.widths]
    for column, width in zip(out.columns, widths, strict=True):
        column.width = width  # the table grid: what Word and LibreOffice lay the columns out by
    head = out.rows[0]
    _repeat_header(head)
    for cell, title, width in zip(head.cells, table.header, widths, strict=True):
        cell.width = width
        cell.vertical_alignment = WD_ALIGN_VERTICAL.CENTER
        _text(cell.paragraphs[0], title, bold=True, size=TABLE_SIZE, align="center")
    for index, values in enumerate(table.rows):
        row = out.add_row()
        _keep_whole(row)
        bold = index in table.bold_rows
        for cell, value, width, align in zip(row.cells, values, widths, table.align, strict=True):
            cell.width = width
            cell.vertical_alignment = WD_ALIGN_VERTICAL.CENTER
            _text(cell.paragraphs[0], value, bold=bold, size=TABLE_SIZE, align=align)
    if len(table.rows) <= KEEP_TOGETHER_ROWS:
        # A short table (the grade counts, a group of a few units) is not cut: every row but the last
        # is kept with the next, Word's way of keeping a table on one page (LibreOffice reads it too).
        for row in out.rows[:-1]:
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    paragraph.paragraph_format.keep_with_next = True


def _two_columns(document, usable_width, *, left_share=0.4):
    """A borderless two-column block (masthead, signature): its two cells."""
    out = document.add_table(rows=1, cols=2)
    out.autofit = False
    widths = [int(usable_width * left_share), int(usable_width * (1 - left_share))]
    cells = out.rows[0].cells
    for column, cell, width in zip(out.columns, cells, widths, strict=True):
        column.width = cell.width = width
    return cells


def _spacer(document) -> None:
    """An empty line after a table. Never after a section's last block: the section break's own
    paragraph follows it, and the two would push a page-filling table's end onto a blank page."""
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.space_after = Pt(0)


def _masthead(document, block: Masthead, usable_width) -> None:
    left, right = _two_columns(document, usable_width)
    for i, line in enumerate(block.left):
        _text(
            left.paragraphs[0] if i == 0 else left.add_paragraph(),
            line,
            bold=True,
            size=Pt(12),
            align="center",
        )
    for i, line in enumerate(block.right):
        _text(
            right.paragraphs[0] if i == 0 else right.add_paragraph(),
            line,
            bold=True,
            size=Pt(12) if i == 0 else SIZE,
            align="center",
        )
    if block.dateline:
        _text(right.add_paragraph(), block.dateline, italic=True, align="center")


def _signature(document, block: Signature, usable_width) -> None:
    left, right = _two_columns(document, usable_width, left_share=0.5)
    for i, line in enumerate(block.left):
        _text(
            left.paragraphs[0] if i == 0 else left.add_paragraph(),
            line,
            bold=i == 0,
            italic=i == 0,
            size=Pt(12) if i == 0 else Pt(11),
        )
    for i, line in enumerate(block.right):
        italic = line.startswith("(")
        _text(
            right.paragraphs[0] if i == 0 else right.add_paragraph(),
            line,
            bold=not italic,
            italic=italic,
            align="center",
        )


def _section(document, section: Section, first: bool) -> None:
    out = document.sections[0] if first else document.add_section(WD_SECTION.NEW_PAGE)
    _page(out, section.landscape)
    usable = out.page_width - out.left_margin - out.right_margin
    for position, block in enumerate(section.blocks):
        if position and isinstance(section.blocks[position - 1], Masthead | Table):
            _spacer(document)
        if isinstance(block, Masthead):
            _masthead(document, block, usable)
        elif isinstance(block, Table):
            _table(document, block, usable)
        elif isinstance(block, Signature):
            _signature(document, block, usable)
        elif isinstance(block, Paragraph):
            paragraph = document.add_paragraph()
            # A table's heading never stays alone at a page's foot.
            paragraph.paragraph_format.keep_with_next = block.style in ("title", "heading")
            _text(
                paragraph,
                block.text,
                bold=block.bold,
                italic=block.italic,
                size=SIZES.get(block.style, SIZE),
                align=block.align,
            )


def write_docx(annex: AnnexDocument, out: str | IO[bytes]) -> None:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = SIZE
    _set_fonts(normal.element)
    _set_fonts(document.styles["Table Grid"].element)
    _document_defaults(document)
    _font_fallback(document)
    document.core_properties.title = annex.title
    document.core_properties.author = annex.framework.authority.name
    document.core_properties.language = "vi-VN"
    for position, section in enumerate(annex.sections):
        _section(document, section, first=position == 0)
    _page_number(document.sections[0])
    if annex.draft:
        _draft_mark(document.sections[0])
    document.save(out)
