"""The experiment loop as a researcher runs it, for real and offline, on the smoke profile: a fresh
clone (dvc.lock and metrics as committed, no DVC cache) with the raw data beside it as
`../shared/datasets` (params.yaml's relative data.raw_dir, untouched), a comma grid queued and run on
two workers, a `--temp` run, and an experiment moved to a second clone through a git remote and a DVC
remote. The whole-pipeline round trip through a DVC remote is in tests/test_pipeline.py."""
import csv
import io
import json
import subprocess

import pytest

from tests.conftest import REPO, copy_repo, offline_env

NETGUARD = REPO / "tests" / "netguard"
LR = "fine_tune.learning_rate"
RUN = ["-S", "profile=smoke", "fine-tune@full"]  # prepare, then one training stage: a minute each


def sh(*cmd, cwd, env, expect=0):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == expect, \
        f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def exp_table(repo, env, *flags) -> list[dict]:
    out = sh("dvc", "exp", "show", "--csv", *flags, cwd=repo, env=env).stdout
    return list(csv.DictReader(io.StringIO(out)))


def cell(row: dict, key: str) -> str:
    """The column of `key` (DVC's CSV names a column by the shortest suffix that is unique)."""
    return next(v for name, v in row.items() if name == key or key.endswith(f".{name}") or name.endswith(f":{key}"))


@pytest.fixture(scope="module")
def loop(tmp_path_factory, raw_dir):
    """(root, env): root/main, a clone of root/remote.git with root/dvc-store as its DVC remote, after
    a two-value grid ran on two queue workers; root/shared/datasets is the raw data."""
    root = tmp_path_factory.mktemp("loop")
    (root / "shared").mkdir()
    (root / "shared" / "datasets").symlink_to(raw_dir)
    env = offline_env(GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
                      GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com",
                      PYTHONPATH=str(NETGUARD), NETGUARD_LOG=str(root / "network-attempts.log"))
    src = copy_repo(root / "src", skip=("tests/",))  # what a clone of the project holds
    sh("git", "init", "-q", "-b", "main", cwd=src, env=env)
    sh("dvc", "remote", "add", "-d", "storage", str(root / "dvc-store"), cwd=src, env=env)
    sh("git", "add", "-A", cwd=src, env=env)
    sh("git", "commit", "-qm", "project", cwd=src, env=env)
    sh("git", "clone", "-q", "--bare", str(src), str(root / "remote.git"), cwd=root, env=env)
    sh("git", "clone", "-q", str(root / "remote.git"), str(root / "main"), cwd=root, env=env)
    repo = root / "main"
    assert not (repo / ".dvc" / "cache").exists()

    queued = sh("dvc", "exp", "run", "--queue", *RUN[:2], "-S", f"{LR}=3e-5,1e-4", RUN[2], cwd=repo, env=env)
    assert queued.stdout.count("Queued experiment") == 2, queued.stdout
    sh("dvc", "exp", "run", "--run-all", "-j", "2", cwd=repo, env=env)
    return root, env


def test_a_queued_grid_runs_prepare_on_two_workers_offline(loop):
    root, env = loop
    repo = root / "main"
    rows = {r["Experiment"]: r for r in exp_table(repo, env) if r["Experiment"]}
    assert len(rows) == 2, rows
    assert sorted(cell(r, LR) for r in rows.values()) == ["0.0001", "3e-05"]
    for r in rows.values():  # each experiment has its own headline
        assert float(cell(r, "metrics/headline/fine_tune/full.json:train_s")) > 0
        assert cell(r, "metrics/headline/fine_tune/full.json:f1") not in ("", "!")
    status = sh("dvc", "queue", "status", cwd=repo, env=env).stdout
    assert "Failed" not in status and status.count("Success") == 2, status
    for name in rows:
        log = sh("dvc", "queue", "logs", name, cwd=repo, env=env).stdout
        assert "Running stage 'prepare'" in log  # no DVC cache: each worker had to prepare the data
        assert f"loading raw files from {root / 'shared' / 'datasets'}" in log  # beside the workspace
    assert not (root / "network-attempts.log").exists()


