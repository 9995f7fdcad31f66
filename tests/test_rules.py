"""Scoring rules of DESIGN §2.1 (scoring.frameworks.rules): the table's worked figures (max 2), the
refusals in Vietnamese and English, and the canonical text a framework file carries."""

from decimal import Decimal as D

import pytest
from django.utils.translation import override
from hypothesis import given
from hypothesis import strategies as st

from parindex.errors import ServiceError
from scoring.frameworks.rules import BANDS, DEDUCT, PERCENT, POINTS, STEPS, YESNO, parse_rule

MAX = D("2")


@pytest.mark.parametrize(
    ("rule", "raw", "points"),
    [
        ("yesno", "có", D("2")),
        ("yesno", "Không", D("0")),
        ("yesno", "1", D("2")),
        ("percent", "95,5", D("1.91")),
        ("percent", "95,5%", D("1.91")),
        ("percent", "191/200", D("1.91")),
        ("percent", "100", D("2")),
        ("percent", "0", D("0")),
        ("percent", "33,335", D("0.67")),  # 0.6667 half-up
        ("bands:100=2;90=1,5;80=1;0=0", "93", D("1.5")),
        ("bands:100=2;90=1,5;80=1;0=0", "100%", D("2")),
        ("bands:100=2;90=1,5;80=1;0=0", "79,99", D("0")),
        ("bands:90=1,5;80=1", "50", D("0")),  # below every threshold
        ("deduct:0,5", "3", D("0.5")),
        ("deduct:0,5", "0", D("2")),
        ("deduct:0,5", "7", D("0")),  # never below 0
    ],
)
def test_raw_figures_give_the_points_of_the_design_table(rule, raw, points):
    assert parse_rule(rule, MAX).points(raw, MAX) == points


@pytest.mark.parametrize(
    ("rule", "raw", "vi", "en"),
    [
        ("percent", "abc", "abc không phải là tỷ lệ phần trăm", "abc is not a percentage"),
        ("percent", "120", "120 không phải là tỷ lệ phần trăm từ 0 đến 100", "between 0 and 100"),
        ("percent", "5/0", "5/0 không phải là tỷ lệ phần trăm", "5/0 is not a percentage"),
        ("yesno", "có lẽ", "có lẽ không phải là câu trả lời", "is not an answer"),
        ("deduct:0,5", "2,5", "2,5 không phải là số lần", "is not a number of occurrences"),
        ("deduct:0,5", "-1", "-1 không phải là số lần", "is not a number of occurrences"),
    ],
)
def test_a_raw_figure_that_does_not_fit_is_refused_in_both_languages(rule, raw, vi, en):
    with pytest.raises(ServiceError) as refused:
        parse_rule(rule, MAX).points(raw, MAX)
    assert refused.value.field == "raw"
    assert vi in refused.value.text("vi") and en in refused.value.text("en")


def test_steps_take_only_the_listed_values():
    rule = parse_rule("steps:0;0,5;1", D("1"))
    assert rule.kind == STEPS and rule.steps == (D("0"), D("0.5"), D("1"))
    assert rule.points_problem(D("0.5"), D("1")) is None
    problem = rule.points_problem(D("0.73"), D("1"))
    assert problem is not None and problem.text("vi") == "0,73 không thuộc các mức 0; 0,5; 1."
    assert problem.text("en") == "0.73 is not one of the levels 0; 0.5; 1."


def test_points_typed_by_hand_keep_their_limits_under_every_rule():
    rule = parse_rule("", MAX)
    assert rule.kind == POINTS and not rule.takes_raw
    assert rule.points_problem(D("2.01"), MAX).text("en") == "2.01 is more than the maximum 2."
    assert rule.points_problem(D("-1"), MAX) is not None
    assert rule.points_problem(D("1.255"), MAX) is not None
    assert parse_rule("yesno", MAX).points_problem(D("1"), MAX) is not None
    assert parse_rule("yesno", MAX).points_problem(D("2"), MAX) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stars:5", "Unknown scoring rule stars:5"),
        ("steps", "needs its values"),
        ("steps:0;x", "has x where a number is expected"),
        ("steps:0;1;3", "gives 3 points, more than the maximum 2"),
        ("bands:100=2;90", "90 should look like 90=1,5"),
        ("bands:120=2", "thresholds are percentages from 0 to 100"),
        ("bands:100=2,5", "gives 2.5 points, more than the maximum 2"),
        ("deduct:0", "must deduct more than 0"),
        ("percent:5", "takes no values after the colon"),
    ],
)
def test_a_broken_rule_is_refused_naming_it(text, message):
    with pytest.raises(ServiceError) as refused:
        parse_rule(text, MAX)
    assert refused.value.field == "rule"
    with override("en"):
        assert message in str(refused.value)
    assert refused.value.text("vi") != refused.value.text("en")  # translated


@pytest.mark.parametrize(
    "text",
    ["points", "steps:0;0,5;1;2", "yesno", "percent", "bands:100=2;90=1,5;80=1;0=0", "deduct:0,5"],
)
def test_the_canonical_text_reads_back_to_the_same_rule(text):
    rule = parse_rule(text, MAX)
    assert rule.text() == text and parse_rule(rule.text(), MAX) == rule


def test_rule_names_are_read_in_any_case_and_describe_themselves_in_vietnamese():
    assert parse_rule("YesNo").kind == YESNO and parse_rule(" Percent ").kind == PERCENT
    assert parse_rule("Bands:90=1").kind == BANDS and parse_rule("DEDUCT:1").kind == DEDUCT
    with override("vi"):
        assert "0,5" in parse_rule("deduct:0,5").describe()


@given(
    max_points=st.decimals(min_value=D("0.01"), max_value=D("30"), places=2),
    numerator=st.integers(min_value=0, max_value=400),
    extra=st.integers(min_value=0, max_value=400),
)
def test_percent_points_stay_within_zero_and_the_maximum(max_points, numerator, extra):
    denominator = numerator + extra or 1
    points = parse_rule("percent").points(f"{numerator}/{denominator}", max_points)
    assert D("0") <= points <= max_points and points == points.quantize(D("0.01"))
