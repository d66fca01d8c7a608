"""Fine-tuning a sequence classifier with the Hugging Face Trainer (the book's code path, plus
mixed precision and length-grouped batches where params ask for them)."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator

import torch

from stages.lib import precision
from stages.lib.config import (PipelineError, is_optional_positive_int, is_positive_int,
                               is_positive_number, require)

HPARAM_KEYS = ("learning_rate", "batch_size", "epochs", "weight_decay", "seed", "precision",
               "group_by_length", "max_train_samples", "max_eval_samples", "logging_steps")


def require_precision(section: dict, where: str) -> str:
    """`precision` of a params section, resolved for this machine to fp32, bf16 or fp16."""
    value = require(section, "precision", where, lambda v: v in precision.PRECISIONS,
                    " | ".join(precision.PRECISIONS))
    if value == "fp16" and precision.accelerator() == "cpu":
        raise PipelineError(f"params.yaml: {where}.precision = fp16 needs a GPU (fp16 with loss scaling); "
                            "accepted on this machine: auto | fp32 | bf16")
    return precision.resolve(value)


def validate_hparams(hp: dict, where: str) -> dict:
    """Check every training knob; returns hp with precision resolved to fp32, bf16 or fp16."""
    unknown = set(hp) - set(HPARAM_KEYS)
    if unknown:
        raise PipelineError(f"params.yaml: {where}: unknown key(s) {', '.join(sorted(unknown))}; "
                            f"accepted: {', '.join(HPARAM_KEYS)}")
    require(hp, "learning_rate", where, is_positive_number, "a positive number, e.g. 2.0e-5")
    require(hp, "batch_size", where, is_positive_int, "a positive integer")
    require(hp, "epochs", where, is_positive_number, "a positive number")
    require(hp, "weight_decay", where, lambda v: is_positive_number(v) or v == 0, "a number >= 0")
    require(hp, "seed", where, lambda v: isinstance(v, int), "an integer")
    require(hp, "group_by_length", where, lambda v: isinstance(v, bool), "true | false")
    for key in ("max_train_samples", "max_eval_samples"):
        require(hp, key, where, is_optional_positive_int, "null (all rows) or a positive integer")
    require(hp, "logging_steps", where, is_positive_int, "a positive integer")
    return {**hp, "precision": require_precision(hp, where)}


def subset(ds, n: int | None, seed: int):
    """A seeded random subset (the splits are sorted by label, so the head is one class)."""
    return ds if n is None or n >= len(ds) else ds.shuffle(seed=seed).select(range(n))


def tokenize(ds, tokenizer):
    return ds.map(lambda batch: tokenizer(batch["text"], truncation=True), batched=True,
                  remove_columns=["text"], desc="tokenize")


def world_size() -> int:
    """Processes training together (torchrun / accelerate launch set WORLD_SIZE); 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Only the first process writes outputs when several train together (DDP)."""
    return int(os.environ.get("RANK", "0")) == 0


def per_process_batch(batch_size: int) -> int:
    """`batch_size` in params is the global batch: under DDP each process takes its share, so
    one process and N processes take the same optimizer steps."""
    n = world_size()
    if batch_size % n:
        raise PipelineError(f"batch_size = {batch_size} does not split over {n} processes; "
                            f"accepted: a multiple of the process count")
    return batch_size // n


def make_trainer(model, tokenizer, train_ds, hp: dict, output_dir: Path, collator=None,
                 checkpoints=None, keep_columns: bool = False, loss_fn=None):
    """The Trainer for `hp`. `collator` defaults to padding inputs only (sentence labels);
    `checkpoints` (a Checkpoints) saves every `every_steps` into output_dir so a killed run can
    resume; `keep_columns` passes dataset columns the model doesn't take on to the collator;
    `loss_fn(model, inputs)` replaces the model's own training loss."""
    from transformers import DataCollatorWithPadding, TrainingArguments

    saving = (dict(save_strategy="steps", save_steps=checkpoints.every_steps, save_total_limit=1)
              if checkpoints is not None else dict(save_strategy="no"))
    args = TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=hp["learning_rate"],
        per_device_train_batch_size=per_process_batch(hp["batch_size"]),
        per_device_eval_batch_size=max(64, hp["batch_size"]),
        num_train_epochs=hp["epochs"],
        weight_decay=hp["weight_decay"],
        seed=hp["seed"],
        data_seed=hp["seed"],
        bf16=hp["precision"] == "bf16",
        fp16=hp["precision"] == "fp16",  # loss scaling comes with it
        # only a machine without an accelerator is told so (bf16 on a CPU needs it); MPS/XPU stay
        use_cpu=precision.accelerator() == "cpu",
        train_sampling_strategy="group_by_length" if hp["group_by_length"] else "random",
        logging_steps=hp["logging_steps"],
        remove_unused_columns=not keep_columns,
        # BERT heads average their loss per process, and DDP averages the gradients; the default
        # would also multiply each process's loss by the process count (a 2x loss and gradient).
        average_tokens_across_devices=False,
        report_to="none",  # curves go to DVCLive after training (write_curves); nothing phones home
        disable_tqdm=False,
        **saving,
    )
    trainer = _project_trainer()(model=model, args=args, train_dataset=train_ds, processing_class=tokenizer,
                                 data_collator=collator or DataCollatorWithPadding(tokenizer))
    trainer.loss_fn = loss_fn
    return trainer


