from django import template

from reports import selectors

register = template.Library()


@register.filter
def grade_colour(grade: str, colours: dict[str, str]) -> str:
    """The colour of a grade on the dashboards: {{ row.grade|grade_colour:colours }}."""
    return selectors.grade_colour(grade, colours)


@register.filter
def grade_tone(grade: str, colours: dict[str, str]) -> str:
    """The CSS class of a grade's colour: {{ row.grade|grade_tone:colours }} (a class, not a style
    attribute: the Content-Security-Policy forbids inline style)."""
    return selectors.colour_tone(selectors.grade_colour(grade, colours))
