"""Vietnamese decimal numbers: parsing "12,1" / "12.1" and writing "82,58".

Points are Decimal with two places; the index is rounded half-up to a framework's decimals.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import get_language, gettext

TWO_PLACES = Decimal("0.01")
NOT_APPLICABLE_WORDS = frozenset({"không áp dụng", "khong ap dung", "kad", "n/a", "na"})

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")


class NotANumber(ValueError):
    """The text is not a decimal number in either Vietnamese or English writing."""


class NotApplicable:
    """Marker for a cell holding "Không áp dụng", "KAD" or "N/A"."""

    def __repr__(self):
        return "NOT_APPLICABLE"


NOT_APPLICABLE = NotApplicable()


def is_not_applicable_word(value) -> bool:
    return isinstance(value, str) and " ".join(value.split()).casefold() in NOT_APPLICABLE_WORDS


def parse_decimal(value) -> Decimal | None:
    """Read a number typed by a person or stored by a spreadsheet.

    None or blank text is None. Accepts 12, 12.5, "12,5", "12.5", " 12,50 ". Floats from
    spreadsheets are read through their shortest repr so that 13.5 stays 13.5 exactly.
    Raises NotANumber for anything else (including thousands separators, which points never need).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise NotANumber(str(value))
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise NotANumber(str(value))
        result = Decimal(repr(value))
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "")
        if text == "":
            return None
        if not _NUMBER.match(text):
            raise NotANumber(str(value))
        try:
            result = Decimal(text.replace(",", "."))
        except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
            raise NotANumber(str(value)) from exc
    if not result.is_finite():
        raise NotANumber(str(value))
    return result


def parse_score_cell(value):
    """A score cell: None (not scored yet), NOT_APPLICABLE, or a Decimal. Raises NotANumber."""
    if is_not_applicable_word(value):
        return NOT_APPLICABLE
    return parse_decimal(value)


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def round_half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_decimal(value, places: int | None = None, language: str | None = None) -> str:
    """Write a number the way the active language does: "82,58" in Vietnamese, "82.58" in English.

    With places, the number is rounded half-up and written with exactly that many decimals;
    without, trailing zeros are dropped ("13,50" -> "13,5", "10,00" -> "10").
    """
    if value is None:
        return ""
    value = Decimal(value)
    if places is not None:
        text = f"{round_half_up(value, places):f}"
    else:
        text = f"{value.normalize():f}" if value != 0 else "0"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    language = (language or get_language() or "vi").split("-")[0]
    return text.replace(".", ",") if language == "vi" else text


def place_text(rank: int | None, of: int | None, *, words: bool = False) -> str:
    """A place as people write it: "1/11" (never "01/11", which reads as 1 November), or with
    `words` "hạng 1/11" ("place 1/11"), which no spreadsheet takes for a date; "" without a place."""
    if not rank:
        return ""
    text = f"{rank}/{of}" if of else str(rank)
    return gettext("place %(place)s") % {"place": text} if words else text


def as_json_decimal(value, places: int = 2) -> str | None:
    """Decimal for JSON/CSV output: a string with a dot and fixed places, never a float."""
    if value is None:
        return None
    return f"{round_half_up(Decimal(value), places):f}"


def when_text(value) -> str:
    """A moment as Vietnamese offices write it, in local time: dd/mm/yyyy hh:mm ("" for none). The time
    stays even at 00:00: "01/12/2024 00:00" is the end of 30 November, which the date alone would hide."""
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else ""
