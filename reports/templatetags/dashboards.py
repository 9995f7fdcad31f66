from django import template

from reports import selectors

register = template.Library()


@register.filter
def grade_colour(grade: str, colours: dict[str, str]) -> str:
    """The colour of a grade on the dashboards: {{ row.grade|grade_colour:colours }}."""
    return selectors.grade_colour(grade, colours)
