"""params.yaml as typed settings: one pydantic model per section, read only through the functions
at the bottom (stages.lib.config turns a validation failure into one line naming the param path).
A stage validates only the sections it reads, and declares in dvc.yaml."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from stages.lib import precision
from stages.lib.config import PipelineError, in_profile, profile_name, section, validate


def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("repeated value")
    return values


def _resolve_precision(value: str) -> str:
    if value == "fp16" and precision.accelerator() == "cpu":
        raise PydanticCustomError("rule", "= fp16 needs a GPU (fp16 with loss scaling); "
                                          "accepted on this machine: auto | fp32 | bf16")
    return precision.resolve(value)


def _accepts(text: str, **constraints) -> Any:
    return Field(description=text, **constraints)


Positive = Annotated[float, _accepts("a positive number, e.g. 2.0e-5", gt=0)]
PositiveInt = Annotated[int, _accepts("a positive integer", gt=0)]
Rows = Annotated[PositiveInt | None, _accepts("null (all rows) or a positive integer")]
Seed = Annotated[int, _accepts("an integer")]
Name = Annotated[str, _accepts("a non-empty name", min_length=1)]
ModelId = Annotated[str, _accepts("a Hugging Face Hub id or a local folder", min_length=1)]
HubDataset = Annotated[str, _accepts("a Hugging Face Hub dataset id", min_length=1)]
# `auto` is resolved on validation: the settings hold fp32, bf16 or fp16
Precision = Annotated[Literal[precision.PRECISIONS], AfterValidator(_resolve_precision)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Training(Section):
    """One training run's knobs: fine_tune (and mlm_pretrain, ner). fine_tune and ner hold a list
    `seeds` instead of `seed`: one Training per seed (settings.training)."""
    learning_rate: Positive
    batch_size: PositiveInt
    epochs: Annotated[float, _accepts("a positive number", gt=0)]
    weight_decay: Annotated[float, _accepts("a number >= 0", ge=0)]
    seed: Seed
    precision: Precision
    group_by_length: bool
    max_train_samples: Rows
    max_eval_samples: Rows
    logging_steps: PositiveInt


class MlmTraining(Training):
    mlm_probability: Annotated[float, _accepts("a number between 0 and 1, e.g. 0.15", gt=0, lt=1)]
    masking: Literal["token", "whole_word"]


class NerTraining(Training):
    label_all_subtokens: Annotated[bool, _accepts("true (the book: later sub-tokens of a word get its "
                                                  "I- label) | false (they are ignored by the loss)")]


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


class Lora(Section):
    """LoRA adapters (peft) on every linear layer of the encoder; the head trains in full."""
    rank: PositiveInt
    alpha: Annotated[float, _accepts("a positive number (the update is scaled by alpha / rank)", gt=0)]
    dropout: Annotated[float, _accepts("a number from 0 to 1 (dropout on the adapter's input)", ge=0, lt=1)]


FrozenLayers = Annotated[Literal["once", "every_step"], _accepts(
    "once (run once, in eval mode: no dropout in them) | every_step (in train mode, with dropout, as the book's code)")]


class FreezeSpec(Section):
    """What a run trains: everything but the frozen embeddings and blocks 0..frozen_blocks-1, the
    head only, or LoRA adapters and the head; and how the frozen first layers run (stages.lib.cached)."""
    head_only: bool = False         # book: 0.638
    freeze_embeddings: bool = False
    frozen_blocks: Annotated[int, _accepts("an integer from 0 to the model's block count", ge=0)] = 0
    lora: Annotated[Lora | None, _accepts("null, or a mapping with keys rank, alpha, dropout")] = None
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
    """A run of profiles.<p>.runs (or from_mlm): freezing, its own model if any, fine_tune overrides."""
    model_config = ConfigDict(extra="allow")
    model: ModelId | None = None

    @property
    def spec(self) -> FreezeSpec:
        return FreezeSpec(**{k: getattr(self, k) for k in FreezeSpec.model_fields})


BlockList = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1), AfterValidator(_distinct)]
SeedList = Annotated[list[int], Field(min_length=1), AfterValidator(_distinct)]


FrozenBlocks = Annotated[BlockList, _accepts("a list of distinct block counts >= 0, e.g. [0, 1, 2]")]
Seeds = Annotated[SeedList, _accepts("a list of distinct integers, e.g. [42]")]


class Sweep(Section):
    frozen_blocks: FrozenBlocks
    seeds: Seeds
    freeze_embeddings: bool
    frozen_layers: FrozenLayers
    fine_tune: Annotated[Overrides, _accepts("a mapping of fine_tune keys the points override ({} for none)")]

    @property
    def points(self) -> list[tuple[int, int]]:
        return [(k, seed) for k in self.frozen_blocks for seed in self.seeds]


class SetFit(Section):
    num_epochs: PositiveInt
    num_iterations: PositiveInt
    batch_size: PositiveInt
    seeds: Seeds
    samples_per_class: Annotated[list[Annotated[int, Field(gt=0)]], Field(min_length=1), AfterValidator(_distinct),
                                 _accepts("a list of distinct positive integers (examples per class), e.g. [8, 16, 64]")]
    main_samples_per_class: int
    max_eval_samples: Annotated[PositiveInt | None, _accepts("null (all test rows) or a positive integer")]
    precision: Precision
    length_buckets: bool  # each batch's sentences run in buckets of similar length (stages.lib.buckets)
    unique_sentences: bool  # each distinct sentence of a step's pairs embedded once (stages.lib.pair_loss)

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


def _fractions(values: list[float]) -> list[float]:
    if abs(sum(values) - 1) > 1e-9:
        raise ValueError("shares that sum to 1")
    return values


Revision = Annotated[str, _accepts("a branch, tag or commit", min_length=1)]
Column = Annotated[str, _accepts("a column name", min_length=1)]


class OwnClassification(Section):
    """A sentence-classification dataset of the user's in place of Rotten Tomatoes (stages.lib.data)."""
    dataset: Annotated[str | None, _accepts("empty (Rotten Tomatoes), a Hub dataset id, a .csv/.jsonl/.parquet "
                                            "file or a folder of train/validation/test files", min_length=1)]
    revision: Revision
    text_column: Column
    label_column: Column
    labels: Annotated[list[Annotated[str, Field(min_length=1)]] | None, Field(min_length=2),
                      AfterValidator(lambda v: v and _distinct(v)),
                      _accepts("empty (from the data), or a list of two or more distinct class names")]
    split: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=3, max_length=3),
                     AfterValidator(_fractions), _accepts("three positive shares summing to 1, e.g. [0.8, 0.1, 0.1]")]
    split_seed: Seed


