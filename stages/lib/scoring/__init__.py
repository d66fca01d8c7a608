"""Scores and their uncertainty: metrics (scikit-learn, seqeval), bootstrap intervals and paired tests
(stats), seeds combined (seeds), paired comparisons of two runs (compare), the freeze sweep's curve
(sweep) and each run's headline (headline). Imports runtime, config, data and models."""
