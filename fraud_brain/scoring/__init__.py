"""Scoring: offline LightGBM, river online learning, blending, reason codes, model registry."""
