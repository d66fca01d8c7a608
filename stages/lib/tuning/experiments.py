"""A finished trial saved as a DVC experiment: a commit on top of the baseline (HEAD when the search
started) holding params.yaml with the trial's recipe and tuning/trial.json with its validation
scores, under DVC's experiment ref. So `dvc exp show` lists it, `dvc exp apply` puts its recipe in
the workspace and `dvc exp push` shares it, while the search never touches the workspace: workers
save side by side, each through its own git index."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from stages.lib.tuning.space import UsageError

TRIAL_METRICS = "tuning/trial.json"  # declared in dvc.yaml's top-level metrics


def _git(*args: str, cwd: Path, env: dict | None = None, data: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=data, capture_output=True)
    if proc.returncode:
        raise RuntimeError(f"git {args[0]}: {proc.stderr.decode().strip()}")
    return proc.stdout.decode().strip()


def baseline(repo: Path = Path(".")) -> str:
    """The commit the trials build on (HEAD)."""
    try:
        return _git("rev-parse", "--verify", "HEAD^{commit}", cwd=repo)
    except RuntimeError:
        raise UsageError(f"{Path(repo).resolve()}: not a git repository with a commit; a search saves its "
                         "trials as DVC experiments of the current commit") from None


def ref(base: str, name: str) -> str:
    from dvc.repo.experiments.refs import ExpRefInfo

    return str(ExpRefInfo(base, name))


def check_name(name: str, flag: str = "--study") -> None:
    """An experiment name git and DVC accept."""
    if subprocess.run(["git", "check-ref-format", f"refs/exps/00/00/{name}"]).returncode or "/" in name:
        raise UsageError(f"{flag} {name}: not usable in an experiment name (letters, digits, - and _)")


def existing(base: str, prefix: str, repo: Path = Path(".")) -> list[str]:
    """Names of the baseline's experiments that start with `prefix`."""
    refs = _git("for-each-ref", "--format=%(refname)", ref(base, prefix).rpartition("/")[0], cwd=repo)
    return [line.rpartition("/")[2] for line in refs.splitlines() if line.rpartition("/")[2].startswith(prefix)]


def _configured(repo: Path) -> bool:
    return subprocess.run(["git", "config", "user.email"], cwd=repo, capture_output=True).returncode == 0


def save(name: str, params: dict, metrics: dict, base: str, repo: Path = Path(".")) -> str:
    """Record `params` (params.yaml) and `metrics` (tuning/trial.json) on `base` as experiment `name`;
    an experiment of that name is never overwritten. Returns the commit."""
    files = {"params.yaml": yaml.safe_dump(params, sort_keys=False, allow_unicode=True).encode(),
             TRIAL_METRICS: (json.dumps(metrics, indent=2) + "\n").encode()}
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git("read-tree", base, cwd=repo, env=env)
        for path, data in files.items():
            blob = _git("hash-object", "-w", "--stdin", cwd=repo, data=data)
            _git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", cwd=repo, env=env)
        tree = _git("write-tree", cwd=repo, env=env)
        who = [] if _configured(repo) else ["-c", "user.name=tools.tune", "-c", "user.email=tune@localhost"]
        commit = _git(*who, "commit-tree", tree, "-p", base, "-m", f"{name}: a tuning trial", cwd=repo)
    _git("update-ref", ref(base, name), commit, "", cwd=repo)  # "": fails if the ref exists
    return commit
