"""Stage `freeze-sweep-summary`: the sweep's points as metrics/freeze_sweep.csv (a DVC plot) and
metrics/freeze_sweep.json (mean F1 per trainable-block count and where performance stabilises)."""
from __future__ import annotations

from stages.lib.config import paths
from stages.lib.config import settings
from stages.lib.scoring import headline, sweep
from stages.lib.config.params import load_params, stage_main
from stages.lib.runtime.outputs import write_json, write_text


@stage_main
def main() -> None:
    params = load_params()
    rows = sweep.collect(paths.SWEEP_POINTS, *settings.sweep_grid(params))
    write_text(paths.SWEEP_CSV, sweep.to_csv(rows))
    result = sweep.summary(rows, settings.stable_tolerance(params))
    write_json(paths.SWEEP_SUMMARY, result)
    write_json(paths.SWEEP_HEADLINE, headline.sweep(result))
    print(f"freeze-sweep-summary: {len(rows)} points; stable from "
          f"{result['stable_trainable_blocks']} trainable blocks")


if __name__ == "__main__":
    main()
