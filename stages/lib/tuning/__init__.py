"""Hyperparameter search per strategy (tools.tune): the search spaces, one trial on the validation
split, trials saved as DVC experiments, Optuna studies shared by workers, and the tuned recipe's one
test run against the recipe in params.yaml."""
