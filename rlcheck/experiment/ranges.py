"""Value ranges as users write them, on the command line and in specs: ``A:B:N`` is N evenly
spaced values from A to B, ``A:B:N:log`` N log-spaced ones (A and B > 0), ``a,b,c`` a list, and
one number is itself. ``NAME=RANGE`` (``--vary length=0.05:2.0:32``) names what varies.

Shared by every command that varies something (``rlcheck robustness``, sweeps), so the same text
means the same values everywhere; each mistake is a one-line :class:`~rlcheck.errors.UserError`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from rlcheck.errors import UserError

SYNTAX = "A:B:N (N evenly spaced values), A:B:N:log (log-spaced) or a,b,c (a list)"


class Values(NamedTuple):
    """Parsed values, in the order written (ranges from A to B), and whether they were asked
    for log-spaced (``A:B:N:log``: plot and integrate them on a log axis)."""

    values: list[float]
    log: bool


def parse_values(text: str | float | list[Any], where: str) -> Values:
    """The values ``text`` names (see the module docstring).

    Args:
        text: ``"A:B:N"``, ``"A:B:N:log"``, ``"a,b,c"`` or one number; specs may also give a
            number or a list of numbers.
        where: where the text came from, for messages (``--vary length``,
            ``spec.toml: robustness.vary.length``).

    Returns:
        :class:`Values`: ``values, log = parse_values("1e-4:1e-2:3:log", "--vary lr")`` gives
        ``[1e-4, 1e-3, 1e-2]`` and True.

    Raises:
        UserError: anything else, in one line that names ``where`` and the accepted forms.
    """
    if isinstance(text, bool):
        raise UserError(f"{where}: expected numbers, got {text!r} ({SYNTAX})")
    if isinstance(text, int | float):
        return Values([_number(text, where)], False)
    if isinstance(text, list):
        if not text:
            raise UserError(f"{where}: the list of values is empty")
        return Values([_number(v, where) for v in text], False)
    if not isinstance(text, str):
        raise UserError(f"{where}: expected {SYNTAX}, got {text!r}")
    text = text.strip()
    if not text:
        raise UserError(f"{where}: no values given; write {SYNTAX}")
    if ":" not in text:
        items = [item.strip() for item in text.split(",")]
        if any(not item for item in items):
            raise UserError(f"{where}: empty item in the list '{text}'")
        return Values([_number(item, where) for item in items], False)
    parts = [part.strip() for part in text.split(":")]
    log = len(parts) == 4 and parts[3] == "log"
    if len(parts) not in (3, 4) or (len(parts) == 4 and not log):
        raise UserError(f"{where}: cannot read '{text}' as a range; write {SYNTAX}")
    low, high = _number(parts[0], where), _number(parts[1], where)
    count = int(parts[2]) if parts[2].isdigit() else 0
    if count < 2:
        raise UserError(
            f"{where}: N in '{text}' must be a whole number of values, at least 2 (got "
            f"'{parts[2]}'; for one value write it alone)"
        )
    if log:
        if low <= 0 or high <= 0:
            raise UserError(
                f"{where}: a log-spaced range needs bounds above 0, got {parts[0]} and {parts[1]}"
            )
        values = np.geomspace(low, high, count)
    else:
        values = np.linspace(low, high, count)
    # 12 significant digits: 0.1:0.3:3 reads back as 0.2, not 0.19999999999999998.
    return Values([float(f"{v:.12g}") for v in values], log)


def parse_vary(text: str, where: str) -> tuple[str, Values]:
    """``NAME=VALUES`` (``length=0.05:2.0:32``) as the name and its :func:`parse_values`.

    Raises:
        UserError: no ``=``, an empty name, or values :func:`parse_values` rejects.
    """
    name, equals, values = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise UserError(f"{where}: expected NAME=VALUES (e.g. length=0.05:2.0:32), got '{text}'")
    return name, parse_values(values, f"{where} {name}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise UserError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: '{value}' is not a number ({SYNTAX})") from None
    if not math.isfinite(number):
        raise UserError(f"{where}: '{value}' is not a finite number")
    return number
