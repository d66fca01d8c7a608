"""Paired comparisons of two runs' test predictions (the same test rows, or NER sentences), and the
cost/accuracy frontier table: every sentiment run's F1 with its interval against what it trained."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from stages.lib.scoring import stats
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.paths import PREDICTIONS


def read_predictions(path: Path) -> dict[int | None, list[dict]]:
    """A predictions file (one JSON object a line) by seed, each seed's lines sorted by row."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path} not found: run the stage that writes it first (dvc repro)")
    try:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except ValueError as e:
        raise PipelineError(f"{path}: not JSON Lines ({e})") from None
    by_seed: dict[int | None, list[dict]] = {}
    for line in sorted(lines, key=lambda r: r["row"]):
        by_seed.setdefault(line.get("seed"), []).append(line)
    return by_seed


def units(by_seed: dict[int | None, list[dict]], rows: set[int]) -> tuple[str, np.ndarray]:
    """(headline metric, counts as (seeds, units, counts)) of the lines of `rows`."""
    tables = []
    for lines in by_seed.values():
        metric, (_, table) = next(iter(stats.units_of([line for line in lines if line["row"] in rows]).items()))
        tables.append(table)
    return metric, np.stack(tables)


def paired(a: str, b: str, bootstrap, folder: Path = PREDICTIONS) -> dict:
    """Run `a` against run `b` (names of predictions files under `folder`, without .jsonl), on the
    test rows both scored: with different max_eval_samples the smaller subset's rows (the same seeded
    draw) are all in the larger one. A run with several seeds counts by its mean over them."""
    runs = [read_predictions(Path(folder) / f"{name}.jsonl") for name in (a, b)]
    scored = [set.intersection(*({line["row"] for line in lines} for lines in run.values())) for run in runs]
    common = scored[0] & scored[1]
    if len(common) < 2:
        raise PipelineError(f"{a} and {b} were scored on different test rows ({len(scored[0])} and {len(scored[1])} "
                            f"rows, {len(common)} in common); pair runs scored on the same rows")
    (metric, units_a), (_, units_b) = (units(run, common) for run in runs)
    result = stats.paired(units_a, units_b, "f1", bootstrap.resamples, bootstrap.seed)
    return {"a": a, "b": b, "metric": metric, "units": len(common), "seeds": [len(run) for run in runs], **result}


def reading(comparison: dict) -> str:
    """The comparison in words."""
    low, high = comparison["ci95"]
    a, b, d = comparison["a"], comparison["b"], comparison["difference"]
    if low <= 0 <= high:
        return (f"{a} vs {b}: {d:+.3f} F1, 95% CI [{low:+.3f}, {high:+.3f}] crosses 0: not distinguishable "
                f"at this test size ({comparison['units']:,} rows)")
    better = a if d > 0 else b
    return (f"{a} vs {b}: {d:+.3f} F1, 95% CI [{low:+.3f}, {high:+.3f}], p = {comparison['p_value']:.3g}: "
            f"{better} is better")


FRONTIER_COLUMNS = ("method", "kind", "trainable_params", "log10_trainable_params", "train_seconds",
                    "f1", "f1_low", "f1_high")


def frontier_row(method: str, kind: str, metrics: dict) -> dict:
    """One method on the frontier: F1 and its interval against what it trained and how long."""
    low, high = metrics["test_f1_ci95"]
    trainable = metrics["trainable_params"]
    seconds = metrics.get("train_runtime_s", metrics.get("train_seconds"))
    return dict(zip(FRONTIER_COLUMNS, (method, kind, trainable, round(float(np.log10(trainable)), 4),
                                       round(seconds, 1), metrics["test_f1"], low, high)))


def run_kind(metrics: dict) -> str:
    """full | head_only | frozen | lora, from what a fine-tune run trained."""
    if metrics.get("lora_rank"):
        return "lora"
    if metrics["trainable_params"] == metrics["total_params"]:
        return "full"
    return "head_only" if metrics.get("head_only") else "frozen"


def nearest_in_size(rows: dict[str, dict], trainable_params: int) -> str:
    """The name of the row (of `rows`, name -> frontier row) nearest `trainable_params` on the figure's
    log scale: LoRA is set against freezing at a similar size."""
    return min(rows, key=lambda name: abs(np.log10(rows[name]["trainable_params"]) - np.log10(trainable_params)))
