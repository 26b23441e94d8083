"""A deterministic, vectorized scam world: a city's calls and transfers, scam rings, labels.

>>> world = simulate(SimConfig.preset("sample", n_subscribers=300, days=2, min_episodes_per_typology=1))
>>> sorted(world.frames())[:4]
['calls', 'labels', 'subscribers', 'transfers']
"""

from fraud_brain.sim.config import PRESETS, SCAM_TYPOLOGIES, SimConfig
from fraud_brain.sim.world import FRAMES, TRUTH_SCHEMAS, World, read_world, simulate

__all__ = [
    "FRAMES",
    "PRESETS",
    "SCAM_TYPOLOGIES",
    "TRUTH_SCHEMAS",
    "SimConfig",
    "World",
    "read_world",
    "simulate",
]
