"""The search's pieces without training: search spaces and the flags that set them, a trial's
overrides, and a trial saved as a DVC experiment (git plumbing, read back by DVC)."""
import json
import subprocess
import sys

import optuna
import pytest
import yaml

from stages.lib.tuning import experiments, space
from stages.lib.tuning.space import Range, UsageError
from tests.conftest import REPO, composed, offline_env

RUNS = composed(["profile=cpu"])["runs"]


@pytest.mark.parametrize("text, message", [
    ("1e-3:1e-5", "empty or inverted"), ("1e-4:1e-4", "empty or inverted"), ("0:1e-3", "above 0"),
    ("1e-5", "low:high"), ("a:b", "low:high"), ("1e-5:inf", "finite")])
def test_a_bad_learning_rate_range_is_one_line_naming_the_flag(text, message):
    with pytest.raises(UsageError, match=message) as error:
        space.parse_range("--learning-rate", text, log=True)
    assert str(error.value).startswith(f"--learning-rate {text}:") and "\n" not in str(error.value)


def test_ranges_and_choices_parse():
    assert space.parse_range("--epochs", "1:3", integer=True) == Range(1, 3, integer=True)
    assert space.parse_range("--weight-decay", "0:0.1") == Range(0.0, 0.1)
    assert space.parse_choices("--batch-size", "16,32") == (16, 32)
    for bad in ("16,16", "0,8", "x"):
        with pytest.raises(UsageError, match="--batch-size"):
            space.parse_choices("--batch-size", bad)
    with pytest.raises(UsageError, match="at least 1"):
        space.parse_range("--epochs", "0:2", integer=True)


def test_each_strategy_searches_its_own_knobs():
    assert space.kind(RUNS["full"] or {}) == "full"
    assert space.kind(RUNS["head_only"]) == "head" and space.kind(RUNS["lora_r16"]) == "lora"
    assert space.kind(RUNS["first_blocks"]) == "frozen"
    head = space.for_run("head_only", RUNS["head_only"])
    assert head.weight_decay is None and head.learning_rate.high >= 1e-2  # a linear head takes large steps
    lora = space.for_run("lora_r16", RUNS["lora_r16"], learning_rate=Range(1e-4, 1e-3, log=True))
    assert lora.lora_alpha and lora.learning_rate == Range(1e-4, 1e-3, log=True) and lora.lora_rank is None
    assert space.for_run("first_blocks", RUNS["first_blocks"], depth=2).extra == {"frozen_blocks": 2}


@pytest.mark.parametrize("run, given, message", [
    ("head_only", {"depth": 2}, "--depth 2: run 'head_only' freezes no first blocks"),
    ("full", {"lora_alpha": (8, 16)}, "has no lora section"),
    ("first_blocks", {"depth": -1}, "block count >= 0")])
def test_a_flag_the_strategy_cannot_take_is_refused(run, given, message):
    with pytest.raises(UsageError, match=message):
        space.for_run(run, RUNS[run], **given)


def test_a_trial_sets_the_runs_keys_and_the_recipe_is_the_first_trial():
    params = composed(["profile=cpu"])
    searched = space.for_run("lora_r16", RUNS["lora_r16"])
    trial = optuna.trial.FixedTrial({"learning_rate": 1e-3, "epochs": 2, "weight_decay": 0.05, "batch_size": 32,
                                     "lora.alpha": 32})
    overrides = searched.overrides(trial)
    updated = space.apply(params, "lora_r16", overrides)["runs"]["lora_r16"]
    assert updated["lora"] == {"rank": 16, "alpha": 32, "dropout": 0.0} and updated["epochs"] == 2
    assert params["runs"]["lora_r16"]["lora"]["alpha"] == 16  # the params given are left as they were
    # the recipe in params.yaml, as the study's first trial: every value it has inside the space
    assert space.recipe(params, "lora_r16", searched) == {"learning_rate": 5e-4, "epochs": 1, "weight_decay": 0.01,
                                                         "batch_size": 16, "lora.alpha": 16}
    # head_only's recipe (10 epochs at 1e-3) lies inside its space; a value outside is left to the sampler
    head = space.for_run("head_only", RUNS["head_only"], epochs=Range(1, 5, integer=True))
    assert space.recipe(params, "head_only", head) == {"learning_rate": 1e-3, "batch_size": 16}


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env=offline_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                                          GIT_COMMITTER_EMAIL="t@e")).stdout


def test_a_saved_trial_is_a_dvc_experiment_and_never_overwritten(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"runs": {"full": {}}}))
    (tmp_path / "dvc.yaml").write_text((REPO / "dvc.yaml").read_text().split("\nstages:")[0] +
                                       "\nmetrics:\n  - tuning/trial.json\n")
    git("init", "-q", "-b", "main", cwd=tmp_path)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True, env=offline_env())
    git("add", "-A", cwd=tmp_path)
    git("commit", "-qm", "base", cwd=tmp_path)
    base = experiments.baseline(tmp_path)
    experiments.save("full-t000", {"runs": {"full": {"learning_rate": 3e-5}}}, {"validation_f1": 0.8, "state": "complete"},
                     base, tmp_path)
    with pytest.raises(RuntimeError, match="update-ref"):
        experiments.save("full-t000", {"runs": {"full": {}}}, {"validation_f1": 0.1}, base, tmp_path)
    assert experiments.existing(base, "full-t", tmp_path) == ["full-t000"]
    assert git("status", "--porcelain", cwd=tmp_path) == ""  # the workspace is untouched
    shown = json.loads(subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=tmp_path,
                                      capture_output=True, text=True, check=True, env=offline_env()).stdout)
    exp = next(e for row in shown for e in (row.get("experiments") or []) if e.get("name") == "full-t000")
    data = exp["revs"][0]["data"]
    assert data["params"]["params.yaml"]["data"]["runs"]["full"]["learning_rate"] == 3e-5
    assert data["metrics"]["tuning/trial.json"]["data"]["validation_f1"] == 0.8


def test_a_name_git_refuses_is_refused_before_anything_is_made():
    with pytest.raises(UsageError, match="--study a b"):
        experiments.check_name("a b")
    with pytest.raises(UsageError, match="--study x/y"):
        experiments.check_name("x/y")
    experiments.check_name("first_blocks-d2")


def test_the_recipes_score_survives_an_interrupted_first_trial():
    from stages.lib.tuning.summary import recipe_run

    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"x": 1.0}, user_attrs={"recipe": True})
    first = study.ask({"x": optuna.distributions.FloatDistribution(0, 2)})
    study.tell(first, state=optuna.trial.TrialState.FAIL)  # killed; run again as trial 1
    study.enqueue_trial(first.params, user_attrs={"retry_of": first.number})
    for value in (0.5, 0.7):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 2)})
        study.tell(trial, value)
    assert recipe_run(study.trials).number == 1 and recipe_run(study.trials).value == 0.5
    assert recipe_run(study.trials[2:]) is None
