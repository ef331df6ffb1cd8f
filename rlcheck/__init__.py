"""rlcheck: tells you, with numbers you can defend, whether deep RL works on your problem."""

__version__ = "0.1.0"
