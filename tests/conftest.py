import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netguard.sitecustomize import block

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the Hub

# The original raw files (never copied into the repository); CI has ../shared beside the clone.
RAW_DIR = Path(os.environ.get("ENCODER_FT_RAW_DIR", REPO.parent / "shared" / "datasets")).resolve()


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    if not (RAW_DIR / "rotten_tomatoes").is_dir():
        pytest.fail(f"raw datasets not found at {RAW_DIR}; set ENCODER_FT_RAW_DIR")
    return RAW_DIR


def copy_repo(dest: Path) -> Path:
    """The repository's code and params (tracked or untracked-not-ignored files, without dvc.lock,
    metrics and tests) copied into `dest`: a workspace where tests can run stages."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if name == "dvc.lock" or name.startswith(("metrics/", "tests/")) or not (REPO / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    return dest


def offline_env(**extra: str) -> dict[str, str]:
    """Environment for a stage subprocess: offline, no analytics, this venv's executables first."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra}


@pytest.fixture(scope="session")
def stage_workspace(tmp_path_factory, raw_dir):
    """A copy of the repository on the smoke profile, with a 192-example subset trained for 2 epochs
    (24 steps), a checkpoint every 2 steps, and the prepared data: for running stages as subprocesses."""
    import yaml

    repo = copy_repo(tmp_path_factory.mktemp("stages") / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["profile"] = "smoke"
    params["data"]["raw_dir"] = str(raw_dir)
    params["checkpoints"]["every_steps"] = 2
    smoke = params["profiles"]["smoke"]
    for section in ("fine_tune", "mlm_pretrain", "ner"):  # 24 steps: time to kill it mid-training
        smoke[section].update(max_train_samples=192, epochs=2, logging_steps=4)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = offline_env()
    subprocess.run([sys.executable, "-m", "stages.prepare"], cwd=repo, env=env, check=True,
                   capture_output=True)
    return repo, env


@pytest.fixture
def no_network(monkeypatch) -> list[str]:
    """Cut this process off the network: every connect, connect_ex, create_connection and host
    lookup is refused (as on a machine without a network) and recorded; AF_UNIX sockets still
    work. Yields the recorded attempts: assert it stays empty, so that a library which swallows the
    refusal and falls back still fails the test."""
    attempts: list[str] = []
    block(attempts.append, monkeypatch.setattr)
    return attempts
