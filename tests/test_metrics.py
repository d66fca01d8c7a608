"""Scores, on hand-made cases whose right answer is worked out in the comments."""
import pytest

from stages.lib.scoring.metrics import book_token_f1, classification_metrics, entity_metrics

TYPES = ["PER", "ORG", "LOC", "MISC"]


def test_classification_metrics_on_a_hand_made_case():
    # 2 true positives, 1 false positive, 1 false negative, 1 true negative
    m = classification_metrics([1, 1, 1, 0, 0], [1, 1, 0, 1, 0], ("neg", "pos"))
    assert m == {"f1": pytest.approx(2 / 3), "accuracy": pytest.approx(3 / 5)}


def test_no_positive_prediction_scores_zero_f1_not_an_error():
    assert classification_metrics([1, 0], [0, 0], ("neg", "pos")) == {"f1": 0.0, "accuracy": 0.5}


def test_entity_strict_and_book_metrics_differ():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["O", "I-ORG", "I-ORG"]]
    m = entity_metrics(gold, pred, TYPES)
    # PER span cut short: wrong. LOC right. ORG starting with I-ORG: an entity for conlleval...
    assert m["entity_f1"] == pytest.approx(2 / 3)
    assert (m["f1_PER"], m["f1_LOC"], m["f1_ORG"], m["f1_MISC"]) == (0.0, 1.0, 1.0, 0.0)
    # ...but not under strict IOB2: 1 of 2 predicted entities right, 1 of 3 found
    assert m["entity_f1_strict"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    # the book's per-token figure: 4 of 5 gold non-O tokens have the right type, no false positive
    flat_gold, flat_pred = sum(gold, []), sum(pred, [])
    assert book_token_f1(flat_gold, flat_pred) == pytest.approx(2 * 0.8 / 1.8)


def test_a_perfect_tagging_scores_one_everywhere_it_has_entities():
    gold = [["B-PER", "I-PER", "O"], ["B-MISC"]]
    m = entity_metrics(gold, gold, TYPES)
    assert m["entity_f1"] == m["entity_f1_strict"] == m["f1_PER"] == m["f1_MISC"] == 1.0
    assert m["f1_ORG"] == m["f1_LOC"] == 0.0  # no such entity: scored 0, not missing
    assert book_token_f1(sum(gold, []), sum(gold, [])) == 1.0
