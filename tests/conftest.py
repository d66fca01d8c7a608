import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netguard.sitecustomize import block

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
USER_HUB_OFFLINE = os.environ.get("HF_HUB_OFFLINE")  # as the user set it, for the one Hub fallback
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the Hub, but for that fallback

# Under pytest-xdist (`make test` runs 2 workers, one test file each) the cores are shared out: each
# worker, and every stage it starts, computes on cores / workers threads instead of all of them.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

# The quick tier, `make test-fast` (under 3 minutes on 2 cores), leaves out the tests that run the
# pipeline end to end through DVC, torchrun or the stand-in Hub (and the stand-in's own checks);
# `make test` (CI) runs every test.
SLOW_FILES = {"test_pipeline.py", "test_experiments.py", "test_checkpoints.py", "test_distributed.py",
              "test_hub_path.py", "test_standin_hub.py", "test_tuning_search.py"}
SLOW_TESTS = {"test_your_own_data_through_dvc_and_predict"}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: an end-to-end run, left out of `make test-fast`")


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in SLOW_FILES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


# The original raw files (never copied into the repository); CI has ../shared beside the clone.
RAW_DIR = Path(os.environ.get("ENCODER_FT_RAW_DIR", REPO.parent / "shared" / "datasets")).resolve()


def bootstrap_settings():
    """The bootstrap settings tests score with (the pipeline's are in params.yaml)."""
    from stages.lib.config.schema import Bootstrap

    return Bootstrap(resamples=1000, seed=0)


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory) -> Path:
    """The raw files: ENCODER_FT_RAW_DIR or ../shared/datasets, or, on a machine without them (a
    user's fresh clone), the same files rebuilt once from the Hub through the stages' Hub path."""
    if (RAW_DIR / "rotten_tomatoes").is_dir():
        return RAW_DIR
    dest = tmp_path_factory.mktemp("raw-from-hub")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    if USER_HUB_OFFLINE is not None:
        env["HF_HUB_OFFLINE"] = USER_HUB_OFFLINE
    proc = subprocess.run([sys.executable, "-m", "tests.raw_from_hub", str(dest)], cwd=REPO, env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.exit(f"no raw datasets at {RAW_DIR}, and loading them from the Hugging Face Hub failed: "
                    f"{reason} -- set ENCODER_FT_RAW_DIR to a folder with rotten_tomatoes/ and "
                    "conll2003/, or run where the Hub is reachable", returncode=2)
    return dest


def copy_repo(dest: Path, skip: tuple[str, ...] = ("dvc.lock", "metrics/", "tests/")) -> Path:
    """The repository's files (tracked or untracked-not-ignored, by default without dvc.lock, metrics
    and tests) copied into `dest`: a workspace where tests can run stages."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if name.startswith(skip) or not (REPO / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    return dest


def compose(repo: Path, overrides: list[str] = ()) -> None:
    """What `dvc exp run -S <overrides>` does to params.yaml: compose conf/ (Hydra) with them."""
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(repo / "params.yaml", str(repo / "conf"), None, "config", str(repo), list(overrides))


def composed(overrides: list[str] = ()) -> dict:
    """The params `dvc exp run -S <overrides>` would write, composed from the repository's conf/."""
    import tempfile

    from stages.lib.config.params import load_params

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "conf").symlink_to(REPO / "conf")
        compose(Path(tmp), overrides)
        return load_params(Path(tmp) / "params.yaml")


def configure(repo: Path, overrides: list[str]) -> None:
    """Make `overrides` (as typed after `dvc exp run -S`) the defaults of the copy's conf/, as a user edits
    it, and compose params.yaml from it: later `dvc exp run -S` runs start from these values."""
    from omegaconf import OmegaConf
    from ruamel.yaml import YAML

    compose(repo, overrides)
    composed = OmegaConf.load(repo / "params.yaml")
    yaml = YAML()
    config = yaml.load((repo / "conf/config.yaml").read_text())
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+")
        if key == "profile":
            config["defaults"][0]["profile"] = OmegaConf.select(composed, key)
            continue
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        value = OmegaConf.select(composed, key)
        node[leaf] = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    with open(repo / "conf/config.yaml", "w") as f:
        yaml.dump(config, f)
    compose(repo)
    assert OmegaConf.load(repo / "params.yaml") == composed


def offline_env(**extra: str) -> dict[str, str]:
    """Environment for a stage subprocess: offline, no analytics, this venv's executables first."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra}


@pytest.fixture(scope="session")
def stage_workspace(tmp_path_factory, raw_dir):
    """A copy of the repository on the smoke profile, with a 192-example subset trained for 2 epochs
    (24 steps), a checkpoint every 2 steps, and the prepared data: for running stages as subprocesses."""
    repo = copy_repo(tmp_path_factory.mktemp("stages") / "repo")
    # 24 steps: time to kill it mid-training. Masks drawn after a resume differ a little, so the resumed
    # MLM model differs a little: on 64 test texts (~150 masked tokens) sampling noise put the two
    # losses 0.026 apart; 512 texts measure the models with less noise
    configure(repo, ["profile=smoke", f"data.raw_dir={raw_dir}", "checkpoints.every_steps=2",
                     "fine_tune.max_train_samples=192", "fine_tune.epochs=2", "fine_tune.logging_steps=4",
                     "+mlm_pretrain.max_eval_samples=512"])  # (mlm_pretrain and ner take fine_tune's recipe)
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


@pytest.fixture(scope="session")
def hub(tmp_path_factory, raw_dir):
    """A stand-in Hugging Face Hub on the loopback address (tests/standin_hub.py): a tiny random
    bert-base-cased (12 blocks), a 2-block copy, and both datasets in the Hub's parquet layout."""
    from tests import standin_hub

    root = tmp_path_factory.mktemp("standin_hub")
    standin_hub.build(root, raw_dir)
    standin_hub.copy_model(root, "standin/bert-2-layers", num_hidden_layers=2)
    with standin_hub.serve(root) as running:
        yield running


def hub_env(endpoint: str, home: Path, **extra: str) -> dict[str, str]:
    """Environment for a subprocess that uses the Hub code path against the Hub at `endpoint`, with
    fresh caches in `home` (huggingface_hub and datasets read these at import)."""
    env = {k: v for k, v in offline_env().items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "NETGUARD_LOG")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_CACHE=str(home / "hub"),
               HF_DATASETS_CACHE=str(home / "ds"), HF_HUB_DISABLE_PROGRESS_BARS="1",
               HF_UPDATE_DOWNLOAD_COUNTS="0", **extra)  # else datasets pings s3.amazonaws.com per load
    return env
