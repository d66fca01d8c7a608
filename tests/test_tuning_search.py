"""The search as a researcher runs it, offline, on the smoke profile in a fresh clone: two strategies
searched by two worker processes sharing one Optuna journal file, every trial a DVC experiment; a
search killed mid-trial and resumed; the best recipes tested once against the pipeline's runs; and
bad input refused before any study or experiment exists."""
import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from tests.conftest import compose, copy_repo, offline_env
from tests.test_experiments import cell, exp_table, sh

TUNE = [sys.executable, "-m", "tools.tune"]
JOURNAL = "tuning/smoke.journal"


def studies(repo) -> dict:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(repo / JOURNAL)))
    return {name: optuna.load_study(study_name=name, storage=storage).trials
            for name in optuna.get_all_study_names(storage)}


@pytest.fixture(scope="module")
def searched(tmp_path_factory, raw_dir):
    """(repo, env, the search's output): a clone of the project on the smoke profile, prepared, after
    `search full head_only --trials 3 --workers 2`."""
    root = tmp_path_factory.mktemp("tune")
    (root / "shared").mkdir()
    (root / "shared" / "datasets").symlink_to(raw_dir)
    env = offline_env(GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
                      GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com", OMP_NUM_THREADS="1")
    src = copy_repo(root / "src")  # without the cpu profile's dvc.lock: its outputs are in no cache here
    compose(src, ["profile=smoke"])
    sh("git", "init", "-q", "-b", "main", cwd=src, env=env)
    sh("git", "add", "-A", cwd=src, env=env)
    sh("git", "commit", "-qm", "project", cwd=src, env=env)
    sh("git", "clone", "-q", str(src), str(root / "main"), cwd=root, env=env)
    repo = root / "main"
    sh("dvc", "repro", "prepare", cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-qm", "prepared", cwd=repo, env=env)  # the commit the trials build on
    out = sh(*TUNE, "search", "full", "head_only", "--trials", "3", "--workers", "2", cwd=repo, env=env)
    return repo, env, out.stdout


def test_two_workers_share_each_study_and_every_trial_is_an_experiment(searched):
    repo, env, _ = searched
    trials = studies(repo)
    assert set(trials) == {"full", "head_only"}
    for name, study in trials.items():
        finished = [t for t in study if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        assert len(finished) >= 3, study
        assert study[0].user_attrs["recipe"]  # the recipe in params.yaml is the first trial
        assert all(t.state != TrialState.RUNNING for t in study)
    workers = {t.user_attrs["worker"] for t in trials["full"]}  # both start on the first study
    assert len(workers) == 2, workers  # two processes, one study, one journal file
    rows = {r["Experiment"]: r for r in exp_table(repo, env) if r["Experiment"]}
    for name, study in trials.items():
        for t in study:
            row = rows[f"{name}-t{t.number:03d}"]
            assert cell(row, "state") == t.state.name.lower()
            if t.state == TrialState.COMPLETE:
                assert float(cell(row, "validation_f1")) == t.values[0]
            assert float(cell(row, f"runs.{name}.learning_rate")) == pytest.approx(t.params["learning_rate"])
    # the workspace untouched: no tracked file changed, nothing new but the journal
    assert sh("git", "status", "--porcelain", "--untracked-files=all", cwd=repo, env=env).stdout.strip() == \
        f"?? {JOURNAL}"


def test_dvc_reads_a_trials_recipe_as_its_params(searched):
    """What `dvc exp apply` puts in params.yaml (here as `dvc params diff`: applying also checks out every
    output of dvc.lock, and this clone ran prepare only)."""
    repo, env, _ = searched
    trial = studies(repo)["head_only"][1]
    diff = json.loads(sh("dvc", "params", "diff", "HEAD", "head_only-t001", "--json", cwd=repo, env=env).stdout)
    changed = {key: change["new"] for key, change in diff["params.yaml"].items()}
    assert changed == {f"runs.head_only.{k}": v for k, v in trial.params.items() if k != "learning_rate"} | \
        {"runs.head_only.learning_rate": pytest.approx(trial.params["learning_rate"])}
    ref = next(r for r in sh("git", "for-each-ref", "--format=%(refname)", "refs/exps", cwd=repo, env=env).stdout.split()
               if r.endswith("/head_only-t001"))
    shown = sh("git", "show", f"{ref}:tuning/trial.json", cwd=repo, env=env).stdout
    assert json.loads(shown)["trial"] == 1


def test_a_killed_search_resumes_without_repeating_finished_trials(searched):
    repo, env, _ = searched
    before = len([t for t in studies(repo)["head_only"] if t.state != TrialState.FAIL])
    proc = subprocess.Popen([*TUNE, "search", "head_only", "--trials", "5"], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    running = None
    deadline = time.time() + 300
    while running is None and time.time() < deadline:  # kill it inside a trial
        running = next((t for t in studies(repo)["head_only"][before:] if t.state == TrialState.RUNNING
                        and "worker" in t.user_attrs), None)
        time.sleep(0.2)
    assert running is not None, proc.communicate()[0][-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    out = sh(*TUNE, "search", "head_only", "--trials", "5", cwd=repo, env=env).stdout
    assert "left running by a killed search run again first" in out
    trials = studies(repo)["head_only"]
    assert trials[running.number].state == TrialState.FAIL
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == running.number)
    assert retry.params == running.params and retry.state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert len([t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]) == 5
    names = [r["Experiment"] for r in exp_table(repo, env) if r["Experiment"].startswith("head_only-")]
    assert len(names) == len(set(names)) == 5  # one experiment per finished trial, none repeated


def test_finish_tests_each_best_recipe_once_against_the_pipelines_run(searched):
    repo, env, _ = searched
    missing = sh(*TUNE, "finish", "head_only", cwd=repo, env=env, expect=2).stderr
    assert "data/predictions/fine_tune/head_only.jsonl not found" in missing
    sh("dvc", "repro", "fine-tune@head_only", cwd=repo, env=env)
    out = sh(*TUNE, "finish", "head_only", cwd=repo, env=env).stdout
    record = json.loads((repo / "metrics" / "tuning.json").read_text())
    assert record["profile"] == "smoke" and set(record["studies"]) == {"head_only"}
    trials = studies(repo)
    for name, entry in record["studies"].items():
        best = max((t for t in trials[name] if t.state == TrialState.COMPLETE), key=lambda t: t.values[0])
        assert entry["best"]["trial"] == best.number and entry["best"]["params"] == best.params
        assert entry["best"]["experiment"] == f"{name}-t{best.number:03d}"
        assert 0 <= entry["test_f1"] <= 1 and 0 <= entry["tuned_minus_recipe"]["p_value"] <= 1
        assert entry["tuned_minus_recipe"]["f1"] == pytest.approx(entry["test_f1"] - entry["recipe"]["test_f1"])
        assert f"{name}: tuned test F1 {entry['test_f1']:.3f}" in out
    assert record["ranking"]["recipe"] == record["ranking"]["tuned"] == ["head_only"]


@pytest.mark.parametrize("args, flag", [
    (["search", "nope"], "strategy 'nope'"),
    (["search", "full", "--learning-rate", "1e-3:1e-5"], "--learning-rate 1e-3:1e-5"),
    (["search", "full", "--trials", "0"], "--trials 0"),
    (["search", "full", "--minutes", "0"], "--minutes 0"),
    (["search", "full", "--storage", "sqlite:////no/such/folder/tune.db"], "--storage sqlite:////no/such/folder"),
    (["search", "full", "--storage", "postgresql://tuner@127.0.0.1:1/studies"], "--storage postgresql://"),
    (["search", "full", "--storage", "no/such/folder/tune.journal"], "--storage no/such/folder"),
    (["search", "full", "--study", "a b"], "--study a b"),
    (["search", "full", "head_only", "--study", "mine"], "--study"),
    (["finish", "full", "--study", "never-searched"], "no study never-searched")])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(searched, args, flag):
    repo, env, _ = searched
    refs = sh("git", "for-each-ref", "refs/exps", cwd=repo, env=env).stdout
    journal, files = (repo / JOURNAL).read_bytes(), sorted(p.name for p in (repo / "tuning").iterdir())
    err = sh(*TUNE, *args, cwd=repo, env=env, expect=2).stderr.strip()
    assert err.startswith("error: ") and flag in err and "\n" not in err, err
    assert sh("git", "for-each-ref", "refs/exps", cwd=repo, env=env).stdout == refs
    assert (repo / JOURNAL).read_bytes() == journal
    assert not (repo / "no").exists() and sorted(p.name for p in (repo / "tuning").iterdir()) == files
