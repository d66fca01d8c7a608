"""Scores and their uncertainty: metrics (scikit-learn, seqeval), bootstrap intervals and paired tests
(stats), seeds combined (seeds), paired comparisons of two runs (compare) and the freeze sweep's
curve (sweep). Imports runtime, config, data and models."""
