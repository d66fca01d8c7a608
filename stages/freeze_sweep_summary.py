"""Stage `freeze-sweep-summary`: the sweep's points as metrics/freeze_sweep.csv (a DVC plot) and
metrics/freeze_sweep.json (mean F1 per trainable-block count and where performance stabilises)."""
from __future__ import annotations

from pathlib import Path

from stages.lib import sweep
from stages.lib.config import (PipelineError, is_positive_number, load_params, require, select_profile,
                               stage_main)
from stages.lib.outputs import write_json, write_text


@stage_main
def main() -> None:
    params = load_params()
    plan = sweep.plan(*select_profile(params))
    tolerance = require(params.get("sweep") or {}, "stable_tolerance", "sweep", is_positive_number,
                        "a positive F1 difference")
    try:
        rows = sweep.collect(sweep.POINTS, plan.frozen_blocks, plan.seeds)
    except FileNotFoundError as e:
        raise PipelineError(str(e)) from None
    write_text(Path("metrics/freeze_sweep.csv"), sweep.to_csv(rows))
    result = sweep.summary(rows, tolerance)
    write_json(Path("metrics/freeze_sweep.json"), result)
    print(f"freeze-sweep-summary: {len(rows)} points; stable from "
          f"{result['stable_trainable_blocks']} trainable blocks")


if __name__ == "__main__":
    main()
