"""Stage `freeze-sweep`: the book's bonus experiment. For every k in the profile's
`sweep.frozen_blocks` and every seed in `sweep.seeds`, blocks 0..k-1 are frozen (and the embeddings,
with `sweep.freeze_embeddings`); later blocks, pooler and head train.

    python -m stages.freeze_sweep

Reads profiles.<profile>.{classifier_model, fine_tune, sweep}; writes
metrics/freeze_sweep/points/blocks<K>_seed<S>.json, one per point, together at the end. No model is
kept: a sweep point is a measurement. A killed sweep resumes: finished points wait beside their
checkpoints (data/checkpoints/freeze-sweep/) until the whole sweep is written.
"""
from __future__ import annotations

from pathlib import Path

from stages.lib import sweep
from stages.lib.checkpoints import for_stage
from stages.lib.config import load_params, require_model, select_profile, stage_main
from stages.lib.freezing import FreezeSpec
from stages.lib.outputs import atomic_dir, write_json
from stages.lib.training import train_and_evaluate, validate_hparams

DATA = Path("data/prepared/rotten_tomatoes")


@stage_main
def main() -> None:
    params = load_params()
    name, profile = select_profile(params)
    where = f"profiles.{name}"
    model = require_model(profile, "classifier_model", where)
    plan = sweep.plan(name, profile)
    results, finished = {}, []
    for i, (k, seed) in enumerate(plan.points, start=1):
        hp = validate_hparams({**(profile.get("fine_tune") or {}), **plan.fine_tune, "seed": seed},
                              f"{where}.fine_tune (+ {where}.sweep.fine_tune)")
        spec = FreezeSpec(freeze_embeddings=plan.freeze_embeddings, frozen_blocks=k)
        checkpoints = for_stage(params, f"freeze-sweep/blocks{k}_seed{seed}", DATA, model, spec=spec, hp=hp)
        metrics = checkpoints.result()
        if metrics is None:
            print(f"freeze-sweep [{i}/{len(plan.points)}]: {model}, {spec}, seed {seed}")
            # the sweep reads test scores only: no time spent on the validation split
            metrics = train_and_evaluate(model, spec, hp, DATA, checkpoints=checkpoints, eval_splits=("test",))
            checkpoints.keep_result(metrics)
        else:
            print(f"freeze-sweep [{i}/{len(plan.points)}]: {k} frozen, seed {seed}: done in an interrupted run")
        print(f"freeze-sweep [{i}/{len(plan.points)}]: {k} frozen, seed {seed}: test F1 {metrics['test_f1']:.3f}")
        results[k, seed] = metrics
        finished.append(checkpoints)
    with atomic_dir(sweep.POINTS) as out:
        for (k, seed), metrics in results.items():
            write_json(sweep.point_path(out, k, seed), metrics)
    for checkpoints in finished:
        checkpoints.finish()


if __name__ == "__main__":
    main()
