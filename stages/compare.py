"""Stage `compare`: how sure the differences are, and what each method costs.

    python -m stages.compare

Reads the test predictions under data/predictions/ and the runs' metrics. Writes
metrics/comparisons.json: the `compare.baseline` run against each run in `compare.against`, each
freeze-sweep point against the sweep's all-trainable point (fewest frozen blocks, same seed), and each
LoRA run against the sweep point nearest to it in trainable parameters (first seed), each with the
F1 difference, its 95 % paired bootstrap interval and a paired permutation test's p-value;
and metrics/frontier.csv: test F1 with its interval against trainable parameters and training
seconds for every fine-tune run, sweep point and SetFit (the frontier figure's data).
"""
from __future__ import annotations

import json

from stages.lib.config import paths
from stages.lib.config import settings
from stages.lib.scoring.compare import FRONTIER_COLUMNS, frontier_row, nearest_in_size, paired, reading, run_kind
from stages.lib.config.params import load_params, stage_main
from stages.lib.runtime.outputs import write_json, write_text
from stages.lib.scoring.sweep import to_csv


def read_metrics(name: str) -> dict:
    return json.loads((paths.METRICS / f"{name}.json").read_text())


@stage_main
def main() -> None:
    params = load_params()
    plan, bootstrap = settings.compare(params), settings.bootstrap(params)
    blocks, seeds = settings.sweep_grid(params)
    comparisons = {f"{plan.baseline} vs {other}": paired(plan.baseline, other, bootstrap) for other in plan.against}
    base = min(blocks)
    point = "freeze_sweep/blocks{}_seed{}".format
    comparisons.update({f"{point(k, s)} vs {point(base, s)}": paired(point(k, s), point(base, s), bootstrap)
                        for s in seeds for k in blocks if k != base})

    runs = {run: read_metrics(run) for run in (plan.baseline, *plan.against) if run.startswith("fine_tune/")}
    rows = [frontier_row(run, run_kind(m), m) for run, m in runs.items()]
    sweep_rows = {point(k, s): frontier_row(f"{k} frozen (seed {s})", "sweep",
                                            json.loads(paths.sweep_point(k, s).read_text()))
                  for s in seeds for k in blocks}
    rows += sweep_rows.values()
    first_seed = {name: row for name, row in sweep_rows.items() if name.endswith(f"_seed{seeds[0]}")}
    for lora in (r for r in rows if r["kind"] == "lora"):  # at equal trainable parameters
        nearest = nearest_in_size(first_seed, lora["trainable_params"])
        comparisons[f"{lora['method']} vs {nearest}"] = paired(lora["method"], nearest, bootstrap)
    for comparison in comparisons.values():
        print(f"compare: {reading(comparison)}")
    if "setfit" in (plan.baseline, *plan.against):
        rows.append(frontier_row("setfit", "setfit", read_metrics("setfit")))
    write_text(paths.FRONTIER, to_csv(rows, FRONTIER_COLUMNS))
    write_json(paths.COMPARISONS, comparisons)


if __name__ == "__main__":
    main()
