"""The stand-in Hub (tests/standin_hub.py, the `hub` fixture) serves what the real Hub code path asks for.

The loads run in subprocesses: huggingface_hub and datasets read HF_ENDPOINT and HF_HUB_OFFLINE at
import, and this suite sets HF_HUB_OFFLINE=1 (conftest.py). Both subprocesses run at once (~10 s).
"""
import json
import subprocess
import sys
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest

from tests import standin_hub
from tests.conftest import REPO, hub_env

# Refuse and record every host lookup but the loopback one, so a load cannot quietly use the real
# Hub (datasets also asks datasets-server.<endpoint host>, which cannot resolve: it carries on).
GUARD = """
import json, socket
left = []
_lookup = socket.getaddrinfo
def lookup(host, *a, **k):
    if host not in ("127.0.0.1", "localhost"):
        left.append(str(host)); raise socket.gaierror(f"stand-in hub test: no lookup of {host}")
    return _lookup(host, *a, **k)
socket.getaddrinfo = lookup
out = {}
"""
END = "\nout['lookups'] = left\nprint(json.dumps(out))\n"

MODELS = GUARD + """
from transformers import (AutoModelForMaskedLM, AutoModelForSequenceClassification,
                          AutoModelForTokenClassification, AutoTokenizer)
from tests.standin_hub import PROBES
tok = AutoTokenizer.from_pretrained("bert-base-cased")
out["cased"] = tok.tokenize("Maarten") != tok.tokenize("maarten")
out["unk"] = [p for p in PROBES if tok.unk_token_id in tok(p)["input_ids"]]
out["masks"] = tok("What a horrible [MASK]!")["input_ids"].count(tok.mask_token_id)
out["layers"] = {
    name: len(auto.from_pretrained(repo, **kwargs).base_model.encoder.layer)
    for name, auto, repo, kwargs in (
        ("seq", AutoModelForSequenceClassification, "bert-base-cased", {"num_labels": 2}),
        ("mlm", AutoModelForMaskedLM, "bert-base-cased", {}),
        ("tok", AutoModelForTokenClassification, "bert-base-cased", {"num_labels": 9}),
        ("copy", AutoModelForMaskedLM, "standin/bert-2-layers", {}))}
""" + END

DATASETS = GUARD + """
import datasets
from huggingface_hub import HfApi, HfFileSystem
from stages.lib.data.sources.builtin import NER_TAGS, conll_from_raw, rotten_tomatoes_from_raw
from tests.standin_hub import CONLL, CONLL_REVISION, ROTTEN, commit_sha
raw_dir = __import__("pathlib").Path(RAW_DIR)
rotten = rotten_tomatoes_from_raw(raw_dir / "rotten_tomatoes")
for name, revision in (("rt_main", None), ("rt_sha", commit_sha("datasets/" + ROTTEN))):
    ds = datasets.load_dataset(ROTTEN, revision=revision)
    out[name] = {s: len(ds[s]) for s in ds}
    out[name + "_equal"] = all(ds[s]["text"] == rotten[s]["text"] and ds[s]["label"] == rotten[s]["label"]
                               for s in rotten)
    out["rt_labels"] = ds["train"].features["label"].names
conll = conll_from_raw(raw_dir / "conll2003")
try:  # main holds the loading script only, as on the real Hub. First: once the parquet branch is
    datasets.load_dataset(CONLL)  # cached, datasets swallows this error and loads the cached copy
except Exception as e:
    out["conll_main"] = f"{type(e).__name__}: {e}"
ds = datasets.load_dataset(CONLL, revision=CONLL_REVISION)
out["conll"] = {s: len(ds[s]) for s in ds}
out["conll_equal"] = all(ds[s]["tokens"] == conll[s]["tokens"] and ds[s]["ner_tags"] == conll[s]["ner_tags"]
                         for s in conll)
out["ner_names"] = ds["train"].features["ner_tags"].feature.names
# Routes the loads above happen not to use: paths-info, expanded trees, ranged reads.
api = HfApi()
info = api.get_paths_info(CONLL, ["conll2003/train/0000.parquet", "missing.txt"], repo_type="dataset",
                          revision=CONLL_REVISION, expand=True)
out["paths_info"] = [(f.path, f.last_commit.oid) for f in info]
tree = api.list_repo_tree(CONLL, repo_type="dataset", revision=CONLL_REVISION, recursive=True, expand=True)
out["tree"] = sorted(f.path for f in tree)
out["exists"] = [api.file_exists(ROTTEN, f, repo_type="dataset") for f in ("train.parquet", "README.md")]
out["errors"] = []
for call in (lambda: datasets.load_dataset("nobody/nothing"),
             lambda: api.dataset_info(ROTTEN, revision="v9")):
    try:
        call()
    except Exception as e:
        out["errors"].append(type(e).__name__)
parquet_ref = CONLL_REVISION.replace("/", "%2F")  # HfFileSystem's spelling of a ref in a path
with HfFileSystem().open(f"datasets/{CONLL}@{parquet_ref}/conll2003/test/0000.parquet") as f:
    out["magic"] = [f.read(4).decode(), (f.seek(-4, 2), f.read(4).decode())[1]]
""" + END

