"""One switch: `-S profile=<name>` alone selects everything that differs between profiles (conf/profile/),
the freeze sweep's points included, in DVC's own view of the pipeline; cpu -> book -> cpu needs no other
edit, and params.yaml holds the selected profile only."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stages.lib.config import settings
from stages.lib.config.params import load_params
from tests.conftest import compose, copy_repo, offline_env

EXPECTED = {  # profile -> (sweep points, embeddings frozen at every point)
    "book": ([(k, 42) for k in range(13)], False),  # the book's bonus cell: 0..12 of bert-base's 12
    "cpu": ([(k, 42) for k in range(7)], True),
    "smoke": ([(0, 42), (6, 42)], True),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("profiles") / "repo")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    return repo


def switch(repo: Path, profile: str) -> None:
    """What `dvc exp run -S profile=<p>` does to params.yaml."""
    compose(repo, [f"profile={profile}"])


STAGE_PARAMS = """
import json, sys
from dvc.repo import Repo
with Repo(".") as dvc:
    stage = dvc.stage.collect(sys.argv[1])[0]
    print(json.dumps({k: v for d in stage.deps if hasattr(d, "read_params") for k, v in d.read_params().items()}))
"""


def stage_params(repo: Path, name: str) -> dict:
    """The params DVC resolves for stage `name`, with their values (in a fresh process: DVC caches
    parsed files within one)."""
    out = subprocess.run([sys.executable, "-c", STAGE_PARAMS, name], cwd=repo, env=offline_env(),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("profile", ["cpu", "book", "smoke", "cpu"])  # in this order: a round trip
def test_the_profile_alone_selects_the_sweep(repo, profile):
    switch(repo, profile)
    out = subprocess.run([Path(sys.executable).parent / "dvc", "stage", "list"], cwd=repo, env=offline_env(),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "freeze-sweep " in out.stdout and "freeze-sweep-summary" in out.stdout
    params = stage_params(repo, "freeze-sweep")
    assert params["profile"] == profile
    section = params["sweep"]
    _, plan = settings.sweep(load_params(repo / "params.yaml"))
    points, embeddings = EXPECTED[profile]
    assert plan.points == points and plan.freeze_embeddings is embeddings
    assert section["frozen_blocks"] == sorted({k for k, _ in points})
    assert set(stage_params(repo, "freeze-sweep-summary")) == {
        "profile", "sweep.frozen_blocks", "sweep.seeds", "sweep_summary.stable_tolerance"}
    assert "profiles" not in load_params(repo / "params.yaml")  # the other profiles stay in conf/


def test_fine_tune_from_mlm_depends_on_its_model_param(repo):
    compose(repo, ["from_mlm.model=data/models/other_mlm"])
    out = subprocess.run([Path(sys.executable).parent / "dvc", "status", "fine-tune-from-mlm"], cwd=repo,
                         env=offline_env(), capture_output=True, text=True)
    assert "data/models/other_mlm" in out.stdout and "data/models/mlm_pretrain" not in out.stdout, out
