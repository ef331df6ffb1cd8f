"""How the report shows numbers: returns, env steps, counts, seconds, percentages, intervals at
their confidence level, p-values, and the metrics that could not be computed (n/a)."""

from __future__ import annotations

from typing import Any

# A metric that cannot be computed from the results; the analysis says why beside it.
NA = "n/a"


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


def fmt_count(count: int | None) -> str:
    """A whole number in full, thousands separated: "12,345", "—"."""
    return "—" if count is None else f"{count:,}"


def fmt_seconds(seconds: float | None) -> str:
    """A duration in seconds to a tenth: "3.5 s", "—"."""
    return "—" if seconds is None else f"{seconds:.1f} s"


def fmt_pct(rate: float | None) -> str:
    """A proportion as a whole percentage.

    Args:
      rate: a proportion in [0, 1], or None.

    Returns:
      E.g. "88%", "—".
    """
    return "—" if rate is None else f"{100 * rate:.0f}%"


def fmt_pct_range(low: float, high: float) -> str:
    """Two proportions as a range of whole percentages: "64–97%"."""
    return f"{100 * low:.0f}–{fmt_pct(high)}"


def fmt_level(confidence: float) -> str:
    """A confidence level as a percentage, as few digits as it needs: "95%", "97.5%"."""
    return f"{100 * confidence:g}%"


def fmt_digits(value: float | None, digits: int | None) -> str:
    """``value`` with ``digits`` decimals (for probabilities), or as :func:`fmt` without."""
    return fmt(value) if digits is None or value is None else f"{value:.{digits}f}"


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
    point, low, high = (fmt_digits(estimate[k], digits) for k in ("point", "low", "high"))
    return f"{point} [{low}, {high}]"


def fmt_ci(estimate: dict[str, Any] | None, confidence: float, digits: int | None = None) -> str:
    """An estimate as "point, 95% CI [low, high]", for sentences.

    Args:
      estimate: a dict with point, low and high, or None.
      confidence: the interval's level (the analysis settings' ``confidence``).
      digits: decimals to show (for probabilities); default three significant digits.

    Returns:
      E.g. "0.73, 95% CI [0.58, 0.88]", "—".
    """
    if estimate is None or estimate.get("point") is None:
        return "—"
    point, low, high = (fmt_digits(estimate[k], digits) for k in ("point", "low", "high"))
    return f"{point}, {fmt_level(confidence)} CI [{low}, {high}]"


def fmt_rate(rate: dict[str, Any]) -> str:
    """A failure rate of the analysis with its interval: "25% [7%, 59%]"."""
    return f"{fmt_pct(rate['rate'])} [{fmt_pct(rate['low'])}, {fmt_pct(rate['high'])}]"


def fmt_p(p: float | None) -> str:
    """A p-value as a relation: "= 0.032", "< 0.001", "= —"."""
    if p is None:
        return "= —"
    return f"= {p:.2g}" if p >= 0.001 else "< 0.001"


def fmt_p_value(p: float | None) -> str:
    """A p-value on its own, for tables: "0.032", "< 0.001", "—"."""
    if p is None:
        return "—"
    return f"{p:.2g}" if p >= 0.001 else "< 0.001"


class Footnotes:
    """The reasons behind a table's n/a cells, numbered in order of first use; cells with the
    same reason share its number."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def na(self, reason: str) -> str:
        """The cell of a metric that could not be computed: "n/a (1)"."""
        if reason not in self.reasons:
            self.reasons.append(reason)
        return f"{NA} ({self.reasons.index(reason) + 1})"

    def lines(self) -> list[str]:
        """One line per reason: "(1) every seed diverged"."""
        return [f"({i}) {reason}" for i, reason in enumerate(self.reasons, 1)]
