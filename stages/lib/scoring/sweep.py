"""The freeze sweep's points: collected, summarised, and drawn as the book's figure."""
from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path

from stages.lib.runtime.errors import PipelineError
from stages.lib.config.paths import sweep_point

COLUMNS = ("frozen_blocks", "trainable_blocks", "total_blocks", "seed", "f1", "f1_low", "f1_high", "accuracy",
           "train_seconds")
TITLE = "Effect of Frozen Encoder Blocks on Training Performance"


def f1_axis(*values: float) -> tuple[float, float]:
    """Every F1 axis of the report: chance level for balanced binary F1 (0.5) to perfect, widened
    down (to a tenth) only to show every value drawn; never zoomed in on the data."""
    return math.floor(min(0.5, *values) * 10) / 10, 1.0


def collect(folder: Path, frozen_blocks: list[int], seeds: list[int]) -> list[dict]:
    """One row per (frozen_blocks, seed) point named in params; a missing point is an error."""
    rows = []
    for k in frozen_blocks:
        for seed in seeds:
            path = sweep_point(k, seed, folder)
            if not path.is_file():
                raise PipelineError(f"{path}: sweep point missing (run `dvc repro freeze-sweep`)")
            m = json.loads(path.read_text())
            low, high = m["test_f1_ci95"]
            rows.append({"frozen_blocks": k, "trainable_blocks": m["total_blocks"] - k,
                         "total_blocks": m["total_blocks"], "seed": seed, "f1": m["test_f1"], "f1_low": low,
                         "f1_high": high, "accuracy": m["test_accuracy"], "train_seconds": m["train_runtime_s"]})
    return rows


def to_csv(rows: list[dict], columns: tuple[str, ...] = COLUMNS) -> str:
    """The rows as CSV text (the sweep's points by default; the compare stage's frontier table too)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def by_trainable_blocks(rows: list[dict]) -> dict[int, dict[str, float]]:
    """F1 mean, sd, min and max over seeds, and the mean of the seeds' 95 % bootstrap bounds, keyed by
    the number of trainable blocks (ascending)."""
    groups: dict[int, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["trainable_blocks"], []).append(row)
    stats = {}
    for n, group in sorted(groups.items()):
        f1s = [r["f1"] for r in group]
        stats[n] = {"mean": statistics.fmean(f1s), "sd": statistics.pstdev(f1s), "min": min(f1s), "max": max(f1s),
                    "ci_low": statistics.fmean(r["f1_low"] for r in group),
                    "ci_high": statistics.fmean(r["f1_high"] for r in group), "seeds": len(f1s)}
    return stats


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


def plot(rows: list[dict], tolerance: float, path: Path | None = None, book: dict[int, float] | None = None,
         book_blocks: int = 12):
    """F1 (mean, 95 % bootstrap interval, min-max band over seeds) against the share of encoder blocks
    that train, in the book's style; with `book` ({trainable blocks: F1} of a `book_blocks`-block
    model), the book's own curve on the same axes."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, works in stages and notebooks

    stats = by_trainable_blocks(rows)
    total = rows[0]["total_blocks"]
    ns = list(stats)
    xs = [n / total for n in ns]
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    seeds = max(s["seeds"] for s in stats.values())
    if seeds > 1:
        ax.fill_between(xs, [stats[n]["min"] for n in ns], [stats[n]["max"] for n in ns], alpha=0.25,
                        label=f"min-max over {seeds} seeds")
    ax.errorbar(xs, [stats[n]["mean"] for n in ns], capsize=3, marker="o",
                yerr=[[stats[n]["mean"] - stats[n]["ci_low"] for n in ns],
                      [stats[n]["ci_high"] - stats[n]["mean"] for n in ns]],
                label=f"this run: {total} blocks, 95% bootstrap CI" + (" (mean of seeds)" if seeds > 1 else ""))
    if book:
        ax.plot([n / book_blocks for n in sorted(book)], [book[n] for n in sorted(book)], linestyle="--",
                marker="o", markerfacecolor="none", color="gray", label=f"book: bert-base-cased, {book_blocks} blocks")
    stable = stable_from(stats, tolerance)
    ax.axvline(stable / total, linestyle=":", color="gray",
               label=f"stable from {stable} of {total} trainable blocks (within {tolerance} of best)")
    ax.set_title(TITLE)
    ax.set_xlabel("Share of encoder blocks trainable (ours: blocks of this model; book: of 12)")
    ax.set_ylabel("F1-score")
    ax.set_xticks(xs, [f"{n}/{total}" for n in ns])
    ax.set_ylim(*f1_axis(*(s["ci_low"] for s in stats.values()), *(s["min"] for s in stats.values()),
                         *(book or {}).values()))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
