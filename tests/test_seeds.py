"""A run repeated over seeds, combined into one set of metrics (stages.lib.scoring.seeds)."""
import numpy as np
import pytest

from stages.lib.scoring import seeds
from stages.lib.scoring import stats
from stages.lib.data.sources.builtin import ROTTEN_TOMATOES_LABELS
from stages.lib.scoring.metrics import score_classifier
from tests.conftest import bootstrap_settings

RNG = np.random.default_rng(3)
GOLD = RNG.integers(0, 2, 400)


def one_seed(accuracy: float) -> tuple[dict, dict]:
    """A seed's (metrics, {split: predictions}) as a sentiment run makes them."""
    pred = np.where(RNG.random(400) < accuracy, GOLD, 1 - GOLD)
    scores, predictions = score_classifier(list(range(400)), GOLD.tolist(), np.eye(2)[pred], bootstrap_settings(), ROTTEN_TOMATOES_LABELS)
    metrics = {f"test_{k}": v for k, v in scores.items()}
    return {**metrics, "trainable_params": 1000, "train_runtime_s": 10 * accuracy, "bf16": 0}, {"test": predictions}


def test_one_seed_is_left_as_it_is():
    run = one_seed(0.8)
    assert seeds.combine({42: run}, bootstrap_settings()) is run[0]


def test_several_seeds_give_the_mean_each_value_the_sd_and_a_pooled_interval():
    runs = {42: one_seed(0.8), 43: one_seed(0.7), 44: one_seed(0.75)}
    m = seeds.combine(runs, bootstrap_settings())
    f1s = [run[0]["test_f1"] for run in runs.values()]
    assert m["seeds"] == [42, 43, 44] and m["test_f1_seeds"] == f1s
    assert m["test_f1"] == pytest.approx(np.mean(f1s)) and m["test_f1_sd"] == pytest.approx(np.std(f1s, ddof=1))
    assert m["trainable_params"] == 1000 and m["bf16"] == 0         # the same for every seed: kept as is
    assert m["train_runtime_s"] == pytest.approx(7.5) and "train_runtime_s_sd" not in m  # not a score
    low, high = m["test_f1_ci95"]
    assert low < m["test_f1"] < high
    units = np.stack([stats.units_of(run[1]["test"])["f1"][1] for run in runs.values()])
    assert [low, high] == stats.ci95(units, "f1", 1000, 0)  # the same rows resampled for every seed


def test_a_seed_repeated_has_the_interval_of_the_seed_alone():
    """Pooling resamples rows, not seeds: two identical seeds give one seed's interval exactly."""
    run = one_seed(0.8)
    twice = seeds.combine({1: run, 2: run}, bootstrap_settings())
    assert twice["test_f1_ci95"] == run[0]["test_f1_ci95"] and twice["test_f1_sd"] == 0


def test_predictions_of_every_seed_are_tagged():
    lines = seeds.tagged({42: [{"row": 0, "gold": 1, "pred": 1}], 7: [{"row": 0, "gold": 1, "pred": 0}]})
    assert lines == [{"seed": 42, "row": 0, "gold": 1, "pred": 1}, {"seed": 7, "row": 0, "gold": 1, "pred": 0}]


def test_the_log_line_says_how_many_seeds_and_their_spread():
    runs = {42: one_seed(0.8), 43: one_seed(0.7)}
    combined = seeds.combine(runs, bootstrap_settings())
    low, high = combined["test_f1_ci95"]
    assert seeds.describe(combined, "test_f1") == (
        f"{combined['test_f1']:.3f} [{low:.3f}, {high:.3f}] (mean of 2 seeds, sd {combined['test_f1_sd']:.3f})")
    assert "seeds" not in seeds.describe(runs[42][0], "test_f1")
