from decimal import Decimal as D

import pytest
from django.utils import translation

from parindex.numbers import (
    NOT_APPLICABLE,
    NotANumber,
    as_json_decimal,
    format_decimal,
    parse_decimal,
    parse_score_cell,
    round_half_up,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12,1", D("12.1")),
        ("12.1", D("12.1")),
        (" 13,50 ", D("13.50")),
        (13.5, D("13.5")),
        (7, D("7")),
        ("0,25", D("0.25")),
        (",5", D("0.5")),
        (0.1, D("0.1")),
        (D("2.25"), D("2.25")),
        ("", None),
        (None, None),
    ],
)
def test_parse_decimal_accepts_comma_and_dot(raw, expected):
    assert parse_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1.234,5", "12,1,2", "1e3", "--1", True, float("nan"), "inf"])
def test_parse_decimal_refuses_what_is_not_a_plain_number(raw):
    with pytest.raises(NotANumber):
        parse_decimal(raw)


@pytest.mark.parametrize(
    "word", ["Không áp dụng", "KHÔNG ÁP DỤNG", "kad", "KAD", "N/A", "n/a", " Không  áp dụng "]
)
def test_not_applicable_words(word):
    assert parse_score_cell(word) is NOT_APPLICABLE


def test_format_follows_the_language():
    with translation.override("vi"):
        assert format_decimal(D("82.58")) == "82,58"
        assert format_decimal(D("13.50")) == "13,5"
        assert format_decimal(D("10.00")) == "10"
        assert format_decimal(D("86.4710"), places=3) == "86,471"
    with translation.override("en"):
        assert format_decimal(D("82.58")) == "82.58"
        assert format_decimal(D("0"), places=2) == "0.00"


def test_half_up_rounding_and_json_strings():
    assert round_half_up(D("86.3625"), 3) == D("86.363")
    assert round_half_up(D("0.125"), 2) == D("0.13")
    assert as_json_decimal(D("95.5")) == "95.50"
    assert as_json_decimal(D("86.4710"), 3) == "86.471"
    assert as_json_decimal(None) is None
