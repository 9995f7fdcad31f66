"""The annexes (Phụ lục) and the draft decision as an office publishes them: ONE document model that
the Word renderer writes (reports.annex.docx); the PDF is that Word file converted by LibreOffice
(reports.annex.pdf), so that the two files cannot say different things nor look different.

Every figure comes from the stored results through the selectors the dashboards read
(scoring.results.selectors.ranking with its parts and groups, reports.selectors for the grade counts
and the areas, reports.report_workbook's year-on-year lines for an explicit comparison): nothing is
computed again here except averages of the figures shown and the display of the criteria tree.

An official document of a Vietnamese authority is written in Vietnamese, whatever the language of
the person who asks for it: the texts below are Vietnamese and numbers have a decimal comma.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models.functions import Coalesce
from django.utils import translation

from parindex.numbers import format_decimal
from reports.selectors import framework_areas, framework_bands, grade_distribution
from reports.yearly import year_lines
from scoring.frameworks.selectors import CriteriaTree, criteria_tree
from scoring.models import Criterion, CriterionKind, CriterionSource, Framework, Score
from scoring.results.engine import previous_framework
from scoring.results.selectors import RankingLine, parts_header, ranking
from units.models import Unit, UnitKind

ZERO = Decimal("0")
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
AVERAGE = "Giá trị trung bình"
DRAFT = "DỰ THẢO"
ROMAN = ("I", "II", "III", "IV")
DOTS = "…"

# --- the model ---------------------------------------------------------------------------------------


@dataclass
class Paragraph:
    text: str
    style: str = "body"  # title, heading, body, note (italic), motto
    align: str = "left"  # left, center, right, justify
    bold: bool = False
    italic: bool = False


@dataclass
class Masthead:
    """The two columns above a document: the issuing authority (left) and the national motto (right)."""

    left: list[str]
    right: list[str]
    dateline: str = ""  # "Sơn Hà, ngày … tháng … năm …", under the motto


@dataclass
class Signature:
    """Where the document is signed: "Nơi nhận" (left, optional) and the signing authority (right)."""

    left: list[str]
    right: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    widths: list[float]  # relative column widths
    align: list[str]  # per column: left, center, right
    bold_rows: set[int] = field(default_factory=set)  # indexes in `rows` (the average row)
    caption: str = ""
    share: float = 1.0  # of the page's width (a short table need not span it)


@dataclass
class Section:
    """A part of the document that starts on a new page: portrait, or landscape for wide tables."""

    name: str  # what the renderers and tests find it by: decision, annex-1 … annex-4
    landscape: bool
    blocks: list[Paragraph | Masthead | Table | Signature]


@dataclass
class AnnexDocument:
    framework: Framework
    draft: bool
    title: str
    sections: list[Section]

    def section(self, name: str) -> Section:
        return next(section for section in self.sections if section.name == name)

    def tables(self, name: str) -> list[Table]:
        return [block for block in self.section(name).blocks if isinstance(block, Table)]


# --- formatting -------------------------------------------------------------------------------------------


def points(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value, 2, language="vi")


def maximum(value: Decimal) -> str:
    """A maximum in a header: "68,5", "100" (trailing zeros dropped)."""
    return format_decimal(value, language="vi")


def index_text(value: Decimal | None, places: int) -> str:
    return "" if value is None else format_decimal(value, places, language="vi")


def place(rank: int | None) -> str:
    return "" if rank is None else str(rank)


def place_change(change: int | None) -> str:
    """Places gained or lost: "↑2", "↓1", "=" (same place), "" (no comparable place)."""
    if change is None:
        return ""
    return f"↑{change}" if change > 0 else f"↓{-change}" if change < 0 else "="


def signed(value: Decimal | None, text: Callable[[Decimal], str]) -> str:
    if value is None:
        return ""
    return f"+{text(value)}" if value > 0 else text(value)


def date_text(value) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def issuer_name(authority: Unit) -> str:
    """The body that signs the decision: "Ủy ban nhân dân tỉnh Sơn Hà" for a province or district,
    else the unit's own name (a department running an index of its own)."""
    if authority.kind not in (UnitKind.PROVINCE, UnitKind.DISTRICT):
        return authority.name
    return f"Ủy ban nhân dân {_lower_level(authority.name)}"