class OwnNer(Section):
    """A named-entity dataset of the user's in place of CoNLL-2003 (stages.lib.data)."""
    dataset: Annotated[str | None, _accepts("empty (CoNLL-2003), a folder of CoNLL-format train.txt, dev.txt "
                                            "and test.txt, or a Hub dataset id", min_length=1)]
    revision: Revision
    tag_column: Annotated[int, _accepts("an integer: the CoNLL column of the tags, 1 = the second, -1 = the last")]
    tokens_column: Column
    tags_column: Column

    @field_validator("tag_column")
    @classmethod
    def _not_the_token(cls, value: int) -> int:
        if value == 0:
            raise PydanticCustomError("rule", "= 0 is the token column; accepted: 1, 2, ... or -1 (the last)")
        return value


class Data(Section):
    source: Annotated[Literal["auto", "raw", "hub"], _accepts("auto | raw | hub")]
    raw_dir: Annotated[str | None, _accepts("a folder with rotten_tomatoes/ and conll2003/, or null (none)")]
    rotten_tomatoes_hub: HubDataset
    rotten_tomatoes_revision: Revision
    conll2003_hub: HubDataset
    conll2003_revision: Revision
    fewshot_per_class: PositiveInt
    fewshot_seed: Seed
    classification: OwnClassification
    ner: OwnNer


MASK = "[MASK]"  # as probes are written in params.yaml; replaced by the tokenizer's own mask token


def _one_mask_each(probes: list[str]) -> list[str]:
    if not all(p.count(MASK) == 1 for p in probes):
        raise ValueError("one [MASK] each")
    return probes


class MlmProbes(Section):
    probes: Annotated[list[str], Field(min_length=1), AfterValidator(_one_mask_each),
                      _accepts('a list of sentences with one "[MASK]" each')]
    top_k: PositiveInt


class NerProbes(Section):
    probe_sentences: Annotated[list[Annotated[str, Field(pattern=r"\S")]], _accepts("a list of non-empty sentences")]


# ---- what each stage reads ------------------------------------------------------------------

FROM_MLM = "from_mlm"  # top-level, not per profile: dvc.yaml declares its model folder as a dependency


def training(params: dict, path: str, overrides: dict, overrides_where: str, kind=Training,
             seed: int | None = None) -> list:
    """One `kind` per seed: the training section at `path` (fine_tune, ner: a list `seeds`) with
    `overrides` (from `overrides_where`, which may set its own `seeds`) applied; `seed` given: that
    seed only."""
    base = section(params, path, dict[str, Any])
    if "seed" in base:  # (a run's overrides are checked by Overrides)
        raise PipelineError(f"params.yaml: {path}.seed: write seeds, a list (e.g. seeds: [42])")
    merged = {**base, **overrides}
    where = overrides_where if "seeds" in overrides else path
    if seed is None and "seeds" not in merged:
        raise PipelineError(f"params.yaml: {path}.seeds is missing (a list of distinct integers, e.g. [42])")
    seeds = [seed] if seed is not None else validate(Seeds, merged["seeds"], f"{where}.seeds")
    base.pop("seeds", None)
    merged.pop("seeds", None)
    validate(kind, {**base, "seed": seeds[0]}, path)  # the section's own errors name the section
    return [validate(kind, {**merged, "seed": s}, overrides_where) for s in seeds]


