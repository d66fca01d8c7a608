"""Scores and their uncertainty: metrics (scikit-learn, seqeval), bootstrap intervals and paired tests
(stats), seeds combined (seeds), each run's headline (headline), paired comparisons of two runs
(compare), the freeze sweep's curve (sweep) and the cost/accuracy frontier (frontier). Imports
runtime, config, data and models."""