RUN_TOTALS = "run_totals.json"  # in each checkpoint: loss sum, steps and seconds of the run so far


def _project_trainer():
    from torch.utils.data import SequentialSampler
    from transformers import Trainer

    class ProjectTrainer(Trainer):
        """Evaluates in dataset order: under group_by_length, transformers 5 length-groups the
        evaluation batches too, which pairs rows with other rows' predictions in word-level scoring.
        Trains on `loss_fn(model, inputs)` when one is set. Each checkpoint carries the run's totals
        so far (RUN_TOTALS): the Trainer's own train_loss and runtime cover only the steps after a resume."""
        loss_fn = None
        totals_before = {"loss_sum": 0.0, "steps": 0, "seconds": 0.0}  # of the run up to the resume
        call_start = 0.0

        def _get_eval_sampler(self, eval_dataset):
            return SequentialSampler(eval_dataset)

        def _save_checkpoint(self, model, trial):
            if self.args.should_save:  # written first: trainer_state.json, written last, marks it complete
                folder = Path(self._get_output_dir(trial)) / f"checkpoint-{self.state.global_step}"
                folder.mkdir(parents=True, exist_ok=True)
                before = self.totals_before
                (folder / RUN_TOTALS).write_text(json.dumps({
                    "loss_sum": before["loss_sum"] + self._total_loss_scalar + self._tr_loss.item(),
                    "steps": self.state.global_step,
                    "seconds": before["seconds"] + time.perf_counter() - self.call_start}))
            super()._save_checkpoint(model, trial)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.loss_fn is None or return_outputs:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            return self.loss_fn(model, inputs)

    return ProjectTrainer


def fit(trainer, checkpoints=None, live_dir: Path | None = None):
    """trainer.train(), resumed from the run's last complete checkpoint when a killed run left one.
    Returns the Trainer's TrainOutput with train_loss, runtime and samples/s of the whole run,
    resumed or not, and writes the run's training curves to `live_dir` (DVCLive) when given."""
    from transformers.trainer_utils import TrainOutput

    last = checkpoints.last() if checkpoints is not None else None
    if last:
        print(f"resuming from {last}: an earlier run with the same settings was interrupted")
        trainer.totals_before = json.loads((Path(last) / RUN_TOTALS).read_text())
    trainer.call_start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    before, steps = trainer.totals_before, result.global_step
    steps_now = steps - before["steps"]
    seconds = before["seconds"] + result.metrics["train_runtime"]
    samples = result.metrics["train_samples_per_second"] * result.metrics["train_runtime"] * steps / max(steps_now, 1)
    loss = (before["loss_sum"] + result.training_loss * steps_now) / max(steps, 1)
    write_curves(trainer.state.log_history, live_dir)
    return TrainOutput(steps, loss, {**result.metrics, "train_loss": loss, "train_runtime": seconds,
                                     "train_samples_per_second": samples / seconds})


