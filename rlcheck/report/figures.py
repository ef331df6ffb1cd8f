"""The report's figures, drawn with matplotlib (Agg) from the analysis, as PNG data URIs."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import matplotlib
import numpy as np
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter
from PIL import Image

from rlcheck.report.format import fmt, fmt_digits, fmt_level, fmt_steps

# Figures are drawn on matplotlib.figure.Figure directly, never through pyplot, so the report
# leaves the caller's backend and open figures alone; Figure.savefig renders PNG with Agg.
_STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 7,
    "legend.frameon": False,
}
# Drawn at 1.5× and shown at 100 px per inch, so figures stay sharp on high-density screens.
_DPI = 150
_CSS_PX_PER_INCH = 100
_SIZE = (5.6, 3.2)
_THRESHOLD_STYLE = {"color": "0.35", "linestyle": "--", "linewidth": 0.9}
_DIVERGED = "#d62728"
_TRAINING_RANGE = "#d62728"


class Png(NamedTuple):
    """A figure as a PNG data URI and the size to show it at, in CSS pixels."""

    uri: str
    width: int
    height: int


def algo_colors(analysis: dict[str, Any]) -> dict[str, str]:
    """One colour per algo label, the same in every figure of the report.

    Args:
      analysis: the result of ``analyze``.

    Returns:
      {algo label: hex colour}, in order of first appearance, cycling through tab10.
    """
    palette = [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    labels: list[str] = []
    for env in analysis["envs"]:
        labels += [a["label"] for a in env["algos"] if a["label"] not in labels]
    return {label: palette[i % len(palette)] for i, label in enumerate(labels)}


def env_figures(
    env: dict[str, Any], colors: dict[str, str], confidence: float
) -> dict[str, Png | None]:
    """Every figure of one env, as PNGs (None where there is nothing to draw).

    Args:
      env: one entry of ``analyze(store)["envs"]``.
      colors: ``algo_colors(analysis)``.
      confidence: the level of the intervals (the analysis settings' ``confidence``).

    Returns:
      {"learning_curves", "final_scores", "failure_rates", "profile", "improvement",
      "sample_efficiency", "performance": Png or None}.
    """
    return {
        "learning_curves": _learning_curves(env, colors),
        "final_scores": _final_scores(env, colors, fmt_level(confidence)),
        "failure_rates": _failure_rates(env, colors, fmt_level(confidence)),
        "profile": _performance_profile(env, colors),
        "improvement": _improvement_matrix(env),
        "sample_efficiency": _sample_efficiency(env, colors),
        "performance": _performance(env, colors, fmt_level(confidence)),
    }


def _learning_curves(env: dict[str, Any], colors: dict[str, str]) -> Png | None:
    """IQM of the evaluation return per checkpoint with its band, and every seed's curve."""
    algos = [a for a in env["algos"] if a["curve"] is not None]
    if not algos:
        return None
    with _figure() as (fig, ax):
        for algo in algos:
            color, curve = colors[algo["label"]], algo["curve"]
            x = np.array(curve["env_steps"], dtype=float)
            for seed in curve["seeds"]:
                y = _array(seed["returns"])
                if seed["diverged"]:
                    ax.plot(x, y, color=_DIVERGED, linewidth=0.7, linestyle=":", alpha=0.7)
                else:
                    ax.plot(x, y, color=color, linewidth=0.6, alpha=0.18)
            band = curve["band"]
            if band is not None:
                ax.fill_between(
                    x, _array(band["low"]), _array(band["high"]), color=color, alpha=0.25
                )
                label = f"{algo['label']} (IQM, n={band['n']})"
                # A single checkpoint is a point, which a line alone would not show.
                marker = "o" if len(x) == 1 else None
                ax.plot(
                    x,
                    _array(band["iqm"]),
                    color=color,
                    linewidth=2,
                    marker=marker,
                    label=_text(label),
                )
        _threshold(ax, env["solve_threshold"], "solve threshold")
        ax.set_xlabel("env steps per seed")
        ax.set_ylabel("evaluation return")
        ax.xaxis.set_major_formatter(_steps_formatter())
        ax.set_title(_text(env["env"]))
        _legend(ax)
        return _png(fig)


def _final_scores(env: dict[str, Any], colors: dict[str, str], level: str) -> Png | None:
    """Every seed's final return (box and points), the IQM with its CI, diverged seeds apart."""
    algos = env["algos"]
    if not algos:
        return None
    rng = np.random.default_rng(0)
    with _figure() as (fig, ax):
        usable_all = [s["final_return"] for a in algos for s in a["per_seed"] if not s["diverged"]]
        low = min(usable_all) if usable_all else 0.0
        high = max(usable_all) if usable_all else 1.0
        floor = low - 0.08 * max(high - low, 1.0)
        for i, algo in enumerate(algos):
            color = colors[algo["label"]]
            usable = np.array(
                [s["final_return"] for s in algo["per_seed"] if not s["diverged"]], dtype=float
            )
            if usable.size:
                ax.boxplot(
                    usable,
                    positions=[i],
                    widths=0.5,
                    showfliers=False,
                    medianprops={"color": color},
                )
                jitter = rng.uniform(-0.15, 0.15, usable.size)
                ax.scatter(i + jitter, usable, s=10, color=color, alpha=0.7, zorder=3)
            diverged = len(algo["diverged"])
            if diverged:
                ax.scatter(
                    i + rng.uniform(-0.15, 0.15, diverged),
                    np.full(diverged, floor),
                    marker="x",
                    color=_DIVERGED,
                    s=18,
                    zorder=3,
                    label=None if _has_label(ax, "diverged seed") else "diverged seed",
                )
            if algo["iqm"] is not None:
                iqm = algo["iqm"]
                ax.errorbar(
                    i + 0.35,
                    iqm["point"],
                    yerr=[[iqm["point"] - iqm["low"]], [iqm["high"] - iqm["point"]]],
                    fmt="D",
                    color="black",
                    markersize=4,
                    capsize=3,
                    label=None if _has_label(ax, f"IQM, {level} CI") else f"IQM, {level} CI",
                )
        _threshold(ax, env["solve_threshold"], "solve threshold")
        ax.set_xticks(range(len(algos)), [_tick(a["label"]) for a in algos])
        ax.set_ylabel("final return (mean over final episodes)")
        ax.set_title(_text(env["env"]))
        _legend(ax)
        return _png(fig)


def _failure_rates(env: dict[str, Any], colors: dict[str, str], level: str) -> Png | None:
    """Failure rate of each algo with its Wilson interval, one panel per criterion."""
    titles = {
        "solve": "below the solve threshold\n(final return < {})",
        "random": "no better than random\n(final return ≤ {})",
    }
    algos = env["algos"]
    present = [k for k in titles if any(a["failure"][k] for a in algos)]
    if not present:
        return None
    size = (_SIZE[0], max(1.4, 0.8 + 0.32 * len(algos)))
    with _figure(size, panels=len(present)) as (fig, axes):
        for ax, key in zip(axes, present, strict=True):
            threshold = None
            for i, algo in enumerate(algos):
                rate = algo["failure"][key]
                if rate is None:
                    continue
                threshold = rate["threshold"]
                ax.errorbar(
                    rate["rate"],
                    i,
                    xerr=[[rate["rate"] - rate["low"]], [rate["high"] - rate["rate"]]],
                    fmt="o",
                    color=colors[algo["label"]],
                    capsize=3,
                    markersize=5,
                )
                ax.annotate(
                    f"{rate['failures']}/{rate['n']}",
                    (rate["high"], i),
                    xytext=(4, 4),
                    textcoords="offset points",
                    fontsize=7,
                )
            ax.set_yticks(range(len(algos)), [_tick(a["label"]) for a in algos])
            ax.set_ylim(len(algos) - 0.5, -0.5)
            ax.set_xlim(-0.03, 1.12)
            ax.set_xlabel(f"failure rate ({level} Wilson CI)")
            ax.set_title(titles[key].format(fmt(threshold)), fontsize=8)
        fig.suptitle(_text(env["env"]), fontsize=9)
        return _png(fig)


def _performance_profile(env: dict[str, Any], colors: dict[str, str]) -> Png | None:
    """Fraction of seeds whose final return exceeds each threshold, with bootstrap bands."""
    profile = env["profile"]
    if profile is None:
        return None
    taus = np.array(profile["taus"], dtype=float)
    with _figure() as (fig, ax):
        for label, curve in profile["algos"].items():
            color = colors[label]
            ax.fill_between(taus, curve["low"], curve["high"], step="post", color=color, alpha=0.2)
            ax.step(taus, curve["point"], where="post", color=color, label=_text(label))
        _threshold(ax, env["solve_threshold"], "solve threshold", vertical=True)
        ax.set_xlabel("final return τ")
        ax.set_ylabel("fraction of seeds with return > τ")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(_text(env["env"]))
        _legend(ax)
        return _png(fig)


def _improvement_matrix(env: dict[str, Any]) -> Png | None:
    """P(row > column) for every ordered pair, bold where its CI excludes 0.5."""
    labels = env["comparisons"]["labels"]
    if len(labels) < 2:
        return None
    matrix = env["comparisons"]["matrix"]
    n = len(labels)
    values = np.full((n, n), np.nan)
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            if matrix[a][b] is not None:
                values[i, j] = matrix[a][b]["point"]
    side = 1.4 + 0.9 * n
    with _figure((side + 1.2, side)) as (fig, ax):
        image = ax.imshow(values, cmap="RdBu", vmin=0, vmax=1)
        for i, a in enumerate(labels):
            for j, b in enumerate(labels):
                cell = matrix[a][b]
                if cell is None:
                    continue
                clear = cell["low"] > 0.5 or cell["high"] < 0.5
                ax.text(
                    j,
                    i,
                    "{}\n[{}, {}]".format(
                        *(fmt_digits(cell[k], 2) for k in ("point", "low", "high"))
                    ),
                    ha="center",
                    va="center",
                    fontsize=7,
                    fontweight="bold" if clear else "normal",
                    color="white" if abs(cell["point"] - 0.5) > 0.35 else "black",
                )
        names = [_tick(label) for label in labels]
        ax.set_xticks(range(n), names, rotation=30, ha="right")
        ax.set_yticks(range(n), names)
        ax.set_xlabel("B")
        ax.set_ylabel("A")
        ax.set_title(_text(f"P(A > B) on {env['env']}"))
        ax.spines[:].set_visible(False)
        fig.colorbar(image, ax=ax, shrink=0.8)
        return _png(fig)


def _sample_efficiency(env: dict[str, Any], colors: dict[str, str]) -> Png | None:
    """Fraction of seeds that have reached the threshold by each env step, Wilson band."""
    efficiency = env["sample_efficiency"]
    if efficiency is None or not efficiency["algos"]:
        return None
    with _figure() as (fig, ax):
        for label, algo in efficiency["algos"].items():
            color = colors[label]
            x = np.array(algo["env_steps"], dtype=float)
            rate = [f["rate"] for f in algo["fraction"]]
            ax.fill_between(
                x,
                [f["low"] for f in algo["fraction"]],
                [f["high"] for f in algo["fraction"]],
                step="post",
                color=color,
                alpha=0.15,
            )
            ax.step(x, rate, where="post", color=color, label=_text(f"{label} (n={algo['n']})"))
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("env steps per seed")
        ax.set_ylabel("fraction of seeds that reached it")
        ax.xaxis.set_major_formatter(_steps_formatter())
        ax.set_title(
            _text(f"{env['env']}: first checkpoint at or above {fmt(efficiency['threshold'])}")
        )
        _legend(ax)
        return _png(fig)


def _performance(env: dict[str, Any], colors: dict[str, str], level: str) -> Png | None:
    """Each seed's final return (the proxy the agent maximised) against its hidden performance,
    and each algo's means with their CIs: reward hacking sits high and to the left."""
    algos = [a for a in env["algos"] if a["performance"] is not None]
    if not algos:
        return None
    with _figure() as (fig, ax):
        for algo in algos:
            color, perf = colors[algo["label"]], algo["performance"]
            x = [s["final_performance"] for s in perf["per_seed"]]
            y = [s["final_return"] for s in perf["per_seed"]]
            ax.scatter(x, y, s=12, color=color, alpha=0.6, label=_text(algo["label"]))
            px, py = perf["performance"], perf["return"]
            ax.errorbar(
                px["point"],
                py["point"],
                xerr=[[px["point"] - px["low"]], [px["high"] - px["point"]]],
                yerr=[[py["point"] - py["low"]], [py["high"] - py["point"]]],
                fmt="D",
                color=color,
                markeredgecolor="black",
                markersize=5,
                capsize=3,
                label=None if _has_label(ax, f"mean, {level} CI") else f"mean, {level} CI",
            )
        ax.set_xlabel("hidden performance (mean over final episodes)")
        ax.set_ylabel("final return (the reward optimised)")
        ax.set_title(_text(env["env"]))
        _legend(ax)
        return _png(fig)


def robustness_figure(study: dict[str, Any], env: dict[str, Any], colors: dict[str, str]) -> Png:
    """Return against the varied value on one env: per algo the IQM over seeds with its band
    and every seed's curve; the training value and the solve threshold marked.

    Args:
      study: one entry of ``analyze(store)["robustness"]``.
      env: one entry of ``study["envs"]``.
      colors: ``algo_colors(analysis)``.
    """
    x = np.array(study["values"], dtype=float)
    order = np.argsort(x, kind="stable")
    x = x[order]
    with _figure() as (fig, ax):
        for algo in env["algos"]:
            color = colors.get(algo["label"], "0.3")
            for seed in algo["per_seed"]:
                ax.plot(x, _array(seed)[order], color=color, linewidth=0.6, alpha=0.18)
            curve = algo["curve"]
            ax.fill_between(
                x,
                _array(curve["low"])[order],
                _array(curve["high"])[order],
                color=color,
                alpha=0.25,
            )
            ax.plot(
                x,
                _array(curve["iqm"])[order],
                color=color,
                linewidth=2,
                marker="o" if len(x) <= 12 else None,
                markersize=3,
                label=_text(f"{algo['label']} (IQM, n={curve['n']})"),
            )
        if env.get("training_range"):
            ax.axvspan(*env["training_range"], color="0.5", alpha=0.12, label="training range")
        # A log axis has no 0, the training value of every noise and delay.
        elif not (study["log"] and env["training_value"] <= 0):
            ax.axvline(env["training_value"], color="0.2", linestyle=":", linewidth=1.2)
            ax.annotate(
                "training value",
                (env["training_value"], 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -10),
                textcoords="offset points",
                fontsize=7,
                color="0.2",
            )
        _threshold(ax, env["solve_threshold"], "solve threshold")
        if study["log"]:
            ax.set_xscale("log")
        ax.set_xlabel(_text(f"{study['vary']} ({study['what']})"))
        ax.set_ylabel(f"return (mean over {study['episodes']} episodes)")
        ax.set_title(_text(env["env"]))
        _legend(ax)
        return _png(fig)


def chart_figure(chart: dict[str, Any]) -> Png:
    """A study's figure (``rlcheck.studies.base.Chart.to_dict()``): estimates with their
    intervals, one row per category, or lines with bands over a numeric x."""
    palette = [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    series = chart["series"]
    if chart["kind"] == "intervals":
        categories: list[str] = list(chart.get("categories") or [])
        for s in series:
            categories += [str(p["x"]) for p in s["points"] if str(p["x"]) not in categories]
        size = (_SIZE[0] + 1.2, max(2.0, 0.9 + 0.3 * len(categories) * max(1, len(series)) ** 0.5))
        with _figure(size) as (fig, ax):
            offsets = np.linspace(-0.18, 0.18, len(series)) if len(series) > 1 else [0.0]
            for i, s in enumerate(series):
                for p in s["points"]:
                    y = categories.index(str(p["x"])) + offsets[i]
                    err = None
                    if p["low"] is not None and p["high"] is not None:
                        err = [[p["point"] - p["low"]], [p["high"] - p["point"]]]
                    ax.errorbar(
                        p["point"],
                        y,
                        xerr=err,
                        fmt="o",
                        color=palette[i % len(palette)],
                        markersize=4,
                        capsize=3,
                        label=None if _has_label(ax, _text(s["name"])) else _text(s["name"]),
                    )
            for value, label in chart["references"]:
                _threshold(ax, value, _text(label), vertical=True)
            ax.set_yticks(range(len(categories)), [_tick(c, 48) for c in categories])
            ax.invert_yaxis()
            if chart["log"]:
                ax.set_xscale("log")
            ax.set_xlabel(_text(chart["value_label"]))
            ax.set_title(_text(chart["title"]))
            _legend(ax)
            return _png(fig)
    with _figure() as (fig, ax):
        for i, s in enumerate(series):
            color = palette[i % len(palette)]
            x = np.array([float(p["x"]) for p in s["points"]])
            y = _array([p["point"] for p in s["points"]])
            ax.plot(x, y, color=color, marker="o", markersize=3, label=_text(s["name"]))
            if all(p["low"] is not None for p in s["points"]):
                low = _array([p["low"] for p in s["points"]])
                high = _array([p["high"] for p in s["points"]])
                ax.fill_between(x, low, high, color=color, alpha=0.2)
        for value, label in chart["references"]:
            _threshold(ax, value, _text(label))
        if chart["log"]:
            ax.set_yscale("log")
        ax.set_xlabel(_text(chart["category_label"]))
        ax.set_ylabel(_text(chart["value_label"]))
        ax.set_title(_text(chart["title"]))
        _legend(ax)
        return _png(fig)


@contextmanager
def _figure(
    size: tuple[float, float] = _SIZE, panels: int | None = None
) -> Iterator[tuple[Figure, Any]]:
    """A figure and its axes in the report's style: one Axes, or a row of ``panels`` of them."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=size, layout="constrained")
        if panels is None:
            yield fig, fig.add_subplot()
        else:
            yield fig, list(fig.subplots(1, panels, sharey=True, squeeze=False)[0])


def _png(fig: Figure) -> Png:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    image = Image.open(buffer).convert("RGB")
    # A 256-colour palette loses nothing visible in these plots and makes them 3–4× smaller.
    palette = image.quantize(256, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    # The octree averages the white background with near-white antialiasing into an off-white;
    # restore pure white so figures sit seamlessly on the page.
    colours = np.array(palette.getpalette()).reshape(-1, 3)
    colours[np.argmax(colours.sum(axis=1))] = 255
    palette.putpalette(colours.ravel().tolist())
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    uri = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
    width, height = (round(x * _CSS_PX_PER_INCH) for x in fig.get_size_inches())
    return Png(uri, width, height)


def _text(value: str) -> str:
    """A user string shown literally: matplotlib would read "$…$" in it as math."""
    return value.replace("$", r"\$")


def _tick(value: str, limit: int = 20) -> str:
    """A label short enough for a tick; the tables beside the figure carry it in full."""
    return _text(value if len(value) <= limit else value[: limit - 1] + "…")


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _threshold(ax: Any, value: float | None, label: str, vertical: bool = False) -> None:
    if value is None:
        return
    line = ax.axvline if vertical else ax.axhline
    line(value, label=label, **_THRESHOLD_STYLE)


def _legend(ax: Any) -> None:
    if ax.get_legend_handles_labels()[1]:
        ax.legend(loc="best")


def _has_label(ax: Any, name: str) -> bool:
    return name in ax.get_legend_handles_labels()[1]


def _steps_formatter() -> FuncFormatter:
    return FuncFormatter(lambda x, _: fmt_steps(x))


# ---- sweeps ---------------------------------------------------------------------------------


def sweep_figures(sweep: dict[str, Any], level: str) -> dict[str, Any]:
    """The figures of one sweep (``analyze(store)["sweep"][i]``): final return against each
    swept parameter, and the heatmap of the first two on a grid.

    Returns:
      {"parameters": {name: Png or None}, "heatmap": Png or None}.
    """
    return {
        "parameters": {p["name"]: _sensitivity(sweep, p, level) for p in sweep["parameters"]},
        "heatmap": _heatmap(sweep),
    }


def _sensitivity(sweep: dict[str, Any], parameter: dict[str, Any], level: str) -> Png | None:
    """Every configuration's IQM with its CI at its value of one parameter (small points), the
    IQM of all seeds at each value pooled (line, diamonds), the default value and the env's
    solve threshold and random bound."""
    per = sweep["per_parameter"][parameter["name"]]
    points = [p for p in per["points"] if p["iqm"] is not None]
    if not points:
        return None
    numeric = parameter["numeric"]
    order = {repr(v): i for i, v in enumerate(parameter["values"])}

    def position(value: Any) -> float:
        return float(value) if numeric else float(order.get(repr(value), len(order)))

    rng = np.random.default_rng(0)
    with _figure() as (fig, ax):
        if per["log_axis"]:
            ax.set_xscale("log")
        xs = np.array([position(p["value"]) for p in points])
        # Configurations sharing a value are spread a little, so that each stays visible.
        spread = rng.uniform(-1, 1, len(xs)) * (0.04 if per["log_axis"] else 0.0)
        if per["log_axis"]:
            xs = xs * np.power(10.0, spread)
        elif not numeric:
            xs = xs + rng.uniform(-0.12, 0.12, len(xs))
        for x, p in zip(xs, points, strict=True):
            iqm = p["iqm"]
            ax.errorbar(
                x,
                iqm["point"],
                yerr=[[iqm["point"] - iqm["low"]], [iqm["high"] - iqm["point"]]],
                fmt="o",
                color="#1f77b4",
                alpha=0.45,
                markersize=3,
                capsize=2,
                linewidth=0.8,
            )
        marginal = [m for m in per["marginal"] if m["iqm"] is not None]
        if marginal:
            mx = np.array([position(m["value"]) for m in marginal])
            my = np.array([m["iqm"]["point"] for m in marginal])
            low = my - np.array([m["iqm"]["low"] for m in marginal])
            high = np.array([m["iqm"]["high"] for m in marginal]) - my
            ax.errorbar(
                mx,
                my,
                yerr=[low, high],
                fmt="D-" if numeric else "D",
                color="black",
                markersize=4,
                capsize=3,
                linewidth=1.2,
                label=f"IQM of every seed at the value, {level} CI",
            )
        default = parameter.get("default")
        if numeric and isinstance(default, int | float) and not isinstance(default, bool):
            ax.axvline(float(default), color="#2ca02c", linestyle=":", label="default")
        bound = (sweep.get("fraction_beats_random") or {}).get("bound")
        threshold = (sweep.get("fraction_solved") or {}).get("threshold")
        _threshold(ax, threshold, "solve threshold")
        if bound is not None:
            ax.axhline(bound, color="#d62728", linestyle=":", linewidth=0.9, label="random bound")
        if not numeric:
            ax.set_xticks(range(len(order)), [_tick(str(v)) for v in parameter["values"]])
        ax.set_xlabel(_text(parameter["name"]) + (" (log scale)" if per["log_axis"] else ""))
        ax.set_ylabel(f"final return IQM ({level} CI)")
        ax.set_title(_text(f"{sweep['name']}: {parameter['name']}"))
        _legend(ax)
        return _png(fig)


def _heatmap(sweep: dict[str, Any]) -> Png | None:
    """Pooled IQM final return over a grid of two parameters."""
    heat = sweep.get("heatmap")
    if heat is None:
        return None
    values = np.array([[np.nan if v is None else v for v in row] for row in heat["iqm"]])
    nx, ny = len(heat["x_values"]), len(heat["y_values"])
    with _figure((1.8 + 0.75 * nx, 1.4 + 0.5 * ny)) as (fig, ax):
        image = ax.imshow(values, cmap="viridis", origin="lower", aspect="auto")
        finite = values[np.isfinite(values)]
        middle = float(np.mean([finite.min(), finite.max()])) if finite.size else 0.0
        for i in range(ny):
            for j in range(nx):
                if np.isfinite(values[i, j]):
                    ax.text(
                        j,
                        i,
                        fmt(values[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="black" if values[i, j] > middle else "white",
                    )
        ax.set_xticks(range(nx), [_tick(_short(v)) for v in heat["x_values"]], rotation=30)
        ax.set_yticks(range(ny), [_tick(_short(v)) for v in heat["y_values"]])
        ax.set_xlabel(_text(heat["x"]))
        ax.set_ylabel(_text(heat["y"]))
        pooled = f" (pooled over {', '.join(heat['pooled_over'])})" if heat["pooled_over"] else ""
        ax.set_title(_text(f"{sweep['name']}: IQM final return{pooled}"))
        ax.spines[:].set_visible(False)
        fig.colorbar(image, ax=ax, shrink=0.8)
        return _png(fig)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# ---- generalization -------------------------------------------------------------------------


def generalization_heatmap(study: dict[str, Any], group: dict[str, Any]) -> Png:
    """IQM return of each training condition (rows) at each value evaluated (columns), the
    training range of each row outlined.

    Args:
      study: one entry of ``analyze(store)["generalization"]``.
      group: one entry of ``study["groups"]`` (one algo on one env id).
    """
    x = np.array(study["values"], dtype=float)
    order = np.argsort(x, kind="stable")
    x = x[order]
    units = group["units"]
    values = np.array([_array(u["iqm"])[order] for u in units])
    nx, ny = len(x), len(units)
    with _figure((max(_SIZE[0], 2.4 + 0.16 * nx), 1.3 + 0.42 * ny)) as (fig, ax):
        image = ax.imshow(values, cmap="viridis", aspect="auto")
        finite = values[np.isfinite(values)]
        middle = float(np.mean([finite.min(), finite.max()])) if finite.size else 0.0
        for i, unit in enumerate(units):
            trained = np.isin(x, unit["train_values"])
            for j in np.flatnonzero(trained):
                ax.add_patch(
                    Rectangle(
                        (j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=_TRAINING_RANGE, lw=1.6
                    )
                )
            if nx <= 12:
                for j in range(nx):
                    if np.isfinite(values[i, j]):
                        ax.text(
                            j,
                            i,
                            fmt(values[i, j]),
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="black" if values[i, j] > middle else "white",
                        )
        step = max(1, int(np.ceil(nx / 12)))
        ticks = list(range(0, nx, step))
        ax.set_xticks(ticks, [_short(float(x[j])) for j in ticks], rotation=30)
        ax.set_yticks(range(ny), [_tick(u["training"]["text"], 32) for u in units])
        ax.set_xlabel(_text(f"{study['vary']} (evaluated at)"))
        ax.set_ylabel("trained with")
        ax.set_title(
            _text(f"{group['algo']} on {group['env_id']}: IQM return (red outline: training range)")
        )
        ax.spines[:].set_visible(False)
        fig.colorbar(image, ax=ax, shrink=0.8)
        return _png(fig)


# ---- ablations ------------------------------------------------------------------------------

# Cells drawn with a legend at most; more are drawn without names (the table names them).
_LEGEND_CELLS = 10


def ablation_figures(ablation: dict[str, Any], level: str) -> dict[str, Png | None]:
    """The figures of one ablation (``analyze(store)["ablation"][i]``).

    Returns:
      {"survival": the fraction of seeds with final return ≥ x per cell, the all-on cell in
      black; "effects": every toggle's main effect with its CI; "by_field": per toggle, the
      survival of the seeds of the cells with it on and of those with it off, pooled}; None
      where no cell has a usable seed.
    """
    cells = [c for c in ablation["cells"] if c["finals"]]
    if not cells:
        return {"survival": None, "effects": None, "by_field": None}
    return {
        "survival": _survival(ablation, cells),
        "effects": _effects(ablation, level),
        "by_field": _by_field(ablation, cells),
    }


def _survival_steps(finals: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the step function x ↦ fraction of ``finals`` ≥ x, from 1 down to 0."""
    x = np.sort(np.asarray(finals, dtype=float))
    y = 1.0 - np.arange(len(x)) / len(x)
    return np.repeat(x, 2), np.column_stack([y, y - 1.0 / len(x)]).ravel()


def _survival(ablation: dict[str, Any], cells: list[dict[str, Any]]) -> Png:
    palette = [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    with _figure() as (fig, ax):
        for i, cell in enumerate(cells):
            x, y = _survival_steps(cell["finals"])
            reference = not cell["off"]
            ax.plot(
                x,
                y,
                color="black" if reference else palette[i % len(palette)],
                linewidth=2 if reference else 1,
                label=_text(f"{cell['name']} (n={len(x) // 2})")
                if len(cells) <= _LEGEND_CELLS
                else None,
            )
        ax.set_xlabel("final return")
        ax.set_ylabel("fraction of seeds ≥ x")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(_text(f"{ablation['name']}: final returns per cell"))
        _legend(ax)
        return _png(fig)


def _effects(ablation: dict[str, Any], level: str) -> Png | None:
    effects = [e for e in ablation["main_effects"] if e["effect"] is not None]
    if not effects:
        return None
    size = (_SIZE[0], max(1.6, 0.8 + 0.3 * len(effects)))
    with _figure(size) as (fig, ax):
        for y, e in enumerate(effects):
            point, low, high = (e["effect"][k] for k in ("point", "low", "high"))
            ax.errorbar(
                point, y, xerr=[[point - low], [high - point]], fmt="o", color="C0", capsize=3
            )
        ax.axvline(0.0, **_THRESHOLD_STYLE)
        ax.set_yticks(range(len(effects)), [_tick(e["field"], 24) for e in effects])
        ax.invert_yaxis()
        ax.set_xlabel(f"main effect: mean final return on − off ({level} CI)")
        ax.set_title(_text(f"{ablation['name']}: main effects"))
        return _png(fig)


def _by_field(ablation: dict[str, Any], cells: list[dict[str, Any]]) -> Png:
    names = [t["name"] for t in ablation["toggles"]]
    columns = min(4, len(names))
    rows = -(-len(names) // columns)
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(2.6 * columns, 2.2 * rows), layout="constrained")
        axes = fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
        for ax, name in zip(axes, names, strict=False):
            for off, color, label in ((False, "C0", "on"), (True, "C3", "off")):
                pooled = [f for c in cells if (name in c["off"]) == off for f in c["finals"]]
                if pooled:
                    x, y = _survival_steps(pooled)
                    ax.plot(x, y, color=color, label=f"{label} (n={len(pooled)})")
            ax.set_title(_text(name))
            ax.set_ylim(-0.02, 1.02)
            _legend(ax)
        for ax in axes[len(names) :]:
            ax.set_visible(False)
        fig.supxlabel("final return", fontsize=8)
        fig.supylabel("fraction of seeds ≥ x", fontsize=8)
        return _png(fig)
