"""The plain-language verdict per env, written from the analysis, and how numbers are shown."""

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


def success_phrase(rate: dict[str, Any]) -> tuple[int, int, str]:
    """Seeds that passed a failure criterion: (passed, n, "88%, 95% CI 64–97%").

    Args:
      rate: a failure-rate dict of the analysis (failures, n, low, high).

    Returns:
      (passed, n, the share passing with its Wilson interval in words).
    """
    passed, n = rate["n"] - rate["failures"], rate["n"]
    share = (
        f"{fmt_pct(passed / n)}, 95% CI {100 * (1 - rate['high']):.0f}–"
        f"{100 * (1 - rate['low']):.0f}%"
    )
    return passed, n, share


def env_verdict(env: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The verdict on one env: a paragraph for the report and one line for the terminal.

    "A is better than B" is claimed only when the confidence interval of P(A > B) excludes
    0.5 (and, with more than two algos, the Holm-adjusted rank test agrees); otherwise the
    pair is "not distinguishable", with the seeds a claim would need.

    Args:
      env: one entry of ``analyze(store)["envs"]`` (without its verdict).
      settings: ``analyze(store)["settings"]``.

    Returns:
      {"text": the paragraph, "short": one line, and the paragraph's pieces for a layout of
      its own: "lead" (which env, seeds, budget), "algos" (one clause per algo),
      "comparisons" (one sentence per pair of algos), "notes" (failed units, diverged seeds)}.
    """
    algos = sorted(
        env["algos"],
        key=lambda a: -a["iqm"]["point"] if a["iqm"] else float("inf"),
    )
    seeds = sorted({a["seeds"] for a in algos})
    setting = []
    if seeds:
        setting.append(f"{'/'.join(map(str, seeds))} seeds per algo")
    if env["budgets"]:
        setting.append(f"{'/'.join(fmt_steps(b) for b in env['budgets'])} env steps per seed")
    lead = f"On {env['env']}" + (f" ({', '.join(setting)})" if setting else "") + ":"
    clauses, short = [], []
    for algo in algos:
        text, line = _algo_sentence(algo)
        clauses.append(text)
        short.append(line)
    comparisons, pair_short = [], []
    for i, x in enumerate(algos):
        for y in algos[i + 1 :]:
            pair = _find_pair(env["comparisons"], x["label"], y["label"])
            if pair is not None:
                text, line = _pair_sentence(pair, x["label"], y["label"], env, settings)
                comparisons.append(text)
                pair_short.append(line)
    notes = []
    for failed in env["failed_units"]:
        notes.append(f"{failed['algo']} failed on this env and has no results: {failed['reason']}.")
        short.append(f"{failed['algo']} failed")
    if any(a["diverged"] for a in algos):
        notes.append(
            "Diverged seeds count as failures and are never averaged into the IQM or curves."
        )
    opening = f"{lead} {'; '.join(clauses)}." if clauses else f"{lead} no algo has results."
    line = f"{env['env']}: " + "; ".join(short)
    if pair_short:
        line += " | " + "; ".join(pair_short)
    return {
        "text": " ".join([opening, *comparisons, *notes]),
        "short": line,
        "lead": lead,
        "algos": clauses,
        "comparisons": comparisons,
        "notes": notes,
    }


def _algo_sentence(algo: dict[str, Any]) -> tuple[str, str]:
    label = algo["label"]
    line: str | None
    solve, random = algo["failure"]["solve"], algo["failure"]["random"]
    if solve is not None:
        passed, n, share = success_phrase(solve)
        text = (
            f"{label} reached the solve threshold ({fmt(solve['threshold'])}) in {passed} of "
            f"{n} seeds ({share})"
        )
        line = f"{label} {passed}/{n} solved"
    elif random is not None:
        passed, n, share = success_phrase(random)
        text = (
            f"{label} beat the random baseline (mean return above {fmt(random['threshold'])}) "
            f"in {passed} of {n} seeds ({share})"
        )
        line = f"{label} {passed}/{n} beat random"
    else:
        text, line = label, None
    if algo["iqm"] is not None:
        text += f", IQM final return {fmt_ci(algo['iqm'])}"
        line = line or f"{label} IQM {fmt(algo['iqm']['point'])}"
    else:
        text += ", no seed has a usable final return"
        line = line or f"{label} no usable seed"
    if algo["diverged"]:
        text += f", {len(algo['diverged'])} of {algo['seeds']} seeds diverged"
        line += f", {len(algo['diverged'])} diverged"
    return text, line


def _find_pair(comparisons: dict[str, Any], x: str, y: str) -> dict[str, Any] | None:
    return next(
        (p for p in comparisons["pairs"] if {p["a"], p["b"]} == {x, y}),
        None,
    )


def _pair_sentence(
    pair: dict[str, Any], x: str, y: str, env: dict[str, Any], settings: dict[str, Any]
) -> tuple[str, str]:
    """One comparison, written with x first unless y is the one shown to be better."""
    matrix = env["comparisons"]["matrix"]
    winner = pair["better"]
    if winner is not None:
        loser = y if winner == x else x
        text = (
            f"{winner} is better than {loser}: P({winner} > {loser}) = "
            f"{fmt_ci(matrix[winner][loser], 2)}"
        )
        if pair["holm_applied"]:
            text += (
                f", Holm-adjusted Mann–Whitney p {_fmt_p(pair['holm_p'])} over "
                f"{env['comparisons']['tests']} comparisons"
            )
        return text + ".", f"{winner} > {loser}"
    n_a, n_b = pair["n_a"], pair["n_b"]
    seeds = f"{n_a} seed{'s' if n_a > 1 else ''}" if n_a == n_b else f"{n_a} and {n_b} seeds"
    probability = f"P({x} > {y}) = {fmt_ci(matrix[x][y], 2)}"
    if pair["held_back"] == "holm":
        text = (
            f"{x} and {y} are not distinguishable with {seeds}: {probability} excludes 0.5, but "
            f"not after Holm–Bonferroni correction over {env['comparisons']['tests']} "
            f"comparisons (adjusted p {_fmt_p(pair['holm_p'])})"
        )
    elif pair["held_back"] == "too few seeds":
        text = (
            f"{x} and {y} are not distinguishable with {seeds}: {probability}, but a claim "
            "needs at least 2 seeds per algo"
        )
    else:
        text = f"{x} and {y} are not distinguishable with {seeds} ({probability})"
    needed = pair["seeds_needed"] or {}
    power = f"{settings['power']:.0%} power (one-sided Welch test, α = {settings['alpha']:g})"
    difference = f"the observed difference in mean final return ({fmt(needed.get('effect'))})"
    if needed.get("seeds") is not None:
        text += f"; about {needed['seeds']} seeds per algo would detect {difference} with {power}"
        hint = f"~{needed['seeds']} seeds needed"
    elif needed.get("more_than") is not None:
        text += (
            f"; more than {needed['more_than']} seeds per algo would be needed to detect "
            f"{difference} with {power}"
        )
        hint = f">{needed['more_than']} seeds needed"
    elif needed.get("note") == "identical mean final returns":
        text += "; their mean final returns are identical"
        hint = "identical"
    else:
        text += "; too few usable seeds to say how many a claim would need"
        hint = "too few seeds"
    return text + ".", f"{x} ≈ {y} ({hint})"


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "= —"
    return f"= {p:.2g}" if p >= 0.001 else "< 0.001"
