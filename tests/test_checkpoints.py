"""Interruption: a killed training stage resumes from its last checkpoint and ends where an
uninterrupted run ends. The stages run as subprocesses in a temporary copy of the repository (smoke
profile, a larger subset, a checkpoint every 2 steps) and are killed with SIGKILL mid-training."""
import json
import re
import signal
import subprocess
import sys
import time

import pytest

from stages.lib.training import checkpoints
from stages.lib.training.checkpoints import Checkpoints

STAGES = {  # stage command -> (metrics file, metrics that must match, run folder under data/checkpoints)
    # the smoke sweep (0 and 6 frozen) is killed in its second point: the first is not trained again
    "freeze_sweep": ([], "metrics/freeze_sweep/points/blocks6_seed42.json",
                     ("test_f1", "test_accuracy"), "freeze-sweep/blocks6_seed42"),
    "mlm_pretrain": ([], "metrics/mlm_pretrain.json", ("test_mlm_loss_after",), "mlm-pretrain"),
    "ner": ([], "metrics/ner.json", ("test_entity_f1", "test_book_token_f1"), "ner"),
}
CURVES = {"mlm_pretrain": "metrics/live/mlm_pretrain", "ner": "metrics/live/ner"}


def run_stage(repo, env, stage, args):
    proc = subprocess.run([sys.executable, "-m", f"stages.{stage}", *args], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def kill_after_first_checkpoint(repo, env, stage, args, run_dir):
    """Start the stage, SIGKILL it once a complete checkpoint exists; return that checkpoint's step."""
    proc = subprocess.Popen([sys.executable, "-m", f"stages.{stage}", *args], cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            found = [Checkpoints(folder, 2).last() for folder in run_dir.glob("*")]
            if any(found):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return int(re.search(r"checkpoint-(\d+)$", next(f for f in found if f)).group(1))
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
    pytest.fail(f"{stage} ended (exit {proc.returncode}) before a checkpoint was written")


@pytest.mark.parametrize("stage", STAGES)
def test_a_killed_stage_resumes_and_matches_an_uninterrupted_run(stage_workspace, stage):
    repo, env = stage_workspace
    args, metrics_file, keys, run = STAGES[stage]
    run_dir = repo / "data/checkpoints" / run
    metrics_path = repo / metrics_file

    run_stage(repo, env, stage, args)
    uninterrupted = json.loads(metrics_path.read_text())
    if stage == "freeze_sweep":
        uninterrupted_first = json.loads((repo / "metrics/freeze_sweep/points/blocks0_seed42.json").read_text())
    curve = repo / CURVES.get(stage, "-") / "plots/metrics/loss.tsv"
    uninterrupted_curve = curve.read_text().splitlines() if stage in CURVES else None
    assert not run_dir.exists(), "checkpoints are removed once the outputs are written"
    metrics_path.unlink()
    if stage == "freeze_sweep":
        (repo / "metrics/freeze_sweep/points/blocks0_seed42.json").unlink()

    step = kill_after_first_checkpoint(repo, env, stage, args, run_dir)
    assert not metrics_path.exists(), "a killed stage leaves no metrics behind"
    log = run_stage(repo, env, stage, args)
    assert f"resuming from data/checkpoints/{run}/" in log and f"checkpoint-{step}:" in log
    if stage == "freeze_sweep":
        assert "0 frozen, seed 42: done in an interrupted run" in log
        first = json.loads((repo / "metrics/freeze_sweep/points/blocks0_seed42.json").read_text())
        assert first["test_f1"] == pytest.approx(uninterrupted_first["test_f1"], abs=0.01)
    resumed = json.loads(metrics_path.read_text())
    for key in keys:
        assert resumed[key] == pytest.approx(uninterrupted[key], abs=0.01), key
    # train_loss averages the steps before the resume too (MLM: the first steps' loss is ~10 against
    # a mean of ~8, so leaving them out would be off by > 2 %; masks drawn after a resume differ a little)
    assert resumed["train_loss"] == pytest.approx(uninterrupted["train_loss"], rel=0.01)
    # samples/s and runtime cover the whole run: together they count every sample of both epochs
    trained = resumed["train_samples_per_second"] * resumed["train_runtime_s"]
    assert trained == pytest.approx(2 * resumed["train_samples"], rel=0.02)
    if stage in CURVES:  # the curve has every logged step, before and after the resume
        assert [r.split("\t")[0] for r in curve.read_text().splitlines()] == \
            [r.split("\t")[0] for r in uninterrupted_curve]
        assert not (curve.parents[2] / "params.yaml").exists(), "no machine-specific params file"
    assert not run_dir.exists()


def test_the_newest_complete_checkpoint_is_resumed_and_other_settings_start_afresh(tmp_path):
    ckpt = Checkpoints.for_run("fine-tune/full", 2, {"lr": 1e-5}, root=tmp_path)
    assert ckpt.last() is None
    for step, state in ((2, "{}"), (4, "{}"), (6, '{"trunc')):  # step 6: killed while saving
        (ckpt.folder / f"checkpoint-{step}").mkdir(parents=True)
        (ckpt.folder / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    assert ckpt.last() == str(ckpt.folder / "checkpoint-4")
    assert Checkpoints.for_run("fine-tune/full", 2, {"lr": 1e-5}, root=tmp_path).last() == ckpt.last()

    other = Checkpoints.for_run("fine-tune/full", 2, {"lr": 2e-5}, root=tmp_path)
    assert other.last() is None and not ckpt.folder.exists(), "another run's checkpoints are stale"
    other.folder.mkdir(parents=True)
    other.finish()
    assert not (tmp_path / "fine-tune/full").exists()


def test_the_fingerprint_covers_the_code_that_trains(tmp_path, monkeypatch):
    code = tmp_path / "stages"
    (code / "lib").mkdir(parents=True)
    (code / "lib" / "training.py").write_text("LR = 1\n")
    monkeypatch.setattr(checkpoints, "CODE", code)
    monkeypatch.chdir(tmp_path)  # data/checkpoints/ goes here
    data = tmp_path / "data"
    data.mkdir()
    params = {"checkpoints": {"every_steps": 2}}

    def folder():
        return checkpoints.for_stage(params, "ner", data, "some/model", hp={"lr": 1}).folder

    before = folder()
    assert folder() == before
    (code / "lib" / "training.py").write_text("LR = 2  # a fix\n")
    assert folder() != before, "a run of the old code is not resumed"
