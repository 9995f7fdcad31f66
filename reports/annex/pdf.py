"""The annexes as a PDF (reportlab), written from the same document model as the Word file
(reports.annex.content): same sections, tables and texts.

The font is embedded: Times New Roman when the machine has it, else Liberation Serif (metrically the
same; Debian's fonts-liberation2, which .ci/run installs: the 1.x of fonts-liberation has no Vietnamese
letters), else DejaVu Serif. A font without the Vietnamese letters is never used: without one of these
the build is refused with a clear error instead of a PDF full of empty boxes.
"""

from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils.translation import gettext_noop as N_
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Paragraph as PdfParagraph
from reportlab.platypus import Table as PdfTable

from parindex.errors import ErrorCode, ServiceError
from reports.annex.content import AnnexDocument, Masthead, Paragraph, Section, Signature, Table

FONT_DIRS = (
    "/usr/share/fonts/truetype/msttcorefonts",
    "/usr/share/fonts/truetype/times",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/truetype/dejavu",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)
# (family, regular, bold, italic, bold italic) file names, best first.
FAMILIES = (
    (
        "Times New Roman",
        "Times_New_Roman.ttf",
        "Times_New_Roman_Bold.ttf",
        "Times_New_Roman_Italic.ttf",
        "Times_New_Roman_Bold_Italic.ttf",
    ),
    ("Times New Roman", "times.ttf", "timesbd.ttf", "timesi.ttf", "timesbi.ttf"),
    (
        "Liberation Serif",
        "LiberationSerif-Regular.ttf",
        "LiberationSerif-Bold.ttf",
        "LiberationSerif-Italic.ttf",
        "LiberationSerif-BoldItalic.ttf",
    ),
    (
        "DejaVu Serif",
        "DejaVuSerif.ttf",
        "DejaVuSerif-Bold.ttf",
        "DejaVuSerif-Italic.ttf",
        "DejaVuSerif-BoldItalic.ttf",
    ),
)
VIETNAMESE = "ăâđêôơưắằẳẵặấầẩẫậếềểễệốồổỗộớờởỡợứừửữựĐƯƠỆ"
MARGIN = {"top": 20 * mm, "bottom": 20 * mm, "left": 30 * mm, "right": 15 * mm}
BODY = 13
TABLE = 10


@dataclass(frozen=True)
class Fonts:
    family: str
    regular: str
    bold: str
    italic: str
    bold_italic: str


def _has_vietnamese(font: TTFont) -> bool:
    glyphs = font.face.charToGlyph
    return all(ord(letter) in glyphs for letter in VIETNAMESE)


def _font_dirs() -> list[Path]:
    extra = getattr(settings, "PARINDEX_FONT_DIRS", ())
    return [Path(d) for d in (*extra, *FONT_DIRS)]


def register_fonts() -> Fonts:
    """Register the first serif family found whose four faces exist and hold the Vietnamese letters."""
    for family, *files in FAMILIES:
        for folder in _font_dirs():
            paths = [folder / name for name in files]
            if not all(path.is_file() for path in paths):
                continue
            names = [f"{family}-{face}" for face in ("Regular", "Bold", "Italic", "BoldItalic")]
            try:
                faces = [TTFont(name, str(path)) for name, path in zip(names, paths, strict=True)]
            except Exception:  # a broken or unreadable font file: try the next one
                continue
            if not all(_has_vietnamese(face) for face in faces):
                continue
            for face in faces:
                if face.fontName not in pdfmetrics.getRegisteredFontNames():
                    pdfmetrics.registerFont(face)
            pdfmetrics.registerFontFamily(
                names[0], normal=names[0], bold=names[1], italic=names[2], boldItalic=names[3]
            )
            return Fonts(family, *names)
    raise ServiceError(
        N_(
            "No serif font with Vietnamese letters was found for the PDF (Times New Roman, Liberation "
            "Serif or DejaVu Serif): install the fonts-liberation2 package (apt-get install fonts-liberation2)."
        ),
        code=ErrorCode.INVALID,
    )


class _Builder:
    def __init__(self, fonts: Fonts):
        self.fonts = fonts
        base = {"fontName": fonts.regular, "fontSize": BODY, "leading": BODY * 1.25, "spaceAfter": 3}
        self.styles = {
            align: ParagraphStyle(f"body-{align}", alignment=code, **base)
            for align, code in (
                ("left", TA_LEFT),
                ("center", TA_CENTER),
                ("right", TA_RIGHT),
                ("justify", TA_JUSTIFY),
            )
        }
        self.cell = {
            align: ParagraphStyle(
                f"cell-{align}", fontName=fonts.regular, fontSize=TABLE, leading=TABLE * 1.2, alignment=code
            )
            for align, code in (("left", TA_LEFT), ("center", TA_CENTER), ("right", TA_RIGHT))
        }

    def text(
        self, text: str, *, align="left", bold=False, italic=False, size=None, style=None
    ) -> PdfParagraph:
        font = (
            self.fonts.bold_italic
            if bold and italic
            else self.fonts.bold
            if bold
            else self.fonts.italic
            if italic
            else self.fonts.regular
        )
        base = style or self.styles[align]
        size = size or base.fontSize
        custom = ParagraphStyle(
            f"{base.name}-{font}-{size}", parent=base, fontName=font, fontSize=size, leading=size * 1.25
        )
        return PdfParagraph(escape(text).replace("\n", "<br/>"), custom)

    def paragraph(self, block: Paragraph) -> list:
        size = 14 if block.style == "title" else BODY
        out = self.text(block.text, align=block.align, bold=block.bold, italic=block.italic, size=size)
        if (
            block.style == "heading" and block.align == "left"
        ):  # a table's heading: never alone at a page's foot
            return [CondPageBreak(35 * mm), out]
        return [out]

    def table(self, block: Table, width: float) -> list:
        total = sum(block.widths)
        widths = [width * block.share * w / total for w in block.widths]
        data = [
            [self.text(title, align="center", bold=True, style=self.cell["center"]) for title in block.header]
        ]
        for index, values in enumerate(block.rows):
            bold = index in block.bold_rows
            data.append(
                [
                    self.text(value, align=align, bold=bold, style=self.cell[align])
                    for value, align in zip(values, block.align, strict=True)
                ]
            )
        table = PdfTable(data, colWidths=widths, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return [table, Spacer(1, 4 * mm)]

    def two_columns(self, left: list, right: list, width: float, share: float) -> PdfTable:
        table = PdfTable([[left, right]], colWidths=[width * share, width * (1 - share)])
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ]
            )
        )
        return table

    def masthead(self, block: Masthead, width: float) -> list:
        left = [self.text(line, align="center", bold=True, size=11.5) for line in block.left]
        right = [
            self.text(line, align="center", bold=True, size=11.5 if i == 0 else BODY)
            for i, line in enumerate(block.right)
        ]
        if block.dateline:
            right.append(self.text(block.dateline, align="center", italic=True))
        return [self.two_columns(left, right, width, 0.4), Spacer(1, 5 * mm)]

    def signature(self, block: Signature, width: float) -> list:
        left = [
            self.text(line, bold=i == 0, italic=i == 0, size=12 if i == 0 else 11)
            for i, line in enumerate(block.left)
        ]
        right = [
            self.text(line or " ", align="center", bold=not line.startswith("("), italic=line.startswith("("))
            for line in block.right
        ]
        return [Spacer(1, 4 * mm), self.two_columns(left, right, width, 0.5)]

    def section(self, section: Section, width: float) -> list:
        out: list = []
        for block in section.blocks:
            if isinstance(block, Masthead):
                out += self.masthead(block, width)
            elif isinstance(block, Table):
                out += self.table(block, width)
            elif isinstance(block, Signature):
                out += self.signature(block, width)
            else:
                out += self.paragraph(block)
        return out


