"""The headline of ``rlcheck verdict``: can RL solve this env, how reliably, at what cost, and
does a simpler method do as well or better — written from the report's analysis.

"Better" is claimed only where the report's comparison claims it (the confidence interval of
P(A > B) excludes 0.5, Holm-corrected); "as well" means not distinguishable with these seeds
while its IQM is at least the best RL algorithm's lower CI bound.
"""

from __future__ import annotations

from typing import Any

from rlcheck.registry import BASELINES, RANDOM
from rlcheck.report.format import fmt, fmt_ci, fmt_p, fmt_seconds, fmt_steps
from rlcheck.report.verdict import success_phrase


def env_headline(env: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The verdict on one env of ``rlcheck.report.analysis.analyze(store)["envs"]``.

    Args:
        env: one env's analysis (with its algos, comparisons and sample efficiency).
        settings: the analysis settings (the confidence level and α of its tests).

    Returns:
        {"env", "rl_solves": True/False/None (None: no threshold and no random baseline),
        "best_rl", "simpler": [{"algo", "relation": "better"|"as well"|"worse"|"unclear",
        "sentence"}], "headline": one line, "lines": the paragraph as sentences}.
    """
    algos = [a for a in env["algos"] if a["iqm"] is not None]
    rl = [a for a in algos if a["algo"] not in BASELINES and a["algo"] != RANDOM]
    simpler = [a for a in algos if a["algo"] in BASELINES]
    lines: list[str] = []
    out: dict[str, Any] = {"env": env["env"], "rl_solves": None, "best_rl": None, "simpler": []}
    if not rl:
        lines.append(f"No RL algorithm has results on {env['env']}.")
        out.update(headline=lines[0], lines=lines)
        return out
    confidence = settings["confidence"]
    best = max(rl, key=lambda a: a["iqm"]["point"])
    out["best_rl"] = best["label"]
    criterion = best["failure"]["solve"] or best["failure"]["random"]
    goal = "solved it" if best["failure"]["solve"] else "beat the random policy"
    if criterion is not None:
        passed, n, share = success_phrase(criterion, confidence)
        out["rl_solves"] = passed > 0
        lines.append(
            f"Best RL algorithm: {best['label']}, IQM final return "
            f"{fmt_ci(best['iqm'], confidence)}; it {goal} in {passed} of {n} seeds ({share})."
        )
    else:
        iqm = fmt_ci(best["iqm"], confidence)
        lines.append(f"Best RL algorithm: {best['label']}, IQM final return {iqm}.")
    lines.append(f"Cost of {best['label']}: {_cost(best, env)}.")
    for a in sorted(simpler, key=lambda a: -a["iqm"]["point"]):
        relation, sentence = _compare(a, best, env, settings)
        out["simpler"].append({"algo": a["label"], "relation": relation, "sentence": sentence})
        lines.append(sentence)
    out["headline"] = _headline(env["env"], best, out)
    out["lines"] = lines
    return out


def _cost(algo: dict[str, Any], env: dict[str, Any]) -> str:
    cost = algo["cost"]
    parts = [f"{fmt_steps(cost['env_steps_per_seed'])} env steps per seed"]
    if cost["simulator_calls"] is not None:
        per_seed = cost["simulator_calls"] / max(cost["seeds"], 1)
        parts.append(f"{fmt_steps(per_seed)} simulator calls per seed")
    efficiency = (env.get("sample_efficiency") or {}).get("algos", {}).get(algo["label"])
    if efficiency and efficiency["median_env_steps"] is not None:
        parts.append(
            f"median {fmt_steps(efficiency['median_env_steps'])} env steps to reach "
            f"{fmt(env['sample_efficiency']['threshold'])}"
        )
    if cost["wall_s"] is not None:
        wall = f"{fmt_seconds(cost['wall_s'])} wall for all seeds"
        if cost.get("compile_s"):  # None: not recorded; 0: nothing compiled (host planners)
            wall += f" ({fmt_seconds(cost['compile_s'])} of it compiling)"
        parts.append(wall)
    return ", ".join(parts)


def _compare(
    a: dict[str, Any], best: dict[str, Any], env: dict[str, Any], settings: dict[str, Any]
) -> tuple[str, str]:
    pair = next(
        (p for p in env["comparisons"]["pairs"] if {p["a"], p["b"]} == {a["label"], best["label"]}),
        None,
    )
    cost = _cost(a, env)
    confidence = settings["confidence"]
    iqm = f"IQM {fmt_ci(a['iqm'], confidence)}"
    if pair is None:
        return "unclear", f"{a['label']}: {iqm}, {cost}; not compared."
    p = env["comparisons"]["matrix"][a["label"]][best["label"]]
    probability = f"P({a['label']} > {best['label']}) = {fmt_ci(p, confidence, 2)}"
    if pair["better"] == a["label"]:
        relation = "better"
    elif pair["better"] == best["label"]:
        relation = "worse"
    elif a["iqm"]["point"] >= best["iqm"]["low"]:
        relation = "as well"
    else:
        relation = "unclear"
    n = f"{pair['n_a']} and {pair['n_b']} seeds"
    if pair.get("held_back") == "holm" and pair.get("holm_p") is not None:
        # The interval alone would call it; the correction for testing every pair does not.
        probability += (
            f"; the interval excludes 0.5, but the Mann–Whitney p {fmt_p(pair['holm_p'])} after "
            f"Holm's correction for {env['comparisons'].get('tests', 'all')} comparisons is not "
            f"below {fmt(settings['alpha'])}"
        )
    words = {
        "better": f"does better than {best['label']} ({probability})",
        "worse": f"does worse than {best['label']} ({probability})",
        "as well": f"does as well as {best['label']} (not distinguishable with {n}: {probability})",
        "unclear": f"is not distinguishable from {best['label']} with {n} ({probability})",
    }[relation]
    return relation, f"{a['label']} {words}: {iqm}, {cost}."


def _headline(env_name: str, best: dict[str, Any], out: dict[str, Any]) -> str:
    if out["rl_solves"] is None:
        rl = f"On {env_name}, the best RL algorithm is {best['label']}"
    elif out["rl_solves"]:
        rl = f"RL can solve {env_name} ({best['label']})"
    else:
        rl = f"RL did not solve {env_name} with these budgets"
    better = [s["algo"] for s in out["simpler"] if s["relation"] == "better"]
    equal = [s["algo"] for s in out["simpler"] if s["relation"] == "as well"]
    if better:
        return f"{rl}, but a simpler method does better: {', '.join(better)}."
    if equal:
        return f"{rl}, but a simpler method does as well: {', '.join(equal)}."
    if out["simpler"]:
        return f"{rl}, and no simpler method tried does as well."
    return f"{rl}; no simpler method could be run on it."


def markdown(headlines: list[dict[str, Any]], skipped: list[tuple[str, str]]) -> str:
    """The verdicts as a short Markdown document (DIR/verdict.md)."""
    parts = ["# rlcheck verdict", ""]
    for h in headlines:
        parts += [f"## {h['env']}", "", f"**{h['headline']}**", ""]
        parts += [f"- {line}" for line in h["lines"]]
        parts.append("")
    if skipped:
        parts += ["Not run:", ""]
        parts += [f"- {what}: {why}" for what, why in skipped]
        parts.append("")
    parts.append("Every number: see report.html (learning curves, comparisons, costs).")
    return "\n".join(parts) + "\n"
