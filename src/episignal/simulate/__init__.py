"""Deterministic simulator of carrier signaling with ground truth (subscribers, stays, itineraries).

The simulated world, the behaviours and the truth rule are described in docs/simulator.md.
"""
