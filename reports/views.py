"""Leaders' dashboards: ranking, areas, unit profiles, progress, remediation plans.

Every page reads the stored results (scoring.results.engine) through reports.selectors in a fixed number of
queries whatever the number of units. Access comes from scoring.access and reports.access: leaders
and appraisers see the units under their authority; an officer sees only their own unit's profile
and remediation items, and gets 403 on the pages of a framework their unit is assessed in.
Charts are drawn by static/js/charts.js from JSON embedded in the page; every chart has a table
next to it, and the tables are the page without JavaScript."""

import io
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from parindex.csv_export import csv_dialect, csv_text, protect_sheet
from parindex.numbers import format_decimal, place_text, when_text
from parindex.templatetags.parindex import rank_change as rank_change_text
from reports import selectors
from reports.access import (
    can_change_remediation,
    can_report_remediation_result,
    ensure_remediation_change,
    ensure_reporter,
    get_province_for_view,
    get_remediation_item_for_view,
    provinces_overseen_by,
)
from reports.forms import RemediationFilterForm, RemediationForm
from reports.meeting import steering_meeting
from reports.models import RemediationStatus
from reports.remediation import remediation_suggest, remediation_update
from scoring import access
from scoring.access import authority_condition, can_manage_framework, reach
from scoring.inspections.selectors import overdue_recommendations
from scoring.models import AssessmentStatus, Framework
from scoring.results.forecast import forecast
from scoring.results.selectors import parts_header, ranking
from units.models import Unit, UnitKind

FORECAST_PAGE_SIZE = 50
FORECAST_PUSH_SIZE = 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- access -----------------------------------------------------------------------------------------


def _under(request, framework: Framework) -> Unit | None:
    """The subtree ("area under the authority") a page is narrowed to, from ?under=<unit code>."""
    code = request.GET.get("under", "").strip()
    if not code:
        return None
    unit = access.get_unit_for_oversight(request.user, code)
    if not unit.path.startswith(framework.authority.path):
        raise Http404
    return unit


# --- charts -----------------------------------------------------------------------------------------


def _num(value):
    return None if value is None else float(value)


def _chart(
    kind: str,
    labels,
    datasets,
    *,
    y_max=None,
    reverse=False,
    horizontal=False,
    legend=True,
    y_title="",
    x_title="",
) -> dict:
    """A Chart.js configuration (plain JSON: no functions) that charts.js hands to `new Chart`."""
    value_axis = "x" if horizontal else "y"
    scales = {}
    if kind in ("bar", "line"):
        scales = {
            value_axis: {"beginAtZero": not reverse, "reverse": reverse},
            ("y" if horizontal else "x"): {"ticks": {"autoSkip": True}},
        }
        if y_max is not None:
            scales[value_axis]["max"] = y_max
        if y_title:
            scales[value_axis]["title"] = {"display": True, "text": y_title}
        if x_title:
            scales["y" if horizontal else "x"]["title"] = {"display": True, "text": x_title}
        if reverse:
            scales[value_axis]["ticks"] = {"precision": 0}
    return {
        "type": kind,
        "data": {"labels": list(labels), "datasets": datasets},
        "options": {
            "animation": False,
            "responsive": True,
            "maintainAspectRatio": False,
            "locale": "vi-VN" if (get_language() or "vi").startswith("vi") else "en-GB",
            "indexAxis": "y" if horizontal else "x",
            "plugins": {"legend": {"display": legend}},
            "scales": scales,
        },
    }


def _tabs(framework: Framework, under: Unit | None, current: str) -> list[dict]:
    query = "?" + urlencode({"under": under.code}) if under else ""
    tabs = [
        (
            "ranking",
            _("Ranking"),
            reverse("reports:dashboard")
            + "?"
            + urlencode({"framework": framework.code, **({"under": under.code} if under else {})}),
        ),
        ("areas", _("Areas"), reverse("reports:areas", args=[framework.code]) + query),
        ("progress", _("Progress"), reverse("reports:progress", args=[framework.code]) + query),
        ("forecast", _("Forecast"), reverse("reports:forecast", args=[framework.code])),
        ("steering", _("Steering meeting"), reverse("reports:steering", args=[framework.code])),
        (
            "remediation",
            _("Remediation"),
            reverse("reports:remediation_list") + "?" + urlencode({"framework": framework.code}),
        ),
    ]
    if framework.authority.kind == UnitKind.PROVINCE:  # the province's view of all its sets and units
        tabs.append(
            (
                "province",
                _("Province summary"),
                reverse("reports:province", args=[framework.authority.code])
                + "?"
                + urlencode({"year": framework.year}),
            )
        )
    return [{"key": key, "label": label, "url": url, "active": key == current} for key, label, url in tabs]


