"""What each stage reads from params.yaml, as typed settings (the models in stages.lib.config.schema).
A stage validates only the sections it reads, and declares in dvc.yaml."""
from __future__ import annotations

from typing import Annotated, Any

from stages.lib.config.params import load_params, profile_name, section, validate
from stages.lib.config.paths import BOOK_NUMBERS
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.schema import (Bootstrap, Compare, Data, FreezeSpec, FrozenBlocks, MlmProbes, MlmTraining, ModelId, NerProbes, NerTraining, Report, Run, Seed, Seeds, SetFit, Sweep, Training, accepts)


FROM_MLM = "from_mlm"  # shared by the profiles: dvc.yaml declares its model folder as a dependency


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
    return model, spec.spec, training(params, "fine_tune", spec.model_extra, where)


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
    return training(params, "fine_tune", plan.fine_tune.model_extra, "sweep.fine_tune", seed=seed)[0]


def stable_tolerance(params: dict) -> float:
    return section(params, "sweep_summary.stable_tolerance", Annotated[float, accepts("a positive F1 difference", gt=0)])


def mlm(params: dict) -> tuple[str, MlmTraining, MlmProbes]:
    return (section(params, "classifier_model", ModelId), section(params, "mlm_pretrain", MlmTraining),
            section(params, "mlm_probes", MlmProbes))


def ner(params: dict) -> tuple[str, list[NerTraining], NerProbes]:
    """(model id, hyperparameters per seed, probe sentences)."""
    hps = training(params, "ner", {}, "ner", NerTraining)
    return section(params, "ner_model", ModelId), hps, section(params, "ner_probes", NerProbes)


def setfit(params: dict) -> tuple[str, SetFit, int]:
    """(model id, the setfit section, prepare's few-shot sampler seed)."""
    return (section(params, "setfit_model", ModelId), section(params, "setfit", SetFit),
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
    book = validate(Report, load_params(BOOK_NUMBERS), "", BOOK_NUMBERS)
    return {"profile": profile_name(params), "book": book.book, "book_sweep": book.book_sweep,
            "models": {role: section(params, f"{role}_model", ModelId) for role in ("classifier", "setfit", "ner")},
            "stable_tolerance": stable_tolerance(params)}
