"""Studies: the background texts' claims about deep RL, each as runs, an analysis and a finding.

Every module of this package that defines ``STUDY`` (a :class:`rlcheck.studies.base.Study`) is a
study: adding one is adding one file. ``rlcheck study list`` lists them, ``rlcheck study run
NAME`` runs one, ``rlcheck study report`` renders the findings page.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from rlcheck.errors import UserError
from rlcheck.studies.base import Finding, Scale, Study, StudyResults, load_results

# The issues' order (issue 17, then issue 19's 7–13); studies added later follow, by name.
ORDER = (
    "sample-efficiency",
    "mpc-vs-rl",
    "black-box-search",
    "reward-hacking",
    "exploration",
    "seed-failures",
    "overfitting-dynamics",
    "reward-scale",
    "code-level-optimizations",
    "gradient-concentration",
    "value-baseline",
    "clipping-trust-region",
    "hyperparameter-sensitivity",
)


def studies() -> dict[str, Study]:
    """Every study by name, in :data:`ORDER` and then by name."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        study = getattr(importlib.import_module(f"{__name__}.{module.name}"), "STUDY", None)
        if isinstance(study, Study):
            found[study.name] = study

    def rank(name: str) -> tuple[int, str]:
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    return {name: found[name] for name in sorted(found, key=rank)}


def get_study(name: str) -> Study:
    """The study called ``name``.

    Raises:
        UserError: no such study (the message lists them and the closest name).
    """
    known = studies()
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise UserError(f"unknown study '{name}' (known: {', '.join(known)}){hint}")


__all__ = ["Finding", "Scale", "Study", "StudyResults", "get_study", "load_results", "studies"]