def _base_context(request, framework: Framework, r, under: Unit | None, current: str) -> dict:
    return {
        "framework": framework,
        "under": under,
        "subtrees": selectors.subtree_choices(framework, r),
        "tabs": _tabs(framework, under, current),
        "manages": can_manage_framework(request.user, framework),
    }


# --- filters and pages (the same on the ranking, the heatmap and the progress board) ------------------


def _filters(
    request,
    framework: Framework,
    subtrees: list[Unit],
    *,
    group_names: list[str],
    bands,
    statuses: tuple[str, ...] = (),
) -> selectors.DashboardFilters:
    """The filters of a dashboard from its GET parameters; anything not offered is ignored."""
    get = request.GET
    kind = get.get("kind", "")
    group = get.get("group", "")
    grade = get.get("grade", "")
    status = get.get("status", "")
    return selectors.DashboardFilters(
        q=get.get("q", "").strip()[:100],
        kind=kind if framework.covers(kind) else "",
        district=next(
            (d for d in selectors.district_choices(subtrees) if d.code == get.get("district")), None
        ),
        group=group if group in group_names else "",
        grade=grade if grade in {band.name for band in bands} else "",
        status=status if status in statuses else "",
    )


def _page(request, total: int, size: int = selectors.DASHBOARD_PAGE_SIZE):
    """One page of `total` rows (`size` a page): Django's page of a range, so that the
    rows themselves are read with OFFSET/LIMIT. A page number out of range gives the last page."""
    return Paginator(range(total), size).get_page(request.GET.get("page"))


def _page_number(request) -> int:
    """The page asked for (?page=), 1 for anything that is not a page number."""
    number = request.GET.get("page", "")
    return int(number) if number.isdigit() and int(number) > 0 else 1


def _offset(page) -> int:
    return page.start_index() - 1 if page.paginator.count else 0


def _filter_context(framework: Framework, subtrees, filters, group_names, bands, page, query: dict) -> dict:
    """What the filter form and the page links of a dashboard show; `query` holds the parameters the
    links keep (the filters, the subtree, the page's own)."""
    return {
        "filters": filters,
        "districts": selectors.district_choices(subtrees),
        "group_names": group_names,
        "grade_names": [band.name for band in bands],
        "page": page,
        "page_links": list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
        "ellipsis": Paginator.ELLIPSIS,
        "query": urlencode(query),
        # The unit profile's address once: every row's link is this prefix, the code and the framework.
        "profile_prefix": reverse("reports:unit_profile", args=["-"])[:-2],
    }


# --- ranking ----------------------------------------------------------------------------------------


