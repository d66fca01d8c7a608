"""A run repeated over seeds, as one set of metrics: each score's mean over the seeds, the per-seed
values and their standard deviation, and a 95 % bootstrap interval that pools the seeds (the same
test rows resampled for every seed; stages.lib.scoring.stats)."""
from __future__ import annotations

import statistics

import numpy as np

from stages.lib.scoring import stats


def combine(runs: dict[int, tuple[dict, dict[str, list[dict]]]], bootstrap) -> dict:
    """One metrics dict for `runs` (seed -> (metrics, {split: predictions})). A single seed's metrics
    are returned as they are. With more, each score that has an interval (`<score>_ci95`) becomes its
    mean over the seeds, with `<score>_seeds` (the values in seed order) and `<score>_sd` (sample
    standard deviation), and its interval is recomputed over all the seeds' predictions of that split;
    any other number that differs between seeds (times, losses) becomes its mean. `bootstrap`: a schema.Bootstrap."""
    seeds = list(runs)
    if len(seeds) == 1:
        return runs[seeds[0]][0]
    first = runs[seeds[0]][0]
    combined: dict = {"seeds": seeds}
    for key, value in first.items():
        values = [runs[seed][0][key] for seed in seeds]
        if key.endswith("_ci95"):
            continue  # recomputed below
        if f"{key}_ci95" in first:  # a score
            combined.update({key: statistics.fmean(values), f"{key}_seeds": values,
                             f"{key}_sd": statistics.stdev(values)})
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or len(set(values)) == 1:
            combined[key] = value  # the same for every seed (counts, flags) or not a number
        else:
            combined[key] = statistics.fmean(values)
    for split in runs[seeds[0]][1]:
        per_seed = [stats.units_of(runs[seed][1][split]) for seed in seeds]
        for name, (statistic, _) in per_seed[0].items():
            if f"{split}_{name}_ci95" in first:
                units = np.stack([scores[name][1] for scores in per_seed])
                combined[f"{split}_{name}_ci95"] = stats.ci95(units, statistic, bootstrap.resamples, bootstrap.seed)
    return combined


def tagged(predictions: dict[int, list[dict]]) -> list[dict]:
    """Every seed's predictions in one list, each line tagged with its seed (the predictions file)."""
    return [{"seed": seed, **line} for seed, lines in predictions.items() for line in lines]


def describe(metrics: dict, score: str) -> str:
    """`score` as logs and the report print it: "0.822 [0.795, 0.845]", plus "(mean of 3 seeds, sd 0.004)"
    when several seeds were run."""
    text = f"{metrics[score]:.3f}"
    if f"{score}_ci95" in metrics:
        low, high = metrics[f"{score}_ci95"]
        text += f" [{low:.3f}, {high:.3f}]"
    if f"{score}_sd" in metrics:
        text += f" (mean of {len(metrics['seeds'])} seeds, sd {metrics[f'{score}_sd']:.3f})"
    return text
