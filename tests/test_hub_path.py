"""The Hub code path, offline, through the stand-in Hub (the `hub` fixture): `prepare` from the Hub,
a clone without the raw files, and the book profile end to end with `bert-base-cased`."""
import csv
import json
import subprocess
import sys

import pytest

from stages.lib.data.sources import builtin
from tests import standin_hub
from tests.conftest import REPO, compose, copy_repo, hub_env

ROTTEN_SHA = standin_hub.commit_sha(f"datasets/{standin_hub.ROTTEN}")
CONLL_SHA = standin_hub.commit_sha(f"datasets/{standin_hub.CONLL}", standin_hub.CONLL_REVISION)


def run(cmd, cwd, env, expect_failure=False):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert (proc.returncode != 0) == expect_failure, \
        f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_prepare_from_the_hub_writes_the_raw_files_bytes_and_records_the_commit(hub, raw_dir, tmp_path):
    repo = copy_repo(tmp_path / "repo")
    compose(repo, ["data.source=hub"])
    out = run([sys.executable, "-m", "stages.prepare"], repo, hub_env(hub.url, tmp_path / "hf")).stdout
    assert "loading from the Hugging Face Hub" in out
    sources = json.loads((repo / "data/prepared/sources.json").read_text())
    where = {task: {k: entry[k] for k in ("dataset", "source", "repo", "revision", "commit") if k in entry}
             for task, entry in sources.items()}
    assert builtin.HUB == {"rotten_tomatoes": (standin_hub.ROTTEN, "main"),
                           "conll2003": (standin_hub.CONLL, standin_hub.CONLL_REVISION)}
    assert where == {
        "classification": {"dataset": "rotten_tomatoes", "source": "hub", "repo": standin_hub.ROTTEN,
                           "revision": "main", "commit": ROTTEN_SHA},
        "ner": {"dataset": "conll2003", "source": "hub", "repo": standin_hub.CONLL,
                "revision": standin_hub.CONLL_REVISION, "commit": CONLL_SHA}}
    # what was read, as from the raw files
    assert sources["classification"]["rows_per_class"]["test"] == {"neg": 533, "pos": 533}
    assert sources["ner"]["rows"] == {"train": 14041, "validation": 3250, "test": 3453}
    assert sources["ner"]["repeating_a_training_row"] == {"validation": 193, "test": 126}
    for name, rows, schema in (("classification", builtin.rotten_tomatoes_from_raw(raw_dir / "rotten_tomatoes"),
                                builtin.SENTIMENT_SCHEMA),
                               ("ner", builtin.conll_from_raw(raw_dir / "conll2003"), builtin.NER_SCHEMA)):
        builtin.write_splits(rows, schema, tmp_path / "raw" / name)
        for split in builtin.SPLITS:
            assert (repo / "data/prepared" / name / f"{split}.parquet").read_bytes() == \
                   (tmp_path / "raw" / name / f"{split}.parquet").read_bytes(), (name, split)


def test_a_built_in_dataset_at_another_revision_is_your_own_hub_dataset(hub, raw_dir, tmp_path):
    """{dataset: <hub id>, revision: <rev>}, the Hub ids of the built-in datasets (which have train,
    validation and test splits): the same rows through your own data's Hub path, the commit pinned."""
    repo = copy_repo(tmp_path / "repo")
    compose(repo, [f"data.classification={{dataset: {standin_hub.ROTTEN}, revision: {ROTTEN_SHA}}}",
                   f"data.ner={{dataset: {standin_hub.CONLL}, revision: {standin_hub.CONLL_REVISION}}}"])
    run([sys.executable, "-m", "stages.prepare"], repo, hub_env(hub.url, tmp_path / "hf"))
    sources = json.loads((repo / "data/prepared/sources.json").read_text())
    assert {k: sources["classification"][k] for k in ("dataset", "source", "repo", "revision", "commit")} == {
        "dataset": standin_hub.ROTTEN, "source": "hub", "repo": standin_hub.ROTTEN, "revision": ROTTEN_SHA,
        "commit": ROTTEN_SHA}
    assert sources["ner"]["commit"] == CONLL_SHA and sources["ner"]["rows"] == {"train": 14041, "validation": 3250,
                                                                                 "test": 3453}
    described = {task: json.loads((repo / f"data/prepared/{task}/dataset.json").read_text()) for task in ("classification", "ner")}
    assert described["classification"] == builtin.describe(standin_hub.ROTTEN, standin_hub.ROTTEN, True,
                                                        builtin.ROTTEN_TOMATOES_LABELS, False)
    assert described["ner"]["labels"] == list(builtin.tag_set(["PER", "ORG", "LOC", "MISC"]))  # own data's tag order
    builtin.write_splits(builtin.rotten_tomatoes_from_raw(raw_dir / "rotten_tomatoes"), builtin.SENTIMENT_SCHEMA,
                         tmp_path / "raw")
    for split in builtin.SPLITS:  # neg = 0, pos = 1 from the dataset's class names, as the built-in's
        assert (repo / "data/prepared/classification" / f"{split}.parquet").read_bytes() == \
               (tmp_path / "raw" / f"{split}.parquet").read_bytes(), split


