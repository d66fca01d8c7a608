"""Stage `freeze-sweep`: the book's bonus experiment. For every k in the profile's
`sweep.frozen_blocks` and every seed in `sweep.seeds`, blocks 0..k-1 are frozen (and the embeddings,
with `sweep.freeze_embeddings`); later blocks, pooler and head train.

    python -m stages.freeze_sweep

Reads classifier_model, fine_tune, sweep; writes
metrics/freeze_sweep/points/blocks<K>_seed<S>.json, one per point, and its test predictions
data/predictions/freeze_sweep/blocks<K>_seed<S>.jsonl, together at the end. No model is kept: a
sweep point is a measurement. A killed sweep resumes: finished points wait beside their
checkpoints (data/checkpoints/freeze-sweep/) until the whole sweep is written.
"""
from __future__ import annotations

from stages.lib.data import prepared
from stages.lib.config import paths
from stages.lib.config import settings
from stages.lib.models.cached import Kept
from stages.lib.training.checkpoints import for_stage
from stages.lib.config.params import load_params, stage_main
from stages.lib.runtime.outputs import atomic_dir, write_json, write_jsonl
from stages.lib.scoring.seeds import tagged
from stages.lib.tasks.sentiment import SentimentTask
from stages.lib.config.schema import FreezeSpec
from stages.lib.training.loop import train_and_evaluate


@stage_main
def main() -> None:
    params = load_params()
    model, plan = settings.sweep(params)
    bootstrap, dataset = settings.bootstrap(params), prepared.dataset_info("classification")
    results, finished = {}, []
    frozen_states = Kept()  # the frozen blocks' output: each point continues from the last point's
    for i, (k, seed) in enumerate(plan.points, start=1):
        step = f"freeze-sweep [{i}/{len(plan.points)}]"
        hp = settings.sweep_point(params, plan, seed)
        spec = FreezeSpec(freeze_embeddings=plan.freeze_embeddings, frozen_blocks=k, frozen_layers=plan.frozen_layers)
        checkpoints = for_stage(params, f"freeze-sweep/blocks{k}_seed{seed}", paths.SENTIMENT, model,
                                spec=spec, hp=hp)
        kept = checkpoints.result()
        if kept is None:
            print(f"{step}: {model}, {spec}, seed {seed}")
            # the sweep reads test scores only: no time spent on the validation split
            task = SentimentTask(spec, bootstrap, dataset, ("test",), "sweep", frozen_states)
            result = train_and_evaluate(task, model, hp, paths.SENTIMENT, checkpoints=checkpoints)
            kept = {"metrics": result.metrics, "predictions": tagged({seed: result.predictions["test"]})}
            checkpoints.keep_result(kept)
        else:
            print(f"{step}: {k} frozen, seed {seed}: done in an interrupted run")
        print(f"{step}: {k} frozen, seed {seed}: test F1 {kept['metrics']['test_f1']:.3f}")
        results[k, seed] = kept
        finished.append(checkpoints)
    with atomic_dir(paths.SWEEP_PREDICTIONS) as out:  # first: the points' metrics are what DVC checks
        for (k, seed), kept in results.items():
            write_jsonl(paths.sweep_point(k, seed, out, ".jsonl"), kept["predictions"])
    with atomic_dir(paths.SWEEP_POINTS) as out:
        for (k, seed), kept in results.items():
            write_json(paths.sweep_point(k, seed, out), kept["metrics"])
    for checkpoints in finished:
        checkpoints.finish()


if __name__ == "__main__":
    main()
