"""Stage `freeze-sweep`: one point of the sweep, blocks 0..k-1 frozen (and the embeddings, with
sweep.freeze_embeddings; later blocks, pooler and head train), as the book's bonus experiment.

    python -m stages.freeze_sweep --frozen-blocks K --seed S

Reads profiles.<profile>.{classifier_model, fine_tune, sweep} and sweep.freeze_embeddings; writes
metrics/freeze_sweep/points/blocks<K>_seed<S>.json. Points are DVC matrix entries (dvc.yaml), so
each is cached on its own. No model is kept: a sweep point is a measurement.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from stages.lib.checkpoints import for_stage
from stages.lib.config import PipelineError, load_params, require_model, select_profile, stage_main
from stages.lib.freezing import FreezeSpec
from stages.lib.outputs import write_json
from stages.lib.sweep import point_path
from stages.lib.training import train_and_evaluate, validate_hparams

DATA = Path("data/prepared/rotten_tomatoes")
POINTS = Path("metrics/freeze_sweep/points")


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frozen-blocks", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    params = load_params()
    name, profile = select_profile(params)
    where = f"profiles.{name}"
    model = require_model(profile, "classifier_model", where)
    overrides = profile.get("sweep") or {}
    if not isinstance(overrides, dict):
        raise PipelineError(f"params.yaml: {where}.sweep must map fine_tune keys to values")
    hp = validate_hparams({**(profile.get("fine_tune") or {}), **overrides, "seed": args.seed},
                          f"{where}.fine_tune (+ {where}.sweep)")
    spec = FreezeSpec.from_params({"frozen_blocks": args.frozen_blocks,
                                   "freeze_embeddings": params["sweep"].get("freeze_embeddings", False)}, "sweep")
    print(f"freeze-sweep: {model}, blocks 0..{args.frozen_blocks - 1} frozen, seed {args.seed}")
    checkpoints = for_stage(params, f"freeze-sweep/blocks{args.frozen_blocks}_seed{args.seed}", DATA, model,
                            spec=spec, hp=hp)
    # the sweep reads test scores only: no time spent on the validation split
    metrics = train_and_evaluate(model, spec, hp, DATA, checkpoints=checkpoints, eval_splits=("test",))
    write_json(point_path(POINTS, args.frozen_blocks, args.seed), metrics)
    checkpoints.finish()
    print(f"freeze-sweep: {args.frozen_blocks} frozen, seed {args.seed}: test F1 {metrics['test_f1']:.3f}")


if __name__ == "__main__":
    main()
