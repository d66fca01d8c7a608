"""Each run's headline, the files dvc.yaml declares as metrics (metrics/headline/), so what `dvc exp
show` and `dvc metrics diff` show: its test score with the 95 % interval (one text column), its
training seconds and what it trained. Every other number (validation scores, per-class F1, run descriptors, the sweep's
points) stays in the run's full record beside it, which the report and the compare stage read."""
from __future__ import annotations

from pathlib import Path

from stages.lib.runtime.errors import PipelineError


def interval(low: float, high: float) -> str:
    """A 95 % interval as one `dvc exp show` column: "0.799–0.847" (a percentile bootstrap interval is not
    symmetric about the score, so not a ± half-width)."""
    return f"{low:.3f}–{high:.3f}"


def scored(record: dict, key: str, name: str, where: Path) -> dict:
    """`name` and `name`_95ci from the record's `key` and `key`_ci95."""
    try:
        low, high = record[f"{key}_ci95"]
        return {name: record[key], f"{name}_95ci": interval(low, high)}
    except (KeyError, TypeError, ValueError):
        raise PipelineError(f"{where}: no {key} with its {key}_ci95 interval; rerun the stage that wrote it") from None


def scores(record: dict) -> dict:
    """Any task's headline: its scalar test scores, training seconds and trainable parameters."""
    tested = {key.removeprefix("test_"): value for key, value in record.items()
              if key.startswith("test_") and isinstance(value, (int, float))}
    return tested | {name: record[key] for name, key in (("train_s", "train_runtime_s"),
                                                         ("trainable_params", "trainable_params")) if key in record}


def classifier(record: dict, where: Path, seconds: str = "train_runtime_s") -> dict:
    """A sentence classifier's headline (a fine-tune run or SetFit)."""
    return {**scored(record, "test_f1", "f1", where), "train_s": record[seconds],
            "trainable_params": record["trainable_params"]}


def ner(record: dict, where: Path) -> dict:
    return {**scored(record, "test_entity_f1", "entity_f1", where), "book_token_f1": record["test_book_token_f1"],
            "train_s": record["train_runtime_s"]}


def mlm(record: dict) -> dict:
    return {key: record[f"test_{key}"] for key in ("perplexity_before", "perplexity_after")} | {
        "train_s": record["train_runtime_s"]}


def sweep(record: dict) -> dict:
    return {"best_f1": record["best_mean_f1"], "stable_trainable_blocks": record["stable_trainable_blocks"],
            "train_s": record["train_seconds_total"]}