def record_of(repo, env, name) -> dict:
    """The experiment's full record of the full run (git-tracked in its commit), and its headline as
    `dvc exp show` reads it."""
    shown = sh("dvc", "exp", "show", "--json", cwd=repo, env=env).stdout
    for baseline in json.loads(shown):
        for exp in baseline.get("experiments") or []:
            for rev in exp["revs"]:
                if rev["name"] == name:
                    record = sh("git", "show", f"{rev['rev']}:metrics/fine_tune/full.json", cwd=repo, env=env).stdout
                    return {**json.loads(record),
                            "headline": rev["data"]["metrics"]["metrics/headline/fine_tune/full.json"]["data"]}
    raise AssertionError(f"no experiment {name}")


def test_the_table_is_one_a_person_reads(loop):
    """`dvc exp show` of the project as committed, with the grid beside it: at most 150 columns, every
    run's test F1 with its interval among them, only the selected profile's knobs, and under
    --only-changed the knob the grid changed."""
    root, env = loop
    repo = root / "main"
    header = next(csv.reader(io.StringIO(sh("dvc", "exp", "show", "--csv", cwd=repo, env=env).stdout)))
    assert len(header) <= 150, (len(header), header)
    scores = [c for c in header if c.endswith(":f1")]
    assert len(scores) >= 5 and sorted(c.replace(":f1", ":f1_95ci") for c in scores) == \
        sorted(c for c in header if c.endswith(":f1_95ci")), header
    assert "fine_tune.learning_rate" in header and not [c for c in header if c.startswith(("profile.", "profiles."))]
    changed = next(csv.reader(io.StringIO(sh("dvc", "exp", "show", "--csv", "--only-changed", cwd=repo, env=env).stdout)))
    assert any(c == LR or LR.endswith(f".{c}") for c in changed) and len(changed) < len(header), changed


def test_a_temp_run_matches_the_same_params_run_beside_another(loop):
    root, env = loop
    repo = root / "main"
    sh("dvc", "exp", "run", "--temp", "-n", "alone", *RUN[:2], "-S", f"{LR}=1e-4", RUN[2], cwd=repo, env=env)
    table = exp_table(repo, env, "--only-changed")
    assert sorted(cell(r, LR) for r in table if r["Experiment"]) == ["0.0001", "0.0001", "3e-05"]  # the knob, shown
    alone = record_of(repo, env, "alone")
    paired = next(m for m in (record_of(repo, env, r["Experiment"]) for r in exp_table(repo, env)
                              if r["Experiment"] not in ("", "alone")) if m["test_f1"] == alone["test_f1"])
    for key in ("test_f1", "test_f1_ci95", "test_accuracy", "trainable_params", "train_samples"):
        assert paired[key] == alone[key]  # nothing leaked between the two workers
    assert {k: v for k, v in paired["headline"].items() if k != "train_s"} == \
        {k: v for k, v in alone["headline"].items() if k != "train_s"}
    assert paired["train_loss"] == pytest.approx(alone["train_loss"], abs=1e-6)


def test_an_experiment_moves_to_another_clone(loop):
    root, env = loop
    repo, other = root / "main", root / "other"
    sh("dvc", "exp", "push", "origin", "alone", cwd=repo, env=env)  # git refs + its outputs
    sh("git", "clone", "-q", str(root / "remote.git"), str(other), cwd=root, env=env)
    sh("dvc", "exp", "pull", "origin", "alone", cwd=other, env=env)
    # DVC applies it but stops (255) on the stages this project's dvc.lock records from a run whose
    # outputs were never pushed; tools.restore names them in one line
    applied = sh("python", "-m", "tools.restore", "alone", cwd=other, env=env, expect=1)
    lines = applied.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("restore: not restored"), applied.stderr
    assert "ner" in lines[0] and "fine-tune@full," not in lines[0] and "prepare" not in lines[0]
    assert "learning_rate: 0.0001" in (other / "params.yaml").read_text()
    restored = json.loads((other / "metrics/fine_tune/full.json").read_text())
    assert restored == {k: v for k, v in record_of(repo, env, "alone").items() if k != "headline"}
    assert (other / "data/models/fine_tune/full/model.safetensors").is_file()
    assert (other / "data/prepared/classification/train.parquet").is_file()


def test_restore_without_a_remote_is_one_line(loop):
    root, env = loop
    repo = root / "main"
    sh("dvc", "remote", "default", "--unset", cwd=repo, env=env)
    try:
        out = sh("python", "-m", "tools.restore", cwd=repo, env=env, expect=2)
    finally:
        sh("dvc", "remote", "default", "storage", cwd=repo, env=env)
    assert out.stderr.count("\n") == 1 and "no default DVC remote" in out.stderr
