"""RL algorithms, one module each (``rlcheck.registry`` builds them by name)."""
