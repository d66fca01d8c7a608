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
from stages.lib.skeleton.loop import train_and_evaluate
from stages.lib.training.points import Point, each_point


@stage_main
def main() -> None:
    params = load_params()
    model, plan = settings.sweep(params)
    bootstrap, dataset = settings.bootstrap(params), prepared.dataset_info("classification")
    frozen_states = Kept()  # the frozen blocks' output: each point continues from the last point's

    setup = {(k, seed): (FreezeSpec(freeze_embeddings=plan.freeze_embeddings, frozen_blocks=k,
                                    frozen_layers=plan.frozen_layers), settings.sweep_point(params, plan, seed))
             for k, seed in plan.points}  # (freezing, hyperparameters) of each point

    def train(point: Point) -> dict:
        (k, seed), (spec, hp) = point.key, setup[point.key]
        # the sweep reads test scores only: no time spent on the validation split
        print(f"freeze-sweep: {model}, {spec}, seed {seed}")
        task = SentimentTask(spec, bootstrap, dataset, ("test",), "sweep", frozen_states)
        result = train_and_evaluate(task, model, hp, paths.PREPARED_CLASSIFICATION, checkpoints=point.checkpoints)
        print(f"freeze-sweep: {k} frozen, seed {seed}: test F1 {result.metrics['test_f1']:.3f}")
        return {"metrics": result.metrics, "predictions": tagged({seed: result.predictions["test"]})}

    points = [Point((k, seed), f"{k} frozen, seed {seed}",
                    for_stage(params, f"freeze-sweep/blocks{k}_seed{seed}", paths.PREPARED_CLASSIFICATION, model,
                              spec=spec, hp=hp))
              for (k, seed), (spec, hp) in setup.items()]
    with each_point("freeze-sweep", points, train) as results:
        with atomic_dir(paths.SWEEP_PREDICTIONS) as out:  # first: the points' metrics are what DVC checks
            for (k, seed), result in results.items():
                write_jsonl(paths.sweep_point(k, seed, out, ".jsonl"), result["predictions"])
        with atomic_dir(paths.SWEEP_POINTS) as out:
            for (k, seed), result in results.items():
                write_json(paths.sweep_point(k, seed, out), result["metrics"])


if __name__ == "__main__":
    main()
