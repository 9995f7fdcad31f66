"""Scoring rules of a leaf (DESIGN §2.1): how the figure a unit enters becomes points.

| rule | the unit enters | points |
|---|---|---|
| ``points`` (default) | points | as entered, 0 … max |
| ``steps:0;0,5;1;2`` | points | only the listed values |
| ``yesno`` | có / không (1 / 0) | max or 0 |
| ``percent`` | a percentage ("95,5", "95,5%") or numerator/denominator ("191/200") | max × p ÷ 100 |
| ``bands:100=2;90=1,5;80=1;0=0`` | a percentage | points of the highest threshold ≤ p |
| ``deduct:0,5`` | a number of occurrences | max − 0,5 × n, never below 0 |

Points are rounded half-up to two decimals. ``parse_rule`` reads a rule's text (from a framework
file, the admin, a copy) and checks it against the leaf's maximum; ``Rule.points`` turns a raw
figure into points. Both refuse with ``ServiceError`` (Vietnamese and English), so every entry path
— the self-assessment page, the template upload, the appraisal, the command line — gives the same
answer. This module is the only place these rules are written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import NotANumber, decimal_places, format_decimal, parse_decimal, round_half_up

POINTS = "points"
STEPS = "steps"
YESNO = "yesno"
PERCENT = "percent"
BANDS = "bands"
DEDUCT = "deduct"
KINDS = (POINTS, STEPS, YESNO, PERCENT, BANDS, DEDUCT)
TWO_PLACES = 2
HUNDRED = Decimal("100")
ZERO = Decimal("0")

YES_WORDS = {"co", "yes", "y", "1", "x", "dat", "true"}
NO_WORDS = {"khong", "no", "n", "0", "khong dat", "false"}


def _plain(text: str) -> str:
    """Lower case without Vietnamese accents ("Có" → "co", "Không" → "khong")."""
    folded = unicodedata.normalize("NFD", text.strip().lower()).replace("đ", "d")
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Mn")


def _number(text: str, *, rule_text: str) -> Decimal:
    try:
        value = parse_decimal(text)
    except NotANumber:
        value = None
    if value is None:
        raise ServiceError(
            N_("The scoring rule %(rule)s has %(value)s where a number is expected."),
            params={"rule": rule_text, "value": text.strip() or "—"},
            field="rule",
        )
    return value


@dataclass(frozen=True)
class Rule:
    """A parsed scoring rule. `steps` for steps; `bands` as (threshold, points), highest threshold
    first; `per` the points deducted per occurrence."""

    kind: str = POINTS
    steps: tuple[Decimal, ...] = ()
    bands: tuple[tuple[Decimal, Decimal], ...] = ()
    per: Decimal = ZERO

    @property
    def takes_raw(self) -> bool:
        """Whether the unit enters a raw figure (a percentage, có/không, a count) rather than points."""
        return self.kind in (YESNO, PERCENT, BANDS, DEDUCT)

    def text(self) -> str:
        """The canonical text of the rule, as a framework file carries it (decimal comma)."""
        if self.kind == STEPS:
            return "steps:" + ";".join(format_decimal(v, language="vi") for v in self.steps)
        if self.kind == BANDS:
            return "bands:" + ";".join(
                f"{format_decimal(t, language='vi')}={format_decimal(p, language='vi')}"
                for t, p in self.bands
            )
        if self.kind == DEDUCT:
            return f"deduct:{format_decimal(self.per, language='vi')}"
        return self.kind

    def describe(self) -> str:
        """How the points are given, in the active language (criteria tree, guidance, templates)."""
        if self.kind == STEPS:
            return gettext("Points: one of %(values)s") % {
                "values": "; ".join(format_decimal(v) for v in self.steps)
            }
        if self.kind == YESNO:
            return gettext("Yes / no: the maximum or 0")
        if self.kind == PERCENT:
            return gettext("Percentage: maximum × % ÷ 100")
        if self.kind == BANDS:
            return gettext("Percentage by thresholds: %(bands)s") % {
                "bands": "; ".join(f"≥ {format_decimal(t)}% → {format_decimal(p)}" for t, p in self.bands)
            }
        if self.kind == DEDUCT:
            return gettext("Occurrences: maximum − %(per)s per occurrence, not below 0") % {
                "per": format_decimal(self.per)
            }
        return gettext("Points from 0 to the maximum")

    def raw_hint(self) -> str:
        """What the raw figure looks like (a placeholder on the page, a note in the template)."""
        return {
            YESNO: gettext("có / không"),
            PERCENT: gettext("95,5 or 95,5% or 191/200"),
            BANDS: gettext("95,5 or 95,5%"),
            DEDUCT: gettext("number of occurrences, e.g. 3"),
        }.get(self.kind, "")

    # --- raw figure → points -----------------------------------------------------------------------

    def points(self, raw: str, max_points: Decimal) -> Decimal:
        """Points of a raw figure under this rule for a leaf of `max_points`, half-up to two decimals.
        Raises ServiceError (field "raw") when the figure does not fit the rule."""
        if self.kind == YESNO:
            return max_points if self.yes(raw) else ZERO
        if self.kind == PERCENT:
            return round_half_up(max_points * self.percentage(raw) / HUNDRED, TWO_PLACES)
        if self.kind == BANDS:
            p = self.percentage(raw)
            for threshold, points in self.bands:
                if p >= threshold:
                    return points
            return ZERO
        if self.kind == DEDUCT:
            return max(ZERO, round_half_up(max_points - self.per * self.occurrences(raw), TWO_PLACES))
        raise ServiceError(N_("This criterion takes points, not a raw figure."), field="raw")

    def yes(self, raw: str) -> bool:
        word = _plain(raw)
        if word in YES_WORDS:
            return True
        if word in NO_WORDS:
            return False
        raise ServiceError(
            N_("%(value)s is not an answer; write có or không."), params={"value": raw.strip()}, field="raw"
        )

    def percentage(self, raw: str) -> Decimal:
        """A percentage from "95,5", "95,5%" or "191/200"; 0 to 100."""
        text = raw.strip().rstrip("%").strip()
        value: Decimal | None
        try:
            if "/" in text:
                top, _sep, bottom = text.partition("/")
                numerator, denominator = parse_decimal(top), parse_decimal(bottom)
                if numerator is None or denominator is None or denominator <= 0:
                    raise NotANumber(text)
                value = numerator * HUNDRED / denominator
            else:
                value = parse_decimal(text)
        except (NotANumber, InvalidOperation, ZeroDivisionError):
            value = None
        if value is None:
            raise ServiceError(
                N_("%(value)s is not a percentage; write 95,5 or 95,5%% or 191/200."),
                params={"value": raw.strip() or "—"},
                field="raw",
            )
        if not ZERO <= value <= HUNDRED:
            raise ServiceError(
                N_("%(value)s is not a percentage between 0 and 100."),
                params={"value": raw.strip()},
                field="raw",
            )
        return value

    def occurrences(self, raw: str) -> int:
        try:
            value = parse_decimal(raw)
        except NotANumber:
            value = None
        if value is None or value < 0 or value != value.to_integral_value():
            raise ServiceError(
                N_("%(value)s is not a number of occurrences (0, 1, 2 …)."),
                params={"value": raw.strip() or "—"},
                field="raw",
            )
        return int(value)

    # --- points typed by hand --------------------------------------------------------------------

    def points_problem(self, points: Decimal, max_points: Decimal) -> ServiceError | None:
        """Why points typed for a leaf under this rule are refused, or None (the limits 0 … max and two
        decimals, and for steps the listed values)."""
        if points < 0:
            return ServiceError(N_("Points cannot be negative."), field="points")
        if decimal_places(points) > TWO_PLACES:
            return ServiceError(N_("Points have at most two decimals."), field="points")
        if points > max_points:
            return ServiceError(
                N_("%(value)s is more than the maximum %(max)s."),
                params={"value": points, "max": max_points},
                field="points",
            )
        if self.kind == STEPS and points not in self.steps:
            return ServiceError(
                N_("%(value)s is not one of the levels %(levels)s."),
                params={"value": points, "levels": Levels(self.steps)},
                field="points",
            )
        if self.kind == YESNO and points not in (ZERO, max_points):
            return ServiceError(
                N_("%(value)s is neither 0 nor the maximum %(max)s."),
                params={"value": points, "max": max_points},
                field="points",
            )
        return None


class Levels(tuple):
    """Values shown in a message, written the way of the language it is rendered in ("0; 0,5; 1")."""

    def __str__(self) -> str:
        return "; ".join(format_decimal(v) for v in self)


DEFAULT = Rule()
_LIST = re.compile(r"\s*;\s*")


def parse_rule(text: str | None, max_points: Decimal | None = None) -> Rule:
    """A rule from its text ("" or "points" is the default). With `max_points`, the listed values must
    fit the leaf: steps and band points at most the maximum. Raises ServiceError (field "rule")."""
    raw = (text or "").strip()
    if not raw:
        return DEFAULT
    name, _sep, args = raw.partition(":")
    kind = _plain(name)
    if kind not in KINDS:
        raise ServiceError(
            N_("Unknown scoring rule %(rule)s; use points, steps:…, yesno, percent, bands:… or deduct:…."),
            params={"rule": raw},
            field="rule",
            code=ErrorCode.INVALID,
        )
    args = args.strip()
    if kind in (POINTS, YESNO, PERCENT):
        if args:
            raise ServiceError(
                N_("The scoring rule %(rule)s takes no values after the colon."),
                params={"rule": raw},
                field="rule",
            )
        return Rule(kind)
    if not args:
        raise ServiceError(
            N_("The scoring rule %(rule)s needs its values, e.g. %(example)s."),
            params={
                "rule": raw,
                "example": {STEPS: "steps:0;0,5;1", BANDS: "bands:100=2;90=1,5;0=0", DEDUCT: "deduct:0,5"}[
                    kind
                ],
            },
            field="rule",
        )
    if kind == DEDUCT:
        per = _number(args, rule_text=raw)
        if per <= 0:
            raise ServiceError(
                N_("The scoring rule %(rule)s must deduct more than 0 per occurrence."),
                params={"rule": raw},
                field="rule",
            )
        return Rule(DEDUCT, per=per)
    if kind == STEPS:
        values = tuple(sorted({_number(part, rule_text=raw) for part in _LIST.split(args) if part}))
        rule = Rule(STEPS, steps=values)
        over = [v for v in values if v < 0 or (max_points is not None and v > max_points)]
    else:
        bands: dict[Decimal, Decimal] = {}
        for part in _LIST.split(args):
            if not part:
                continue
            threshold, sep, points = part.partition("=")
            if not sep:
                raise ServiceError(
                    N_("The scoring rule %(rule)s: %(part)s should look like 90=1,5 (percentage=points)."),
                    params={"rule": raw, "part": part},
                    field="rule",
                )
            bands[_number(threshold, rule_text=raw)] = _number(points, rule_text=raw)
        rule = Rule(BANDS, bands=tuple(sorted(bands.items(), reverse=True)))
        if any(not ZERO <= t <= HUNDRED for t in bands):
            raise ServiceError(
                N_("The scoring rule %(rule)s: thresholds are percentages from 0 to 100."),
                params={"rule": raw},
                field="rule",
            )
        over = [p for p in bands.values() if p < 0 or (max_points is not None and p > max_points)]
    if over:
        raise ServiceError(
            N_("The scoring rule %(rule)s gives %(value)s points, more than the maximum %(max)s."),
            params={"rule": raw, "value": max(over), "max": max_points},
            field="rule",
        )
    return rule
