"""The one training skeleton every Trainer stage runs (fine-tune, sweep points, mlm-pretrain, ner):
read the splits → seed → load the model → subset and tokenize → train (resumable) → evaluate →
save, with a model card. A Task supplies only what differs: the model, tokenization, collator, loss,
scoring, and where it has one, a way to run frozen first layers once instead of every step."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from stages.lib.reporting import cards
from stages.lib.runtime import precision
from stages.lib.scoring import headline, seeds
from stages.lib.training.checkpoints import Checkpoints, for_stage
from stages.lib.training.points import Point, each_point
from stages.lib.data.prepared import EVAL_ROWS_SEED, read_split, subset, with_row_ids
from stages.lib.runtime.distributed import world_size
from stages.lib.training.memory import PeakMemory
from stages.lib.runtime.outputs import save_model, write_json, write_jsonl
from stages.lib.config.paths import RunOutputs


@dataclass
class Result:
    """What a task's evaluate() returns, and with every metric of the run, what a run returns."""
    metrics: dict  # <split>_<metric>
    predictions: dict[str, list[dict]] = field(default_factory=dict)  # split -> per unit: {"row", "gold", "pred", ...}
    extras: dict[str, dict] = field(default_factory=dict)  # a RunOutputs.extra name -> the JSON written there


class Task:
    """The pieces of one task. Subclasses: SentimentTask, NerTask, MlmTask."""
    about: cards.About    # what the model card says of the task
    eval_splits: tuple[str, ...] = ("test",)
    keep_columns = False  # pass dataset columns the model doesn't take on to the collator
    loss_fn = None        # (model, inputs) -> loss; None: the model's own loss

    def load(self, model_name: str):
        """(tokenizer, model), the model ready to train (head added, layers frozen)."""
        raise NotImplementedError

    def tokenize(self, ds, tokenizer):
        raise NotImplementedError

    def collator(self, tokenizer):
        """None: pad the inputs (the Trainer's default)."""
        return None

    def frozen_once(self, model, train, pad, hp):
        """None: every layer runs every step. Else (train with the frozen layers' outputs, its collator,
        a context in which the model takes those outputs, the seconds their one pass took); `pad`: the
        collator otherwise used."""
        return None

    def before_training(self, model, tokenizer, evals: dict) -> dict:
        """Metrics of the untrained model, where the task reports a before/after."""
        return {}

    def evaluate(self, trainer, evals: dict) -> Result:
        """Scores on `evals` ({split: (rows, tokenized rows)}) named <split>_<metric>, with the per-unit
        predictions and any extra outputs; rows["row"] is each row's index in the prepared split."""
        raise NotImplementedError

    def describe(self, model) -> dict:
        """Metrics about the model itself (parameter counts, head)."""
        return {}

    def headline(self, metrics: dict, where: Path) -> dict:
        """The run's headline (stages.lib.scoring.headline) from its metrics; `where`: the record, for errors."""
        return headline.scores(metrics)

    def trains(self, metrics: dict) -> str:
        """What training updates, in words (the model card); `metrics`: the run's."""
        return "every parameter"

    def export(self, model):
        """The model as saved (e.g. LoRA adapters merged into the weights)."""
        return model


def run(params: dict, name: str, task: Task, model_name: str, hps: list, data_dir: Path, outputs: RunOutputs,
        bootstrap=None, **fingerprint) -> Result:
    """A stage's training run, once per seed (`hps`: a schema.Training per seed) through
    stages.lib.training.points, each resumable from its checkpoints (data/checkpoints/<name>[/seed<S>]/);
    the first seed's model, curves and extra outputs written as it finishes; then the metrics (the seeds
    combined by stages.lib.scoring.seeds with `bootstrap`), every seed's test predictions and the
    model's card. `fingerprint`: settings beyond the hyperparameters that make another run (e.g. the
    freezing). Returns the combined metrics, every seed's test predictions and the first seed's extra
    outputs."""
    by_seed, first, extras = {hp.seed: hp for hp in hps}, hps[0].seed, {}

    def train(point: Point) -> dict:
        hp = by_seed[point.key]
        result = train_and_evaluate(task, model_name, hp, data_dir, outputs if hp.seed == first else None,
                                    point.checkpoints)
        if hp.seed == first:
            extras.update(result.extras)
            for extra, value in result.extras.items():
                write_json(outputs.extra[extra], value)
        return {"metrics": result.metrics, "predictions": result.predictions}

    points = [Point(hp.seed, f"seed {hp.seed}", for_stage(params, name if len(hps) == 1 else f"{name}/seed{hp.seed}",
                                                          data_dir, model_name, hp=hp, **fingerprint),
                    keep=hp.seed != first)  # the first seed writes the model: it reruns with the stage
              for hp in hps]
    with each_point(name, points, train) as done:
        runs = {seed: (result["metrics"], result["predictions"]) for seed, result in done.items()}
        metrics = seeds.combine(runs, bootstrap)
        if outputs.model is not None:
            settings = {**hps[0].model_dump(exclude={"seed"}), "seeds": list(by_seed)}
            cards.write(outputs.model, cards.Run(name, task.about, model_name, settings, task.trains(metrics), metrics),
                        params)
        write_json(outputs.metrics, metrics)
        if outputs.headline is not None:
            write_json(outputs.headline, task.headline(metrics, outputs.metrics))
        predictions = {}
        if outputs.predictions is not None:
            predictions["test"] = seeds.tagged({seed: per_seed["test"] for seed, (_, per_seed) in runs.items()})
            write_jsonl(outputs.predictions, predictions["test"])
    return Result(metrics, predictions, extras)