@login_required
def dashboard(request):
    """The leaders' landing page: the ranking of one framework, its chart and grade distribution."""
    ensure_reporter(request.user)
    frameworks = list(access.frameworks_overseen_by(request.user).order_by("-year", "code"))
    years = sorted({f.year for f in frameworks}, reverse=True)
    kinds = [(value, label) for value, label in UnitKind.choices if any(f.covers(value) for f in frameworks)]
    year = request.GET.get("year", "")
    kind = request.GET.get("kind", "")
    candidates = [f for f in frameworks if (not year or str(f.year) == year) and (not kind or f.covers(kind))]
    code = request.GET.get("framework", "")
    chosen = next((f for f in candidates if f.code == code), None)
    if chosen is None and code and not any(f.code == code for f in frameworks):
        raise Http404
    if chosen is None:
        chosen = selectors.default_framework(candidates)
    context = {
        "frameworks": frameworks,
        "candidates": candidates,
        "years": years,
        "kinds": kinds,
        "year": year,
        "kind": kind,
        "framework": chosen,
        "provinces": provinces_overseen_by(request.user),
    }
    if chosen is None:
        return render(request, "reports/dashboard.html", context)
    under = _under(request, chosen)
    r = reach(request.user)
    bands = selectors.framework_bands(chosen)
    colours = selectors.grade_colours(bands)
    group_names = list(chosen.ranking_groups.values_list("name", flat=True))
    base = _base_context(request, chosen, r, under, "ranking")
    filters = _filters(request, chosen, base["subtrees"], group_names=group_names, bands=bands)
    results = selectors.filtered_results(chosen, r, under, filters)
    distribution = selectors.grade_distribution_of(results, bands)
    page = _page(request, sum(line.count for line in distribution))
    board = ranking(
        chosen,
        units=filters.units(r, under),
        with_areas=False,
        group=filters.group or None,
        grade=filters.grade or None,
        offset=_offset(page),
        limit=selectors.DASHBOARD_PAGE_SIZE,
    )
    rows = board.lines
    charted = [row for row in rows if row.index is not None]
    kept = {"framework": chosen.code, "year": year, "kind": kind, "under": under.code if under else ""}
    kept = {key: value for key, value in {**kept, **filters.query()}.items() if value}
    context.update(base)
    context.update(_filter_context(chosen, base["subtrees"], filters, group_names, bands, page, kept))
    context.update(
        {
            "rows": rows,
            "total": page.paginator.count,
            "group": filters.group,
            "colours": colours,
            "ranked": board.ranked,
            "distribution": distribution,
            "export_query": urlencode({"under": under.code}) if under else "",  # the full list
            "index_chart": _chart(
                "bar",
                [row.unit_name for row in charted],
                [
                    {
                        "label": _("Index"),
                        "data": [_num(row.index) for row in charted],
                        "backgroundColor": [selectors.grade_colour(row.grade, colours) for row in charted],
                    }
                ],
                y_max=100,
                legend=False,
                y_title=_("Index"),
            ),
            "grade_chart": _chart(
                "doughnut",
                [line.name or _("No grade") for line in distribution],
                [
                    {
                        "label": _("Units"),
                        "data": [line.count for line in distribution],
                        "backgroundColor": [line.colour for line in distribution],
                    }
                ],
            ),
            "can_suggest": chosen.is_published and can_manage_framework(request.user, chosen),
        }
    )
    return render(request, "reports/dashboard.html", context)


def _export_rows(framework: Framework, rows, ranked: int) -> tuple[list[str], list[list], int]:
    header = [
        _("Rank"),
        _("Unit code"),
        _("Unit"),
        _("Points"),
        _("Max points"),
        _("Index"),
        _("Grade"),
        _("Provisional"),
        _("Change in points"),
        _("Change in index"),
        _("Change in places"),
        *parts_header(),
        _("Ranking group"),
        _("Not ranked: reason"),
    ]
    places = framework.index_decimals
    lines = []
    for row in rows:
        lines.append(
            [
                place_text(row.rank, row.places or ranked),
                row.unit_code,
                row.unit_name,
                row.points,
                row.max_points,
                row.index,
                row.grade,
                _("yes") if row.provisional else _("no"),
                row.points_change,
                row.index_change,
                rank_change_text(row.rank_change) if row.rank_change is not None else "",
                *row.parts,
                row.group or "",
                "" if row.ranked else row.not_ranked_reason or _("not ranked"),
            ]
        )
    return header, lines, places


