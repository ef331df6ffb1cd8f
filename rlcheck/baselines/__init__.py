"""What RL must beat: black-box policy search, MPC, MCTS and LQR with the simulator."""

# The baselines are registered in rlcheck.agents.ALGORITHMS and use its building blocks; load
# that package first, so importing a baseline module on its own never meets a half-built one.
import rlcheck.agents  # noqa: F401
