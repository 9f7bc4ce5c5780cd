"""Scores meet labels: metrics (pure functions of labels and scores), the evaluation of a dataset, plots."""
