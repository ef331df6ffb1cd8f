"""First-principles diagnostics of on-policy deep RL (issue 16): is the policy gradient a
gradient, is the value a value, does the surrogate describe the landscape, is the trust region
a trust region? Library functions of an agent, its states and the env; they return plain
arrays and dicts with bootstrap intervals over seeds (docs/DESIGN-NOTES.md, "Diagnostics")."""

from rlcheck.diagnostics.gradient import gradient_quality
from rlcheck.diagnostics.landscape import landscape
from rlcheck.diagnostics.learner import SUPPORTED, learner_for
from rlcheck.diagnostics.trust_region import trust_region_heldout, trust_region_summary
from rlcheck.diagnostics.value import baseline_variance, fit_value, value_quality

__all__ = [
    "SUPPORTED",
    "baseline_variance",
    "fit_value",
    "gradient_quality",
    "landscape",
    "learner_for",
    "trust_region_heldout",
    "trust_region_summary",
    "value_quality",
]
