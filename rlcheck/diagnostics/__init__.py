"""First-principles diagnostics of on-policy deep RL (issue 16): is the policy gradient a
gradient, is the value a value, does the surrogate describe the landscape, is the trust region
a trust region? Library functions of an agent, its states and the env; they return plain
arrays and dicts with bootstrap intervals over seeds."""
