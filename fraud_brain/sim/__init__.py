"""A deterministic, vectorized scam world: a city's calls and transfers, scam rings, labels
(and, in :mod:`fraud_brain.sim.cards`, a card-payment world for the bundled card spec).

>>> world = simulate(SimConfig.preset("sample", n_subscribers=300, days=2, min_episodes_per_typology=1))
>>> sorted(world.frames())[:4]
['calls', 'labels', 'subscribers', 'transfers']
"""

from fraud_brain.sim.cards import CARD_PRESETS, CardConfig, CardWorld, simulate_cards
from fraud_brain.sim.config import PRESETS, SCAM_TYPOLOGIES, SimConfig
from fraud_brain.sim.world import FRAMES, TRUTH_SCHEMAS, World, read_world, simulate

__all__ = [
    "CARD_PRESETS",
    "FRAMES",
    "PRESETS",
    "SCAM_TYPOLOGIES",
    "TRUTH_SCHEMAS",
    "CardConfig",
    "CardWorld",
    "SimConfig",
    "World",
    "read_world",
    "simulate",
    "simulate_cards",
]
