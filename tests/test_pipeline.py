"""End to end: the real `dvc repro` of the whole pipeline in a temporary copy of the repository,
on the smoke profile with a 2 x 2 freeze sweep and two seeds for the full run, SetFit and NER, offline (HF_HUB_OFFLINE=1, and every Python process
behind a network guard: tests/netguard), from the raw files."""
import hashlib
import json
import re
import subprocess

import pytest

from tests.conftest import REPO, compose, configure, copy_repo, offline_env

NETGUARD = REPO / "tests" / "netguard"

RUNS = ("full", "head_only", "first_blocks", "from_mlm", "lora_r4", "lora_r16")
SEEDS = {"fine_tune/full": 2, "setfit": 2, "ner": 2}  # predictions files of two seeds (the fixture's overrides)


def sh(*cmd, cwd, env, expect_failure=False):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert (proc.returncode != 0) == expect_failure, \
        f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory, raw_dir):
    repo = copy_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    configure(repo, ["profile=smoke", f"data.raw_dir={raw_dir}", "sweep.frozen_blocks=[0,6]", "sweep.seeds=[1,2]",
                     "+runs.full.seeds=[42,43]",  # a run's own seeds (a new key: +)
                     "setfit.seeds=[42,43]", "+ner.seeds=[42,43]"])

    # every Python process of the run (dvc, each stage) loads tests/netguard/sitecustomize.py:
    # network access is refused and logged to NETGUARD_LOG
    env = offline_env(GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
                      GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com",
                      PYTHONPATH=str(NETGUARD), NETGUARD_LOG=str(repo.parent / "network-attempts.log"))
    sh("git", "init", "-q", "-b", "main", cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-qm", "smoke", cwd=repo, env=env)
    out = sh("dvc", "repro", cwd=repo, env=env)
    return repo, env, out


def test_repro_writes_prepared_data_models_and_metrics(smoke_repo):
    repo, _, out = smoke_repo
    assert "loading raw files from" in out
    for split in ("train", "validation", "test"):
        assert (repo / "data/prepared/classification" / f"{split}.parquet").is_file()
        assert (repo / "data/prepared/ner" / f"{split}.parquet").is_file()
    assert json.loads((repo / "data/prepared/classification/dataset.json").read_text())["labels"] == ["neg", "pos"]
    metrics = {}
    for run in RUNS:
        assert (repo / "data/models/fine_tune" / run / "model.safetensors").is_file()
        assert (repo / "data/models/fine_tune" / run / "tokenizer.json").is_file()
        assert (repo / "metrics/live/fine_tune" / run / "plots/metrics/loss.tsv").is_file()
        assert not (repo / "metrics/live/fine_tune" / run / "params.yaml").exists()  # machine-specific paths
        metrics[run] = m = json.loads((repo / "metrics/fine_tune" / f"{run}.json").read_text())
        top = json.loads((repo / "metrics/headline/fine_tune" / f"{run}.json").read_text())  # what dvc exp show shows
        low, high = m["test_f1_ci95"]
        assert (top["f1"], top["f1_95ci"], top["trainable_params"]) == \
            (m["test_f1"], f"{low:.3f}–{high:.3f}", m["trainable_params"])
        for key in ("test_f1", "test_accuracy", "validation_f1", "validation_accuracy"):
            assert 0.0 <= m[key] <= 1.0
            low, high = m[f"{key}_ci95"]
            assert 0.0 <= low <= m[key] <= high <= 1.0
        assert m["train_peak_memory_mb"] > 100  # the process's own peak, MiB
        assert 0.0 < m["train_loss"] < 5.0 and m["train_samples"] == 64
        assert m["train_samples_per_second"] > 0
    # two seeds: the mean, each seed's value and their spread; the interval pools both seeds' predictions
    full = metrics["full"]
    assert full["seeds"] == [42, 43] and "seeds" not in metrics["head_only"]
    for key in ("test_f1", "validation_accuracy"):
        assert full[key] == pytest.approx(sum(full[f"{key}_seeds"]) / 2) and full[f"{key}_sd"] >= 0
    # MiniLM: 384-wide pooled output -> 2 labels; the head alone trains in head_only
    assert metrics["head_only"]["trainable_params"] == 384 * 2 + 2
    assert metrics["head_only"]["trainable_params"] < metrics["first_blocks"]["trainable_params"] \
        < metrics["full"]["trainable_params"] == metrics["full"]["total_params"]
    assert metrics["from_mlm"]["trainable_params"] == metrics["full"]["trainable_params"]
    assert metrics["head_only"]["trainable_params"] < metrics["lora_r4"]["trainable_params"] \
        < metrics["lora_r16"]["trainable_params"] < metrics["full"]["trainable_params"] / 10
    assert metrics["lora_r4"]["lora_rank"] == 4
    # the saved LoRA model has its adapters merged: a plain model of the full model's size
    sizes = {run: (repo / "data/models/fine_tune" / run / "model.safetensors").stat().st_size for run in RUNS}
    assert sizes["lora_r4"] == sizes["full"]
    assert (repo / "dvc.lock").is_file()


def test_mlm_pretrain_outputs(smoke_repo):
    repo, _, _ = smoke_repo
    m = json.loads((repo / "metrics/mlm_pretrain.json").read_text())
    assert m["mlm_head_pretrained"] == 0  # MiniLM ships no MLM head
    assert m["test_perplexity_after"] > 1 and m["test_perplexity_before"] > 1
    fills = json.loads((repo / "metrics/mlm_fill_mask.json").read_text())["probes"]
    assert fills[0]["sentence"] == "What a horrible [MASK]!"
    assert len(fills[0]["before"]) == len(fills[0]["after"]) == 5
    assert (repo / "data/models/mlm_pretrain/model.safetensors").is_file()


def test_setfit_outputs(smoke_repo):
    repo, _, _ = smoke_repo
    m = json.loads((repo / "metrics/setfit.json").read_text())
    assert 0.0 <= m["test_f1"] <= 1.0 and m["samples_per_class"] == 8 and m["test_rows"] == 64
    assert m["contrastive_pairs"] == 2 * 2 * 16  # num_iterations x 2 x examples (smoke profile)
    assert set(m["learning_curve"]) == {"4", "8"}
    assert (repo / "data/models/setfit/model.safetensors").is_file()


def test_ner_outputs(smoke_repo):
    repo, _, _ = smoke_repo
    m = json.loads((repo / "metrics/ner.json").read_text())
    for key in ("test_entity_f1", "test_entity_f1_strict", "test_book_token_f1", "test_f1_PER"):
        assert 0.0 <= m[key] <= 1.0
    assert m["train_samples"] == 64 and m["test_sentences"] == 64
    lines = (repo / "data/predictions/ner.jsonl").read_text().splitlines()
    assert len(lines) == 64 * 2 and m["seeds"] == [42, 43] and len(m["test_entity_f1_seeds"]) == 2
    first = json.loads(lines[0])
    assert set(first) == {"seed", "row", "tokens", "gold", "pred", "token_gold", "token_pred"}
    assert len(first["tokens"]) == len(first["pred"]) and len(first["token_gold"]) == len(first["token_pred"]) > 0
    for score in ("test_entity_f1", "test_book_token_f1"):  # two seeds: the intervals pool them
        low, high = m[f"{score}_ci95"]
        assert low <= m[score] <= high and len(m[f"{score}_seeds"]) == 2
    probes = json.loads((repo / "metrics/ner_probes.json").read_text())["probes"]
    assert probes[0]["sentence"] == "My name is Maarten." and isinstance(probes[0]["entities"], list)
    assert (repo / "metrics/live/ner/plots/metrics/loss.tsv").is_file()
    assert (repo / "data/models/ner/model.safetensors").is_file()


def test_every_model_folder_holds_a_card_the_hub_parser_reads(smoke_repo):
    from huggingface_hub import ModelCard

    repo, _, _ = smoke_repo
    for folder in [*(f"fine_tune/{run}" for run in RUNS), "mlm_pretrain", "ner", "setfit"]:
        card = ModelCard.load(repo / "data/models" / folder / "README.md")
        # from_mlm's base is data/models/mlm_pretrain: its card passes on MiniLM and its license
        assert (card.data.base_model, card.data.license) == ("sentence-transformers/all-MiniLM-L6-v2", "apache-2.0")
        assert card.data.eval_results and "## Intended use and limits" in card.text, folder
    full = ModelCard.load(repo / "data/models/fine_tune/full/README.md")
    assert "mean over seeds 42, 43" in full.text  # the full run's two seeds, combined


def test_predictions_line_up_with_the_test_split(smoke_repo):
    import pyarrow.parquet as pq

    repo, _, _ = smoke_repo
    test = pq.read_table(repo / "data/prepared/classification/test.parquet").to_pydict()
    files = [*(f"fine_tune/{run}" for run in RUNS), "setfit",
             *(f"freeze_sweep/blocks{k}_seed{s}" for k in (0, 6) for s in (1, 2))]
    rows = {}
    for name in files:
        rows[name] = [json.loads(line) for line in (repo / f"data/predictions/{name}.jsonl").read_text().splitlines()]
        seeds = SEEDS.get(name, 1)
        assert len(rows[name]) == 64 * seeds, name  # max_eval_samples, for each seed
        for r in rows[name]:
            assert r["gold"] == test["label"][r["row"]] and r["pred"] == max((0, 1), key=lambda c: r["probs"][c])
        assert [r["row"] for r in rows[name]] == [r["row"] for r in rows["fine_tune/full"]][:64 * seeds], name  # pairable
        m = json.loads((repo / "metrics" / ("setfit.json" if name == "setfit" else f"{name}.json".replace(
            "freeze_sweep/", "freeze_sweep/points/"))).read_text())
        accuracy = sum(r["gold"] == r["pred"] for r in rows[name]) / (64 * seeds)  # the mean over seeds
        assert m["test_accuracy"] == pytest.approx(accuracy), name


def test_comparisons_and_frontier(smoke_repo):
    repo, _, _ = smoke_repo
    comparisons = json.loads((repo / "metrics/comparisons.json").read_text())
    # each LoRA run against the sweep point nearest in trainable parameters: the all-frozen one here
    assert set(comparisons) == {*(f"fine_tune/full vs {o}" for o in ("fine_tune/first_blocks", "fine_tune/head_only",
                                                                     "fine_tune/from_mlm", "fine_tune/lora_r4",
                                                                     "fine_tune/lora_r16", "setfit")),
                                "freeze_sweep/blocks6_seed1 vs freeze_sweep/blocks0_seed1",
                                "freeze_sweep/blocks6_seed2 vs freeze_sweep/blocks0_seed2",
                                "fine_tune/lora_r4 vs freeze_sweep/blocks6_seed1",
                                "fine_tune/lora_r16 vs freeze_sweep/blocks6_seed1"}
    for name, c in comparisons.items():
        other = json.loads((repo / "metrics" / (c["b"] + ".json").replace("freeze_sweep/", "freeze_sweep/points/")
                            ).read_text())
        first = json.loads(
            (repo / "metrics" / (c["a"] + ".json").replace("freeze_sweep/", "freeze_sweep/points/")).read_text())
        assert c["difference"] == pytest.approx(first["test_f1"] - other["test_f1"]), name
        assert c["ci95"][0] <= c["difference"] <= c["ci95"][1] and 0 < c["p_value"] <= 1 and c["units"] == 64
        assert c["seeds"] == [SEEDS.get(c["a"], 1), SEEDS.get(c["b"], 1)]
    lines = (repo / "metrics/frontier.csv").read_text().splitlines()
    assert lines[0] == "method,kind,trainable_params,log10_trainable_params,train_seconds,f1,f1_low,f1_high"
    kinds = [line.split(",")[1] for line in lines[1:]]
    assert kinds.count("lora") == 2 and kinds.count("sweep") == 4 and "setfit" in kinds and "head_only" in kinds


def test_sweep_summary_and_report(smoke_repo):
    repo, _, _ = smoke_repo
    lines = (repo / "metrics/freeze_sweep.csv").read_text().splitlines()
    assert lines[0] == "frozen_blocks,trainable_blocks,total_blocks,seed,f1,f1_low,f1_high,accuracy,train_seconds"
    assert [line.split(",")[:4] for line in lines[1:]] == \
        [["0", "6", "6", "1"], ["0", "6", "6", "2"], ["6", "0", "6", "1"], ["6", "0", "6", "2"]]
    summary = json.loads((repo / "metrics/freeze_sweep.json").read_text())
    assert summary["points"] == 4 and summary["stable_trainable_blocks"] in (0, 6)
    html = (repo / "reports/report.html").read_text()
    assert "The book's numbers beside ours" in html and "Appendix: every metric" in html and "fine_tune/full" in html
    assert "data:image/png;base64" in html            # figures embedded
    assert not re.search(r"<script[^>]+src=", html)   # opens offline: no CDN scripts
    assert "def flatten" not in html                  # code cells hidden
    assert "has not run yet" not in html              # every stage's section is filled
    for figure in ("freeze_sweep.png", "frontier.png"):
        assert (repo / "reports" / figure).read_bytes()[:4] == b"\x89PNG"


def test_the_pipeline_ran_with_the_network_blocked(smoke_repo):
    repo, env, _ = smoke_repo
    sh("python", "-c", "import socket; socket.create_connection(('10.0.0.1', 443))", cwd=repo, env={
        **env, "NETGUARD_LOG": str(repo.parent / "guard-check.log")}, expect_failure=True)
    assert "create_connection ('10.0.0.1', 443)" in (repo.parent / "guard-check.log").read_text()  # armed
    attempts = repo.parent / "network-attempts.log"
    assert not attempts.exists(), attempts.read_text()


def test_second_repro_is_a_no_op(smoke_repo):
    repo, env, _ = smoke_repo
    out = sh("dvc", "status", cwd=repo, env=env)
    assert "up to date" in out


def test_a_new_sweep_seed_changes_only_the_sweep(smoke_repo):
    repo, env, _ = smoke_repo
    params = (repo / "params.yaml").read_text()
    compose(repo, ["sweep.seeds=[1,3]"])
    try:
        out = sh("dvc", "status", cwd=repo, env=env)
    finally:
        (repo / "params.yaml").write_text(params)
    stages = {line.rstrip(":") for line in out.splitlines() if line and not line[0].isspace()}
    assert stages == {"freeze-sweep", "freeze-sweep-summary", "compare"}


def test_same_params_and_seed_give_the_same_model_and_metrics(smoke_repo):
    repo, env, _ = smoke_repo
    measured = {"train_runtime_s", "train_samples_per_second", "train_peak_memory_mb"}  # not deterministic

    def state():
        metrics = json.loads((repo / "metrics/fine_tune/full.json").read_text())
        # every file of the model but its card, which records the measured training time
        model = {p.name: hashlib.md5(p.read_bytes()).hexdigest()
                 for p in (repo / "data/models/fine_tune/full").iterdir() if p.name != "README.md"}
        return {k: v for k, v in metrics.items() if k not in measured}, model

    before = state()
    sh("dvc", "repro", "--force", "--single-item", "fine-tune@full", cwd=repo, env=env)
    assert state() == before


def test_param_experiment_shows_in_params_and_metrics_diff(smoke_repo):
    repo, env, _ = smoke_repo
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-qm", "baseline results", cwd=repo, env=env)
    # the value as users type it: DVC writes it back as 3e-05, a number only to a YAML 1.2 reader;
    # one target (and what it depends on), as when trying a knob on one run before the whole pipeline
    out = sh("dvc", "exp", "run", "-S", "fine_tune.learning_rate=3e-5", "fine-tune@full", cwd=repo, env=env)
    assert "Running stage 'fine-tune@full'" in out
    assert "Stage 'prepare' didn't change, skipping" in out  # only the stages that read the param
    assert "lr 3e-05" in out  # the stage read the number
    diff = sh("git", "diff", "-U0", "params.yaml", cwd=repo, env=env)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-  learning_rate: 5.0e-05", "+  learning_rate: 3.0e-05"]  # only the knob
    params = sh("dvc", "params", "diff", "--md", cwd=repo, env=env)
    assert "fine_tune.learning_rate" in params and "3e-05" in params
    metrics = sh("dvc", "metrics", "diff", "--md", cwd=repo, env=env)
    assert "metrics/headline/fine_tune/full.json" in metrics and "train_s" in metrics


@pytest.fixture(scope="module")
def shared(smoke_repo, tmp_path_factory):
    """The smoke run's results committed and `dvc push`ed to a local DVC remote, the commit pushed to a
    bare git remote, and a second clone of it: (origin clone, other clone, env)."""
    repo, env, _ = smoke_repo
    root = tmp_path_factory.mktemp("shared")
    sh("git", "checkout", "--", ".", cwd=repo, env=env)  # the committed run, whatever experiment ran since
    sh("dvc", "checkout", "--force", cwd=repo, env=env)
    sh("dvc", "repro", cwd=repo, env=env)  # compare and report, after the forced rerun of one fine-tune above
    assert "up to date" in sh("dvc", "status", cwd=repo, env=env)
    sh("dvc", "remote", "add", "-d", "storage", str(root / "dvc-store"), cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-qm", "results, and where they are stored", cwd=repo, env=env)
    sh("dvc", "push", cwd=repo, env=env)
    sh("git", "clone", "-q", "--bare", str(repo), str(root / "remote.git"), cwd=root, env=env)
    sh("git", "remote", "add", "origin", str(root / "remote.git"), cwd=repo, env=env)
    sh("git", "clone", "-q", str(root / "remote.git"), str(root / "other"), cwd=root, env=env)
    return repo, root / "other", env


def test_every_output_travels_through_a_dvc_remote(shared):
    repo, other, env = shared
    sh("dvc", "pull", cwd=other, env=env)
    assert "up to date" in sh("dvc", "status", cwd=other, env=env)
    out = sh("dvc", "repro", cwd=other, env=env)
    assert "Running stage" not in out and "Data and pipelines are up to date" in out  # nothing retrained
    for model in ("fine_tune/full", "ner", "setfit", "mlm_pretrain"):
        weights = next((repo / "data/models" / model).glob("*.safetensors")).relative_to(repo)
        assert (other / weights).read_bytes() == (repo / weights).read_bytes()
    assert (other / "reports/report.html").read_bytes() == (repo / "reports/report.html").read_bytes()
    assert "every stage's outputs are here" in sh("python", "-m", "tools.restore", cwd=other, env=env)


def test_an_experiment_moves_between_clones_and_applies(shared):
    repo, other, env = shared
    sh("dvc", "exp", "run", "--temp", "-n", "lr-1e-4", "-S", "fine_tune.learning_rate=1e-4",
       "fine-tune@full", cwd=repo, env=env)
    sh("dvc", "exp", "push", "origin", "lr-1e-4", cwd=repo, env=env)  # git refs and the outputs it made
    sh("dvc", "pull", cwd=other, env=env)
    sh("dvc", "exp", "pull", "origin", "lr-1e-4", cwd=other, env=env)
    sh("dvc", "exp", "apply", "lr-1e-4", cwd=other, env=env)
    assert "learning_rate: 0.0001" in (other / "params.yaml").read_text()
    # the stage the experiment ran, with its outputs (the others it left to a later full run)
    assert "up to date" in sh("dvc", "status", "fine-tune@full", cwd=other, env=env)
    refs = sh("git", "for-each-ref", "--format=%(refname)", "refs/exps", cwd=repo, env=env).split()
    ref = next(r for r in refs if r.endswith("/lr-1e-4"))
    ran = json.loads(sh("git", "show", f"{ref}:metrics/fine_tune/full.json", cwd=repo, env=env))
    assert json.loads((other / "metrics/fine_tune/full.json").read_text()) == ran
    shown = sh("dvc", "exp", "show", "--csv", "--only-changed", cwd=other, env=env)
    assert "learning_rate" in shown.splitlines()[0] and "lr-1e-4" in shown
