"""The headline of `rlcheck verdict`: which simpler method does better or as well, and why."""

from rlcheck.report import headline

SETTINGS = {"confidence": 0.95, "alpha": 0.05}


def _algo(label, iqm, low, solved, n, *, algo=None, steps=1000, calls=None):
    return {
        "label": label,
        "algo": algo or label,
        "iqm": {"point": iqm, "low": low, "high": iqm + 10, "n": n},
        "failure": {
            "solve": {"failures": n - solved, "n": n, "low": 0.0, "high": 0.2, "threshold": 475},
            "random": None,
        },
        "cost": {
            "env_steps_per_seed": steps,
            "seeds": n,
            "simulator_calls": calls,
            "wall_s": 2.0,
            "compile_s": 0.5,
        },
    }


def _pair(a, b, better, p):
    return {"a": a, "b": b, "better": better, "n_a": 8, "n_b": 8}, {
        a: {b: {"point": p, "low": p - 0.1, "high": p + 0.1}},
        b: {a: {"point": 1 - p, "low": 0.9 - p, "high": 1.1 - p}},
    }


def test_headline_says_which_simpler_method_does_better_or_as_well():
    algos = [
        _algo("ppo", 480.0, 470.0, 7, 8),
        _algo("dqn", 200.0, 150.0, 1, 8),
        _algo("lqr", 500.0, 500.0, 8, 8, steps=0, calls=40),
        _algo("ars", 475.0, 460.0, 6, 8),
        _algo("random", 22.0, 20.0, 0, 8),
    ]
    pairs, matrix = [], {}
    for other, better, p in (("lqr", "lqr", 0.9), ("ars", None, 0.45), ("random", "ppo", 0.0)):
        pair, m = _pair(other, "ppo", better, p)
        pairs.append(pair)
        for k, v in m.items():
            matrix.setdefault(k, {}).update(v)
    env = {
        "env": "CartPole-v1",
        "algos": algos,
        "comparisons": {"pairs": pairs, "matrix": matrix},
        "sample_efficiency": {"threshold": 475, "algos": {"ppo": {"median_env_steps": 40000}}},
    }
    out = headline.env_headline(env, SETTINGS)
    assert out["best_rl"] == "ppo" and out["rl_solves"] is True
    relations = {s["algo"]: s["relation"] for s in out["simpler"]}
    # random is the floor, not a simpler method; dqn is RL.
    assert relations == {"lqr": "better", "ars": "as well"}
    assert (
        out["headline"] == "RL can solve CartPole-v1 (ppo), but a simpler method does better: lqr."
    )
    text = " ".join(out["lines"])
    assert "solved it in 7 of 8 seeds" in text
    assert "median 40k env steps to reach 475" in text
    assert "5 simulator calls per seed" in text
    assert "2.0 s wall for all seeds (0.5 s of it compiling)" in text
    assert "P(lqr > ppo) = 0.90, 95% CI [0.80, 1.00]" in text


def test_a_pair_held_back_by_holm_says_why():
    pair, matrix = _pair("cma_es", "trpo", None, 0.34)
    pair.update(held_back="holm", holm_p=0.081)
    env = {
        "env": "CartPole-v1",
        "algos": [_algo("trpo", 500.0, 500.0, 8, 8), _algo("cma_es", 450.0, 400.0, 5, 8)],
        "comparisons": {"pairs": [pair], "matrix": matrix, "tests": 36},
    }
    (simpler,) = headline.env_headline(env, SETTINGS)["simpler"]
    assert simpler["relation"] == "unclear"
    assert "P(cma_es > trpo) = 0.34, 95% CI [0.24, 0.44]" in simpler["sentence"]
    held_back = "Mann–Whitney p = 0.081 after Holm's correction for 36 comparisons"
    assert held_back in simpler["sentence"]
