"""The offline guarantee, in-process: with the network cut off (tests.conftest.no_network) and
HF_HUB_OFFLINE=1, the prepare stage runs from the raw files and the packaged MiniLM loads, tokenizes
and runs a forward pass, without a single connection attempt."""
import hashlib
import json
import socket
import tempfile
from pathlib import Path

import pytest
import torch
import yaml

from stages import prepare
from stages.lib.data.sources import builtin
from stages.lib.data.prepared import read_split
from stages.lib.models import loading
from stages.lib.config.params import load_params
from tests.conftest import REPO

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# The prepared splits' hashes since the first recorded run (as DVC hashed the folders when they held only
# the splits): prepare must keep writing the same bytes for the default datasets.
RECORDED = {"classification": "e0c3a3f7b036a010a0eed8b09595affc.dir", "ner": "53ef7767f3801226a5f889d5d9be6b86.dir"}


def dvc_dir_md5(folder: Path, files: str = "*") -> str:
    """A folder's hash as DVC records it (of its `files` only): the md5 of its sorted (relpath, md5)
    listing as JSON."""
    entries = [{"md5": hashlib.md5(p.read_bytes()).hexdigest(), "relpath": p.name} for p in sorted(folder.glob(files))]
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def test_the_guard_refuses_the_network_and_allows_unix_sockets(no_network):
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with socket.socket() as s, pytest.raises(OSError):
        s.connect(("10.0.0.1", 443))
    with socket.socket() as s, pytest.raises(OSError):
        s.connect_ex(("10.0.0.1", 443))
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("huggingface.co", 443)
    assert no_network == ["create_connection ('127.0.0.1', 9)", "connect ('10.0.0.1', 443)",
                          "connect_ex ('10.0.0.1', 443)", "getaddrinfo 'huggingface.co'"]
    with tempfile.TemporaryDirectory() as folder:  # short path: AF_UNIX addresses are <= 107 bytes
        path = str(Path(folder) / "s")
        with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
            server.bind(path)
            server.listen()
            client.connect(path)
            conn, _ = server.accept()
            client.sendall(b"ok")
            assert conn.recv(2) == b"ok"
            conn.close()
    assert len(no_network) == 4


def test_prepare_and_the_packaged_model_run_offline(no_network, raw_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = {**load_params(REPO / "params.yaml")["data"], "source": "raw", "raw_dir": str(raw_dir)}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"data": cfg}))
    monkeypatch.chdir(tmp_path)

    prepare.main()
    assert f"loading raw files from {raw_dir}" in capsys.readouterr().out
    prepared = tmp_path / "data" / "prepared"
    assert sorted(p.name for p in prepared.iterdir()) == ["classification", "ner", "sources.json"]
    assert {p.name for p in (prepared / "ner").iterdir()} == {"dataset.json", "train.parquet", "validation.parquet",
                                                              "test.parquet"}
    lock = {o["path"]: o["md5"] for o in yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]["prepare"]["outs"]}
    for folder, md5 in RECORDED.items():
        assert dvc_dir_md5(prepared / folder, "*.parquet") == md5, folder  # the splits as in the first run
        assert dvc_dir_md5(prepared / folder) == lock[f"data/prepared/{folder}"], folder  # the recorded run's folder
    reviews = read_split(prepared / "classification", "test")
    sentences = read_split(prepared / "ner", "test")
    assert (len(reviews), len(sentences)) == (1066, 3453)

    tokenizer, model = loading.load_sequence_classifier(MINILM, builtin.ROTTEN_TOMATOES_LABELS)
    batch = tokenizer(reviews["text"][:4], padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        assert model(**batch).logits.shape == (4, 2)
    tokenizer, model = loading.load_token_classifier(MINILM, builtin.NER_TAGS)
    batch = tokenizer(sentences["tokens"][:2], is_split_into_words=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert model(**batch).logits.shape == (2, batch["input_ids"].shape[1], 9)
    assert no_network == []
