"""How the report writes numbers, intervals at their level, p-values and n/a cells."""

from rlcheck.report.format import (
    Footnotes,
    fmt,
    fmt_ci,
    fmt_count,
    fmt_digits,
    fmt_interval,
    fmt_level,
    fmt_p,
    fmt_p_value,
    fmt_pct,
    fmt_pct_range,
    fmt_rate,
    fmt_seconds,
    fmt_steps,
)


def test_numbers():
    assert fmt(498.26) == "498"
    assert fmt(-85.234) == "-85.2"
    assert fmt(0.012345) == "0.0123"
    assert fmt(12345.6) == "12,346"
    assert fmt(None) == "—"
    assert fmt_steps(200_000) == "200k"
    assert fmt_steps(1_500_000) == "1.5M"
    assert fmt_steps(512) == "512"
    assert fmt_count(1_234_567) == "1,234,567"
    assert fmt_seconds(3.46) == "3.5 s"
    assert fmt_seconds(None) == "—"
    assert fmt_digits(0.7312, 2) == "0.73"
    assert fmt_digits(0.7312, None) == "0.731"


def test_percentages_and_levels():
    assert fmt_pct(0.875) == "88%"
    assert fmt_pct_range(0.641, 0.968) == "64–97%"
    assert fmt_level(0.95) == "95%"
    assert fmt_level(0.9) == "90%"
    assert fmt_level(0.975) == "97.5%"
    rate = {"rate": 0.25, "low": 0.0714, "high": 0.5907}
    assert fmt_rate(rate) == "25% [7%, 59%]"


def test_intervals_carry_their_level():
    estimate = {"point": 0.7312, "low": 0.58, "high": 0.881}
    assert fmt_interval(estimate, 2) == "0.73 [0.58, 0.88]"
    assert fmt_ci(estimate, 0.95, 2) == "0.73, 95% CI [0.58, 0.88]"
    assert fmt_ci(estimate, 0.9, 2) == "0.73, 90% CI [0.58, 0.88]"
    assert fmt_ci(None, 0.95) == "—"


def test_p_values():
    assert fmt_p(0.0321) == "= 0.032"
    assert fmt_p(0.0001) == "< 0.001"
    assert fmt_p_value(0.0321) == "0.032"
    assert fmt_p_value(0.0001) == "< 0.001"
    assert fmt_p_value(None) == "—"


def test_footnotes_number_each_reason_once():
    notes = Footnotes()
    assert notes.na("every seed diverged") == "n/a (1)"
    assert notes.na("needs at least 2 checkpoints") == "n/a (2)"
    assert notes.na("every seed diverged") == "n/a (1)"
    assert notes.lines() == ["(1) every seed diverged", "(2) needs at least 2 checkpoints"]