KIND_WORDS: dict[str, str] = {
    UnitKind.PROVINCE: "tỉnh",
    UnitKind.DISTRICT: "huyện",
    UnitKind.DEPARTMENT: "cơ quan chuyên môn",
    UnitKind.COMMUNE: "xã",
    UnitKind.WARD: "phường",
    UnitKind.SPECIAL_ZONE: "đặc khu",
    UnitKind.TOWNSHIP: "thị trấn",
}


def _lower_level(name: str) -> str:
    """ "Huyện Đông Thành" → "huyện Đông Thành": the level in lower case inside a phrase."""
    name = name.strip()
    for level in ("Tỉnh ", "Thành phố ", "Huyện ", "Quận ", "Thị xã "):
        if name.startswith(level):
            return level.lower() + name[len(level) :]
    return name


def subject(framework: Framework) -> str:
    """Whose results they are: "các xã, thị trấn thuộc huyện Đông Thành"."""
    kinds = ", ".join(KIND_WORDS.get(kind, kind) for kind in framework.covered_kinds)
    return f"các {kinds} thuộc {_lower_level(framework.authority.name)}"


def place_name(authority: Unit) -> str:
    """The place in the dateline: "Sơn Hà" for "Tỉnh Sơn Hà"."""
    name = authority.name.strip()
    for level in ("Tỉnh ", "Thành phố ", "Huyện ", "Quận ", "Thị xã "):
        if name.startswith(level):
            return name[len(level) :]
    return name


# --- building ---------------------------------------------------------------------------------------------


@dataclass
class _Context:
    framework: Framework
    compare: Framework | None
    draft: bool
    issuer: str
    decision_ref: str  # "số 4769/QĐ-UBND ngày 25/12/2024" or the blanks to fill in
    places: int


def _decision_ref(framework: Framework) -> str:
    if framework.is_published and framework.decision_number:
        return f"số {framework.decision_number} ngày {date_text(framework.decision_date)}"
    return f"số {DOTS}/QĐ-UBND ngày {DOTS}/{DOTS}/{framework.year + 1}"


def _masthead(ctx: _Context, dateline: bool = False) -> Masthead:
    authority = ctx.framework.authority
    when = (
        f"{place_name(authority)}, ngày {ctx.framework.decision_date.day:02d} tháng "
        f"{ctx.framework.decision_date.month:02d} năm {ctx.framework.decision_date.year}"
        if not ctx.draft and ctx.framework.decision_date
        else f"{place_name(authority)}, ngày {DOTS} tháng {DOTS} năm {ctx.framework.year + 1}"
    )
    issuer = ctx.issuer.upper()
    body = "ỦY BAN NHÂN DÂN "
    return Masthead(
        left=[body.strip(), issuer.removeprefix(body)] if issuer.startswith(body) else [issuer],
        right=list(MOTTO),
        dateline=when if dateline else "",
    )


def _annex_heading(ctx: _Context, number: str, title: str) -> list[Paragraph | Masthead]:
    blocks: list[Paragraph | Masthead] = [_masthead(ctx)]
    if ctx.draft:
        blocks.append(Paragraph(DRAFT, style="title", align="center", bold=True))
    blocks += [
        Paragraph(f"PHỤ LỤC {number}", style="title", align="center", bold=True),
        Paragraph(title.upper(), style="heading", align="center", bold=True),
        Paragraph(
            f"(Kèm theo Quyết định {ctx.decision_ref} của {ctx.issuer})",
            style="note",
            align="center",
            italic=True,
        ),
    ]
    return blocks


# Where each source's points stand in RankingLine.parts / parts_header().
SOURCE_PART: dict[str, int] = {CriterionSource.SELF: 0, CriterionSource.SURVEY: 1, CriterionSource.OFFICE: 2}


@dataclass
class PartColumn:
    position: int  # in RankingLine.parts / parts_header()
    label: str
    max_points: Decimal


