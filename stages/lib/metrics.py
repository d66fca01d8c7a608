"""Metrics computed with scikit-learn directly (`evaluate.load` fetches code from the Hub)."""
from __future__ import annotations

from sklearn.metrics import accuracy_score, f1_score


def classification_metrics(labels: list[int], preds: list[int]) -> dict[str, float]:
    """Binary F1 of the positive class (as the book) and accuracy."""
    return {"f1": float(f1_score(labels, preds, average="binary", pos_label=1)),
            "accuracy": float(accuracy_score(labels, preds))}