def test_an_unknown_revision_is_one_line(hub, tmp_path):
    repo = copy_repo(tmp_path / "repo")
    compose(repo, ["data.source=hub", f"data.classification={{dataset: {standin_hub.ROTTEN}, revision: v9}}"])
    proc = run([sys.executable, "-m", "stages.prepare"], repo, hub_env(hub.url, tmp_path / "hf"), expect_failure=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: could not load dataset '{standin_hub.ROTTEN}' at revision 'v9'")
    assert not any((repo / "data/prepared").glob("*/")) and not (repo / "data/prepared/sources.json").exists()


def test_a_clone_without_raw_files_runs_the_data_tests_through_the_hub(hub, tmp_path):
    env = hub_env(hub.url, tmp_path / "hf", ENCODER_FT_RAW_DIR=str(tmp_path / "no-such-folder"))
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_data.py"], REPO, env)
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    assert any("/datasets/" in path and "/resolve/" in path for _, path, _ in hub.requests)


def test_without_raw_files_or_the_hub_the_tests_stop_with_one_line(tmp_path):
    env = hub_env("http://127.0.0.1:9", tmp_path / "hf",  # nothing listens there
                  ENCODER_FT_RAW_DIR=str(tmp_path / "no-such-folder"), HF_HUB_OFFLINE="1")
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_data.py"], REPO, env,
               expect_failure=True)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "no raw datasets at" in line]
    assert len(lines) == 1 and "set ENCODER_FT_RAW_DIR" in lines[0], proc.stdout[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr


BOOK_CUTS = [  # sizes only: models, learning rates, epochs of the runs, precision and the sweep stay the book's
    "profile=book", "data.source=hub",
    "fine_tune.max_train_samples=32", "fine_tune.max_eval_samples=32",
    "mlm_pretrain.epochs=1", "+mlm_pretrain.max_eval_samples=16", "+ner.max_eval_samples=16",
    "setfit.num_epochs=1", "setfit.num_iterations=1",
    "setfit.samples_per_class=[8]", "setfit.main_samples_per_class=8",
    "setfit.max_eval_samples=16",
]


@pytest.fixture(scope="module")
def book_repo(hub, tmp_path_factory):
    """`dvc exp run -S profile=book` (sizes cut) in a copy of the repository, every model and dataset
    through the Hub code path: bert-base-cased and both datasets from the stand-in Hub."""
    repo = copy_repo(tmp_path_factory.mktemp("book") / "repo")
    env = hub_env(hub.url, repo.parent / "hf", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                  GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "clone"]):
        run(cmd, repo, env)
    args = [a for cut in BOOK_CUTS for a in ("-S", cut)]
    out = run(["dvc", "exp", "run", *args], repo, env).stdout
    return repo, out


def test_the_book_profile_runs_end_to_end_through_the_hub(book_repo, hub):
    repo, out = book_repo
    assert "loading from the Hugging Face Hub" in out
    sources = json.loads((repo / "data/prepared/sources.json").read_text())
    assert sources["ner"]["commit"] == CONLL_SHA and sources["classification"]["commit"] == ROTTEN_SHA
    metrics = {run: json.loads((repo / f"metrics/fine_tune/{run}.json").read_text())
               for run in ("full", "head_only", "first_blocks", "from_mlm")}
    assert {m["total_blocks"] for m in metrics.values()} == {12}  # bert-base-cased's 12 blocks
    assert metrics["head_only"]["trainable_params"] < metrics["first_blocks"]["trainable_params"] \
        < metrics["full"]["trainable_params"] == metrics["full"]["total_params"]
    assert metrics["full"]["bf16"] == metrics["full"]["fp16"] == 0  # the book's fp32
    assert json.loads((repo / "metrics/mlm_pretrain.json").read_text())["mlm_head_pretrained"] == 1
    assert 0 <= json.loads((repo / "metrics/ner.json").read_text())["test_entity_f1"] <= 1
    assert json.loads((repo / "metrics/setfit.json").read_text())["samples_per_class"] == 8
    assert (repo / "reports/report.html").is_file()
    requested = {path.split("/resolve/")[0] for _, path, _ in hub.requests if "/resolve/" in path}
    assert {"/bert-base-cased", f"/datasets/{standin_hub.ROTTEN}", f"/datasets/{standin_hub.CONLL}"} <= requested


def test_the_book_sweep_is_the_books_bonus_cell(book_repo):
    """Blocks 0..k-1 frozen for k = 0..12, the embeddings trainable at every point."""
    repo, _ = book_repo
    rows = list(csv.DictReader((repo / "metrics/freeze_sweep.csv").read_text().splitlines()))
    assert [(int(r["frozen_blocks"]), int(r["trainable_blocks"]), int(r["seed"])) for r in rows] == \
        [(k, 12 - k, 42) for k in range(13)]
    points = {k: json.loads((repo / f"metrics/freeze_sweep/points/blocks{k}_seed42.json").read_text())
              for k in (0, 12)}
    head = json.loads((repo / "metrics/fine_tune/head_only.json").read_text())["trainable_params"]
    assert points[12]["trainable_params"] > head  # all 12 blocks frozen, the embeddings still train
    assert points[0]["trainable_params"] == points[0]["total_params"]
