"""The interval and paired-test arithmetic on cases whose answer is known."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from stages.lib.scoring import stats
from stages.lib.data.sources.builtin import ROTTEN_TOMATOES_LABELS
from stages.lib.scoring.metrics import book_token_f1, entity_metrics, score_classifier
from tests.conftest import bootstrap_settings

RNG = np.random.default_rng(7)
GOLD = RNG.integers(0, 2, 1000)


def test_a_perfect_classifier_has_a_point_interval():
    units = stats.classification_units(GOLD, GOLD)
    assert stats.ci95(units, "f1", 1000, 0) == [1.0, 1.0]
    assert stats.ci95(units, "accuracy", 1000, 0) == [1.0, 1.0]


def test_a_coin_flip_interval_covers_one_half_with_the_binomial_width():
    coin = RNG.integers(0, 2, 1000)
    low, high = stats.ci95(stats.classification_units(GOLD, coin), "accuracy", 2000, 0)
    assert low < 0.5 < high
    half_width = 1.96 * np.sqrt(0.25 / 1000)  # the normal approximation: +-0.031
    assert high - low == pytest.approx(2 * half_width, rel=0.15)


def test_scores_from_unit_counts_equal_scikit_learn_and_seqeval():
    pred = np.where(RNG.random(1000) < 0.8, GOLD, 1 - GOLD)
    sums = stats.classification_units(GOLD, pred).sum(0)
    assert stats.f1(sums) == pytest.approx(f1_score(GOLD, pred))
    assert stats.accuracy(sums, 1000) == pytest.approx(accuracy_score(GOLD, pred))
    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O"], ["O", "I-ORG"], ["B-MISC"]]
    pred = [["B-PER", "O", "O"], ["B-LOC", "O"], ["O", "I-ORG"], ["O"]]
    sums = stats.entity_units(gold, pred).sum(0)
    assert stats.f1(sums) == pytest.approx(entity_metrics(gold, pred, ["PER", "ORG", "LOC", "MISC"])["entity_f1"])


def test_the_interval_is_seeded_and_contains_the_score():
    pred = np.where(RNG.random(1000) < 0.8, GOLD, 1 - GOLD)
    scores, rows = score_classifier(list(range(1000)), GOLD.tolist(), np.eye(2)[pred], bootstrap_settings(), ROTTEN_TOMATOES_LABELS)
    low, high = scores["f1_ci95"]
    assert low < scores["f1"] < high and 0.03 < high - low < 0.1
    assert scores == score_classifier(list(range(1000)), GOLD.tolist(), np.eye(2)[pred], bootstrap_settings(), ROTTEN_TOMATOES_LABELS)[0]
    assert rows[3] == {"row": 3, "gold": int(GOLD[3]), "pred": int(pred[3]), "probs": np.eye(2)[pred[3]].tolist()}


def test_a_known_difference_is_found_and_no_difference_is_not():
    good = np.where(RNG.random(1000) < 0.9, GOLD, 1 - GOLD)
    bad = np.where(RNG.random(1000) < 0.6, GOLD, 1 - GOLD)
    a, b = stats.classification_units(GOLD, good), stats.classification_units(GOLD, bad)
    result = stats.paired(a, b, "accuracy", 1000, 0)
    assert result["difference"] == pytest.approx(accuracy_score(GOLD, good) - accuracy_score(GOLD, bad))
    assert 0 < result["ci95"][0] < result["difference"] < result["ci95"][1]
    assert result["p_value"] < 0.01
    same = stats.paired(a, a, "f1", 1000, 0)
    assert same["difference"] == 0 and same["ci95"] == [0.0, 0.0] and same["p_value"] == 1.0
    # two models that differ on a few rows, each right on half of them: not distinguishable
    close = good.copy()
    flip = [*np.flatnonzero(good == GOLD)[:4], *np.flatnonzero(good != GOLD)[:4]]
    close[flip] = 1 - close[flip]
    result = stats.paired(stats.classification_units(GOLD, close), a, "f1", 1000, 0)
    assert result["ci95"][0] < 0 < result["ci95"][1] and result["p_value"] > 0.05


def test_unequal_units_are_refused():
    with pytest.raises(ValueError, match="same units"):
        stats.paired(stats.classification_units(GOLD, GOLD), stats.classification_units(GOLD[:10], GOLD[:10]),
                     "f1", 1000, 0)


def test_a_paired_comparison_of_seeds_compares_their_means():
    """A side with several seeds counts by its mean; a side with fewer is repeated, which changes
    nothing: A (two seeds) vs B (one) is the mean of A's F1s minus B's, and A's seeds repeated
    twice give the same test."""
    a1, a2, b = (stats.classification_units(GOLD, np.where(RNG.random(1000) < p, GOLD, 1 - GOLD))
                 for p in (0.9, 0.85, 0.6))
    both = np.stack([a1, a2])
    result = stats.paired(both, b, "f1", 1000, 0)
    expected = (stats.f1(a1.sum(0)) + stats.f1(a2.sum(0))) / 2 - stats.f1(b.sum(0))
    assert result["difference"] == pytest.approx(expected)
    assert result["ci95"][0] > 0 and result["p_value"] < 0.01
    repeated = stats.paired(np.concatenate([both, both]), b, "f1", 1000, 0)
    assert repeated["difference"] == pytest.approx(result["difference"]) and repeated["p_value"] == result["p_value"]
    assert repeated["ci95"] == pytest.approx(result["ci95"])
    with pytest.raises(ValueError, match="the same units"):
        stats.paired(both, b[:10], "f1", 1000, 0)


def test_token_units_give_the_books_per_token_f1_and_ner_lines_both_scores():
    """Per-sentence counts of the labelled sub-tokens, summed, are the book's figure: a token's type
    (B- or I-, seqeval's reading of a one-token sentence) has to match, O is no entity."""
    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "I-LOC"], ["O", "I-ORG"], ["B-MISC"]]
    pred = [["B-PER", "B-PER", "B-ORG"], ["I-LOC", "O"], ["O", "B-ORG"], ["O"]]
    units = stats.token_units(gold, pred)
    assert units.tolist() == [[2, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]]
    assert stats.f1(units.sum(0)) == pytest.approx(book_token_f1(sum(gold, []), sum(pred, [])))
    lines = [{"row": i, "gold": g, "pred": g, "token_gold": tg, "token_pred": tp}
             for i, (g, tg, tp) in enumerate(zip(gold, gold, pred))]
    scores = stats.units_of(lines)
    assert list(scores) == ["entity_f1", "book_token_f1"]  # the headline (what compare pairs on) first
    assert scores["book_token_f1"][1].tolist() == units.tolist() and stats.f1(scores["entity_f1"][1].sum(0)) == 1.0
    assert list(stats.units_of([{k: line[k] for k in ("row", "gold", "pred")} for line in lines])) == ["entity_f1"]