def part_columns(tree: CriteriaTree) -> list[PartColumn]:
    """The parts of the points that the framework has (a source or kind with a positive maximum), with
    their maxima: the leaves' maxima added up, as the framework file gives them."""
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for leaf in tree.leaves:
        if leaf.kind == CriterionKind.BONUS:
            totals[3] += leaf.max_points
        elif leaf.kind == CriterionKind.PENALTY:
            totals[4] += leaf.max_points
        else:
            totals[SOURCE_PART[leaf.source]] += leaf.max_points
    labels = parts_header()
    return [PartColumn(i, labels[i], totals[i]) for i in range(5) if totals[i] > 0]


def score_maximum(tree: CriteriaTree) -> Decimal:
    return sum((leaf.max_points for leaf in tree.leaves if leaf.kind == CriterionKind.SCORE), ZERO)


def _average(values: list[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


def holds_place(line: RankingLine) -> bool:
    return line.ranked and line.rank is not None


@dataclass
class GroupAverages:
    parts: list[Decimal | None]  # one per PartColumn given
    points: Decimal | None
    index: Decimal | None


def group_averages(lines: list[RankingLine], parts: list[PartColumn]) -> GroupAverages:
    """The "Giá trị trung bình" row of a ranking group: the means of the parts, the points and the
    index over the units holding a place (unrounded; the annexes and the report workbook show them)."""
    ranked = [line for line in lines if holds_place(line)]
    return GroupAverages(
        [_average([line.parts[part.position] for line in ranked]) for part in parts],
        _average([line.points for line in ranked]),
        _average([line.index for line in ranked if line.index is not None]),
    )


def _ranking_section(ctx: _Context, lines: list[RankingLine], groups, tree: CriteriaTree) -> Section:
    parts = part_columns(tree)
    total_max = score_maximum(tree)
    year = ctx.framework.year
    blocks: list = _annex_heading(
        ctx, "I", f"Kết quả xếp hạng Chỉ số cải cách hành chính năm {year} của {subject(ctx.framework)}"
    )
    header = (
        ["STT", "Đơn vị"]
        + [f"{part.label} ({maximum(part.max_points)})" for part in parts]
        + [f"Tổng điểm ({maximum(total_max)})", "Chỉ số (%)", "Xếp hạng", "Xếp loại"]
    )
    widths = [0.8, 3.0] + [1.3] * len(parts) + [1.2, 1.1, 0.9, 1.4]
    align = ["center", "left"] + ["right"] * len(parts) + ["right", "right", "center", "center"]
    for name, group_lines in groups:
        ranked = [line for line in group_lines if holds_place(line)]
        others = [line for line in group_lines if not holds_place(line)]
        n = len(ranked)
        rows = []
        for number, line in enumerate(ranked, start=1):
            rows.append(
                [str(number), line.unit_name]
                + [points(line.parts[part.position]) for part in parts]
                + [points(line.points), index_text(line.index, ctx.places), place(line.rank), line.grade]
            )
        averages = group_averages(group_lines, parts)
        average_row = [
            "",
            AVERAGE,
            *[points(value) for value in averages.parts],
            points(averages.points),
            index_text(averages.index, ctx.places),
            "",
            "",
        ]
        rows.append(average_row)
        caption = f"Nhóm {name}" if name else ""
        if caption:
            blocks.append(Paragraph(f"{caption} ({n} đơn vị được xếp hạng)", style="heading", bold=True))
        blocks.append(Table(header, rows, widths, align, bold_rows={len(rows) - 1}, caption=caption))
        if others:
            blocks.append(
                Paragraph(
                    "Đơn vị được đánh giá nhưng không xếp hạng"
                    + (f" ({caption.lower()})" if caption else ""),
                    style="heading",
                    bold=True,
                )
            )
            blocks.append(
                Table(
                    [
                        "STT",
                        "Đơn vị",
                        f"Tổng điểm ({maximum(total_max)})",
                        "Chỉ số (%)",
                        "Lý do không xếp hạng",
                    ],
                    [
                        [
                            str(number),
                            line.unit_name,
                            points(line.points),
                            index_text(line.index, ctx.places),
                            line.not_ranked_reason
                            or ("Chưa thẩm định" if line.rank is None and line.ranked else "Không xếp hạng"),
                        ]
                        for number, line in enumerate(others, start=1)
                    ],
                    [0.8, 3.2, 1.2, 1.1, 5.0],
                    ["center", "left", "right", "right", "left"],
                    caption=f"{caption} không xếp hạng" if caption else "không xếp hạng",
                )
            )
    blocks += _grade_counts(ctx, [line for line in lines if line.ranked and line.rank is not None])
    blocks.append(_signature(ctx))
    return Section("annex-1", landscape=True, blocks=blocks)


def _grade_counts(ctx: _Context, lines: list[RankingLine]) -> list:
    counts = grade_distribution(lines, framework_bands(ctx.framework))
    total = sum(count.count for count in counts)
    rows = []
    for number, count in enumerate(counts, start=1):
        share = Decimal(count.count * 100) / total if total else None
        rows.append(
            [
                str(number),
                count.name or "Chưa xếp loại",
                f"từ {maximum(count.min_index)}%" if count.min_index is not None else "",
                str(count.count),
                index_text(share, 2),
            ]
        )
    rows.append(["", "Tổng cộng", "", str(total), index_text(Decimal(100) if total else None, 2)])
    return [
        Paragraph("Số đơn vị theo xếp loại", style="heading", bold=True),
        Table(
            ["STT", "Xếp loại", "Chỉ số", "Số đơn vị", "Tỷ lệ (%)"],
            rows,
            [0.8, 2.5, 1.5, 1.2, 1.2],
            ["center", "left", "center", "right", "right"],
            bold_rows={len(rows) - 1},
            caption="grades",
            share=0.7,
        ),
    ]


def _areas_section(ctx: _Context, lines: list[RankingLine]) -> Section:
    blocks: list = _annex_heading(
        ctx, "II", f"Chỉ số thành phần theo lĩnh vực năm {ctx.framework.year} của {subject(ctx.framework)}"
    )
    areas = framework_areas(ctx.framework)
    header = ["STT", "Đơn vị"] + [f"{area.code}. {area.title} ({maximum(area.max_points)})" for area in areas]
    header += ["Chỉ số (%)"]
    rows = []
    for number, line in enumerate(lines, start=1):
        cells = {a.area_id: a for a in line.areas}
        rows.append(
            [str(number), line.unit_name]
            + [index_text(cells[a.id].index if a.id in cells else None, ctx.places) for a in areas]
            + [index_text(line.index, ctx.places)]
        )
    rows.append(
        ["", AVERAGE]
        + [index_text(area.average_index, ctx.places) for area in areas]
        + [index_text(_average([line.index for line in lines if line.index is not None]), ctx.places)]
    )
    blocks.append(
        Paragraph(
            "Chỉ số của từng lĩnh vực (%): điểm đạt được trên điểm tối đa của lĩnh vực.",
            style="note",
            italic=True,
        )
    )
    blocks.append(
        Table(
            header,
            rows,
            [0.8, 3.0] + [1.4] * len(areas) + [1.1],
            ["center", "left"] + ["right"] * (len(areas) + 1),
            bold_rows={len(rows) - 1},
            caption="areas",
        )
    )
    return Section("annex-2", landscape=True, blocks=blocks)


@dataclass
class YearRow:
    line: RankingLine
    compared_with: list[str]  # names of the units last year's figures are those of
    previous_points: Decimal | None
    previous_index: Decimal | None
    previous_rank: int | None
    points_change: Decimal | None
    index_change: Decimal | None
    rank_change: int | None


def year_rows(framework: Framework, compare: Framework | None, lines: list[RankingLine]) -> list[YearRow]:
    """Year on year: with an explicit comparison, the report workbook's lines against that framework;
    otherwise the engine's stored previous-year figures. Merged units are named by their predecessors'
    names (two queries at most)."""
    if compare is not None:
        yearly = year_lines(framework, compare, lines)
        codes = {code for y in yearly for code in y.compared_with}
        names = dict(Unit.objects.filter(code__in=codes).values_list("code", "name"))
        return [
            YearRow(
                y.line,
                [names.get(code, code) for code in y.compared_with]
                if y.compared_with != [y.line.unit_code]
                else [],
                y.previous_points,
                y.previous_index,
                y.previous_rank,
                y.points_change,
                y.index_change,
                y.rank_change,
            )
            for y in yearly
        ]
    predecessors: dict[int, list[str]] = defaultdict(list)
    for unit_id, name in (
        Unit.predecessors.through.objects.filter(from_unit_id__in=[line.unit_id for line in lines])
        .order_by("to_unit__code")
        .values_list("from_unit_id", "to_unit__name")
    ):
        predecessors[unit_id].append(name)
    return [
        YearRow(
            line,
            predecessors.get(line.unit_id, []) if line.previous_index is not None else [],
            line.previous_points,
            line.previous_index,
            line.previous_rank,
            line.points_change,
            line.index_change,
            line.rank_change,
        )
        for line in lines
    ]


def _years_section(ctx: _Context, lines: list[RankingLine]) -> Section:
    compared = ctx.compare if ctx.compare is not None else previous_framework(ctx.framework)
    year = ctx.framework.year
    before = compared.year if compared is not None else year - 1
    blocks: list = _annex_heading(
        ctx,
        "III",
        f"So sánh kết quả Chỉ số cải cách hành chính năm {year} với năm {before} của {subject(ctx.framework)}",
    )
    rows_data = year_rows(ctx.framework, ctx.compare, lines)
    if compared is not None:
        blocks.append(
            Paragraph(f"So sánh với: {compared.name} ({compared.year}).", style="note", italic=True)
        )
    header = [
        "STT",
        "Đơn vị",
        f"Tổng điểm {before}",
        f"Tổng điểm {year}",
        "Tăng/giảm điểm",
        f"Chỉ số {before} (%)",
        f"Chỉ số {year} (%)",
        "Tăng/giảm chỉ số",
        f"Xếp hạng {before}",
        f"Xếp hạng {year}",
        "Thay đổi thứ hạng",
        "Ghi chú",
    ]
    rows = []
    for number, y in enumerate(rows_data, start=1):
        note = f"Hình thành từ: {', '.join(y.compared_with)}" if y.compared_with else ""
        if y.previous_index is None:
            note = note or "Không có kết quả năm trước"
        rows.append(
            [
                str(number),
                y.line.unit_name,
                points(y.previous_points),
                points(y.line.points),
                signed(y.points_change, points),
                index_text(y.previous_index, ctx.places),
                index_text(y.line.index, ctx.places),
                signed(y.index_change, lambda v: index_text(v, ctx.places)),
                place(y.previous_rank),
                place(y.line.rank),
                place_change(y.rank_change),
                note,
            ]
        )
    blocks.append(
        Table(
            header,
            rows,
            [0.8, 2.6, 1.0, 1.0, 1.15, 1.0, 1.0, 1.15, 0.9, 0.9, 0.9, 2.4],
            ["center", "left"] + ["right"] * 8 + ["center", "left"],
            caption="years",
        )
    )
    changed = [(y.index_change, y) for y in rows_data if y.index_change is not None]
    rises = [y for change, y in sorted((c for c in changed if c[0] > 0), key=lambda c: -c[0])[:3]]
    falls = [y for change, y in sorted((c for c in changed if c[0] < 0), key=lambda c: c[0])[:3]]
    for title, chosen in (("Tăng nhiều nhất", rises), ("Giảm nhiều nhất", falls)):
        text = "; ".join(
            f"{y.line.unit_name} ({signed(y.index_change, lambda v: index_text(v, ctx.places))} điểm %"
            + (f", {place_change(y.rank_change)} bậc" if y.rank_change else "")
            + ")"
            for y in chosen
        )
        blocks.append(Paragraph(f"{title}: {text or 'không có'}.", style="body"))
    return Section("annex-3", landscape=True, blocks=blocks)


def _criteria_section(ctx: _Context, lines: list[RankingLine], tree: CriteriaTree) -> Section:
    """For each unit, the points of every criterion of the tree: leaves as scored (final points, or
    "KAD" when not applicable), areas as stored, criteria in between the sum of their leaves."""
    blocks: list = _annex_heading(
        ctx, "IV", f"Điểm chi tiết theo tiêu chí năm {ctx.framework.year} của {subject(ctx.framework)}"
    )
    scores: dict[int, dict[int, tuple[Decimal | None, bool]]] = defaultdict(dict)
    for assessment_id, criterion_id, final, not_applicable in (
        Score.objects.filter(assessment__framework=ctx.framework)
        .annotate(final=Coalesce("appraised_points", "self_points"), na=Score.is_not_applicable_expression())
        .values_list("assessment_id", "criterion_id", "final", "na")
    ):
        scores[assessment_id][criterion_id] = (final, bool(not_applicable))
    leaves_under: dict[int, list[int]] = defaultdict(list)
    for leaf in tree.leaves:
        node: Criterion | None = leaf
        while node is not None:
            leaves_under[node.pk].append(leaf.pk)
            node = tree.by_id.get(node.parent_id) if node.parent_id else None
    for number, line in enumerate(lines, start=1):
        own = scores.get(line.assessment_id, {})
        stored = {a.area_id: a.points for a in line.areas}
        rows: list[list[str]] = []
        bold: set[int] = set()
        for criterion in tree:
            if criterion.is_leaf:
                final, na = own.get(criterion.pk, (None, False))
                got = "KAD" if na else points(final if final is not None else ZERO)
            elif criterion.pk in stored:
                got = points(stored[criterion.pk])
            else:
                got = points(
                    sum(
                        (
                            own[leaf][0] or ZERO
                            for leaf in leaves_under[criterion.pk]
                            if leaf in own and not own[leaf][1]
                        ),
                        ZERO,
                    )
                )
            if criterion.depth == 0:
                bold.add(len(rows))
            # A penalty taken is written "−1,00"; none taken is "0,00", never "−0,00".
            taken = got not in ("", "KAD") and got.strip("0,") != ""
            sign = "−" if criterion.kind == CriterionKind.PENALTY and taken else ""
            rows.append([criterion.code, criterion.title, maximum(criterion.max_points), sign + got])
        rows.append(["", "Tổng điểm", maximum(score_maximum(tree)), points(line.points)])
        bold.add(len(rows) - 1)
        status = f"hạng {line.rank}/{line.places}" if line.rank is not None else "không xếp hạng"
        blocks.append(
            Paragraph(
                f"{number}. {line.unit_name} — Chỉ số {index_text(line.index, ctx.places)}%, {status}"
                + (f", xếp loại {line.grade}" if line.grade else ""),
                style="heading",
                bold=True,
            )
        )
        blocks.append(
            Table(
                ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm đạt"],
                rows,
                [0.7, 5.6, 1.0, 1.0],
                ["left", "left", "right", "right"],
                bold_rows=bold,
                caption=line.unit_code,
            )
        )
    return Section("annex-4", landscape=False, blocks=blocks)


def _signature(ctx: _Context, receivers: list[str] | None = None) -> Signature:
    return Signature(
        left=["Nơi nhận:", *receivers] if receivers else [],
        right=(
            ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
            if ctx.issuer.startswith("Ủy ban nhân dân")
            else [ctx.issuer.upper(), "THỦ TRƯỞNG CƠ QUAN"]
        )
        + ["", "", "(Ký, ghi rõ họ tên và đóng dấu)"],
    )


def _decision_section(ctx: _Context, lines: list[RankingLine]) -> Section:
    fw = ctx.framework
    number = fw.decision_number if not ctx.draft and fw.decision_number else f"{DOTS}/QĐ-UBND"
    blocks: list = [_masthead(ctx, dateline=True)]
    if ctx.draft:
        blocks.append(Paragraph(DRAFT, style="title", align="center", bold=True))
    blocks += [
        Paragraph(f"Số: {number}", style="body", align="left"),
        Paragraph("QUYẾT ĐỊNH", style="title", align="center", bold=True),
        Paragraph(
            f"Phê duyệt và công bố Chỉ số cải cách hành chính năm {fw.year} của {subject(fw)}",
            style="heading",
            align="center",
            bold=True,
        ),
        Paragraph(ctx.issuer.upper(), style="heading", align="center", bold=True),
    ]
    basis = [row.strip() for row in fw.legal_basis.splitlines() if row.strip()]
    for row in basis:
        blocks.append(
            Paragraph(
                f"Căn cứ {row.removeprefix('Căn cứ ').rstrip(';.')};",
                style="note",
                align="justify",
                italic=True,
            )
        )
    heads: dict[str, str] = {UnitKind.PROVINCE: "Giám đốc ", UnitKind.DISTRICT: "Trưởng "}
    head = heads.get(fw.authority.kind)
    proposer = (
        f"{head}{fw.authority.home_affairs_office}"
        if head
        else f"bộ phận phụ trách cải cách hành chính {DOTS}"
    )
    blocks.append(
        Paragraph(
            f"Theo đề nghị của {proposer} tại Tờ trình số {DOTS}/TTr-{DOTS} ngày {DOTS}/{DOTS}/{DOTS}.",
            style="note",
            align="justify",
            italic=True,
        )
    )
    blocks.append(Paragraph("QUYẾT ĐỊNH:", style="heading", align="center", bold=True))
    ranked = sum(1 for line in lines if line.ranked and line.rank is not None)
    blocks += [
        Paragraph(
            f"Điều 1. Phê duyệt và công bố Chỉ số cải cách hành chính năm {fw.year} của {len(lines)} "
            f"{subject(fw).removeprefix('các ')} "
            f"({ranked} đơn vị được xếp hạng) theo {fw.name}, chi tiết tại các Phụ lục I, II, III và IV "
            "kèm theo Quyết định này.",
            align="justify",
        ),
        Paragraph(
            f"Điều 2. Giao {fw.authority.home_affairs_office} chủ trì, phối hợp với các cơ quan, đơn vị "
            "liên quan công khai kết quả; các đơn vị căn cứ kết quả Chỉ số cải cách hành chính xây dựng "
            "kế hoạch khắc phục những tồn tại, hạn chế trong năm tiếp theo.",
            align="justify",
        ),
        Paragraph(
            "Điều 3. Quyết định này có hiệu lực kể từ ngày ký. Chánh Văn phòng, "
            f"thủ trưởng {fw.authority.home_affairs_office} và thủ trưởng các cơ quan, đơn vị có tên tại "
            "Phụ lục I chịu trách nhiệm thi hành Quyết định này.",
            align="justify",
        ),
    ]
    blocks.append(
        _signature(
            ctx,
            receivers=[
                "- Như Điều 3;",
                "- Bộ Nội vụ (để báo cáo);",
                f"- Lãnh đạo {ctx.issuer};",
                "- Cổng thông tin điện tử;",
                "- Lưu: VT.",
            ],
        )
    )
    return Section("decision", landscape=False, blocks=blocks)


def annex_document(
    framework: Framework,
    compare: Framework | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> AnnexDocument:
    """The decision and its four annexes, from the stored results. A fixed number of queries whatever
    the number of units (the ranking with its areas, the tree, the bands, the areas' averages, the
    scores, the year on year)."""
    beat = progress or (lambda percent: None)
    with translation.override("vi"):
        board = ranking(framework)
        tree = criteria_tree(framework)
        beat(20)
        ctx = _Context(
            framework=framework,
            compare=compare,
            draft=not framework.is_published,
            issuer=issuer_name(framework.authority),
            decision_ref=_decision_ref(framework),
            places=framework.index_decimals,
        )
        lines = board.lines
        sections = [_decision_section(ctx, lines)]
        sections.append(_ranking_section(ctx, lines, board.groups(), tree))
        beat(40)
        sections.append(_areas_section(ctx, lines))
        beat(55)
        sections.append(_years_section(ctx, lines))
        beat(70)
        sections.append(_criteria_section(ctx, lines, tree))
        beat(80)
    title = f"Chỉ số CCHC năm {framework.year} — {framework.name}"
    return AnnexDocument(framework, ctx.draft, (f"{DRAFT} — " if ctx.draft else "") + title, sections)
