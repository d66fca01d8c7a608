"""The answer of a search: for each study, the best trial's recipe trained once more and scored on
the test split (the one time a search touches it), against the test predictions of the recipe in
params.yaml (the pipeline's run, or the freeze sweep's point at a searched depth), with a paired
test; all of it in metrics/tuning.json, which the report reads."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from stages.lib.config import paths, settings
from stages.lib.config.params import profile_name
from stages.lib.data import prepared
from stages.lib.reporting.machine import machine
from stages.lib.runtime.outputs import write_json, write_jsonl
from stages.lib.scoring import compare, seeds, stats
from stages.lib.scoring.headline import interval
from stages.lib.scoring.metrics import classification_metrics
from stages.lib.tuning import trial as trials
from stages.lib.tuning.space import UsageError, kind, recipe
from stages.lib.tuning.study import Plan, open_storage

TUNING_METRICS = paths.METRICS / "tuning.json"
TUNED_PREDICTIONS = Path("data/tuning/predictions")  # the tuned recipes' test predictions (not in git)


def recipe_predictions(params: dict, plan: Plan) -> Path:
    """The recipe's test predictions: the run's (dvc repro fine-tune@<run>), or at a searched depth
    other than the run's, the freeze sweep's point."""
    depth = plan.space.extra.get("frozen_blocks")
    run = (params.get("runs") or {}).get(plan.run) or {}
    if depth is None or depth == run.get("frozen_blocks"):
        return paths.fine_tune(plan.run).predictions
    return paths.sweep_point(depth, settings.sweep(params)[1].seeds[0], paths.SWEEP_PREDICTIONS, ".jsonl")


def _f1(lines_by_seed: dict, labels: list[str]) -> float:
    return float(np.mean([classification_metrics([r["gold"] for r in lines], [r["pred"] for r in lines], labels)["f1"]
                          for lines in lines_by_seed.values()]))


def recipe_run(trials: list):
    """The completed trial of the recipe in params.yaml (a study's first trial, or the trial that ran
    it again after it was interrupted), or None."""
    from optuna.trial import TrialState

    recipes = set()
    for t in trials:
        if t.user_attrs.get("recipe") or t.user_attrs.get("retry_of") in recipes:
            recipes.add(t.number)
    return next((t for t in trials if t.number in recipes and t.state == TrialState.COMPLETE), None)


def summarize(study, plan: Plan, params: dict) -> dict:
    """One study's entry of metrics/tuning.json: the search, its best trial, and that recipe's test
    run against the recipe in params.yaml."""
    from optuna.trial import TrialState

    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not done:
        raise UsageError(f"--study {plan.study}: no trial has completed; run `python -m tools.tune search` first")
    best = study.best_trial
    recipe_path = recipe_predictions(params, plan)
    recipe_lines = compare.read_predictions(recipe_path)  # before training: a missing file fails fast
    print(f"{plan.study}: testing trial {best.number} (validation F1 {best.value:.4f}) once on the test split")
    tested = trials.run(params, plan.run, {**plan.space.extra, **best.params}, split="test")
    tuned_lines = seeds.tagged({0: tested.predictions})
    write_jsonl(TUNED_PREDICTIONS / f"{plan.study}.jsonl", tuned_lines)
    rows = {r["row"] for r in tested.predictions} & {r["row"] for lines in recipe_lines.values() for r in lines}
    metric, tuned_units = compare.units({0: tested.predictions}, rows)
    _, recipe_units = compare.units(recipe_lines, rows)
    boot = settings.bootstrap(params)
    paired = stats.paired(tuned_units, recipe_units, metric, boot.resamples, boot.seed)
    recipe_trial = recipe_run(study.trials)
    labels = prepared.dataset_info("classification")["labels"]
    counts = {state.name.lower(): sum(t.state == state for t in study.trials)
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    return {
        "run": plan.run, "depth": plan.space.extra.get("frozen_blocks"), "trials": counts,
        # where the first blocks froze (the freeze curve's x): the run's own depth, or the searched one
        "frozen_blocks": tested.scores["frozen_blocks"] if kind(params["runs"][plan.run] or {}) == "frozen" else None,
        "trial_minutes": round(sum(t.user_attrs.get("seconds", 0.0) for t in study.trials) / 60, 1),
        "best": {"trial": best.number, "experiment": best.user_attrs.get("experiment"), "params": best.params,
                 "validation_f1": best.value,
                 "validation_f1_95ci": interval(*best.user_attrs["validation_f1_ci95"])},
        "test_f1": tested.scores["test_f1"], "test_f1_95ci": interval(*tested.scores["test_f1_ci95"]),
        "test_train_s": round(tested.seconds, 1),
        "recipe": {"params": recipe(params, plan.run, plan.space), "predictions": str(recipe_path),
                   "validation_f1": recipe_trial.value if recipe_trial else None,
                   "test_f1": _f1({s: [r for r in lines if r["row"] in rows] for s, lines in recipe_lines.items()}, labels),
                   "test_f1_95ci": interval(*stats.ci95(recipe_units, metric, boot.resamples, boot.seed))},
        "tuned_minus_recipe": {"f1": paired["difference"], "ci95": paired["ci95"], "p_value": paired["p_value"]},
    }


def ranking(studies: dict) -> dict:
    """The strategies ordered by test F1 under the recipe and tuned: does the chapter's order hold?"""
    runs = {entry["run"]: entry for entry in studies.values() if entry["depth"] is None}
    by_recipe = sorted(runs, key=lambda r: -runs[r]["recipe"]["test_f1"])
    tuned = sorted(runs, key=lambda r: -runs[r]["test_f1"])
    return {"recipe": by_recipe, "tuned": tuned, "same_order": by_recipe == tuned}


def finish(plans: list[Plan], url: str, params: dict, out: Path = TUNING_METRICS) -> dict:
    """Summarize `plans`' studies into `out` (studies summarized earlier are kept)."""
    import optuna

    storage = open_storage(url)
    names = set(optuna.get_all_study_names(storage))
    missing = [plan.study for plan in plans if plan.study not in names]
    if missing:
        raise UsageError(f"--storage {url}: no study {', '.join(missing)} (studies there: {', '.join(sorted(names)) or 'none'})")
    record = json.loads(out.read_text()) if out.is_file() else {}
    studies = dict(record.get("studies", {}))
    for plan in plans:
        studies[plan.study] = summarize(optuna.load_study(study_name=plan.study, storage=storage), plan, params)
    if "://" in url:  # a database URL's password stays out of git
        from sqlalchemy.engine import make_url

        url = make_url(url).render_as_string(hide_password=True)
    record = {"profile": profile_name(params), "machine": machine(), "storage": url,
              "studies": studies, "ranking": ranking(studies)}
    write_json(out, record)
    return record
