"""Evaluations: datasets with items, runs, scores, summaries and run comparisons."""
