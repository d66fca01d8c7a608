"""What a search varies for each strategy (a run of `runs` in params.yaml), the ranges a user may
set on the command line, and a trial's overrides of the run's keys."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from stages.lib.runtime.errors import PipelineError


class UsageError(PipelineError):
    """A bad flag or value on the command line: the message names it; the command exits 2."""


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class Space:
    """Per knob: a Range, or a tuple of choices. A knob left out keeps the run's value."""
    learning_rate: Range
    epochs: Range
    weight_decay: Range | None = Range(0.0, 0.1)
    batch_size: tuple[int, ...] | None = (16, 32)
    lora_alpha: tuple[float, ...] | None = None
    lora_rank: tuple[int, ...] | None = None
    extra: dict = field(default_factory=dict)  # fixed overrides of the run's keys (a freezing depth)

    def overrides(self, trial) -> dict:
        """The run's keys a trial sets (`trial`: an optuna Trial), as dotted names."""
        out = dict(self.extra)
        for name in ("learning_rate", "epochs", "weight_decay"):
            knob = getattr(self, name)
            if knob is not None:
                out[name] = (trial.suggest_int(name, int(knob.low), int(knob.high)) if knob.integer
                             else trial.suggest_float(name, knob.low, knob.high, log=knob.log))
        if self.batch_size:
            out["batch_size"] = trial.suggest_categorical("batch_size", list(self.batch_size))
        if self.lora_rank:
            out["lora.rank"] = trial.suggest_categorical("lora.rank", list(self.lora_rank))
        if self.lora_alpha:
            out["lora.alpha"] = trial.suggest_categorical("lora.alpha", list(self.lora_alpha))
        return out


def kind(run: dict) -> str:
    """head, lora, frozen (first layers) or full: what a run of `runs` trains."""
    if run.get("head_only"):
        return "head"
    if run.get("lora"):
        return "lora"
    return "frozen" if run.get("frozen_blocks") or run.get("freeze_embeddings") else "full"


# A linear head on frozen features takes learning rates a whole network would not survive; LoRA's
# adapters start at zero and want more than full fine-tuning's 2e-5 (LoRA paper: 1e-4 to 1e-3).
DEFAULTS = {
    "full": Space(Range(1e-5, 2e-4, log=True), Range(1, 3, integer=True)),
    "frozen": Space(Range(1e-5, 5e-4, log=True), Range(1, 3, integer=True)),
    "lora": Space(Range(5e-5, 5e-3, log=True), Range(1, 3, integer=True), lora_alpha=(8, 16, 32, 64)),
    "head": Space(Range(1e-4, 1e-1, log=True), Range(1, 20, integer=True), weight_decay=None),
}


def parse_range(flag: str, text: str, integer: bool = False, log: bool = False) -> Range:
    """`low:high` from the command line; one line naming the flag on anything else."""
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        low, high = ((int(p) for p in parts) if integer else (float(p) for p in parts))
    except ValueError:
        kind_ = "integers" if integer else "numbers"
        raise UsageError(f"{flag} {text}: write low:high, two {kind_} (e.g. {'1:3' if integer else '1e-5:1e-3'})") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise UsageError(f"{flag} {text}: both ends must be finite")
    if low >= high:
        raise UsageError(f"{flag} {text}: an empty or inverted range (low must be below high; to fix "
                         "the value, set it in params.yaml instead)")
    if (log and low <= 0) or (integer and low < 1) or low < 0:
        raise UsageError(f"{flag} {text}: the low end must be {'above 0' if log else 'at least 1' if integer else '>= 0'}")
    return Range(low, high, log=log, integer=integer)


def parse_choices(flag: str, text: str, number=int) -> tuple:
    """`a,b,c` from the command line: distinct positive numbers."""
    try:
        values = tuple(number(p) for p in text.split(","))
    except ValueError:
        raise UsageError(f"{flag} {text}: write a comma-separated list of positive numbers (e.g. 16,32)") from None
    if not values or any(v <= 0 for v in values) or len(set(values)) != len(values):
        raise UsageError(f"{flag} {text}: the choices must be distinct positive numbers")
    return values


def for_run(name: str, run: dict, depth: int | None = None, **given) -> Space:
    """The space for run `name` (its dict in params.yaml): the defaults of its kind with the ranges
    `given` (Space field -> Range or choices; None: the default); `depth`: a freezing depth to search at."""
    what = kind(run)
    space = DEFAULTS[what]
    if what != "lora" and (given.get("lora_alpha") or given.get("lora_rank")):
        raise UsageError(f"--lora-alpha/--lora-rank: run {name!r} has no lora section (runs.{name} in params.yaml)")
    space = replace(space, **{k: v for k, v in given.items() if v is not None})
    if depth is not None:
        if what != "frozen":
            raise UsageError(f"--depth {depth}: run {name!r} freezes no first blocks; search a depth with a run "
                             "that does (first_blocks)")
        if depth < 0:
            raise UsageError(f"--depth {depth}: a freezing depth is a block count >= 0")
        space = replace(space, extra={**space.extra, "frozen_blocks": depth})
    return space


def apply(params: dict, run: str, overrides: dict) -> dict:
    """params with runs.<run> updated by `overrides` (dotted keys: lora.alpha)."""
    runs = dict(params.get("runs") or {})
    updated = dict(runs.get(run) or {})
    for key, value in overrides.items():
        head, _, tail = key.partition(".")
        if tail:
            updated[head] = {**(updated.get(head) or {}), tail: value}
        else:
            updated[key] = value
    runs[run] = updated
    return {**params, "runs": runs}


def recipe(params: dict, run: str, space: Space) -> dict:
    """The run's own values of the knobs `space` searches, as Optuna params: a study's first trial is
    the recipe in params.yaml, so that the search has it to beat."""
    from stages.lib.config import settings

    _, spec, hps = settings.fine_tune_run(apply(params, run, space.extra), run)
    hp = hps[0]
    values = {"learning_rate": hp.learning_rate, "epochs": hp.epochs, "weight_decay": hp.weight_decay,
              "batch_size": hp.batch_size, "lora.rank": spec.lora.rank if spec.lora else None,
              "lora.alpha": spec.lora.alpha if spec.lora else None}
    out = {}
    for name, value in values.items():
        knob = getattr(space, name.replace(".", "_"))
        if isinstance(knob, Range) and knob.low <= value <= knob.high and (not knob.integer or value == int(value)):
            out[name] = int(value) if knob.integer else value
        elif isinstance(knob, tuple) and value in knob:
            out[name] = value
    return out  # a value outside the space is left to the sampler
