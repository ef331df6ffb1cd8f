"""Loads the Atari 100k scores behind rliable's paper as human-normalised (runs, games) arrays."""

import json
import os
from pathlib import Path

import numpy as np

DATA_DIR = Path(os.environ.get("RLCHECK_TEST_DATA", "/work/shared/data")) / "atari100k"

# Standard Atari reference scores (random and human, DQN evaluation protocol), exactly as in
# rliable's Atari 100k colab (google-research/rliable, "Atari 100k" notebook).
RANDOM_SCORES = {
    "Alien": 227.8,
    "Amidar": 5.8,
    "Assault": 222.4,
    "Asterix": 210.0,
    "BankHeist": 14.2,
    "BattleZone": 2360.0,
    "Boxing": 0.1,
    "Breakout": 1.7,
    "ChopperCommand": 811.0,
    "CrazyClimber": 10780.5,
    "DemonAttack": 152.1,
    "Freeway": 0.0,
    "Frostbite": 65.2,
    "Gopher": 257.6,
    "Hero": 1027.0,
    "Jamesbond": 29.0,
    "Kangaroo": 52.0,
    "Krull": 1598.0,
    "KungFuMaster": 258.5,
    "MsPacman": 307.3,
    "Pong": -20.7,
    "PrivateEye": 24.9,
    "Qbert": 163.9,
    "RoadRunner": 11.5,
    "Seaquest": 68.4,
    "UpNDown": 533.4,
}
HUMAN_SCORES = {
    "Alien": 7127.7,
    "Amidar": 1719.5,
    "Assault": 742.0,
    "Asterix": 8503.3,
    "BankHeist": 753.1,
    "BattleZone": 37187.5,
    "Boxing": 12.1,
    "Breakout": 30.5,
    "ChopperCommand": 7387.8,
    "CrazyClimber": 35829.4,
    "DemonAttack": 1971.0,
    "Freeway": 29.6,
    "Frostbite": 4334.7,
    "Gopher": 2412.5,
    "Hero": 30826.4,
    "Jamesbond": 302.8,
    "Kangaroo": 3035.0,
    "Krull": 2665.5,
    "KungFuMaster": 22736.3,
    "MsPacman": 6951.6,
    "Pong": 14.6,
    "PrivateEye": 69571.3,
    "Qbert": 13455.0,
    "RoadRunner": 7845.0,
    "Seaquest": 42054.7,
    "UpNDown": 11693.2,
}
GAMES = sorted(RANDOM_SCORES)
RAW_SCORE_FILES = ("DrQ", "DrQ(eps)", "OTRainbow", "SPR", "SimPLe")


def _human_normalised(game: str, raw: list[float]) -> np.ndarray:
    return (np.asarray(raw) - RANDOM_SCORES[game]) / (HUMAN_SCORES[game] - RANDOM_SCORES[game])


def _der_runs(game: str) -> list[dict]:
    records = json.loads((DATA_DIR / "DER" / f"{game}.json").read_text())
    return sorted(records, key=lambda r: (r["run_number"], r["iteration"]))


def load_final_scores(runs: int | None = 10) -> dict[str, np.ndarray]:
    """Human-normalised final scores {algorithm: (runs, 26)}, games in alphabetical order.

    ``runs=10`` is the paper's 10-run setting: the first 10 runs in file order (SimPLe has 5).
    """
    scores = {}
    for name in RAW_SCORE_FILES:
        raw = json.loads((DATA_DIR / f"{name}.json").read_text())
        scores[name] = np.stack([_human_normalised(g, raw[g][:runs]) for g in GAMES], axis=1)
    curl = json.loads((DATA_DIR / "CURL_10_evals.json").read_text())
    scores["CURL"] = np.stack(
        [np.array([r["HNS"] for r in curl if r["game"] == g][:runs]) for g in GAMES], axis=1
    )
    scores["DER"] = load_der_curves(runs)[..., -1]
    return dict(sorted(scores.items()))


def load_der_curves(runs: int | None = 10) -> np.ndarray:
    """DER's human-normalised evaluation curves, shape (runs, 26, 10 iterations)."""
    per_game = []
    for game in GAMES:
        returns = np.array([r["eval_average_return"] for r in _der_runs(game)])
        per_game.append(_human_normalised(game, returns).reshape(-1, 10)[:runs])
    return np.stack(per_game, axis=1)


def available() -> bool:
    """Whether the reference data is present on this machine."""
    return DATA_DIR.is_dir()
