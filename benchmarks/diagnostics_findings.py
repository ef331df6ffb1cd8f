"""Do the qualitative findings of the Madry-lab diagnostics appear with rlcheck's (issue 16)?

Checks the targets of ../shared/research/madry.md §6.6 with ≥ 8 seeds and bootstrap CIs over
seeds, and the cost target of D1:

- D1 (gradient quality), Acrobot-v1 PPO at iterations 15 and 40: average pairwise cosine at
  n = 2048 below 0.5 and cosine-to-true below 0.7, both rising with n; true-vs-true ≥ 0.95.
- D2 (value quality), CartPole-v1 PPO at iterations 5 and 10 (return 150–250 expected): the
  updated V's MRE against its GAE target far below the agent V's MRE against Monte-Carlo V^π;
  gradient concentration at n = 2048 ordered V* ≫ agent V > zero baseline.
- D4 (trust region), PPO on CartPole-v1 and Acrobot-v1 over 60 iterations, logged by the
  trainer itself: max ratio > 1 + ε in most updates while the mean KL stays ≲ 0.02; with
  clipping off (clip_coef = 1e6, which also turns off value clipping, as rlcheck ties them),
  max ratios ≫ 10.
- Cost: D1 at one Acrobot checkpoint, 8 seeds, n ∈ {512, 2K, 8K, 32K}, K = 10, a 2^18-pair
  reference: ≤ 60 s on 2 CPU cores (wall time of the call on one core, compilation included,
  and again with the compiled program cached).

The agent is rlcheck's PPO set up like MadryLab's trainer in madry.md §6: one env of 2048 steps
per update, 32 minibatches × 10 epochs, Adam 3e-4, no entropy bonus, reward scaling and
clipping, observation normalization, value clipping, orthogonal init, learning-rate annealing
over 60 iterations, no gradient clipping (max_grad_norm 1e6). Differences that remain: one
optimizer over actor and critic (vf_coef 0.5) where MadryLab has two, and envs that continue
across updates where MadryLab resets them every iteration. Not a CI test: it takes minutes.

Runs pinned to one core with rlcheck's worker XLA flags, as rlcheck's workers do.

    python benchmarks/diagnostics_findings.py [--seeds 8] [--parts d1,d2,d4,cost] [--quick]

``--quick`` checks that the script runs (≈ a minute or two a part on two cores): 2 seeds, 4
iterations, checkpoints after 1 and 2, n ∈ {512, 2K}, 2^13-pair references and V*, 16 MC
states × 4 rollouts. Its numbers mean nothing; the findings need the full run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

from rlcheck import envs
from rlcheck.diagnostics.checkpoints import train_to_checkpoints
from rlcheck.diagnostics.gradient import gradient_quality
from rlcheck.diagnostics.intervals import over_seeds
from rlcheck.diagnostics.trust_region import trust_region_summary
from rlcheck.diagnostics.value import baseline_variance, fit_value, value_quality
from rlcheck.drivers.common import EvalPlan, make_schedule
from rlcheck.drivers.fused import FusedDriver
from rlcheck.experiment.workers import configure_jax
from rlcheck.registry import make_agent

OUT = Path(__file__).resolve().parent / "out"
# The sizes of a full run; --quick replaces them with QUICK (main).
SETTINGS = {
    "iterations": 60,
    "d1_at": (10, 15, 40),
    "d2_at": (5, 10),
    "cost_at": 15,
    "gradient": {},  # gradient_quality's defaults: n ∈ {512, 2K, 8K, 32K}, K = 10, 2^18
    "fit": {},  # fit_value's defaults: 2^18 pairs
    "value": {},  # value_quality's defaults: 128 states × 32 rollouts
    "variance": {"sizes": (512, 2048, 8192)},
}
QUICK = {
    "iterations": 4,
    "d1_at": (1, 2),
    "d2_at": (1, 2),
    "cost_at": 1,
    "gradient": {"sizes": (512, 2048), "num_estimates": 4, "reference_size": 2**13},
    "fit": {"pairs": 2**13, "epochs": 2},
    "value": {"num_states": 16, "mc_rollouts": 4},
    "variance": {"sizes": (512, 2048), "num_estimates": 4, "reference_size": 2**13},
}
MADRY_PPO = {
    "num_envs": 1,
    "num_steps": 2048,
    "num_minibatches": 32,
    "update_epochs": 10,
    "learning_rate": 3e-4,
    "ent_coef": 0.0,
    "normalize_obs": True,
    "normalize_reward": True,
    "clip_reward": True,
    "max_grad_norm": 1e6,
}


def ppo(env_id: str, **overrides):
    env = envs.make(env_id)
    budget = SETTINGS["iterations"] * 2048
    agent = make_agent("ppo", env.spec, {**MADRY_PPO, **overrides}, budget)
    return agent, env


def pick(estimate, *index):
    """One entry of an Estimate of arrays."""
    return type(estimate)(*(np.asarray(a)[index] for a in estimate))


def fmt(estimate, digits: int = 2) -> str:
    """point [low, high]"""
    return f"{estimate.point:.{digits}f} [{estimate.low:.{digits}f}, {estimate.high:.{digits}f}]"


# ---- training to checkpoints ----------------------------------------------------------------


def checkpoints(agent, env, seeds: int, at: tuple[int, ...]):
    """Agent states of every seed after each number of updates in ``at`` (increasing); seed s
    starts from PRNGKey(s) (before the studies of issue 19 this script had its own copy of the
    trainer, seeded from PRNGKey(2026), so its earlier numbers came from other seeds)."""
    yield from train_to_checkpoints(agent, env, range(seeds), at)


# ---- the parts --------------------------------------------------------------------------------


def d1(seeds: int) -> tuple[list[str], dict]:
    agent, env = ppo("Acrobot-v1")
    lines, data = ["## D1: gradient quality, Acrobot-v1 PPO", ""], {}
    for it, states, returns in checkpoints(agent, env, seeds, SETTINGS["d1_at"]):
        t = time.perf_counter()
        out = gradient_quality(
            agent, states, env, env.params, jax.random.PRNGKey(it), **SETTINGS["gradient"]
        )
        took = time.perf_counter() - t
        s = out["summary"]
        lines += [
            f"Iteration {it} (mean training return {over_seeds(returns).point:.1f}; "
            f"{took:.0f} s), {seeds} seeds, mean [95% CI]:",
            "",
            "| n | pairwise cosine | cosine to true |",
            "|---|---|---|",
        ]
        for i, n in enumerate(out["sizes"]):
            pairwise = fmt(pick(s["pairwise_cosine"], i))
            to_true = fmt(pick(s["cosine_to_true"], i))
            lines.append(f"| {n} | {pairwise} | {to_true} |")
        i2k = list(out["sizes"]).index(2048)
        pw, tt = s["pairwise_cosine"].point, s["cosine_to_true"].point
        rising = bool(np.all(np.diff(pw) > 0) and np.all(np.diff(tt) > 0))
        met = bool(pw[i2k] < 0.5 and tt[i2k] < 0.7 and rising and not out["refused"].any())
        lines += [
            "",
            f"true-vs-true {fmt(s['true_vs_true'], 3)}, refused seeds "
            f"{int(out['refused'].sum())}/{seeds}. Finding (2K: pairwise < 0.5, to-true < 0.7, "
            f"both rising with n): **{'met' if met else 'not met'}**.",
            "",
        ]
        data[f"it{it}"] = {
            "return": returns.tolist(),
            "pairwise": out["pairwise_cosine"].tolist(),
            "to_true": out["cosine_to_true"].tolist(),
            "true_vs_true": out["true_vs_true"].tolist(),
            "seconds": took,
            "met": met,
        }
    return lines, data


def d2(seeds: int) -> tuple[list[str], dict]:
    agent, env = ppo("CartPole-v1")
    lines, data = ["## D2: value quality, CartPole-v1 PPO", ""], {}
    for it, states, returns in checkpoints(agent, env, seeds, SETTINGS["d2_at"]):
        key = jax.random.PRNGKey(100 + it)
        t = time.perf_counter()
        fitted, fit_info = fit_value(agent, states, env, env.params, key, **SETTINGS["fit"])
        quality = value_quality(
            agent, states, env, env.params, key, fitted=fitted, **SETTINGS["value"]
        )
        variance = baseline_variance(
            agent, states, env, env.params, key, fitted=fitted, **SETTINGS["variance"]
        )
        took = time.perf_counter() - t
        m = quality["summary"]["mre"]
        lines += [
            f"Iteration {it} (mean training return {over_seeds(returns).point:.1f}; "
            f"{took:.0f} s), {seeds} seeds, 128 held-out states × 32 MC rollouts; V* from "
            f"2^18 pairs (train NMSE {np.mean(fit_info['train_nmse']):.3f}):",
            "",
            "| MRE | mean [95% CI] |",
            "|---|---|",
        ]
        for name in (
            "new_vs_target_train",
            "new_vs_target_heldout",
            "old_vs_mc",
            "new_vs_mc",
            "old_vs_return",
            "return_vs_mc",
            "fitted_vs_mc",
        ):
            lines.append(f"| {name} | {fmt(m[name])} |")
        pw = variance["summary"]["pairwise_cosine"]
        tt = variance["summary"]["cosine_to_true"]
        i2k = list(variance["sizes"]).index(2048)
        lines += [
            "",
            "| baseline | pairwise cosine at 2K | cosine to true at 2K |",
            "|---|---|---|",
        ]
        for b, name in enumerate(variance["baselines"]):
            lines.append(f"| {name} | {fmt(pick(pw, b, i2k))} | {fmt(pick(tt, b, i2k))} |")
        zero, agent_v, v_star = (pw.point[b, i2k] for b in range(3))
        gae_vs_mc = m["new_vs_target_train"].point < 0.5 * m["old_vs_mc"].point
        ordering = v_star > agent_v > zero and v_star - agent_v > agent_v - zero
        lines += [
            "",
            f"GAE-target MRE ≪ MC-value MRE (taken as: less than half): "
            f"**{'met' if gae_vs_mc else 'not met'}**; ordering V* ≫ agent V > zero at 2K "
            f"(taken as: V* − V > V − zero > 0): **{'met' if ordering else 'not met'}**.",
            "",
        ]
        data[f"it{it}"] = {
            "return": returns.tolist(),
            "mre": {k: v.tolist() for k, v in quality["mre"].items()},
            "nmse": {k: v.tolist() for k, v in quality["nmse"].items()},
            "pairwise": variance["pairwise_cosine"].tolist(),
            "to_true": variance["cosine_to_true"].tolist(),
            "seconds": took,
            "met": {"gae_vs_mc": bool(gae_vs_mc), "ordering": bool(ordering)},
        }
    return lines, data


def d4(seeds: int) -> tuple[list[str], dict]:
    lines = [
        f"## D4: trust region, PPO over {SETTINGS['iterations']} iterations (logged by the "
        "trainer)",
        "",
        "| env / variant | share of updates with max ratio > 1.2 | median max ratio | "
        "largest max ratio (median over seeds) | median mean KL | largest mean KL |",
        "|---|---|---|---|---|---|",
    ]
    data = {}
    for env_id in ("CartPole-v1", "Acrobot-v1"):
        for variant, overrides in (("PPO", {}), ("PPO-NoClip", {"clip_coef": 1e6})):
            agent, env = ppo(env_id, trust_region_monitor=True, **overrides)
            schedule = make_schedule(SETTINGS["iterations"] * 2048, 2048, 4, "ppo")
            driver = FusedDriver(agent, env, schedule, EvalPlan(4, 4, 8))
            results, _ = driver.run(list(range(seeds)))
            s = trust_region_summary(results["internals"], agent.metric_names, clip=0.2)
            lines.append(
                f"| {env_id} {variant} | {fmt(s['summary']['fraction_ratio_above'])} | "
                f"{fmt(s['summary']['ratio_max_median'])} | "
                f"{np.median(s['ratio_max_max']):.3g} | "
                f"{fmt(s['summary']['kl_mean_median'], 4)} | {np.max(s['kl_mean_max']):.3g} |"
            )
            data[f"{env_id} {variant}"] = {k: v.tolist() for k, v in s.items() if k != "summary"}
            data[f"{env_id} {variant}"]["final_return"] = results["final_returns"].mean(1).tolist()
    findings = []
    for env_id in ("CartPole-v1", "Acrobot-v1"):
        clip = data[f"{env_id} PPO"]
        most = np.mean(clip["fraction_ratio_above"]) > 0.5
        small_kl = np.median(clip["kl_mean_median"]) <= 0.02
        huge = np.median(data[f"{env_id} PPO-NoClip"]["ratio_max_max"]) > 10
        findings.append(
            f"{env_id}: max ratio > 1 + ε in most PPO updates **{'met' if most else 'not met'}**"
            f", mean KL ≲ 0.02 **{'met' if small_kl else 'not met'}**, NoClip max ratios ≫ 10 "
            f"(taken as: median over seeds of the largest > 10) "
            f"**{'met' if huge else 'not met'}**."
        )
    return [*lines, "", *findings, ""], data


def cost(seeds: int) -> tuple[list[str], dict]:
    agent, env = ppo("Acrobot-v1")
    ((_, states, _),) = checkpoints(agent, env, seeds, (SETTINGS["cost_at"],))
    times = []
    for _ in range(2):
        t = time.perf_counter()
        gradient_quality(
            agent, states, env, env.params, jax.random.PRNGKey(7), **SETTINGS["gradient"]
        )
        times.append(time.perf_counter() - t)
    lines = [
        "## Cost of D1",
        "",
        f"Acrobot-v1 PPO at iteration 15, {seeds} seeds, n ∈ {{512, 2K, 8K, 32K}} × 10 "
        f"estimates, two 2^18-pair references: {times[0]:.1f} s with compilation, "
        f"{times[1]:.1f} s with the compiled program cached, on one core (target ≤ 60 s on two: "
        f"**{'met' if times[0] <= 60 else 'not met'}**).",
        "",
    ]
    return lines, {"seconds": times}


PARTS = {"d1": d1, "d2": d2, "d4": d4, "cost": cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--parts", default="d1,d2,d4,cost")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the script runs, finds nothing"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        SETTINGS.update(QUICK)
        if "--seeds" not in sys.argv:
            args.seeds = 2
    if not args.child:
        # As rlcheck's workers run: pinned to one core, their XLA flags (unpinned, XLA:CPU
        # programs can stall; docs/DESIGN-NOTES.md). The cost is thus measured on one core.
        from rlcheck import PINNED_WORKER_ENV
        from rlcheck.experiment.workers import worker_xla_flags

        env = {**os.environ, PINNED_WORKER_ENV: "1"}
        env["XLA_FLAGS"] = worker_xla_flags(os.environ.get("XLA_FLAGS"), pinned=True)
        command = ["taskset", "-c", "0", sys.executable, __file__, "--child"]
        command += ["--seeds", str(args.seeds), "--parts", args.parts]
        command += ["--quick"] if args.quick else []
        sys.exit(subprocess.run(command, env=env).returncode)
    configure_jax()
    from rlcheck.experiment.provenance import machine

    text = [
        "# Diagnostics findings (madry.md §6.6)",
        "",
        f"Machine: {machine()}; {args.seeds} seeds; 95% percentile-bootstrap CIs over seeds.",
        "",
    ]
    if args.quick:
        text += [
            f"**--quick**: {QUICK}. The text below names the full run's sizes and iterations; "
            "these numbers are of the quick ones and find nothing.",
            "",
        ]
    data = {}
    for part in args.parts.split(","):
        t = time.perf_counter()
        lines, data[part] = PARTS[part](args.seeds)
        text += [*lines, f"({part}: {time.perf_counter() - t:.0f} s in all)", ""]
        print("\n".join(lines), flush=True)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    (OUT / f"diagnostics_findings-{stamp}.md").write_text("\n".join(text) + "\n")
    (OUT / f"diagnostics_findings-{stamp}.json").write_text(json.dumps(data))
    print(f"written to {OUT}/diagnostics_findings-{stamp}.md")


if __name__ == "__main__":
    main()
