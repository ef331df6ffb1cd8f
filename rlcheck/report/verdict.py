"""The plain-language verdict per env, written from the analysis."""

from __future__ import annotations

from typing import Any

from rlcheck.report.format import (
    fmt,
    fmt_ci,
    fmt_level,
    fmt_p,
    fmt_pct,
    fmt_pct_range,
    fmt_steps,
)


def success_phrase(rate: dict[str, Any], confidence: float) -> tuple[int, int, str]:
    """Seeds that passed a failure criterion: (passed, n, "88%, 95% CI 64–97%").

    Args:
      rate: a failure-rate dict of the analysis (failures, n, low, high).
      confidence: the level of its interval (the analysis settings' ``confidence``).

    Returns:
      (passed, n, the share passing with its Wilson interval in words).
    """
    passed, n = rate["n"] - rate["failures"], rate["n"]
    interval = fmt_pct_range(1 - rate["high"], 1 - rate["low"])
    share = f"{fmt_pct(passed / n)}, {fmt_level(confidence)} CI {interval}"
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
      "comparisons" (one sentence per pair of algos), "notes" (failed units, unequal budgets,
      imported units, diverged seeds)}.
    """
    algos = sorted(
        env["algos"],
        key=lambda a: -a["iqm"]["point"] if a["iqm"] else float("inf"),
    )
    seeds = sorted({a["seeds"] for a in algos if not _one_policy(a)})
    setting = []
    if seeds:
        setting.append(f"{'/'.join(map(str, seeds))} seeds per algo")
    for algo in algos:
        if _one_policy(algo):
            setting.append(f"{algo['label']}: one policy, {algo['seeds']} evaluation seeds")
    # A budget of 0: imported scores that carry no env steps.
    if budgets := [b for b in env["budgets"] if b]:
        setting.append(f"{'/'.join(fmt_steps(b) for b in budgets)} env steps per seed")
    lead = f"On {env['env']}" + (f" ({', '.join(setting)})" if setting else "") + ":"
    confidence = settings["confidence"]
    clauses, short = [], []
    for algo in algos:
        text, line = _algo_sentence(algo, confidence)
        clauses.append(text)
        short.append(line)
    comparisons, pair_short = [], []
    for i, x in enumerate(algos):
        for y in algos[i + 1 :]:
            pair = _find_pair(env["comparisons"], x["label"], y["label"])
            if pair is not None:
                text, line = _pair_sentence(pair, x["label"], y["label"], env, settings)
                if x["budget"] != y["budget"]:
                    text = (
                        f"{text[:-1]}, at unequal budgets ({_budget(x)} and {_budget(y)} env "
                        "steps per seed)."
                    )
                    line += " (unequal budgets)"
                comparisons.append(text)
                pair_short.append(line)
    notes = []
    for failed in env["failed_units"]:
        notes.append(f"{failed['algo']} failed on this env and has no results: {failed['reason']}.")
        short.append(f"{failed['algo']} failed")
    if len({a["budget"] for a in algos}) > 1:
        each = ", ".join(f"{a['label']} {_budget(a)}" for a in algos)
        notes.append(
            f"The algos had unequal budgets ({each} env steps per seed): a comparison between "
            "them is not at equal cost."
        )
    for algo in algos:
        if algo.get("imported"):
            imported = algo["imported"]
            curves = {
                "train_return": "training-episode returns (it logged no evaluations)",
                "eval_return": "the evaluations it logged",
                "return": "the returns of its table",
                "score": "none (final scores only)",
            }
            notes.append(
                f"{algo['label']} was imported from {imported['what']}, not trained by rlcheck; "
                f"its curves are {curves.get(imported['curve_metric'], imported['curve_metric'])}."
            )
    for algo in algos:
        if algo.get("evaluated"):
            notes.append(_evaluated_note(algo))
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


EVALUATION_SEEDS = "evaluation seeds"


def _one_policy(algo: dict[str, Any]) -> bool:
    """A single policy given to ``rlcheck evaluate``: its seeds are evaluation seeds."""
    return algo.get("seeds_are") == EVALUATION_SEEDS


def _evaluated_note(algo: dict[str, Any]) -> str:
    """What an evaluated unit is, so that one policy never reads as many training runs."""
    label, n = algo["label"], algo["seeds"]
    episodes = algo["evaluated"]["episodes"]
    if _one_policy(algo):
        return (
            f"{label} is one policy trained elsewhere, evaluated by rlcheck evaluate: its {n} "
            f"seeds are evaluation seeds ({episodes} episodes each), not training runs, so its "
            "intervals and rates measure the spread of this one policy's episodes only; they "
            "say nothing about how another training run of its algorithm would do, and a "
            "comparison with it ranks this policy against the other algos' training runs."
        )
    return (
        f"{label} is {n} policies trained elsewhere (one training run each), evaluated by "
        f"rlcheck evaluate ({episodes} episodes each); it has no learning curve or budget."
    )


def _budget(algo: dict[str, Any]) -> str:
    return fmt_steps(algo["budget"]) if algo["budget"] else "unknown"


def _algo_sentence(algo: dict[str, Any], confidence: float) -> tuple[str, str]:
    label = algo["label"]
    line: str | None
    solve, random = algo["failure"]["solve"], algo["failure"]["random"]
    # One policy's seeds are its evaluation seeds; say so wherever they are counted.
    seeds = "evaluation seeds" if _one_policy(algo) else "seeds"
    if solve is not None:
        passed, n, share = success_phrase(solve, confidence)
        text = (
            f"{label} reached the solve threshold ({fmt(solve['threshold'])}) in {passed} of "
            f"{n} {seeds} ({share})"
        )
        line = f"{label} {passed}/{n} {'evaluation seeds ' if _one_policy(algo) else ''}solved"
    elif random is not None:
        passed, n, share = success_phrase(random, confidence)
        text = (
            f"{label} beat the random baseline (mean return above {fmt(random['threshold'])}) "
            f"in {passed} of {n} {seeds} ({share})"
        )
        line = f"{label} {passed}/{n} {'evaluation seeds ' if _one_policy(algo) else ''}beat random"
    else:
        text, line = label, None
    if algo["iqm"] is not None:
        text += f", IQM final return {fmt_ci(algo['iqm'], confidence)}"
        line = line or f"{label} IQM {fmt(algo['iqm']['point'])}"
    else:
        text += ", no seed has a usable final return"
        line = line or f"{label} no usable seed"
    if algo["diverged"]:
        text += f", {len(algo['diverged'])} of {algo['seeds']} {seeds} diverged"
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
    confidence = settings["confidence"]
    winner = pair["better"]
    if winner is not None:
        loser = y if winner == x else x
        text = (
            f"{winner} is better than {loser}: P({winner} > {loser}) = "
            f"{fmt_ci(matrix[winner][loser], confidence, 2)}"
        )
        if pair["holm_applied"]:
            text += (
                f", Holm-adjusted Mann–Whitney p {fmt_p(pair['holm_p'])} over "
                f"{env['comparisons']['tests']} comparisons"
            )
        return text + ".", f"{winner} > {loser}"
    n_a, n_b = pair["n_a"], pair["n_b"]
    seeds = f"{n_a} seed{'s' if n_a > 1 else ''}" if n_a == n_b else f"{n_a} and {n_b} seeds"
    probability = f"P({x} > {y}) = {fmt_ci(matrix[x][y], confidence, 2)}"
    if pair["held_back"] == "holm":
        text = (
            f"{x} and {y} are not distinguishable with {seeds}: {probability} excludes 0.5, but "
            f"not after Holm–Bonferroni correction over {env['comparisons']['tests']} "
            f"comparisons (adjusted p {fmt_p(pair['holm_p'])})"
        )
    elif pair["held_back"] == "too few seeds":
        text = (
            f"{x} and {y} are not distinguishable with {seeds}: {probability}, but a claim "
            "needs at least 2 seeds per algo"
        )
    else:
        text = f"{x} and {y} are not distinguishable with {seeds} ({probability})"
    needed = pair["seeds_needed"] or {}
    power = (
        f"{fmt_pct(settings['power'])} power (one-sided Welch test, α = {fmt(settings['alpha'])})"
    )
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
