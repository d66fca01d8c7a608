"""Paths in params.yaml name the same data in the workspace and in DVC's temporary experiment clones
(stages.lib.data.sources.workspace), and prepare says which folder it looked for when the raw data is missing."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from stages.lib.data.sources import workspace
from stages.lib.config.params import load_params
from tests.conftest import REPO


def test_paths_leaving_the_repository_resolve_against_the_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "project"))
    assert workspace.resolve("../shared/datasets") == tmp_path / "shared" / "datasets"
    assert workspace.resolve("data/../../shared") == tmp_path / "shared"  # normalised before deciding
    assert workspace.resolve("data/own.csv") == Path("data/own.csv")  # inside: the run's own checkout
    assert workspace.resolve("/abs/raw") == Path("/abs/raw")


def test_without_dvc_paths_resolve_against_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert workspace.resolve("../shared") == tmp_path.parent / "shared"


def run_prepare(tmp_path, env_extra: dict, **data) -> subprocess.CompletedProcess:
    """stages.prepare in a copy of the stages under tmp_path/clone, with params.yaml's data section
    changed by `data`."""
    repo = tmp_path / "clone"
    shutil.copytree(REPO / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "params.yaml").write_text(yaml.safe_dump({"data": {**load_params(REPO / "params.yaml")["data"], **data}}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DVC_ROOT")}
    return subprocess.run([sys.executable, "-m", "stages.prepare"], cwd=repo, capture_output=True, text=True,
                          env={**env, "HF_HUB_OFFLINE": "1", **env_extra})


def test_a_missing_raw_folder_is_named_where_it_was_looked_for(tmp_path):
    proc = run_prepare(tmp_path, {"DVC_ROOT": str(tmp_path / "work" / "project")}, source="raw",
                       raw_dir="../shared/datasets")
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line == (f"error: params.yaml: data.raw_dir = '../shared/datasets': no folder at "
                    f"{tmp_path / 'work' / 'shared' / 'datasets'} (data.source: raw needs the original raw files there)")
    assert not (tmp_path / "clone" / "data").exists()


def test_auto_says_it_fell_back_to_the_hub_and_where_it_looked(tmp_path):
    proc = run_prepare(tmp_path, {}, source="auto", raw_dir="../nowhere")
    assert proc.returncode == 2, proc.stderr
    assert f"no raw files at {tmp_path / 'nowhere'}" in proc.stdout  # the switch is said, not silent
    [line] = proc.stderr.splitlines()
    assert line.startswith("error: could not load dataset 'cornell-movie-review-data/rotten_tomatoes'")
    assert line.endswith(f"(data.source: auto found no folder at {tmp_path / 'nowhere'} for data.raw_dir)")
    assert not (tmp_path / "clone" / "data").exists()


def test_raw_data_is_found_from_a_temporary_experiment_clone(tmp_path, raw_dir):
    """As DVC runs a queued experiment: the stage's folder is <workspace>/.dvc/tmp/exps/<tmp>, DVC_ROOT
    is the workspace, and the raw folder sits beside the workspace."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "datasets").symlink_to(raw_dir)
    clone = tmp_path / "project" / ".dvc" / "tmp" / "exps" / "tmpabc"
    clone.mkdir(parents=True)
    proc = run_prepare(clone, {"DVC_ROOT": str(tmp_path / "project")}, source="raw", raw_dir="../shared/datasets")
    assert proc.returncode == 0, proc.stderr
    assert f"loading raw files from {tmp_path / 'shared' / 'datasets' / 'rotten_tomatoes'}" in proc.stdout
    sources = yaml.safe_load((clone / "clone" / "data/prepared/sources.json").read_text())
    assert sources["classification"]["path"] == "../shared/datasets/rotten_tomatoes"  # as params.yaml says


def test_a_stage_started_by_another_python_says_how_to_run_it(tmp_path):
    """As when `.venv/bin/dvc repro` runs with the venv not on PATH: `python` is one without the
    project's packages (here the same interpreter with site-packages switched off)."""
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-S", "-m", "stages.prepare"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {sys.executable} lacks the project's packages (no module 'pydantic'); run the pipeline with the "
        "project's environment: `make repro`, or `source .venv/bin/activate` before `dvc repro`"]
