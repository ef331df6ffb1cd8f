"""Statistics that make RL results defensible: interval estimates, reliability, comparisons."""

from rlcheck.stats.aggregates import iqm, mean, median, optimality_gap
from rlcheck.stats.bootstrap import Estimate, interval_estimates
from rlcheck.stats.compare import (
    compare_algorithms,
    holm_bonferroni,
    iqm_difference_interval,
    mann_whitney,
    mean_difference_interval,
    paired_iqm_difference_interval,
    welch_test,
)
from rlcheck.stats.contrasts import contrast_intervals
from rlcheck.stats.curves import sample_efficiency_curve, steps_to_threshold
from rlcheck.stats.failures import (
    FailureRate,
    failure_rate,
    no_better_than_random_rate,
    random_upper_bound,
    unsolved_rate,
    wilson_interval,
)
from rlcheck.stats.improvement import (
    probability_of_improvement,
    probability_of_improvement_interval,
)
from rlcheck.stats.normalize import REFERENCE_SCORES, env_reference, normalize, normalize_env
from rlcheck.stats.power import seeds_needed
from rlcheck.stats.profiles import performance_profile, tau_grid
from rlcheck.stats.reliability import (
    dispersion_across_rollouts,
    dispersion_across_runs,
    dispersion_across_time,
    long_term_risk,
    risk_across_rollouts,
    risk_across_runs,
    short_term_risk,
)

__all__ = [
    "REFERENCE_SCORES",
    "Estimate",
    "FailureRate",
    "compare_algorithms",
    "contrast_intervals",
    "dispersion_across_rollouts",
    "dispersion_across_runs",
    "dispersion_across_time",
    "env_reference",
    "failure_rate",
    "holm_bonferroni",
    "interval_estimates",
    "iqm",
    "iqm_difference_interval",
    "long_term_risk",
    "mann_whitney",
    "mean",
    "mean_difference_interval",
    "median",
    "no_better_than_random_rate",
    "normalize",
    "normalize_env",
    "optimality_gap",
    "paired_iqm_difference_interval",
    "performance_profile",
    "probability_of_improvement",
    "probability_of_improvement_interval",
    "random_upper_bound",
    "risk_across_rollouts",
    "risk_across_runs",
    "sample_efficiency_curve",
    "seeds_needed",
    "short_term_risk",
    "steps_to_threshold",
    "tau_grid",
    "unsolved_rate",
    "welch_test",
    "wilson_interval",
]
