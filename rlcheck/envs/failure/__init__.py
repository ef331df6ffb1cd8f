"""Environments where the reward and what was wanted part ways, JAX-native with the gymnax API.

Each reports its per-step hidden performance in ``info["performance"]`` (an episode's
performance is the sum), which rlcheck records beside the returns. Registered under
``rlcheck:<id>`` (see :data:`ENVS`).
"""

from rlcheck.envs.failure.absent_supervisor import AbsentSupervisor
from rlcheck.envs.failure.boat_race import BoatRace
from rlcheck.envs.failure.suicidal_room import SuicidalRoom
from rlcheck.envs.failure.tomato_watering import TomatoWatering

# id → env class (its constructor takes the id's kwargs).
ENVS = {
    "BoatRace-v0": BoatRace,
    "TomatoWatering-v0": TomatoWatering,
    "AbsentSupervisor-v0": AbsentSupervisor,
    "SuicidalRoom-v0": SuicidalRoom,
}

__all__ = ["ENVS", "AbsentSupervisor", "BoatRace", "SuicidalRoom", "TomatoWatering"]