def run_path(params: dict, run: str) -> str:
    """The params path of a fine-tune run."""
    prof = f"profiles.{profile_name(params)}"
    runs = [*(params["profiles"][profile_name(params)].get("runs") or {}), FROM_MLM]
    if run not in runs:
        raise PipelineError(f"params.yaml: {prof}.runs has no run {run!r}; defined: {', '.join(runs)}")
    return FROM_MLM if run == FROM_MLM else f"{prof}.runs.{run}"


def fine_tune_run(params: dict, run: str) -> tuple[str, FreezeSpec, list[Training]]:
    """(model id, freezing, hyperparameters per seed) of a fine-tune run; a run may override fine_tune
    keys (seeds too)."""
    where = run_path(params, run)
    spec = section(params, where, Run)
    if run == FROM_MLM and spec.model is None:
        raise PipelineError(f"params.yaml: {FROM_MLM}.model is missing (a Hugging Face Hub id or a local folder)")
    model = spec.model or in_profile(params, "classifier_model", ModelId)
    return model, spec.spec, training(params, f"profiles.{profile_name(params)}.fine_tune", spec.model_extra, where)


def sweep(params: dict) -> tuple[str, Sweep]:
    """(model id, the profile's sweep plan)."""
    plan, where = in_profile(params, "sweep", Sweep), f"profiles.{profile_name(params)}.sweep"
    if "seeds" in plan.fine_tune.model_extra:
        raise PipelineError(f"params.yaml: {where}.fine_tune.seeds: the sweep's seeds are {where}.seeds")
    return in_profile(params, "classifier_model", ModelId), plan


def sweep_grid(params: dict) -> tuple[list[int], list[int]]:
    """(frozen_blocks, seeds) of the profile's sweep: all that freeze-sweep-summary reads."""
    return in_profile(params, "sweep.frozen_blocks", FrozenBlocks), in_profile(params, "sweep.seeds", Seeds)


def sweep_point(params: dict, plan: Sweep, seed: int) -> Training:
    """fine_tune with the sweep's overrides and the point's seed."""
    prof = f"profiles.{profile_name(params)}"
    return training(params, f"{prof}.fine_tune", plan.fine_tune.model_extra, f"{prof}.sweep.fine_tune", seed=seed)[0]


def stable_tolerance(params: dict) -> float:
    return section(params, "sweep.stable_tolerance", Annotated[float, _accepts("a positive F1 difference", gt=0)])


def mlm(params: dict) -> tuple[str, MlmTraining, MlmProbes]:
    return (in_profile(params, "classifier_model", ModelId), in_profile(params, "mlm_pretrain", MlmTraining),
            section(params, "mlm", MlmProbes))


def ner(params: dict) -> tuple[str, list[NerTraining], NerProbes]:
    """(model id, hyperparameters per seed, probe sentences)."""
    hps = training(params, f"profiles.{profile_name(params)}.ner", {}, f"profiles.{profile_name(params)}.ner",
                   NerTraining)
    return in_profile(params, "ner_model", ModelId), hps, section(params, "ner", NerProbes)


def setfit(params: dict) -> tuple[str, SetFit, int]:
    """(model id, the setfit section, prepare's few-shot sampler seed)."""
    return (in_profile(params, "setfit_model", ModelId), in_profile(params, "setfit", SetFit),
            section(params, "data.fewshot_seed", Seed))


def data(params: dict) -> Data:
    return section(params, "data", Data)


class Bootstrap(Section):
    """The confidence intervals and paired tests on test scores (stages.lib.stats)."""
    resamples: Annotated[int, _accepts("an integer >= 1000 (bootstrap resamples and permutations)", ge=1000)]
    seed: Seed


class Compare(Section):
    """The compare stage's paired tests: names of predictions files under data/predictions/."""
    baseline: Annotated[str, _accepts("a predictions file under data/predictions/ without .jsonl, e.g. fine_tune/full",
                                      min_length=1)]
    against: Annotated[list[Annotated[str, Field(min_length=1)]], AfterValidator(_distinct),
                       _accepts("a list of predictions files under data/predictions/ without .jsonl")]


def compare(params: dict) -> Compare:
    return section(params, "compare", Compare)


def bootstrap(params: dict) -> Bootstrap:
    return section(params, "bootstrap", Bootstrap)


def checkpoint_steps(params: dict) -> int:
    """How often a training stage saves a checkpoint (optimizer steps)."""
    return section(params, "checkpoints.every_steps",
                   Annotated[int, _accepts("a positive integer (optimizer steps between checkpoints)", gt=0)])


class Report(Section):
    book: Annotated[dict[str, float], _accepts('the book\'s numbers as "<metrics file>:<key>": value')]
    book_sweep: Annotated[dict[int, float], _accepts("the book's sweep as trainable blocks: F1")]


def report(params: dict) -> dict:
    """The report notebook's parameters: the book's numbers, the profile's models, the sweep tolerance."""
    book = section(params, "report", Report)
    return {"profile": profile_name(params), "book": book.book, "book_sweep": book.book_sweep,
            "models": {role: in_profile(params, f"{role}_model", ModelId) for role in ("classifier", "setfit", "ner")},
            "stable_tolerance": stable_tolerance(params)}
