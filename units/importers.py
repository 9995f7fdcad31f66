"""Import of the units file (DESIGN §5): validate every row, then write all units in one transaction.

Columns: Mã đơn vị | Tên đơn vị | Loại | Mã đơn vị cấp trên | Mã đơn vị trước sắp xếp
(English: code, name, kind, parent, predecessors). Parents may come earlier or later in the same
file or exist already; predecessors are separated by ";". Re-importing a file updates the units.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from parindex.audit.models import Via
from parindex.spreadsheets import (
    N_,
    Column,
    Problem,
    SpreadsheetError,
    column_letter,
    file_label,
    find_table,
    open_spreadsheet,
)
from units.models import Unit, UnitKind, unit_code_validator
from units.services import unit_save, unit_set_predecessors

COLUMNS = (
    Column("code", ("Mã đơn vị", "code", "unit code", "ma dv"), required=True, label="Mã đơn vị"),
    Column("name", ("Tên đơn vị", "name", "unit name", "ten"), required=True, label="Tên đơn vị"),
    Column("kind", ("Loại", "kind", "Loại đơn vị", "cấp"), required=True, label="Loại"),
    Column(
        "parent",
        ("Mã đơn vị cấp trên", "parent", "parent code", "cấp trên", "đơn vị cấp trên"),
        label="Mã đơn vị cấp trên",
    ),
    Column(
        "predecessors",
        ("Mã đơn vị trước sắp xếp", "predecessors", "đơn vị trước sắp xếp", "formed from"),
        label="Mã đơn vị trước sắp xếp",
    ),
)


def parse_kind(value) -> str | None:
    """The kind named in a cell (UnitKind.parse: the same names import_framework --unit-kind takes)."""
    return UnitKind.parse(value)


@dataclass
class UnitRow:
    row: int
    code: str
    name: str
    kind: str
    parent: str
    predecessors: list[str] | None


@dataclass
class UnitsImport:
    created: int = 0
    updated: int = 0
    codes: list[str] = field(default_factory=list)


def read_units(source, *, name: str | None = None) -> list[UnitRow]:
    """Read and validate a units file. Raises SpreadsheetError listing every problem."""
    with open_spreadsheet(source, name=name) as book:
        table = find_table(book.first_sheet(), COLUMNS, file_name=book.name)
        problems: list[Problem] = []
        rows: list[UnitRow] = []
        first_row: dict[str, int] = {}
        for row in table.rows():
            code = row.text("code")
            unit_name = row.text("name")
            kind_text = row.text("kind")
            parent = row.text("parent")
            raw_predecessors = row.text("predecessors")
            if not code:
                problems.append(table.problem(N_("The unit code is missing."), cell=row.cell("code")))
                continue
            try:
                unit_code_validator(code)
            except ValidationError:
                problems.append(
                    table.problem(
                        N_("%(code)s is not a valid unit code (letters, digits, dot, dash or underscore)."),
                        cell=row.cell("code"),
                        code=code,
                    )
                )
                continue
            if code in first_row:
                problems.append(
                    table.problem(
                        N_("Unit code %(code)s appears twice (first in row %(first)s)."),
                        cell=row.cell("code"),
                        code=code,
                        first=first_row[code],
                    )
                )
                continue
            first_row[code] = row.number
            if not unit_name:
                problems.append(table.problem(N_("The unit name is missing."), cell=row.cell("name")))
            elif len(unit_name) > Unit._meta.get_field("name").max_length:
                problems.append(table.problem(N_("The unit name is too long."), cell=row.cell("name")))
            kind = parse_kind(kind_text)
            if kind is None:
                problems.append(
                    table.problem(
                        N_(
                            "Unknown kind of unit %(kind)r; use province/tỉnh, district/huyện, department/sở/phòng "
                            "or commune/xã/phường/thị trấn/đặc khu."
                        ),
                        cell=row.cell("kind"),
                        kind=kind_text,
                    )
                )
            if parent == code:
                problems.append(
                    table.problem(N_("A unit cannot be its own parent."), cell=row.cell("parent"))
                )
                parent = ""
            predecessors = None
            if raw_predecessors:
                predecessors = [p.strip() for p in raw_predecessors.replace(",", ";").split(";") if p.strip()]
                if code in predecessors:
                    problems.append(
                        table.problem(
                            N_("A unit cannot be formed from itself."), cell=row.cell("predecessors")
                        )
                    )
            rows.append(UnitRow(row.number, code, unit_name, kind or "", parent, predecessors))
        problems += _reference_problems(table, rows)
    if problems:
        raise SpreadsheetError(problems, book.name)
    return rows


def _reference_problems(table, rows: list[UnitRow]) -> list[Problem]:
    problems: list[Problem] = []
    in_file = {r.code: r for r in rows}
    referenced = {r.parent for r in rows if r.parent} | {p for r in rows for p in (r.predecessors or ())}
    existing = {
        u.code: u for u in Unit.objects.filter(code__in=referenced | set(in_file)).select_related("parent")
    }
    for r in rows:
        if r.parent and r.parent not in in_file and r.parent not in existing:
            problems.append(
                table.problem(
                    N_("Parent unit %(code)s is neither in this file nor known."),
                    cell=_cell(table, "parent", r.row),
                    code=r.parent,
                )
            )
        for code in r.predecessors or ():
            if code not in in_file and code not in existing:
                problems.append(
                    table.problem(
                        N_("Predecessor unit %(code)s is neither in this file nor known."),
                        cell=_cell(table, "predecessors", r.row),
                        code=code,
                    )
                )
    # Cycles: follow parents through the file (which wins) and the database.
    parent_of = {code: (u.parent.code if u.parent_id else "") for code, u in existing.items()}
    _add_database_ancestors(parent_of)
    parent_of.update({r.code: r.parent for r in rows})
    for r in rows:
        seen = {r.code}
        current = parent_of.get(r.code, "")
        while current:
            if current in seen:
                problems.append(
                    table.problem(
                        N_("Unit %(code)s would end up under itself (a cycle of parents)."),
                        cell=_cell(table, "parent", r.row),
                        code=r.code,
                    )
                )
                break
            seen.add(current)
            current = parent_of.get(current, "")
    return problems


def _add_database_ancestors(parent_of: dict[str, str]) -> None:
    """Complete the parent map with the database ancestors of the units already in it."""
    missing = {p for p in parent_of.values() if p and p not in parent_of}
    while missing:
        found = {
            u.code: (u.parent.code if u.parent_id else "")
            for u in Unit.objects.filter(code__in=missing).select_related("parent")
        }
        for code in missing:
            parent_of[code] = found.get(code, "")
        missing = {p for p in found.values() if p and p not in parent_of}


def _cell(table, key: str, row: int) -> str:
    index = table.columns.get(key)
    return f"{column_letter(index)}{row}" if index is not None else ""


@transaction.atomic
def units_import(rows: list[UnitRow], *, actor=None, via: str = Via.COMMAND) -> UnitsImport:
    """Write validated rows through the audited unit services, parents before children, all or nothing."""
    result = UnitsImport()
    pending = {r.code: r for r in rows}
    done: dict[str, Unit] = {}
    existing = {u.code: u for u in Unit.objects.filter(code__in=pending)}

    def save(r: UnitRow) -> Unit:
        if r.code in done:
            return done[r.code]
        parent = None
        if r.parent:
            parent = save(pending[r.parent]) if r.parent in pending else Unit.objects.get(code=r.parent)
        old = existing.get(r.code)
        unit, created = unit_save(
            code=r.code,
            name=r.name,
            kind=r.kind,
            parent=parent,
            active_from=old.active_from if old else None,
            active_to=old.active_to if old else None,
            actor=actor,
            via=via,
        )
        done[r.code] = unit
        result.created += created
        result.updated += not created
        result.codes.append(r.code)
        return unit

    for r in rows:
        save(r)
    for r in rows:
        if r.predecessors is not None:
            predecessors = [done.get(code) or Unit.objects.get(code=code) for code in r.predecessors]
            unit_set_predecessors(unit=done[r.code], predecessors=predecessors, actor=actor, via=via)
    return result


def import_units_file(source, *, name: str | None = None, actor=None, via: str = Via.COMMAND) -> UnitsImport:
    rows = read_units(source, name=name)
    try:
        return units_import(rows, actor=actor, via=via)
    except ValidationError as exc:
        raise SpreadsheetError(
            [Problem(m, literal=True) for m in exc.messages], name or file_label(source)
        ) from exc