def tokenized_splits(task: Task, tokenizer, hp, data_dir: Path) -> tuple:
    """(the training rows tokenized, {split: (rows, tokenized rows)} of the task's eval splits): seeded
    subsets of `hp.max_train_samples` and `hp.max_eval_samples` rows, each row carrying its index."""
    splits = {split: with_row_ids(read_split(data_dir, split)) for split in ("train", *task.eval_splits)}
    train = task.tokenize(subset(splits["train"], hp.max_train_samples, hp.seed), tokenizer)
    evals = {}
    for split in task.eval_splits:
        rows = subset(splits[split], hp.max_eval_samples, EVAL_ROWS_SEED)
        evals[split] = (rows, task.tokenize(rows, tokenizer))
    return train, evals


def train_and_evaluate(task: Task, model_name: str, hp, data_dir: Path, outputs: RunOutputs | None = None,
                       checkpoints: Checkpoints | None = None, on_trainer: Callable | None = None) -> Result:
    """Train `model_name` on `task` with the settings `hp` (a schema.Training) on the prepared
    splits in `data_dir`; return its result. The model and curves go to `outputs` when given;
    `checkpoints` lets a killed run resume; `on_trainer(trainer)` runs before training (a benchmark
    adds its callbacks there)."""
    from transformers import DataCollatorWithPadding, set_seed

    from stages.lib.skeleton.curves import write_curves
    from stages.lib.training.trainer import fit, make_trainer, trainer_dir

    set_seed(hp.seed)  # the new head's initialisation
    tokenizer, model = task.load(model_name)
    train, evals = tokenized_splits(task, tokenizer, hp, data_dir)
    before = task.before_training(model, tokenizer, evals)

    collator, keep_columns, standing_in, encode_s = task.collator(tokenizer), task.keep_columns, None, 0.0
    with trainer_dir(checkpoints) as out:
        with PeakMemory() as memory:
            ready = task.frozen_once(model, train, collator or DataCollatorWithPadding(tokenizer), hp) \
                if world_size() == 1 else None
            if ready is not None:
                train, collator, standing_in, encode_s = ready
                keep_columns = True  # the Trainer would drop the frozen layers' outputs
            trainer = make_trainer(model, tokenizer, train, hp, out, collator, task.loss_fn,
                                   keep_columns, checkpoints.every_steps if checkpoints else None)
            if on_trainer is not None:
                on_trainer(trainer)
            with standing_in or contextlib.nullcontext():
                trained = fit(trainer, checkpoints.last() if checkpoints else None)
        evaluation = task.evaluate(trainer, evals)
    seconds = trained.metrics["train_runtime"]
    metrics = {
        **before, **evaluation.metrics,
        "train_loss": trained.training_loss,
        # both with the frozen layers' one pass, where they ran once (cached_features_s of the total)
        "train_runtime_s": seconds + encode_s,
        **({"cached_features_s": encode_s} if standing_in else {}),
        "train_samples_per_second": trained.metrics["train_samples_per_second"] * seconds / (seconds + encode_s),
        "train_samples": len(train),
        "train_peak_memory_mb": memory.peak_mb,
        **precision.as_metrics(hp.precision),
        **task.describe(model),  # before export(), which may fold LoRA adapters away
    }
    if outputs is not None and outputs.live is not None:
        write_curves(trainer.state.log_history, outputs.live)
    if outputs is not None and outputs.model is not None:
        save_model(tokenizer, task.export(model), outputs.model)
    return Result(metrics, evaluation.predictions, evaluation.extras)
