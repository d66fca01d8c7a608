"""Scores computed with scikit-learn and seqeval directly (`evaluate.load` fetches code from the Hub)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from stages.lib.scoring import stats


def classification_metrics(labels: list[int], preds: list[int], names) -> dict[str, float]:
    """Accuracy and F1: for two classes (`names` in id order) binary F1 of the second (the positive
    class, as the book); for more, macro-F1 over the classes in the gold or predicted labels, and
    each class's own F1 as f1_<name>."""
    scores = {"accuracy": float(accuracy_score(labels, preds))}
    if len(names) == 2:
        return {"f1": float(f1_score(labels, preds, average="binary", pos_label=1, zero_division=0)), **scores}
    per_class = f1_score(labels, preds, labels=list(range(len(names))), average=None, zero_division=0)
    return {"f1": float(f1_score(labels, preds, average="macro", zero_division=0)), **scores,
            **{f"f1_{name}": float(v) for name, v in zip(names, per_class)}}


def score_classifier(rows: list[int], gold: list[int], probs: np.ndarray, bootstrap,
                     names) -> tuple[dict, list[dict]]:
    """Scores of a classifier's class probabilities on test rows (`names`: the classes in id order),
    F1 and accuracy each with its bootstrap interval (`<metric>_ci95`; `bootstrap`: a
    schema.Bootstrap), and the per-row predictions ({"row", "gold", "pred", "probs"}: the
    pipeline's one predictions format)."""
    pred = np.asarray(probs).argmax(-1).tolist()
    scores = classification_metrics(gold, pred, names)
    units = stats.classification_units(gold, pred, len(names))
    for name in ("f1", "accuracy"):
        scores[f"{name}_ci95"] = stats.ci95(units, name, bootstrap.resamples, bootstrap.seed)
    predictions = [{"row": int(r), "gold": int(g), "pred": int(p), "probs": [round(float(x), 6) for x in pr]}
                   for r, g, p, pr in zip(rows, gold, pred, probs, strict=True)]
    return scores, predictions


def entity_types(tags) -> list[str]:
    """The entity types of an IOB2 tag set, in its order."""
    return [tag[2:] for tag in tags if tag.startswith("B-")]


def entity_metrics(gold: list[list[str]], pred: list[list[str]], types) -> dict[str, float]:
    """Entity-level scores over sentences of tags. `entity_*`: seqeval's default mode, which
    matches conlleval (an I-X after O starts an entity); `entity_f1_strict`: IOB2 rules (it does
    not); `f1_<type>`: per entity type (`types`)."""
    from seqeval.metrics import classification_report, f1_score as entity_f1
    from seqeval.scheme import IOB2

    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    overall = report["micro avg"]
    return {
        "entity_precision": float(overall["precision"]),
        "entity_recall": float(overall["recall"]),
        "entity_f1": float(overall["f1-score"]),
        "entity_f1_strict": float(entity_f1(gold, pred, mode="strict", scheme=IOB2, zero_division=0)),
        **{f"f1_{t}": float(report.get(t, {}).get("f1-score", 0.0)) for t in types},
    }


def book_token_f1(flat_gold: list[str], flat_pred: list[str]) -> float:
    """The book's NER figure, NOT entity-level: every labelled token is wrapped as its own
    one-token sentence before seqeval, so each non-O token counts as a one-token "entity" and
    only its type (PER, ORG, ...) has to match: a micro F1 over tokens that ignores B/I."""
    from seqeval.metrics import f1_score as entity_f1

    return float(entity_f1([[t] for t in flat_gold], [[p] for p in flat_pred], zero_division=0))
