"""Thematic model specs, labels, training, evaluation, scoring, explanations and warning lists."""
