"""The shape of params.yaml: one pydantic model per section, each field's accepted values in words
(stages.lib.config.params turns a validation failure into one line naming the param path). Stages read
them through stages.lib.config.settings."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from stages.lib.runtime import precision


def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("repeated value")
    return values


def _resolve_precision(value: str) -> str:
    if value == "fp16" and precision.accelerator() == "cpu":
        raise PydanticCustomError("rule", "= fp16 needs a GPU (fp16 with loss scaling); "
                                          "accepted on this machine: auto | fp32 | bf16")
    return precision.resolve(value)


def accepts(text: str, **constraints) -> Any:
    return Field(description=text, **constraints)


Positive = Annotated[float, accepts("a positive number, e.g. 2.0e-5", gt=0)]
PositiveInt = Annotated[int, accepts("a positive integer", gt=0)]
Rows = Annotated[PositiveInt | None, accepts("null (all rows) or a positive integer")]
Seed = Annotated[int, accepts("an integer")]
Name = Annotated[str, accepts("a non-empty name", min_length=1)]
ModelId = Annotated[str, accepts("a Hugging Face Hub id or a local folder", min_length=1)]
# `auto` is resolved on validation: the settings hold fp32, bf16 or fp16
Precision = Annotated[Literal[precision.PRECISIONS], AfterValidator(_resolve_precision)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Training(Section):
    """One training run's knobs: the fine_tune recipe with a section's overrides (runs, sweep.fine_tune,
    mlm_pretrain, ner). fine_tune holds a list `seeds` instead of `seed`: one Training per seed
    (settings.training)."""
    learning_rate: Positive
    batch_size: PositiveInt
    epochs: Annotated[float, accepts("a positive number", gt=0)]
    weight_decay: Annotated[float, accepts("a number >= 0", ge=0)]
    seed: Seed
    precision: Precision
    group_by_length: bool
    max_train_samples: Rows
    max_eval_samples: Rows
    logging_steps: PositiveInt


class MlmTraining(Training):
    mlm_probability: float
    masking: str


class NerTraining(Training):
    label_all_subtokens: bool


SEEDED_KEYS = [*(k for k in Training.model_fields if k != "seed"), "seeds"]  # fine_tune's keys in params.yaml


class Overrides(Section):
    """A section that may also set fine_tune keys for its runs (validated against Training)."""
    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _only_training_keys(self):
        unknown = set(self.model_extra) - set(SEEDED_KEYS)
        if unknown:
            raise PydanticCustomError("unknown_keys", "unknown", {
                "keys": sorted(unknown), "accepted": [*type(self).model_fields, *SEEDED_KEYS]})
        return self

    @property
    def own(self) -> dict:
        """The section's own keys (not fine_tune overrides)."""
        return self.model_dump(exclude=set(self.model_extra))


class MlmPretrain(Overrides):
    """mlm_pretrain: the masking, and any fine_tune keys it overrides (the book: epochs: 10)."""
    mlm_probability: Annotated[float, accepts("a number between 0 and 1, e.g. 0.15", gt=0, lt=1)]
    masking: Literal["token", "whole_word"]


class Ner(Overrides):
    """ner: the sub-token labelling, and any fine_tune keys it overrides."""
    label_all_subtokens: Annotated[bool, accepts("true (the book: later sub-tokens of a word get its "
                                                  "I- label) | false (they are ignored by the loss)")]


class Lora(Section):
    """LoRA adapters (peft) on every linear layer of the encoder; the head trains in full."""
    rank: PositiveInt
    alpha: Annotated[float, accepts("a positive number (the update is scaled by alpha / rank)", gt=0)]
    dropout: Annotated[float, accepts("a number from 0 to 1 (dropout on the adapter's input)", ge=0, lt=1)]


FrozenLayers = Annotated[Literal["once", "every_step"], accepts(
    "once (run once, in eval mode: no dropout in them) | every_step (in train mode, with dropout, as the book's code)")]


class FreezeSpec(Section):
    """What a run trains: everything but the frozen embeddings and blocks 0..frozen_blocks-1, the
    head only, or LoRA adapters and the head; and how the frozen first layers run (stages.lib.models.cached)."""
    head_only: bool = False         # book: 0.638
    freeze_embeddings: bool = False
    frozen_blocks: Annotated[int, accepts("an integer from 0 to the model's block count", ge=0)] = 0
    lora: Annotated[Lora | None, accepts("null, or a mapping with keys rank, alpha, dropout")] = None
    frozen_layers: FrozenLayers = "once"

    @field_validator("lora")
    @classmethod
    def _lora_alone(cls, value, info: ValidationInfo):
        if value is not None and (info.data.get("head_only") or info.data.get("freeze_embeddings")
                                  or info.data.get("frozen_blocks")):
            raise PydanticCustomError("rule", "cannot be combined with head_only, freeze_embeddings or "
                                              "frozen_blocks (LoRA adapts every block); remove those keys")
        return value