@login_required
def ranking_export(request, code, fmt):
    """The ranking table (as filtered) as .xlsx (numbers as numbers) or .csv for Excel (UTF-8 with a BOM;
    in Vietnamese ";" and decimal commas, else "," and dots, or as `?sep=` chooses: parindex.csv_export).
    The place is text: "1/8" in the workbook, "hạng 1/8" in the CSV (which Excel would read "1/8" of
    as a date)."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    framework = access.get_framework_for_oversight(request.user, code)
    r = reach(request.user)
    under = _under(request, framework)
    rows = ranking(framework, units=selectors.units_shown(r, under), with_areas=False)
    header, lines, places = _export_rows(framework, rows, rows.ranked)
    name = f"xep-hang-{framework.code}" + (f"-{under.code}" if under else "")
    if fmt == "csv":
        # column → decimals of its numbers (the parts close the row)
        decimals = {3: 2, 4: 2, 5: places, 8: 2, 9: places, **{11 + i: 2 for i in range(5)}}
        for line, row in zip(lines, rows, strict=True):
            line[0] = place_text(row.rank, row.places or rows.ranked, words=True)
        dialect = csv_dialect(get_language(), request.GET.get("sep"))
        response = HttpResponse(
            csv_text(header, lines, dialect, places=decimals), content_type="text/csv; charset=utf-8"
        )
    else:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = _("Ranking")[:31]
        sheet.append([f"{framework.name} ({framework.code})"])
        sheet.append([under.name if under else framework.authority.name])
        sheet.append([])
        sheet.append(header)
        for cell in sheet[4]:
            cell.font = Font(bold=True)
        for line in lines:
            sheet.append(line)
        index_format = "0" + ("." + "0" * places if places else "")
        for row in sheet.iter_rows(min_row=5):
            for i in (3, 4, 8, 11, 12, 13, 14, 15):
                row[i].number_format = "0.00"
            for i in (5, 9):
                row[i].number_format = index_format
        widths = (8, 12, 32, 9, 9, 9, 12, 10, 12, 12, 16, 12, 10, 10, 10, 10)
        for letter, width in zip("ABCDEFGHIJKLMNOP", widths, strict=True):
            sheet.column_dimensions[letter].width = width
        protect_sheet(sheet)
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


# --- areas ------------------------------------------------------------------------------------------


@login_required
def areas(request, code):
    """Units × areas heatmap: the index of every area, its rank on hover and in the unit's profile.
    A page of HEATMAP_PAGE_SIZE units, narrowed by the dashboards' filters."""
    framework = access.get_framework_for_oversight(request.user, code)
    r = reach(request.user)
    under = _under(request, framework)
    context = _base_context(request, framework, r, under, "areas")
    bands = selectors.framework_bands(framework)
    group_names = list(framework.ranking_groups.values_list("name", flat=True))
    filters = _filters(request, framework, context["subtrees"], group_names=group_names, bands=bands)
    # The page asked for, with the count of all rows read along (the count alone only past the end).
    size = selectors.HEATMAP_PAGE_SIZE
    number = _page_number(request)
    matrix = selectors.area_matrix(
        framework, r, under, filters=filters, offset=(number - 1) * size, limit=size
    )
    if matrix.total is None:
        page = _page(request, selectors.filtered_results(framework, r, under, filters).count(), size)
        if page.number != number:
            matrix = selectors.area_matrix(
                framework, r, under, filters=filters, offset=_offset(page), limit=size, columns=matrix.areas
            )
    else:
        page = Paginator(range(matrix.total), size).page(number)
    show_rank = request.GET.get("show") == "rank"
    kept = {"under": under.code if under else "", **filters.query()}
    kept = {key: value for key, value in kept.items() if value}
    context.update(_filter_context(framework, context["subtrees"], filters, group_names, bands, page, kept))
    if show_rank:
        context["query"] = urlencode({**kept, "show": "rank"})
    context.update(
        {
            "matrix": matrix,
            "heat_rows": _heat_rows(framework, matrix, context["profile_prefix"]),
            "show_rank": show_rank,
            "keep": [("show", "rank")] if show_rank else [],
            "toggle_query": urlencode(kept if show_rank else {**kept, "show": "rank"}),
            "export_query": urlencode(kept),
            "kinds": [(value, label) for value, label in UnitKind.choices if framework.covers(value)],
            "average_chart": _chart(
                "bar",
                [f"{a.code}. {a.title}"[:40] for a in matrix.areas],
                [
                    {
                        "label": _("Framework average index"),
                        "data": [_num(a.average_index) for a in matrix.areas],
                        "backgroundColor": "#0b5cad",
                    }
                ],
                y_max=100,
                legend=False,
                y_title=_("Index"),
            ),
        }
    )
    return render(request, "reports/areas.html", context)


def _heat_rows(framework: Framework, matrix, profile_prefix: str) -> list[tuple]:
    """(line, link to the unit's profile, cells with their hover text) for each row of the heatmap:
    the wording translated once, not once a cell in the template."""
    points_text = _("%(points)s/%(max)s points")
    rank_text = _("rank %(rank)s/%(n)s in the area")
    places = framework.index_decimals
    suffix = "/?" + urlencode({"framework": framework.code})
    rows = []
    for line, cells in matrix.rows:
        for cell in cells:
            if cell is None:
                continue
            title = f"{line.unit_name} · " + points_text % {
                "points": format_decimal(cell.points),
                "max": format_decimal(cell.max_points),
            }
            if cell.rank:
                title += " · " + rank_text % {"rank": cell.rank, "n": cell.ranked}
            cell.title = title
            cell.text = "—" if cell.index is None else format_decimal(cell.index, places)
        rows.append((line, profile_prefix + quote(line.unit_code, safe="") + suffix, cells))
    return rows


