"""What a reader sees: model cards (cards) and the cost/accuracy frontier (frontier). Imports runtime,
config, data, models and scoring."""
