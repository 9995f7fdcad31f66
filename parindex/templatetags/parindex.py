"""Template filters for numbers and time, written the way the active language writes them."""

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from parindex.numbers import format_decimal

register = template.Library()


@register.filter
def points(value):
    """82.58 → "82,58" (vi) / "82.58" (en); trailing zeros dropped: 13.50 → "13,5". Empty for None."""
    return "" if value is None or value == "" else format_decimal(value)


@register.filter
def fixed(value, places=2):
    """A number with exactly `places` decimals: {{ result.index|fixed:framework.index_decimals }}."""
    return "" if value is None or value == "" else format_decimal(value, places=int(places))


@register.filter
def signed(value, places=None):
    """A change with its sign: +2,74 / −1,5 / 0."""
    if value is None or value == "":
        return ""
    text = format_decimal(abs(value), places=None if places in (None, "") else int(places))
    return ("+" if value > 0 else "−" if value < 0 else "") + text


@register.filter
def time_left(deadline):
    """ "còn 3 ngày" / "quá hạn 2 giờ"; empty without a deadline."""
    if not deadline:
        return ""
    delta = deadline - timezone.now()
    seconds = abs(delta.total_seconds())
    days, hours = int(seconds // 86400), int(seconds // 3600)
    if days >= 1:
        amount = ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    elif hours >= 1:
        amount = ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    else:
        minutes = max(1, int(seconds // 60))
        amount = ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    if delta.total_seconds() >= 0:
        return _("%(amount)s left") % {"amount": amount}
    return _("overdue by %(amount)s") % {"amount": amount}


@register.filter
def is_past(deadline):
    return bool(deadline) and deadline < timezone.now()


@register.filter
def rank_change(value):
    """Year-on-year places: "tăng 2 bậc" / "giữ nguyên" / "giảm 1 bậc"."""
    if value is None or value == "":
        return ""
    if value > 0:
        return ngettext("up %(n)d place", "up %(n)d places", value) % {"n": value}
    if value < 0:
        return ngettext("down %(n)d place", "down %(n)d places", -value) % {"n": -value}
    return _("unchanged")


@register.filter
def audit_value(value):
    """An audited old or new value as people read it: True/False as Có/Không, None as empty."""
    text = "" if value is None else str(value)
    return {"True": _("Yes"), "False": _("No"), "None": ""}.get(text, text)


# The deepest level indented on its own (static/css/framework.css .indent-0 … .indent-6); deeper levels
# share the last step. A class, not a style attribute: the Content-Security-Policy allows no inline style.
INDENT_LEVELS = 6


@register.filter
def indent(depth):
    """The CSS class indenting a criterion of this depth: {{ c.depth|indent }} → "indent-2"."""
    try:
        level = int(depth)
    except (TypeError, ValueError):
        level = 0
    return f"indent-{max(0, min(level, INDENT_LEVELS))}"