def write_pdf(annex: AnnexDocument, out: str | PurePath | IO[bytes]) -> None:
    fonts = register_fonts()
    builder = _Builder(fonts)

    def number_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 11)
        width, _height = canvas._pagesize
        canvas.drawCentredString(width / 2, 10 * mm, str(doc.page))
        canvas.restoreState()

    templates = []
    for name, size in (("portrait", A4), ("landscape", landscape(A4))):
        frame = Frame(
            MARGIN["left"] if name == "portrait" else 20 * mm,
            MARGIN["bottom"],
            size[0] - (MARGIN["left"] if name == "portrait" else 20 * mm) - MARGIN["right"],
            size[1] - MARGIN["top"] - MARGIN["bottom"],
            id=name,
            leftPadding=0,
            rightPadding=0,
        )
        templates.append(PageTemplate(id=name, frames=[frame], pagesize=size, onPage=number_page))
    first = "landscape" if annex.sections[0].landscape else "portrait"
    templates.sort(key=lambda t: t.id != first)
    doc = BaseDocTemplate(
        str(out) if isinstance(out, PurePath) else out,
        pagesize=A4,
        pageTemplates=templates,
        title=annex.title,
        author=annex.framework.authority.name,
        lang="vi-VN",
    )
    story: list = []
    for position, section in enumerate(annex.sections):
        orientation = "landscape" if section.landscape else "portrait"
        if position:
            story += [NextPageTemplate(orientation), PageBreak()]
        frame = next(t for t in templates if t.id == orientation).frames[0]
        story += builder.section(section, frame._width)
    doc.build(story)
