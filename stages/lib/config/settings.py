"""What each stage reads from params.yaml, as typed settings (the models in stages.lib.config.schema).
A stage validates only the sections it reads, and declares in dvc.yaml."""
from __future__ import annotations

from typing import Annotated, Any

from stages.lib.config.params import load_params, profile_name, section, validate
from stages.lib.config.paths import BOOK_NUMBERS
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.datasets import Data
from stages.lib.config.schema import (Bootstrap, Compare, FreezeSpec, FrozenBlocks, MlmPretrain, MlmProbes, MlmTraining, ModelId, Ner, NerProbes, NerTraining, Report, Run, Seed, Seeds, SetFit, Sweep, Training, accepts)


FROM_MLM = "from_mlm"  # shared by the profiles: dvc.yaml declares its model folder as a dependency


def training(params: dict, overrides: dict, overrides_where: str, kind=Training, seed: int | None = None,
             own: dict | None = None) -> list:
    """One `kind` per seed: the fine_tune recipe (a list `seeds`) with `overrides` (from
    `overrides_where`, which may set its own `seeds`) and that section's `own` keys applied; `seed`
    given: that seed only."""
    base = section(params, "fine_tune", dict[str, Any])
    if "seed" in base:  # (a run's overrides are checked by Overrides)
        raise PipelineError("params.yaml: fine_tune.seed: write seeds, a list (e.g. seeds: [42])")
    merged = {**base, **overrides}
    where = overrides_where if "seeds" in overrides else "fine_tune"
    if seed is None and "seeds" not in merged:
        raise PipelineError("params.yaml: fine_tune.seeds is missing (a list of distinct integers, e.g. [42])")
    seeds = [seed] if seed is not None else validate(Seeds, merged["seeds"], f"{where}.seeds")
    base.pop("seeds", None)
    merged.pop("seeds", None)
    validate(Training, {**base, "seed": seeds[0]}, "fine_tune")  # the recipe's own errors name fine_tune
    return [validate(kind, {**merged, **(own or {}), "seed": s}, overrides_where) for s in seeds]


def run_path(params: dict, run: str) -> str:
    """The params path of a fine-tune run."""
    runs = [*(params.get("runs") or {}), FROM_MLM]
    if run not in runs:
        raise PipelineError(f"params.yaml: runs has no run {run!r}; defined: {', '.join(runs)}")
    return FROM_MLM if run == FROM_MLM else f"runs.{run}"


def fine_tune_run(params: dict, run: str) -> tuple[str, FreezeSpec, list[Training]]:
    """(model id, freezing, hyperparameters per seed) of a fine-tune run; a run may override fine_tune
    keys (seeds too)."""
    where = run_path(params, run)
    spec = section(params, where, Run)
    if run == FROM_MLM and spec.model is None:
        raise PipelineError(f"params.yaml: {FROM_MLM}.model is missing (a Hugging Face Hub id or a local folder)")
    model = spec.model or section(params, "classifier_model", ModelId)
    return model, spec.spec, training(params, spec.model_extra, where)


def sweep(params: dict) -> tuple[str, Sweep]:
    """(model id, the sweep plan)."""
    plan = section(params, "sweep", Sweep)
    if "seeds" in plan.fine_tune.model_extra:
        raise PipelineError("params.yaml: sweep.fine_tune.seeds: the sweep's seeds are sweep.seeds")
    return section(params, "classifier_model", ModelId), plan


def sweep_grid(params: dict) -> tuple[list[int], list[int]]:
    """(frozen_blocks, seeds) of the sweep: all that freeze-sweep-summary reads."""
    return section(params, "sweep.frozen_blocks", FrozenBlocks), section(params, "sweep.seeds", Seeds)


def sweep_point(params: dict, plan: Sweep, seed: int) -> Training:
    """fine_tune with the sweep's overrides and the point's seed."""
    return training(params, plan.fine_tune.model_extra, "sweep.fine_tune", seed=seed)[0]


def stable_tolerance(params: dict) -> float:
    return section(params, "sweep_summary.stable_tolerance", Annotated[float, accepts("a positive F1 difference", gt=0)])


def mlm(params: dict) -> tuple[str, MlmTraining, MlmProbes]:
    """(model id, the fine_tune recipe with mlm_pretrain's keys: one model, the first seed's; probes)."""
    spec = section(params, "mlm_pretrain", MlmPretrain)
    hp = training(params, spec.model_extra, "mlm_pretrain", MlmTraining, own=spec.own)[0]
    return section(params, "classifier_model", ModelId), hp, section(params, "mlm_probes", MlmProbes)


def ner(params: dict) -> tuple[str, list[NerTraining], NerProbes]:
    """(model id, the fine_tune recipe with ner's keys, one per seed; probe sentences)."""
    spec = section(params, "ner", Ner)
    hps = training(params, spec.model_extra, "ner", NerTraining, own=spec.own)
    return section(params, "ner_model", ModelId), hps, section(params, "ner_probes", NerProbes)


def setfit(params: dict) -> tuple[str, SetFit]:
    """(model id, the setfit section)."""
    return section(params, "setfit_model", ModelId), section(params, "setfit", SetFit)


def data(params: dict) -> Data:
    return section(params, "data", Data)


def compare(params: dict) -> Compare:
    return section(params, "compare", Compare)


def bootstrap(params: dict) -> Bootstrap:
    return section(params, "bootstrap", Bootstrap)


def checkpoint_steps(params: dict) -> int:
    """How often a training stage saves a checkpoint (optimizer steps)."""
    return section(params, "checkpoints.every_steps",
                   Annotated[int, accepts("a positive integer (optimizer steps between checkpoints)", gt=0)])


def report(params: dict) -> dict:
    """The report notebook's parameters: the book's numbers, the profile's models, the sweep tolerance."""
    book = validate(Report, load_params(BOOK_NUMBERS), "", BOOK_NUMBERS)
    return {"profile": profile_name(params), "book": book.book, "book_sweep": book.book_sweep,
            "models": {role: section(params, f"{role}_model", ModelId) for role in ("classifier", "setfit", "ner")},
            "stable_tolerance": stable_tolerance(params)}