def predict_labels(trainer, ds) -> tuple[list[int], list[int]]:
    out = trainer.predict(ds)
    return out.label_ids.tolist(), out.predictions.argmax(-1).tolist()


def save_model(tokenizer, model, folder: Path) -> None:
    """Save both atomically, tokenizer first: never a model folder without its tokenizer."""
    from stages.lib.outputs import atomic_dir

    with atomic_dir(folder) as out:
        tokenizer.save_pretrained(out)
        model.save_pretrained(out)  # safetensors; no pickled training_args.bin


def write_curves(log_history: list[dict], live_dir: Path | None) -> None:
    """The run's logged metrics as DVCLive curves in `live_dir`, one step per log entry, as the
    Trainer's DVCLiveCallback writes them. From the Trainer's log history, so a resumed run's curve
    covers the steps before the resume too; no params file (the Trainer's arguments hold
    machine-specific paths). No DVC experiment is saved from inside a stage: `dvc exp run` does that."""
    if live_dir is None or not is_main_process():
        return
    from dvclive import Live
    from dvclive.utils import standardize_metric_name

    with Live(dir=str(live_dir), save_dvc_exp=False, dvcyaml=None) as live:
        for entry in log_history:
            for key, value in entry.items():
                if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    live.log_metric(standardize_metric_name(key, "dvclive.huggingface"), value)
            live.next_step()


@contextlib.contextmanager
def trainer_dir(checkpoints=None) -> Iterator[Path]:
    """The Trainer's output_dir: the run's checkpoint folder, or a temporary one when nothing is kept."""
    if checkpoints is not None:
        checkpoints.folder.mkdir(parents=True, exist_ok=True)
        yield checkpoints.folder
    else:
        with tempfile.TemporaryDirectory(prefix="trainer-") as tmp:
            yield Path(tmp)


def train_and_evaluate(model_name: str, spec, hp: dict, data_dir: Path, model_out: Path | None = None,
                       live_dir: Path | None = None, checkpoints=None,
                       eval_splits: tuple[str, ...] = ("validation", "test")) -> dict:
    """Fine-tune `model_name` on the prepared sentiment splits; return its metrics on `eval_splits`.
    The model is saved to `model_out` and the training curves logged with DVCLive to `live_dir` when
    given; `checkpoints` lets a killed run resume."""
    from transformers import set_seed

    from stages.lib.data import SENTIMENT_LABELS, read_split
    from stages.lib.freezing import apply_freezing, count_parameters, encoder_blocks
    from stages.lib.metrics import classification_metrics
    from stages.lib.models import load_sequence_classifier

    seed = hp["seed"]
    splits = {split: read_split(data_dir, split) for split in ("train", *eval_splits)}  # before the model
    set_seed(seed)  # the new head's initialisation
    tokenizer, model = load_sequence_classifier(model_name, SENTIMENT_LABELS)
    apply_freezing(model, spec)
    train = tokenize(subset(splits["train"], hp["max_train_samples"], seed), tokenizer)
    evals = {split: tokenize(subset(splits[split], hp["max_eval_samples"], seed), tokenizer)
             for split in eval_splits}

    with trainer_dir(checkpoints) as out:
        trainer = make_trainer(model, tokenizer, train, hp, out, checkpoints=checkpoints)
        result = fit(trainer, checkpoints, live_dir)
        scores = {split: classification_metrics(*predict_labels(trainer, ds)) for split, ds in evals.items()}
    if model_out is not None and is_main_process():
        save_model(tokenizer, model, model_out)

    return {
        **{f"{split}_{name}": value for split, s in scores.items() for name, value in s.items()},
        "train_loss": result.training_loss,
        "train_runtime_s": result.metrics["train_runtime"],
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "train_samples": len(train),
        **precision.as_metrics(hp["precision"]),
        "total_blocks": len(encoder_blocks(model)),
        **count_parameters(model),
    }
