"""One trial: a run of `runs` with a trial's overrides, trained on the training split and scored on
the validation split only (the test split is never read), with its validation F1 after every epoch
handed to `report`, which may stop it there (Optuna's pruning)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from stages.lib.config import paths, settings
from stages.lib.data import prepared
from stages.lib.models import cached
from stages.lib.scoring.metrics import classification_metrics
from stages.lib.skeleton.loop import train_and_evaluate
from stages.lib.tasks.sentiment import SentimentTask
from stages.lib.tuning import space


@dataclass
class Outcome:
    scores: dict                     # <split>_<metric>, with intervals (the task's scores)
    predictions: list[dict]          # per row of the split scored
    by_epoch: list[float] = field(default_factory=list)  # validation F1 after each epoch
    pruned: bool = False
    seconds: float = 0.0


class EpochScores:
    """A Trainer callback's worth: the validation F1 after each epoch, handed to `report(epoch, f1)`,
    which returns True to stop the run there."""

    def __init__(self, task: SentimentTask, hp, report: Callable[[int, float], bool], kept: cached.Kept | None):
        self.task, self.hp, self.report, self.kept = task, hp, report, kept
        self.by_epoch: list[float] = []
        self.pruned = False

    def attach(self, trainer) -> None:
        from transformers import DataCollatorWithPadding, TrainerCallback

        rows = prepared.subset(prepared.with_row_ids(prepared.read_split(paths.PREPARED_CLASSIFICATION, "validation")),
                               self.hp.max_eval_samples, prepared.EVAL_ROWS_SEED)
        data = self.task.tokenize(rows, trainer.processing_class)
        if isinstance(trainer.train_dataset, cached.Features):
            # training runs on the frozen layers' kept outputs; during it, so must the validation rows
            # (the model is still whole here: on_trainer runs before the frozen layers are stood in for)
            ready = cached.prepare(trainer.model, data, DataCollatorWithPadding(trainer.processing_class),
                                   max(64, self.hp.batch_size), self.hp.precision, self.kept)
            data = ready[0] if ready is not None else data
        scores = self

        class Callback(TrainerCallback):
            def on_epoch_end(self, args, state, control, **kwargs):
                out = trainer.predict(data)
                f1 = classification_metrics(out.label_ids.tolist(), out.predictions.argmax(-1).tolist(),
                                            scores.task.labels)["f1"]
                scores.by_epoch.append(f1)
                print(f"epoch {len(scores.by_epoch)}: validation F1 {f1:.4f}")
                if scores.report(len(scores.by_epoch), f1):
                    scores.pruned = control.should_training_stop = True

        trainer.add_callback(Callback())


@dataclass
class Kept:
    """The frozen layers' outputs of the training and validation rows, kept by a worker from one trial
    to the next: trials of a strategy freeze the same pretrained layers, so these never change, and
    computing them is most of a head-only trial."""
    train: cached.Kept = field(default_factory=cached.Kept)
    validation: cached.Kept = field(default_factory=cached.Kept)


def run(params: dict, run_name: str, overrides: dict, report: Callable[[int, float], bool] | None = None,
        split: str = "validation", kept: Kept | None = None) -> Outcome:
    """Train run `run_name` of params.yaml with `overrides` of its keys (stages.lib.tuning.space.apply),
    the first seed of its recipe, and score it on `split`: the validation split during a search, with
    the F1 after each epoch reported; the test split once, for the recipe a search chose. `kept`: the
    frozen layers' outputs from an earlier trial of this process."""
    params = space.apply(params, run_name, overrides)
    model, spec, hps = settings.fine_tune_run(params, run_name)
    hp = hps[0]
    task = SentimentTask(spec, settings.bootstrap(params), prepared.dataset_info("classification"),
                         eval_splits=(split,), where=settings.run_path(params, run_name),
                         kept=kept.train if kept else None)
    scores = EpochScores(task, hp, report, kept.validation if kept else None)
    start = time.perf_counter()
    result = train_and_evaluate(task, model, hp, paths.PREPARED_CLASSIFICATION,
                                on_trainer=scores.attach if report is not None else None)
    return Outcome(result.metrics, result.predictions[split], scores.by_epoch, scores.pruned, time.perf_counter() - start)
