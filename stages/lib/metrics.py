"""Scores computed with scikit-learn and seqeval directly (`evaluate.load` fetches code from the Hub)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from stages.lib import stats

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")


def classification_metrics(labels: list[int], preds: list[int]) -> dict[str, float]:
    """Binary F1 of the positive class (as the book) and accuracy."""
    return {"f1": float(f1_score(labels, preds, average="binary", pos_label=1)),
            "accuracy": float(accuracy_score(labels, preds))}


def score_classifier(rows: list[int], gold: list[int], probs: np.ndarray, bootstrap) -> tuple[dict, list[dict]]:
    """Scores of a classifier's class probabilities on test rows, each with its bootstrap interval
    (`<metric>_ci95`; `bootstrap`: a settings.Bootstrap), and the per-row predictions
    ({"row", "gold", "pred", "probs"}: the pipeline's one predictions format)."""
    pred = np.asarray(probs).argmax(-1).tolist()
    scores = classification_metrics(gold, pred)
    units = stats.classification_units(gold, pred)
    for name in list(scores):
        scores[f"{name}_ci95"] = stats.ci95(units, name, bootstrap.resamples, bootstrap.seed)
    predictions = [{"row": int(r), "gold": int(g), "pred": int(p), "probs": [round(float(x), 6) for x in pr]}
                   for r, g, p, pr in zip(rows, gold, pred, probs, strict=True)]
    return scores, predictions


def entity_metrics(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Entity-level scores over sentences of tags. `entity_*`: seqeval's default mode, which
    matches conlleval (an I-X after O starts an entity); `entity_f1_strict`: IOB2 rules (it does
    not); `f1_<type>`: per entity type."""
    from seqeval.metrics import classification_report, f1_score as entity_f1
    from seqeval.scheme import IOB2

    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    overall = report["micro avg"]
    return {
        "entity_precision": float(overall["precision"]),
        "entity_recall": float(overall["recall"]),
        "entity_f1": float(overall["f1-score"]),
        "entity_f1_strict": float(entity_f1(gold, pred, mode="strict", scheme=IOB2, zero_division=0)),
        **{f"f1_{t}": float(report.get(t, {}).get("f1-score", 0.0)) for t in ENTITY_TYPES},
    }


def book_token_f1(flat_gold: list[str], flat_pred: list[str]) -> float:
    """The book's NER figure, NOT entity-level: every labelled token is wrapped as its own
    one-token sentence before seqeval, so each non-O token counts as a one-token "entity" and
    only its type (PER, ORG, ...) has to match: a micro F1 over tokens that ignores B/I."""
    from seqeval.metrics import f1_score as entity_f1

    return float(entity_f1([[t] for t in flat_gold], [[p] for p in flat_pred], zero_division=0))