# What the libraries look for and the stand-in rightly lacks (the real repos lack most of them too),
# and the test's own misses (missing.txt, repo nobody/nothing, revision v9).
ABSENT = {"README.md", ".huggingface.yaml", "dataset_infos.json", "rotten_tomatoes.py", "conll2003.py",
          "added_tokens.json", "chat_template.jinja", "additional_chat_templates", "data",
          "missing.txt", "v9",
          "adapter_config.json"}  # with peft installed, transformers checks whether a model repo is an adapter


@pytest.fixture(scope="module")
def loads(hub, tmp_path_factory, raw_dir):
    """Run both load scripts at once against the hub, each with its own fresh caches."""
    procs = {}
    for name, script in (("models", MODELS), ("datasets", f"RAW_DIR = {str(raw_dir)!r}\n" + DATASETS)):
        env = hub_env(hub.url, tmp_path_factory.mktemp(f"hf_home_{name}"), HF_DATASETS_DISABLE_PROGRESS_BARS="1")
        procs[name] = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name} load failed:\n{stderr[-4000:]}"
        results[name] = json.loads(stdout.strip().splitlines()[-1])
    return results


def test_model_and_tokenizer_load_from_the_hub(loads):
    out = loads["models"]
    assert out["layers"] == {"seq": 12, "mlm": 12, "tok": 12, "copy": 2}
    assert out["cased"] and out["unk"] == [] and out["masks"] == 1
    assert out["lookups"] == []


def test_datasets_load_from_the_hub(loads):
    from stages.lib.data.sources.builtin import EXPECTED_ROWS, NER_TAGS

    out = loads["datasets"]
    assert out["rt_main"] == out["rt_sha"] == EXPECTED_ROWS["rotten_tomatoes"]
    assert out["rt_main_equal"] and out["rt_sha_equal"] and out["rt_labels"] == ["neg", "pos"]
    assert out["conll"] == EXPECTED_ROWS["conll2003"] and out["conll_equal"]
    assert out["ner_names"] == list(NER_TAGS)
    assert "scripts are no longer supported" in out["conll_main"]
    sha = standin_hub.commit_sha(f"datasets/{standin_hub.CONLL}", standin_hub.CONLL_REVISION)
    assert out["paths_info"] == [["conll2003/train/0000.parquet", sha]]
    assert [p for p in out["tree"] if p.endswith(".parquet")] == [
        f"conll2003/{s}/0000.parquet" for s in ("test", "train", "validation")]
    assert out["exists"] == [True, False]
    assert out["errors"] == ["DatasetNotFoundError", "RevisionNotFoundError"]
    assert out["magic"] == ["PAR1", "PAR1"]
    # datasets asks datasets-server.<HF_ENDPOINT host> for exported infos; it cannot resolve.
    assert set(out["lookups"]) <= {"datasets-server.127.0.0.1"}


def test_every_request_went_through_the_hub(hub, loads):
    paths = [unquote(urlsplit(path).path) for _, path, _ in hub.requests]
    for wanted in ("/bert-base-cased/resolve/", "/standin/bert-2-layers/resolve/",
                   f"/datasets/{standin_hub.ROTTEN}/resolve/", f"/datasets/{standin_hub.CONLL}/resolve/",
                   "/api/models/bert-base-cased", f"/api/datasets/{standin_hub.CONLL}/paths-info/"):
        assert any(p.startswith(wanted) for p in paths), wanted
    print("404s:", *hub.not_found, sep="\n  ")
    unexpected = [r for r in hub.not_found
                  if PurePosixPath(unquote(urlsplit(r.split()[1]).path)).name not in ABSENT]
    assert unexpected == [] and hub.unrouted == []
