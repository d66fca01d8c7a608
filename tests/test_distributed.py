"""Scale-out with existing engines: the fine-tune stage runs unchanged under torchrun (DDP, gloo on
CPU). Two processes, each taking half of every batch, end close to one process."""
import json
import subprocess
import sys

import pytest

KEYS = ("test_accuracy", "validation_accuracy", "train_loss")


def fine_tune(repo, env, *launcher):
    proc = subprocess.run([*launcher, "-m", "stages.fine_tune", "full"], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads((repo / "metrics/fine_tune/full.json").read_text())


def test_fine_tune_under_torchrun_matches_one_process(stage_workspace):
    repo, env = stage_workspace
    single = fine_tune(repo, env, sys.executable)
    ddp = fine_tune(repo, env, sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2")
    assert ddp["train_samples"] == single["train_samples"]
    for key in KEYS:
        assert ddp[key] == pytest.approx(single[key], abs=0.05), key
    assert not (repo / "data/checkpoints/fine-tune/full").exists(), "checkpoints go once the outputs are written"
