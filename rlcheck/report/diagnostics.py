"""The report's diagnostics: what ``rlcheck diagnose`` stored, summarized over seeds with
bootstrap intervals, one plain sentence per finding, and its figures (D1's cosines against the
batch size, D3's landscape as contours)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcheck.diagnostics.intervals import over_seeds
from rlcheck.experiment.store import Store
from rlcheck.report.figures import Png, _figure, _png
from rlcheck.report.format import fmt

NO_DIAGNOSTICS = (
    "no diagnostics in this directory (rlcheck diagnose DIR: gradient and value quality, "
    "landscape and trust region of PPO, A2C, TRPO and REINFORCE units)"
)
# Below this, two independent reference gradients disagree too much for a cosine to them to mean
# anything (madry.md §5; rlcheck/diagnostics/gradient.py refuses it per seed).
TRUE_VS_TRUE_FLOOR = 0.95
VALUE_ROWS = {
    "old_vs_mc": "V against Monte-Carlo V^π",
    "new_vs_target_train": "updated V against its GAE target (training batch)",
    "new_vs_target_heldout": "updated V against its GAE target (held-out batch)",
    "return_vs_mc": "single-rollout return against V^π (noise floor)",
}
TRUST_ROWS = {"ratio_max": "max ratio", "kl_mean": "mean KL"}


def analyze_diagnostics(
    store: Store, units: dict[str, dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """Every stored diagnose result of a unit in ``units``, as JSON-ready data; None if none.

    Args:
      store: the results.
      units: per unit key: ``env`` (the env's label), ``label`` (the algo's) and ``algo``.

    Returns:
      One entry per (request, unit): the request, the unit, how many seeds, the replay check
      and per fraction of training (``points``) each diagnostic's numbers over seeds (point,
      low, high, n: 95% percentile-bootstrap intervals), and ``findings``, one sentence each.
    """
    out = []
    for row in store.diagnostics():
        unit = units.get(row["unit_key"])
        if unit is not None:
            out.append(_entry(row, unit))
    return out or None


def _entry(row: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any]:
    result = row["result"]
    seeds = len(result["seeds"])
    points = [_point(p, row["spec"]) for p in result["points"]]
    entry = {
        "request": row["request"],
        "spec": row["spec"],
        "unit_key": row["unit_key"],
        "env": unit["env"],
        "label": unit["label"],
        "algo": unit["algo"],
        "seeds": seeds,
        "num_updates": result["num_updates"],
        "wall_s": row["wall_s"],
        "replay": result["replay"] or None,
        "points": points,
    }
    entry["findings"] = [s for p in points for s in _sentences(entry, p)]
    if entry["replay"] is not None:
        entry["findings"].append(_replay_sentence(entry["replay"]))
    return entry


def _estimate(values: Any) -> dict[str, Any]:
    array = np.asarray(values, dtype=float)
    estimate = over_seeds(array)
    return {
        "point": _number(estimate.point),
        "low": _number(estimate.low),
        "high": _number(estimate.high),
        "n": int(np.sum(np.isfinite(array))),
    }


def _number(value: Any) -> float | None:
    return float(value) if np.isfinite(value) else None


def _point(point: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: point[k] for k in ("fraction", "update", "env_steps")}
    if "gradient" in point:
        g = point["gradient"]
        pairwise, to_true = np.asarray(g["pairwise_cosine"]), np.asarray(g["cosine_to_true"])
        out["gradient"] = {
            "sizes": g["sizes"],
            "pairwise_cosine": [_estimate(pairwise[:, i]) for i in range(len(g["sizes"]))],
            "cosine_to_true": [_estimate(to_true[:, i]) for i in range(len(g["sizes"]))],
            "true_vs_true": _estimate(g["true_vs_true"]),
            "refused": int(np.sum(g["refused"])),
        }
    if "value" in point:
        v = point["value"]
        out["value"] = (
            {"skipped": v["skipped"]}
            if "skipped" in v
            else {
                metric: {name: _estimate(v[metric][name]) for name in VALUE_ROWS}
                for metric in ("mre", "nmse")
            }
        )
    if "landscape" in point:
        d = point["landscape"]
        out["landscape"] = {
            "alphas": d["alphas"],
            "betas": d["betas"],
            "few": spec["landscape_pairs"][0],
            "many": spec["landscape_pairs"][1],
            "surrogate": np.mean(d["surrogate"]["many"], axis=0).tolist(),
            "return": np.mean(d["return"]["many"], axis=0).tolist(),
            "step_norm": _estimate(d["step_norm"]),
            "correlation": {k: _estimate(v) for k, v in d["correlation"].items()},
            "sign_agreement": {
                k: _estimate(np.asarray(v, dtype=float)) for k, v in d["sign_agreement"].items()
            },
        }
    if "trust" in point:
        t = point["trust"]
        out["trust"] = {
            "clip": t["clip"],
            **{
                part: {name: _estimate(t[part][name]) for name in TRUST_ROWS}
                for part in ("train", "heldout")
            },
        }
    return out


# ---- sentences -----------------------------------------------------------------------------


def _ci(estimate: dict[str, Any], digits: int = 2) -> str:
    if estimate["point"] is None:
        return "undefined"
    point, low, high = (estimate[k] for k in ("point", "low", "high"))
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _sentences(entry: dict[str, Any], point: dict[str, Any]) -> list[str]:
    name = entry["label"]
    at = (
        f"At {point['fraction']:.0%} of training (update {point['update']} of "
        f"{entry['num_updates']}, {point['env_steps']:,} env steps)"
    )
    seeds = f"({entry['seeds']} seeds)"
    out = []
    if "gradient" in point:
        g = point["gradient"]
        sizes = g["sizes"]
        i = min(range(len(sizes)), key=lambda j: abs(sizes[j] - 2048))
        pairwise = g["pairwise_cosine"][i]
        agree = pairwise["point"] or 0.0
        verdict = (
            "estimates barely agree"
            if agree < 0.5
            else "estimates agree only in part"
            if agree < 0.9
            else "estimates agree"
        )
        sentence = (
            f"{at}, at n = {sizes[i]:,} the average pairwise cosine of {name}'s gradient "
            f"estimates is {_ci(pairwise)} {seeds}: {verdict}."
        )
        true = g["true_vs_true"]
        if true["point"] is not None and true["point"] < TRUE_VS_TRUE_FLOOR:
            sentence += (
                f" Two independent reference gradients agree only to {_ci(true)}, below "
                f"{TRUE_VS_TRUE_FLOOR}, so the cosine to the true gradient is not interpreted "
                f"({g['refused']} of {entry['seeds']} seeds refused)."
            )
        elif g["cosine_to_true"][i]["point"] is not None:
            sentence += f" Their cosine to the true gradient is {_ci(g['cosine_to_true'][i])}."
        out.append(sentence)
    if "value" in point:
        v = point["value"]
        if "skipped" in v:
            out.append(f"{at}: no value diagnostics: {v['skipped']}.")
        else:
            mre = v["mre"]
            target, true = mre["new_vs_target_train"], mre["old_vs_mc"]
            closer = (
                "it fits its own target far better than the true value"
                if (target["point"] or 0) < 0.5 * (true["point"] or 0)
                else "it is about as far from its target as from the true value"
            )
            out.append(
                f"{at}, the relative error of {name}'s value function is {_ci(true)} against "
                f"Monte-Carlo V^π and {_ci(target)} against its GAE target after one update "
                f"{seeds}: {closer}."
            )
    if "landscape" in point:
        d = point["landscape"]
        sign = d["sign_agreement"]["few"]
        corr = d["correlation"]["few"]
        out.append(
            f"{at}, one update of {name} changes its surrogate on {d['few']:,} pairs in the "
            f"same direction as the true return on {d['many']:,} pairs in a share "
            f"{_ci(sign)} of seeds, and over the grid the two correlate by {_ci(corr)} "
            f"{seeds}."
        )
    if "trust" in point:
        t = point["trust"]
        clip = t["clip"]
        high = t["heldout"]["ratio_max"]
        bound = ""
        if clip is not None and high["point"] is not None:
            inside = high["point"] <= 1 + clip
            bound = f" ({'inside' if inside else 'outside'} the clip range 1 ± {fmt(clip)})"
        out.append(
            f"{at}, one update of {name} moves the largest probability ratio to "
            f"{_ci(t['train']['ratio_max'])} on its training batch and {_ci(high)} on a "
            f"held-out batch{bound}, with a mean KL of {_ci(t['train']['kl_mean'], 4)} "
            f"{seeds}."
        )
    return out


def _replay_sentence(replay: dict[str, Any]) -> str:
    if replay["matches"]:
        return (
            "Re-trained to the end, every diagnosed seed's final policy replays its stored final "
            "return exactly: the diagnosed states are those of the stored run."
        )
    return (
        "Re-trained to the end, the final policies do not replay the stored final returns "
        f"({fmt(float(np.mean(replay['final_returns'])))} against "
        f"{fmt(float(np.mean(replay['stored_final_returns'])))} on average): the re-training "
        "differs from the stored run (another machine or rlcheck version), so the diagnosed "
        "states are of a run like it, not of it."
    )


# ---- figures -------------------------------------------------------------------------------


def gradient_figure(entry: dict[str, Any]) -> Png | None:
    """D1: average pairwise cosine (solid) and cosine to the true gradient (dashed) against the
    batch size, one colour per fraction of training, with their intervals."""
    points = [p for p in entry["points"] if "gradient" in p]
    if not points:
        return None
    with _figure() as (fig, ax):
        for i, p in enumerate(points):
            g = p["gradient"]
            x = np.asarray(g["sizes"], dtype=float)
            color = f"C{i}"
            for key, style in (("pairwise_cosine", "-"), ("cosine_to_true", "--")):
                values = g[key]
                mid = _column(values, "point")
                ax.fill_between(
                    x, _column(values, "low"), _column(values, "high"), color=color, alpha=0.15
                )
                what = "pairwise" if key == "pairwise_cosine" else "to true"
                ax.plot(
                    x, mid, style, color=color, marker="o", markersize=3,
                    label=f"{p['fraction']:.0%} of training, {what}",
                )  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xlabel("pairs per estimate (n)")
        ax.set_ylabel("cosine")
        ax.set_title(f"Gradient quality: {entry['label']} on {entry['env']}")
        ax.legend(loc="lower right")
        return _png(fig)


def landscape_figure(entry: dict[str, Any]) -> Png | None:
    """D3 at the diagnosed fraction with the longest step (with learning-rate annealing the
    update at the end of training barely moves): the surrogate and the true return (many
    pairs, mean over seeds) over the step (α) and a random direction (β), as filled contours."""
    points = [p for p in entry["points"] if "landscape" in p]
    if not points:
        return None
    point = max(points, key=lambda p: p["landscape"]["step_norm"]["point"] or 0.0)
    d = point["landscape"]
    alphas, betas = np.asarray(d["alphas"]), np.asarray(d["betas"])
    with _figure(size=(7.0, 3.0), panels=2) as (fig, axes):
        for ax, key, title in (
            (axes[0], "surrogate", "surrogate"),
            (axes[1], "return", "true return"),
        ):
            grid = np.asarray(d[key], dtype=float)
            shown = ax.contourf(betas, alphas, grid, levels=12, cmap="viridis")
            fig.colorbar(shown, ax=ax)
            ax.plot([0.0], [1.0], "w*", markersize=9)
            ax.set_xlabel("β (random direction)")
            ax.set_title(f"{title}, {d['many']:,} pairs")
        axes[0].set_ylabel("α (along the update)")
        fig.suptitle(
            f"Landscape at {point['fraction']:.0%} of training: {entry['label']} on "
            f"{entry['env']} (★: the update's end)"
        )
        return _png(fig)


def _column(estimates: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.asarray([np.nan if e[key] is None else e[key] for e in estimates], dtype=float)


def table_rows(entry: dict[str, Any]) -> list[list[str]]:
    """The entry's numbers as (fraction, diagnostic, quantity, mean [95% CI], seeds) rows."""
    rows = []
    for p in entry["points"]:
        at = f"{p['fraction']:.0%} (update {p['update']})"
        found: list[tuple[str, str, dict[str, Any]]] = []
        if "gradient" in p:
            g = p["gradient"]
            for i, n in enumerate(g["sizes"]):
                found.append(("D1", f"pairwise cosine, n = {n:,}", g["pairwise_cosine"][i]))
                found.append(("D1", f"cosine to true, n = {n:,}", g["cosine_to_true"][i]))
            found.append(("D1", "true vs true", g["true_vs_true"]))
        if "value" in p and "skipped" not in p["value"]:
            for name, what in VALUE_ROWS.items():
                found.append(("D2", f"MRE, {what}", p["value"]["mre"][name]))
        if "landscape" in p:
            d = p["landscape"]
            for key in ("few", "many", "train"):
                found.append(("D3", f"sign agreement, surrogate ({key})", d["sign_agreement"][key]))
                found.append(
                    ("D3", f"correlation, surrogate ({key}) and return", d["correlation"][key])
                )
        if "trust" in p:
            for part in ("train", "heldout"):
                for name, what in TRUST_ROWS.items():
                    found.append(("D4", f"{what}, {part} batch", p["trust"][part][name]))
        rows += [
            [at, code, what, _ci(e, 4 if code == "D4" else 3), str(e["n"])]
            for code, what, e in found
        ]
    return rows