class Run(Overrides, FreezeSpec):
    """A run of runs (or from_mlm): freezing, its own model if any, fine_tune overrides."""
    model_config = ConfigDict(extra="allow")
    model: ModelId | None = None

    @property
    def spec(self) -> FreezeSpec:
        return FreezeSpec(**{k: getattr(self, k) for k in FreezeSpec.model_fields})


BlockList = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1), AfterValidator(_distinct)]
SeedList = Annotated[list[int], Field(min_length=1), AfterValidator(_distinct)]


FrozenBlocks = Annotated[BlockList, accepts("a list of distinct block counts >= 0, e.g. [0, 1, 2]")]
Seeds = Annotated[SeedList, accepts("a list of distinct integers, e.g. [42]")]


class Sweep(Section):
    frozen_blocks: FrozenBlocks
    seeds: Seeds
    freeze_embeddings: bool
    frozen_layers: FrozenLayers
    fine_tune: Annotated[Overrides, accepts("a mapping of fine_tune keys the points override ({} for none)")]

    @property
    def points(self) -> list[tuple[int, int]]:
        return [(k, seed) for k in self.frozen_blocks for seed in self.seeds]


class SetFit(Section):
    num_epochs: PositiveInt
    num_iterations: PositiveInt
    batch_size: PositiveInt
    seeds: Seeds
    samples_per_class: Annotated[list[Annotated[int, Field(gt=0)]], Field(min_length=1), AfterValidator(_distinct),
                                 accepts("a list of distinct positive integers (examples per class), e.g. [8, 16, 64]")]
    main_samples_per_class: int
    sample_seed: Seed  # the draw of each size's examples from the training split
    max_eval_samples: Annotated[PositiveInt | None, accepts("null (all test rows) or a positive integer")]
    precision: Precision
    length_buckets: bool  # each batch's sentences run in buckets of similar length (stages.lib.tasks.setfit.buckets)
    unique_sentences: bool  # each distinct sentence of a step's pairs embedded once (stages.lib.tasks.setfit.pair_loss)

    @field_validator("main_samples_per_class")
    @classmethod
    def _one_of_the_sizes(cls, value: int, info: ValidationInfo) -> int:
        sizes = info.data.get("samples_per_class", [])
        if value not in sizes:
            raise PydanticCustomError("invalid", "invalid", {"accepted": f"one of samples_per_class: {sizes}"})
        return value

    def training_args(self, seed: int) -> dict:
        """setfit.TrainingArguments keywords of the run with `seed`."""
        return {**self.model_dump(include={"num_epochs", "num_iterations", "batch_size"}), "seed": seed}


MASK = "[MASK]"  # as probes are written in params.yaml; replaced by the tokenizer's own mask token


def _one_mask_each(probes: list[str]) -> list[str]:
    if not all(p.count(MASK) == 1 for p in probes):
        raise ValueError("one [MASK] each")
    return probes


class MlmProbes(Section):
    sentences: Annotated[list[str], Field(min_length=1), AfterValidator(_one_mask_each),
                      accepts('a list of sentences with one "[MASK]" each')]
    top_k: PositiveInt


class NerProbes(Section):
    sentences: Annotated[list[Annotated[str, Field(pattern=r"\S")]], accepts("a list of non-empty sentences")]


class Bootstrap(Section):
    """The confidence intervals and paired tests on test scores (stages.lib.scoring.stats)."""
    resamples: Annotated[int, accepts("an integer >= 1000 (bootstrap resamples and permutations)", ge=1000)]
    seed: Seed


class Compare(Section):
    """The compare stage's paired tests: names of predictions files under data/predictions/."""
    baseline: Annotated[str, accepts("a predictions file under data/predictions/ without .jsonl, e.g. fine_tune/full",
                                      min_length=1)]
    against: Annotated[list[Annotated[str, Field(min_length=1)]], AfterValidator(_distinct),
                       accepts("a list of predictions files under data/predictions/ without .jsonl")]


class Report(Section):
    book: Annotated[dict[str, float], accepts('the book\'s numbers as "<metrics file>:<key>": value')]
    book_sweep: Annotated[dict[int, float], accepts("the book's sweep as trainable blocks: F1")]
