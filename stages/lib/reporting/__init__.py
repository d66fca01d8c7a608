"""What a reader sees: model cards (cards), the machine a run or benchmark ran on (machine), and the
cost/accuracy frontier (frontier). Imports runtime, config, data, models and scoring."""
