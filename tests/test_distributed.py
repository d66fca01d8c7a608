"""Scale-out with existing engines: every Trainer stage runs unchanged under torchrun (DDP, gloo on
CPU). Two processes, each taking half of every batch, end close to one process, and only the first
process writes."""
import json
import subprocess
import sys

import pytest

from stages.lib.runtime import distributed
from stages.lib.runtime.errors import PipelineError

STAGES = {  # stage command -> (metrics file, metrics that two processes and one must agree on)
    ("fine_tune", "full"): ("metrics/fine_tune/full.json", ("test_accuracy", "validation_accuracy", "train_loss")),
    ("mlm_pretrain",): ("metrics/mlm_pretrain.json", ("test_mlm_loss_after", "train_loss")),
    ("ner",): ("metrics/ner.json", ("test_book_token_f1", "train_loss")),
}


def run_stage(repo, env, command, *launcher):
    proc = subprocess.run([*launcher, "-m", f"stages.{command[0]}", *command[1:]], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads((repo / STAGES[command][0]).read_text())


@pytest.mark.parametrize("command", list(STAGES), ids=lambda c: c[0])
def test_every_trainer_stage_under_torchrun_matches_one_process(stage_workspace, command):
    repo, env = stage_workspace
    single = run_stage(repo, env, command, sys.executable)
    (repo / STAGES[command][0]).unlink()
    ddp = run_stage(repo, env, command, sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2")
    assert ddp["train_samples"] == single["train_samples"]
    for key in STAGES[command][1]:
        assert ddp[key] == pytest.approx(single[key], abs=0.05), key
    assert not list((repo / "data/checkpoints").glob(f"{command[0].replace('_', '-')}*/*")), \
        "checkpoints go once the outputs are written"
    assert not [p for p in repo.rglob(".*") if p.is_dir() and p.name.startswith((".full.", ".ner.", ".mlm_pretrain."))]


def test_the_global_batch_is_split_over_ddp_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert distributed.per_process_batch(16) == 8
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(PipelineError, match="batch_size = 16 does not split over 3 processes"):
        distributed.per_process_batch(16)
    monkeypatch.delenv("WORLD_SIZE")
    assert distributed.per_process_batch(16) == 16
