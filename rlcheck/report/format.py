"""How the report shows numbers: returns, env steps, percentages, intervals and p-values."""

from __future__ import annotations

from typing import Any


def fmt(value: float | None) -> str:
    """A number with three significant digits, thousands separated; "—" when missing.

    Args:
      value: the number, or None.

    Returns:
      E.g. "498", "-85.2", "0.0123", "12,345", "—".
    """
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def fmt_steps(steps: float | None) -> str:
    """Env steps in thousands or millions.

    Args:
      steps: a number of env steps, or None.

    Returns:
      E.g. "200k", "1.5M", "512", "—".
    """
    if steps is None:
        return "—"
    if abs(steps) >= 1e6:
        return f"{steps / 1e6:.3g}M"
    if abs(steps) >= 1e3:
        return f"{steps / 1e3:.3g}k"
    return f"{steps:.0f}"


def fmt_pct(rate: float | None) -> str:
    """A proportion as a whole percentage.

    Args:
      rate: a proportion in [0, 1], or None.

    Returns:
      E.g. "88%", "—".
    """
    return "—" if rate is None else f"{100 * rate:.0f}%"


def fmt_interval(estimate: dict[str, Any] | None, digits: int | None = None) -> str:
    """An estimate as "point [low, high]", for tables.

    Args:
      estimate: a dict with point, low and high, or None.
      digits: decimals to show (for probabilities); default three significant digits.

    Returns:
      E.g. "488 [463, 499]", "—".
    """
    if estimate is None or estimate.get("point") is None:
        return "—"
    point, low, high = (_fmt_digits(estimate[k], digits) for k in ("point", "low", "high"))
    return f"{point} [{low}, {high}]"


def fmt_ci(estimate: dict[str, Any] | None, digits: int | None = None) -> str:
    """An estimate as "point, 95% CI [low, high]", for sentences.

    Args:
      estimate: a dict with point, low and high, or None.
      digits: decimals to show (for probabilities); default three significant digits.

    Returns:
      E.g. "0.73, 95% CI [0.58, 0.88]", "—".
    """
    if estimate is None or estimate.get("point") is None:
        return "—"
    point, low, high = (_fmt_digits(estimate[k], digits) for k in ("point", "low", "high"))
    return f"{point}, 95% CI [{low}, {high}]"


def _fmt_digits(value: float | None, digits: int | None) -> str:
    return fmt(value) if digits is None or value is None else f"{value:.{digits}f}"


def fmt_p(p: float | None) -> str:
    """A p-value as a relation: "= 0.032", "< 0.001", "= —"."""
    if p is None:
        return "= —"
    return f"= {p:.2g}" if p >= 0.001 else "< 0.001"
