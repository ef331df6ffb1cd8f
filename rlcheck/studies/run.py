"""A study's results directory: what was run there (``study.json``) and what was found
(``finding.json``), next to the results store and the full report of its units."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rlcheck.errors import UserError
from rlcheck.studies import get_study, studies
from rlcheck.studies.base import MEASUREMENTS, Chart, Finding, Scale, Study, load_results

MANIFEST = "study.json"
FINDING = "finding.json"
FIGURE = "finding.png"


def default_directory(study: Study, quick: bool) -> Path:
    """Where ``rlcheck study run`` writes without ``--out``."""
    return Path("runs") / "studies" / (f"{study.name}-quick" if quick else study.name)


def prepare(directory: Path, study: Study, scale: Scale) -> None:
    """Record in ``directory`` which study runs there at which scale.

    Raises:
        UserError: the directory already holds another study, or this one at another scale
            (the analysis would mix both); rerunning the same resumes.
    """
    existing = read_manifest(directory)
    if existing is not None:
        same = (existing["study"], existing["quick"], existing["seeds"]) == (
            study.name,
            scale.quick,
            scale.seeds,
        )
        if not same:
            raise UserError(
                f"{directory} holds the study '{existing['study']}' "
                f"({_version(existing['quick'])}, {existing['seeds']} seeds); "
                "give another --out"
            )
        return
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "study": study.name,
        "quick": scale.quick,
        "seeds": scale.seeds,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = Path(directory) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def _version(quick: bool) -> str:
    return "quick" if quick else "full"


def measure(directory: Path, study: Study, scale: Scale) -> bool:
    """Run the study's ``measure`` (if it has one) and keep its numbers in
    ``measurements.json``; a directory that has them already keeps them (a rerun resumes).
    Returns whether it measured now."""
    path = Path(directory) / MEASUREMENTS
    if study.measure is None or path.exists():
        return False
    numbers = study.measure(scale, Path(directory))
    path.write_text(json.dumps(numbers, indent=1, allow_nan=True) + "\n")
    return True


def conclude(directory: Path, wall_s: float | None = None) -> dict[str, Any]:
    """Analyse a study's stored results and write ``finding.json``; returns what it holds.

    Args:
        directory: a study's results directory (with its ``study.json``).
        wall_s: the wall time of the ``rlcheck study run`` that just ended, kept beside the
            finding (a later call without it keeps the recorded one).
    """
    manifest = read_manifest(directory)
    if manifest is None:
        raise UserError(f"{directory}: no study here ({MANIFEST} not found)")
    study = get_study(manifest["study"])
    results = load_results(directory)
    finding = study.analyze(results)
    path = Path(directory) / FINDING
    previous = json.loads(path.read_text()) if path.exists() else {}
    record = {
        "study": study.name,
        "title": study.title,
        "claim": study.claim,
        "sources": list(study.sources),
        "quick": manifest["quick"],
        "seeds": manifest["seeds"],
        "sentence": finding.sentence,
        "chart": finding.chart.to_dict(),
        "numbers": finding.numbers,
        "cost": {
            "command_wall_s": wall_s
            if wall_s is not None
            else previous.get("cost", {}).get("command_wall_s"),
            "units_wall_s": results.wall_s,
            "env_steps": results.env_steps,
            "simulator_calls": results.simulator_calls,
            "units": len(results.units),
        },
    }
    path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    return record


def finding_of(record: dict[str, Any]) -> Finding:
    """A ``finding.json`` record back as a :class:`Finding`."""
    return Finding(record["sentence"], Chart.from_dict(record["chart"]), record["numbers"])


def study_directories(root: Path) -> list[Path]:
    """The study results directories under ``root`` (``root`` itself included), in the order
    of ``rlcheck study list``, quick versions after full ones."""
    root = Path(root)
    found = [p.parent for p in root.glob(f"**/{MANIFEST}")]
    order = list(studies())

    def rank(directory: Path) -> tuple[int, bool, str]:
        manifest = read_manifest(directory) or {}
        name = manifest.get("study", "")
        return (
            order.index(name) if name in order else len(order),
            bool(manifest.get("quick")),
            str(directory),
        )

    return sorted(found, key=rank)


def scale_dict(scale: Scale) -> dict[str, Any]:
    return asdict(scale)
