import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.ranges import parse_values, parse_vary


def test_evenly_spaced_values_include_both_ends():
    values, log = parse_values("0.05:2.0:4", "--vary length")
    assert values == [0.05, 0.7, 1.35, 2.0]
    assert not log


def test_log_spaced_values_are_powers():
    values, log = parse_values("1e-4:1e-2:3:log", "--vary learning_rate")
    assert values == pytest.approx([1e-4, 1e-3, 1e-2], rel=1e-12)
    assert log


def test_values_read_back_without_float_noise():
    # linspace(0.1, 0.3, 3)[1] is 0.19999999999999998 in binary; written back as 0.2.
    assert parse_values("0.1:0.3:3", "x").values == [0.1, 0.2, 0.3]


def test_lists_and_single_numbers_keep_their_order():
    assert parse_values("2, 0.5,1", "x") == ([2.0, 0.5, 1.0], False)
    assert parse_values("0.5", "x") == ([0.5], False)
    # Specs may give numbers and lists of numbers directly.
    assert parse_values(3, "x") == ([3.0], False)
    assert parse_values([1, 2.5], "x") == ([1.0, 2.5], False)


def test_decreasing_ranges_run_from_a_to_b():
    assert parse_values("2:1:3", "x").values == [2.0, 1.5, 1.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no values given"),
        ("0:1", "cannot read '0:1' as a range"),
        ("0:1:3:lin", "cannot read"),
        ("0:1:1", "at least 2"),
        ("0:1:2.5", "whole number"),
        ("0:1:3:log", "bounds above 0, got 0 and 1"),
        ("-1:1:3:log", "bounds above 0"),
        ("a:1:3", "'a' is not a number"),
        ("1,,2", "empty item"),
        ("1,x", "'x' is not a number"),
        ("nan", "not a finite number"),
        ([], "list of values is empty"),
        (True, "expected numbers"),
    ],
)
def test_mistakes_are_one_line_errors_naming_where(text, message):
    with pytest.raises(UserError, match=message) as info:
        parse_values(text, "--vary length")
    assert str(info.value).startswith("--vary length: ")
    assert "\n" not in str(info.value)


def test_vary_names_the_values():
    name, (values, log) = parse_vary("learning_rate=1e-4:1e-2:2:log", "--vary")
    assert name == "learning_rate"
    assert values == pytest.approx([1e-4, 1e-2])
    assert log
    with pytest.raises(UserError, match="expected NAME=VALUES"):
        parse_vary("0.1:1:3", "--vary")
    with pytest.raises(UserError, match=r"^--vary length: N in"):
        parse_vary("length=0:1:x", "--vary")
