"""The freeze sweep's points: collected, summarised, and drawn as the book's figure."""
from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

from stages.lib.config import PipelineError
from stages.lib.paths import sweep_point

COLUMNS = ("frozen_blocks", "trainable_blocks", "seed", "f1", "accuracy", "train_seconds")
TITLE = "Effect of Frozen Encoder Blocks on Training Performance"


def collect(folder: Path, frozen_blocks: list[int], seeds: list[int]) -> list[dict]:
    """One row per (frozen_blocks, seed) point named in params; a missing point is an error."""
    rows = []
    for k in frozen_blocks:
        for seed in seeds:
            path = sweep_point(k, seed, folder)
            if not path.is_file():
                raise PipelineError(f"{path}: sweep point missing (run `dvc repro freeze-sweep`)")
            m = json.loads(path.read_text())
            rows.append({"frozen_blocks": k, "trainable_blocks": m["total_blocks"] - k, "seed": seed,
                         "f1": m["test_f1"], "accuracy": m["test_accuracy"],
                         "train_seconds": m["train_runtime_s"]})
    return rows


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def by_trainable_blocks(rows: list[dict]) -> dict[int, dict[str, float]]:
    """F1 mean, sd, min and max over seeds, keyed by the number of trainable blocks (ascending)."""
    groups: dict[int, list[float]] = {}
    for row in rows:
        groups.setdefault(row["trainable_blocks"], []).append(row["f1"])
    return {n: {"mean": statistics.fmean(f1s), "sd": statistics.pstdev(f1s),
                "min": min(f1s), "max": max(f1s), "seeds": len(f1s)}
            for n, f1s in sorted(groups.items())}


def stable_from(stats: dict[int, dict[str, float]], tolerance: float) -> int:
    """Fewest trainable blocks from which every mean F1 stays within `tolerance` of the best."""
    best = max(s["mean"] for s in stats.values())
    stable = max(stats)
    for n in sorted(stats, reverse=True):
        if stats[n]["mean"] < best - tolerance:
            break
        stable = n
    return stable


def summary(rows: list[dict], tolerance: float) -> dict:
    stats = by_trainable_blocks(rows)
    return {
        "points": len(rows),
        "stable_trainable_blocks": stable_from(stats, tolerance),
        "best_mean_f1": max(s["mean"] for s in stats.values()),
        "f1_mean_by_trainable_blocks": {str(n): s["mean"] for n, s in stats.items()},
        "train_seconds_total": sum(r["train_seconds"] for r in rows),
    }


def plot(rows: list[dict], tolerance: float, path: Path | None = None):
    """F1 (mean and min-max band over seeds) against trainable blocks, in the book's style."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, works in stages and notebooks

    stats = by_trainable_blocks(rows)
    xs = list(stats)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.fill_between(xs, [stats[x]["min"] for x in xs], [stats[x]["max"] for x in xs], alpha=0.25,
                    label=f"min-max over {max(s['seeds'] for s in stats.values())} seed(s)")
    ax.plot(xs, [stats[x]["mean"] for x in xs], marker="o", label="mean F1")
    stable = stable_from(stats, tolerance)
    ax.axvline(stable, linestyle="--", color="gray",
               label=f"stable from {stable} trainable blocks (within {tolerance} of best)")
    ax.set_title(TITLE)
    ax.set_xlabel("Trainable encoder blocks")
    ax.set_ylabel("F1-score")
    ax.set_xticks(xs)
    ax.legend(loc="lower right")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