@login_required
def areas_export(request, code):
    """The heatmap's units, all of them (as the page's filters narrow them), as CSV for Excel: the
    unit's place and index, then the index and the rank in each area."""
    framework = access.get_framework_for_oversight(request.user, code)
    r = reach(request.user)
    under = _under(request, framework)
    group_names = list(framework.ranking_groups.values_list("name", flat=True))
    filters = _filters(
        request,
        framework,
        selectors.subtree_choices(framework, r),
        group_names=group_names,
        bands=selectors.framework_bands(framework),
    )
    matrix = selectors.area_matrix(framework, r, under, filters=filters)
    index_label, rank_label = _("Index"), _("Rank in the area")
    header = [_("Rank"), _("Unit code"), _("Unit"), index_label]
    for area in matrix.areas:
        header += [f"{area.code} · {index_label}", f"{area.code} · {rank_label}"]
    places = framework.index_decimals
    lines = []
    for line, cells in matrix.rows:
        values = [
            place_text(line.rank, line.places, words=True) if line.rank else "",
            line.unit_code,
            line.unit_name,
            line.index,
        ]
        for cell in cells:
            values += [cell.index, cell.rank] if cell else [None, None]
        lines.append(values)
    dialect = csv_dialect(get_language(), request.GET.get("sep"))
    decimals = {3: places, **{4 + 2 * i: places for i in range(len(matrix.areas))}}
    response = HttpResponse(
        csv_text(header, lines, dialect, places=decimals), content_type="text/csv; charset=utf-8"
    )
    name = f"linh-vuc-{framework.code}" + (f"-{under.code}" if under else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


# --- unit profile -----------------------------------------------------------------------------------


@login_required
def unit_profile(request, unit_code):
    unit = access.get_unit_for_view(request.user, unit_code)
    code = request.GET.get("framework", "")
    # The framework asked for is usually one of the unit's own years: read with its history.
    profile = selectors.unit_profile(unit, code or None)
    framework = None
    if code and profile.result is None:
        framework = Framework.objects.select_related("authority").filter(code=code).first()
        if framework is None:
            raise Http404
    r = reach(request.user)
    years = sorted({point.year for point in profile.history})
    history_chart = rank_chart = areas_chart = None
    if profile.history:
        index_sets, rank_sets = _history_datasets(unit, profile, years)
        history_chart = _chart("line", years, index_sets, y_max=100, y_title=_("Index"))
        rank_chart = _chart("line", years, rank_sets, reverse=True, y_title=_("Rank"))
    if profile.areas:
        areas_chart = _chart(
            "bar",
            [a.column.code for a in profile.areas],
            [
                {
                    "label": unit.name,
                    "data": [_num(a.cell.index) if a.cell else None for a in profile.areas],
                    "backgroundColor": "#b3261e",
                },
                {
                    "label": _("Framework average"),
                    "data": [_num(a.column.average_index) for a in profile.areas],
                    "backgroundColor": "#9aa5b1",
                },
            ],
            y_max=100,
            y_title=_("Index"),
        )
    editable = {item.pk for item in profile.remediation if r.is_officer_of(unit) or r.appraises(unit)}
    context = {
        "unit": unit,
        "profile": profile,
        "framework": profile.result.framework if profile.result else framework,
        "history_chart": history_chart,
        "rank_chart": rank_chart,
        "areas_chart": areas_chart,
        "editable": editable,
        "today": timezone.localdate(),
        "overseer": r.oversees(unit),
        "lost_total": sum((item.lost for item in profile.lost), 0),
        "series_rows": [(year, index, rank) for year, (index, rank) in profile.continuous_series().items()]
        if len(profile.lineage) > 1
        else [],
    }
    return render(request, "reports/unit_profile.html", context)


def _history_datasets(unit: Unit, profile, years: list[int]) -> tuple[list[dict], list[dict]]:
    """One solid line for the unit across a merger (its predecessors' figures before it existed), and a
    dashed line per predecessor."""
    palette = ["#0b5cad", "#1e7b34", "#c98a00", "#6b4fa8", "#5b6775"]
    series = profile.continuous_series()
    own_years = {point.year for point in profile.history if point.own}
    label = unit.name
    if any(year not in own_years for year in series):
        label = _("%(unit)s (before %(year)s: its predecessors)") % {
            "unit": unit.name,
            "year": min(own_years),
        }
    main = {
        "label": label,
        "borderColor": "#b3261e",
        "backgroundColor": "#b3261e",
        "tension": 0,
        "pointRadius": 4,
        "borderWidth": 3,
    }
    index_sets = [{**main, "data": [_num(series[y][0]) if y in series else None for y in years]}]
    rank_sets = [{**main, "data": [series[y][1] if y in series else None for y in years]}]
    predecessors: dict[str, dict[int, object]] = {}
    for point in profile.history:
        if not point.own:
            predecessors.setdefault(point.unit_name, {})[point.year] = point
    for i, (name, points) in enumerate(predecessors.items()):
        style = {
            "label": name,
            "borderColor": palette[i % len(palette)],
            "backgroundColor": palette[i % len(palette)],
            "borderDash": [6, 4],
            "borderWidth": 1.5,
            "tension": 0,
            "pointRadius": 3,
        }
        index_sets.append({**style, "data": [_num(points[y].index) if y in points else None for y in years]})
        rank_sets.append({**style, "data": [points[y].rank if y in points else None for y in years]})
    return index_sets, rank_sets


# --- progress ---------------------------------------------------------------------------------------


PROGRESS_SECTION_SIZE = 20  # rows of the overdue, not-applicable and overstatement tables


def _progress_board(request, framework: Framework, r, under: Unit | None, subtrees: list[Unit]):
    """The progress board of the framework as the page's filters narrow it: (board, filters, and what
    the filter form and the page links show). The progress page and its export read it alike."""
    bands = selectors.framework_bands(framework)
    group_names = list(framework.ranking_groups.values_list("name", flat=True))
    statuses = [*AssessmentStatus.choices, ("overdue", _("overdue"))]
    filters = _filters(
        request,
        framework,
        subtrees,
        group_names=group_names,
        bands=bands,
        statuses=tuple(value for value, _label in statuses),
    )
    board = selectors.progress(framework, r, under, filters=filters)
    rows = board.rows
    if filters.status == "overdue":
        rows = board.overdue
    elif filters.status:
        rows = [row for row in rows if row.status == filters.status]
    return bands, group_names, statuses, filters, board, rows


@login_required
def progress(request, code):
    """Where the year stands for the appraisers: status counts, overdue units, deadlines, overstatement.
    The table of all units a page of DASHBOARD_PAGE_SIZE, the other tables their first
    PROGRESS_SECTION_SIZE rows; the whole list is the CSV export."""
    framework = access.get_framework_for_oversight(request.user, code)
    r = reach(request.user)
    under = _under(request, framework)
    context = _base_context(request, framework, r, under, "progress")
    subtrees = context["subtrees"]
    bands, group_names, statuses, filters, board, rows = _progress_board(
        request, framework, r, under, subtrees
    )
    overstated = board.overstated
    top = overstated[:PROGRESS_SECTION_SIZE]
    page = _page(request, len(rows))
    offset = _offset(page)
    kept = {
        key: value
        for key, value in {"under": under.code if under else "", **filters.query()}.items()
        if value
    }
    context.update(_filter_context(framework, subtrees, filters, group_names, bands, page, kept))
    context.update(
        {
            "board": board,
            "table_rows": rows[offset : offset + selectors.DASHBOARD_PAGE_SIZE],
            "total": len(rows),
            "overdue": board.overdue,
            "na_proposals": board.na_proposals,
            "overstated": overstated,
            "top_overstated": top,
            "section_size": PROGRESS_SECTION_SIZE,
            "overdue_query": urlencode({**kept, "status": "overdue"}),
            "kinds": [(value, label) for value, label in UnitKind.choices if framework.covers(value)],
            "statuses": statuses,
            "anchor": "#progress-table",
            "export_query": urlencode(kept),
            "status_chart": _chart(
                "bar",
                [label for _s, label, _n, _c in board.by_status],
                [
                    {
                        "label": _("Units"),
                        "data": [n for _s, _l, n, _c in board.by_status],
                        "backgroundColor": [c for _s, _l, _n, c in board.by_status],
                    }
                ],
                legend=False,
                horizontal=True,
            ),
            "overstatement_chart": _chart(
                "bar",
                [row.unit_name for row in top],
                [
                    {
                        "label": _("Self points above appraised"),
                        "data": [_num(row.overstatement) for row in top],
                        "backgroundColor": "#c98a00",
                    }
                ],
                legend=False,
                horizontal=True,
                y_title=_("Points"),
            )
            if top
            else None,
            "now": timezone.now(),
            # Inspections' recommendations past their deadline (scoring.inspections): one query.
            "overdue_recommendations": overdue_recommendations(
                framework,
                authority_condition(r, "visit__unit__path")
                & selectors.subtree_condition(under, "visit__unit__path"),
            ),
        }
    )
    return render(request, "reports/progress.html", context)


@login_required
def progress_export(request, code):
    """The progress board's units, all of them (as the page's filters narrow them), as CSV for Excel:
    status, criteria scored, dates, overstatement, open not-applicable proposals."""
    framework = access.get_framework_for_oversight(request.user, code)
    r = reach(request.user)
    under = _under(request, framework)
    *_board, rows = _progress_board(request, framework, r, under, selectors.subtree_choices(framework, r))
    header = [
        _("Unit code"),
        _("Unit"),
        _("Status"),
        _("Criteria scored"),
        _("Criteria applicable"),
        _("Submitted"),
        _("Appraised"),
        _("Self-assessment deadline"),
        _("Late for"),
        _("Self-assessed"),
        _("Appraised points"),
        _("Above by"),
        _("Criteria lowered"),
        _("Open proposals"),
    ]
    late = {"self": _("self-assessment"), "appraisal": _("appraisal"), "": ""}

    when = when_text

    lines = [
        [
            row.unit_code,
            row.unit_name,
            str(row.status_label),
            row.leaves_scored,
            row.leaves_applicable,
            when(row.submitted_at),
            when(row.appraised_at),
            when(row.deadline),
            late[row.overdue],
            row.self_points,
            row.appraised_points,
            row.overstatement,
            row.lowered,
            row.na_open,
        ]
        for row in rows
    ]
    dialect = csv_dialect(get_language(), request.GET.get("sep"))
    response = HttpResponse(
        csv_text(header, lines, dialect, places={9: 2, 10: 2, 11: 2}), content_type="text/csv; charset=utf-8"
    )
    name = f"tien-do-{framework.code}" + (f"-{under.code}" if under else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


# --- forecast ---------------------------------------------------------------------------------------


@login_required
def forecast_page(request, code):
    """Where the index will land (dự báo kết quả): every unit's forecast index, grade, rank, whether it
    is certain, its criteria at risk and the distance to the next grade; the authority's average; what
    to push (the largest points at risk). Paginated; a fixed number of queries whatever the units."""
    framework = access.get_framework_for_oversight(request.user, code)
    r = reach(request.user)
    board = forecast(framework)
    page = Paginator(board.lines, FORECAST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = _base_context(request, framework, r, None, "forecast")
    context.update(
        {
            "board": board,
            "page": page,
            "push": board.largest_risks(FORECAST_PUSH_SIZE),
            "grade_counts": board.grade_counts(),
            "has_groups": any(line.group for line in board.lines),
        }
    )
    return render(request, "reports/forecast.html", context)


@login_required
def steering_page(request, code):
    """The steering committee's meeting: the forecast, the criteria at risk by unit, last year's
    points lost and what was fixed since; printable."""
    framework = access.get_framework_for_oversight(request.user, code)
    context = _base_context(request, framework, reach(request.user), None, "steering")
    context.update({"meeting": steering_meeting(framework), "today": timezone.localdate()})
    return render(request, "reports/steering.html", context)


# --- remediation ------------------------------------------------------------------------------------


@login_required
def remediation_list(request):
    """Remediation items the user may see; leaders and appraisers filter the overdue ones."""
    r = reach(request.user)
    if not (r.is_leader or r.is_appraiser or r.is_officer):
        raise Http404
    framework = None
    if request.GET.get("framework"):
        framework = access.get_framework_for_view(request.user, request.GET["framework"])
    form = RemediationFilterForm(request.GET or None)
    status, overdue = "", False
    if form.is_valid():
        status, overdue = form.cleaned_data["status"], form.cleaned_data["overdue"]
    today = timezone.localdate()
    items = selectors.remediation_items_for(
        r, framework=framework, status=status, overdue=overdue, today=today
    )
    page = Paginator(items, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "framework": framework,
        "form": form,
        "page": page,
        "items": page.object_list,
        "today": today,
        "query": query.urlencode(),
        "tabs": _tabs(framework, None, "remediation")
        if framework and (r.is_leader or r.is_appraiser)
        else [],
        "can_suggest": bool(
            framework and framework.is_published and can_manage_framework(request.user, framework)
        ),
        "editable_units": set(r.officer_unit_ids),
        "appraiser": r.is_appraiser,
    }
    return render(request, "reports/remediation_list.html", context)


@login_required
@require_POST
def remediation_suggest_view(request, code):
    framework = access.get_framework_for_management(request.user, code)
    try:
        created = remediation_suggest(framework=framework, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(n)s remediation items suggested.") % {"n": created})
    return redirect(reverse("reports:remediation_list") + "?" + urlencode({"framework": framework.code}))


@login_required
@require_http_methods(["GET", "POST"])
def remediation_edit(request, pk):
    item = get_remediation_item_for_view(request.user, pk)
    editable = can_change_remediation(request.user, item)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.method == "POST":
        ensure_remediation_change(request.user, item)
        form = RemediationForm(
            request.POST, can_report_result=can_report_remediation_result(request.user, item)
        )
        if form.is_valid():
            try:
                remediation_update(item=item, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request, _("Remediation item %(code)s saved.") % {"code": item.criterion.code}
                )
                return redirect(
                    next_url
                    or reverse("reports:unit_profile", args=[item.assessment.unit.code])
                    + "?"
                    + urlencode({"framework": item.assessment.framework.code})
                    + "#remediation"
                )
    else:
        form = RemediationForm(
            initial={
                "action": item.action,
                "responsible": item.responsible,
                "due_date": item.due_date,
                "status": item.status,
                "cause": item.cause,
                "result": item.result,
            },
            can_report_result=can_report_remediation_result(request.user, item),
        )
    return render(
        request,
        "reports/remediation_edit.html",
        {
            "item": item,
            "form": form,
            "editable": editable,
            "next": next_url,
            "today": timezone.localdate(),
            "done": RemediationStatus.DONE,
        },
    )


# --- province view ----------------------------------------------------------------------------------


@login_required
def province_home(request):
    """The province view of the user's (first) province; 404 for whoever belongs to no province office."""
    provinces = provinces_overseen_by(request.user)
    if not provinces:
        raise Http404
    return redirect("reports:province", provinces[0].code)


@login_required
def province(request, province_code):
    """A province office's and leader's view of all their units: one row per framework × ranking group
    of the year, and the units searchable by name, code, former district and kind, 50 a page. htmx
    asks for the units table alone (the search form swaps it in place)."""
    unit = get_province_for_view(request.user, province_code)
    years = selectors.province_years(unit)
    year = request.GET.get("year", "")
    year = int(year) if year.isdigit() and int(year) in years else (years[0] if years else None)
    districts = selectors.province_districts(unit)
    q = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    if kind not in UnitKind.values:
        kind = ""
    district = next((d for d in districts if d.code == request.GET.get("district")), None)
    units = selectors.province_units(unit, year, q=q, kind=kind, district=district)
    page = Paginator(units, selectors.PROVINCE_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "province": unit,
        "year": year,
        "years": years,
        "districts": districts,
        "kinds": [(value, label) for value, label in UnitKind.choices if value != UnitKind.PROVINCE],
        "q": q,
        "kind": kind,
        "district": district,
        "page": page,
        "lines": selectors.province_unit_lines(list(page.object_list), unit, year),
        "query": query.urlencode(),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "province-units":
        return render(request, "reports/_province_units.html", context)
    context["rows"] = selectors.province_rows(unit, year) if year is not None else []
    return render(request, "reports/province.html", context)


urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("frameworks/<str:code>/ranking.<str:fmt>", ranking_export, name="ranking_export"),
    path("frameworks/<str:code>/areas/", areas, name="areas"),
    path("frameworks/<str:code>/areas.csv", areas_export, name="areas_export"),
    path("frameworks/<str:code>/progress/", progress, name="progress"),
    path("frameworks/<str:code>/progress.csv", progress_export, name="progress_export"),
    path("frameworks/<str:code>/forecast/", forecast_page, name="forecast"),
    path("frameworks/<str:code>/steering/", steering_page, name="steering"),
    path("frameworks/<str:code>/remediation/suggest/", remediation_suggest_view, name="remediation_suggest"),
    path("units/<str:unit_code>/", unit_profile, name="unit_profile"),
    path("remediation/", remediation_list, name="remediation_list"),
    path("remediation/<int:pk>/", remediation_edit, name="remediation_edit"),
]
