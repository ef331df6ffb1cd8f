import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.ranges import parse_range, parse_values


def test_a_range_is_evenly_spaced_from_a_to_b():
    assert parse_values("0.25:1.0:4", "x") == [0.25, 0.5, 0.75, 1.0]
    assert parse_values("3:3:1", "x") == [3.0]
    assert parse_values("1:0:3", "x") == [1.0, 0.5, 0.0]


def test_a_log_range_is_evenly_spaced_in_log_with_exact_ends():
    values = parse_values("1e-4:1e-2:5:log", "x")
    assert values[0] == 1e-4 and values[-1] == 1e-2
    assert values == pytest.approx([1e-4, 10**-3.5, 1e-3, 10**-2.5, 1e-2], rel=1e-12)
    parsed = parse_range("1e-4:1e-2:5:log", "x")
    assert (parsed.scale, parsed.low, parsed.high) == ("log", 1e-4, 1e-2)


def test_a_list_keeps_its_order():
    parsed = parse_range("0.01, 0.1,1,10 ,100", "x")
    assert parsed.values == (0.01, 0.1, 1.0, 10.0, 100.0)
    assert (parsed.scale, parsed.low, parsed.high) == ("list", None, None)
    assert parse_values("7", "x") == [7.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0:1e-2:4:log", "--vary lr: a log range needs bounds above 0, got '0:1e-2:4:log'"),
        ("-1:1:4:log", "a log range needs bounds above 0"),
        ("0:1:0", "--vary lr: N in '0:1:0' must be at least 1, got 0"),
        ("0:1:2.5", "N in '0:1:2.5' must be a whole number, got '2.5'"),
        ("0:1", "'0:1' is not a range; write A:B:N"),
        ("0:1:4:lin", "'0:1:4:lin' is not a range"),
        ("a,b", "--vary lr: 'a' is not a number"),
        ("1,,2", "empty value in '1,,2'"),
        ("", "empty value"),
        ("0:inf:3", "'inf' is not a finite number"),
    ],
)
def test_bad_values_are_one_line_errors_naming_where(text, message):
    with pytest.raises(UserError) as error:
        parse_values(text, "--vary lr")
    assert message in str(error.value)
    assert str(error.value).startswith("--vary lr: ")
    assert "\n" not in str(error.value)
