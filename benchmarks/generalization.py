"""Issue 15's generalization target, on the shipped example examples/generalization-cartpole.toml:
PPO trained on CartPole-v1 at pole half-length 0.5 (gymnax's own), at 0.05, at 2.0 and with the
length randomized over [0.05, 2.0], every policy then evaluated at 40 lengths from 0.05 to 2.0.

The target: the policy trained at 0.5 falls far below 500 at 0.05 and at 2.0 (a quick PPO
measured ≈ 41 and ≈ 118), while the policies trained at those lengths reach 500 there; then
whether domain randomization closes the gap, whatever the answer is.

Runs ``rlcheck run`` on the example (training, the [robustness] evaluation, the report) and
prints, from its summary.json, with 95% CIs: each policy's IQM return at 0.05, 0.5 and 2.0; its
return on its training and test range and the generalization gap; the randomized policy against
each policy trained at one length, with the report's verdict. Raw numbers go to
benchmarks/out/generalization-<time>.json; the report to OUT/results/report.html.

    python benchmarks/generalization.py [--out DIR] [--quick]

``--quick`` runs a reduced version (2 seeds × 10k steps, 5 lengths, 4 episodes) to check that the
script runs; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "generalization-cartpole.toml"
OUT = Path(__file__).resolve().parent / "out"
SHOWN = (0.05, 0.5, 2.0)
SOLVED = 475.0  # CartPole-v1's solve threshold
FAR_BELOW = 250.0  # "far below 500": the CI's upper end under half the maximum


def quick_spec(text: str) -> str:
    """The example, reduced to check that the script runs."""
    lines = []
    for line in text.splitlines():
        if line.startswith("seeds ="):
            line = "seeds = 2"
        elif line.startswith("budget ="):
            line = "budget = 10_000"
        elif line.startswith("checkpoints ="):
            line = "checkpoints = 2\nfinal_episodes = 4"
        elif line.startswith("vary ="):
            line = 'vary = { length = "0.05,0.5,1.0,1.5,2.0" }'
        elif line.startswith("episodes ="):
            line = "episodes = 4"
        lines.append(line)
    return "\n".join(lines) + "\n"


def run(spec: Path, results: Path) -> float:
    """``rlcheck run SPEC --out RESULTS``; returns its wall seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rlcheck.cli", "run", str(spec), "--out", str(results)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"rlcheck run failed:\n{done.stdout}{done.stderr}")
    return wall


def interval(estimate: dict[str, Any] | None) -> str:
    if estimate is None:
        return "n/a"
    return f"{estimate['point']:.1f} [{estimate['low']:.1f}, {estimate['high']:.1f}]"


def at_values(summary: dict[str, Any]) -> dict[str, dict[float, dict[str, float]]]:
    """{env label: {length: IQM return with its pointwise CI}} at the lengths of SHOWN."""
    (study,) = [s for s in summary["robustness"] if s["vary"] == "length"]
    values = study["values"]
    out: dict[str, dict[float, dict[str, float]]] = {}
    for env in study["envs"]:
        (algo,) = env["algos"]
        curve = algo["curve"]
        out[env["env"]] = {}
        for value in SHOWN:
            i = min(range(len(values)), key=lambda j: abs(values[j] - value))
            out[env["env"]][value] = {k: curve[k][i] for k in ("iqm", "low", "high")}
    return out


def report(summary: dict[str, Any]) -> dict[str, Any]:
    """The numbers of the target, printed and returned."""
    points = at_values(summary)
    (study,) = summary["generalization"]
    (group,) = study["groups"]
    units = group["units"]
    print(f"IQM return at each length [95% pointwise CI], {units[0]['n']} seeds:")
    print(f"{'trained with':<24}" + "".join(f"{'at ' + format(v, 'g'):>24}" for v in SHOWN))
    for unit in units:
        row = points[unit["env"]]
        cells = "".join(
            f"{row[v]['iqm']:>8.1f} [{row[v]['low']:.1f}, {row[v]['high']:.1f}]".rjust(24)
            for v in SHOWN
        )
        print(f"{unit['training']['text']:<24}{cells}")
    print("\nGeneralization gap (training range − test range, IQM over seeds, paired CI):")
    for unit in units:
        gap = interval(unit["gap"]) if unit["gap"] else unit["gap_reason"]
        print(
            f"  {unit['training']['text']:<24} training {interval(unit['train_return'])}, "
            f"test {interval(unit['test_return'])}, gap {gap}"
        )
    print("\nDomain randomization against each policy trained at one length:")
    for c in group["randomization"]:
        if c["verdict"] is None:
            print(f"  vs {c['versus_training']}: {c['verdict_reason']}")
            continue
        print(
            f"  vs {c['versus_training']}: on its test range randomized "
            f"{interval(c['randomized_on_test_range'])}, difference "
            f"{interval(c['on_test_range'])}; at its training value difference "
            f"{interval(c['at_training_value'])}; its training return − randomized on its "
            f"test range {interval(c['remaining_gap'])}: {c['verdict']}"
        )
    by_how = {u["training"]["text"]: u["env"] for u in units}
    default = points[by_how["length = 0.5 (default)"]]
    checks = {
        "default policy far below 500 at 0.05": default[0.05]["high"] < FAR_BELOW,
        "default policy far below 500 at 2.0": default[2.0]["high"] < FAR_BELOW,
        "policy trained at 0.05 solves 0.05": points[by_how["length = 0.05"]][0.05]["iqm"]
        >= SOLVED,
        "policy trained at 2.0 solves 2.0": points[by_how["length = 2"]][2.0]["iqm"] >= SOLVED,
    }
    print("\nTarget:")
    for name, met in checks.items():
        print(f"  {name}: {'met' if met else 'NOT met'}")
    return {"at": points, "generalization": study, "checks": checks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="working directory (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="a reduced run, to check the script")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="rlcheck-generalization-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "spec.toml"
    text = EXAMPLE.read_text()
    spec.write_text(quick_spec(text) if args.quick else text)
    tomllib.loads(spec.read_text())  # a reduction that broke the TOML fails here
    results = work / "results"
    wall = run(spec, results)
    summary = json.loads((results / "summary.json").read_text())
    numbers = report(summary)
    print(f"\nwhole command {wall:.1f} s; report: {results / 'report.html'}")
    OUT.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = OUT / f"generalization-{stamp}{'-quick' if args.quick else ''}.json"
    numbers.update(
        spec=spec.read_text(),
        wall_s=wall,
        machine={"python": platform.python_version(), "cpu": platform.processor()},
    )
    path.write_text(json.dumps(numbers, indent=1) + "\n")
    print(f"numbers: {path}")


if __name__ == "__main__":
    main()
