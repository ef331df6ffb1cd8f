import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.ranges import parse_range, parse_values, parse_vary


def test_evenly_spaced_values_include_both_ends():
    values, log = parse_values("0.05:2.0:4", "--vary length")
    assert values == [0.05, 0.7, 1.35, 2.0]
    assert not log
    assert parse_values("0.25:1.0:4", "x").values == [0.25, 0.5, 0.75, 1.0]
    assert parse_values("3:3:1", "x").values == [3.0]


def test_a_log_range_is_evenly_spaced_in_log_with_exact_ends():
    values, log = parse_values("1e-4:1e-2:5:log", "--vary learning_rate")
    assert values[0] == 1e-4 and values[-1] == 1e-2
    assert values == pytest.approx([1e-4, 10**-3.5, 1e-3, 10**-2.5, 1e-2], rel=1e-11)
    assert log
    parsed = parse_range("1e-4:1e-2:5:log", "x")
    assert (parsed.scale, parsed.low, parsed.high, parsed.log) == ("log", 1e-4, 1e-2, True)


def test_values_read_back_without_float_noise():
    # linspace(0.1, 0.3, 3)[1] is 0.19999999999999998 in binary; written back as 0.2.
    assert parse_values("0.1:0.3:3", "x").values == [0.1, 0.2, 0.3]


def test_lists_and_single_numbers_keep_their_order():
    parsed = parse_range("0.01, 0.1,1,10 ,100", "x")
    assert parsed.values == (0.01, 0.1, 1.0, 10.0, 100.0)
    assert (parsed.scale, parsed.low, parsed.high) == ("list", None, None)
    assert parse_values("2, 0.5,1", "x") == ([2.0, 0.5, 1.0], False)
    assert parse_values("0.5", "x") == ([0.5], False)
    # Specs may give numbers and lists of numbers directly.
    assert parse_values(3, "x") == ([3.0], False)
    assert parse_values([1, 2.5], "x") == ([1.0, 2.5], False)


def test_decreasing_ranges_run_from_a_to_b():
    assert parse_values("2:1:3", "x").values == [2.0, 1.5, 1.0]
    assert parse_values("1:0:3", "x").values == [1.0, 0.5, 0.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no values given"),
        ("0:1", "'0:1' is not a range; write A:B:N"),
        ("0:1:3:lin", "'0:1:3:lin' is not a range"),
        ("0:1:0", "N in '0:1:0' must be at least 1, got 0"),
        ("0:1:2.5", "N in '0:1:2.5' must be a whole number, got '2.5'"),
        ("0:1:3:log", "a log range needs bounds above 0, got '0:1:3:log'"),
        ("-1:1:3:log", "bounds above 0"),
        ("a:1:3", "'a' is not a number"),
        ("1,,2", "empty item in the list '1,,2'"),
        ("1,x", "'x' is not a number"),
        ("nan", "not a finite number"),
        ("0:inf:3", "'inf' is not a finite number"),
        ([], "list of values is empty"),
        (True, "expected numbers"),
    ],
)
def test_mistakes_are_one_line_errors_naming_where(text, message):
    with pytest.raises(UserError) as info:
        parse_values(text, "--vary length")
    assert message in str(info.value)
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
