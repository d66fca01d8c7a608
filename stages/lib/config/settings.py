"""What each stage reads from params.yaml, as typed settings (the models in stages.lib.config.schema).
A stage validates only the sections it reads, and declares in dvc.yaml."""
from __future__ import annotations

from typing import Annotated, Any

from stages.lib.config.params import in_profile, profile_name, section, validate
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.schema import (Bootstrap, Compare, Data, FreezeSpec, FrozenBlocks, MlmProbes, MlmTraining, ModelId, NerProbes, NerTraining, Report, Run, Seed, Seeds, SetFit, Sweep, Training, accepts)


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
    return section(params, "sweep.stable_tolerance", Annotated[float, accepts("a positive F1 difference", gt=0)])


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
    book = section(params, "report", Report)
    return {"profile": profile_name(params), "book": book.book, "book_sweep": book.book_sweep,
            "models": {role: in_profile(params, f"{role}_model", ModelId) for role in ("classifier", "setfit", "ner")},
            "stable_tolerance": stable_tolerance(params)}
