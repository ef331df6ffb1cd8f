"""Pieces the agents share: networks, distributions, normalizers, advantage estimation, losses."""
