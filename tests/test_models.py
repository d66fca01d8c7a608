import json
from pathlib import Path

import pytest

from stages.lib import models
from stages.lib.config import PipelineError


def test_minilm_resolves_to_its_package():
    path = Path(models.resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "bert" and config["num_hidden_layers"] == 6


def test_mpnet_is_reassembled_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCODER_FT_CACHE", str(tmp_path))
    path = Path(models.resolve_model("sentence-transformers/all-mpnet-base-v2"))
    assert path == tmp_path / "all-mpnet-base-v2"
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "mpnet" and config["num_hidden_layers"] == 12
    assert (path / "model.safetensors").stat().st_size > 400_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["all-mpnet-base-v2"]  # no leftovers
    monkeypatch.setattr(models, "_mpnet_part_files", lambda: pytest.fail("reassembled twice"))
    assert Path(models.resolve_model("sentence-transformers/all-mpnet-base-v2")) == path


def test_local_folder_and_hub_ids(tmp_path):
    assert models.resolve_model(str(tmp_path)) == str(tmp_path)
    assert models.resolve_model("bert-base-cased") == "bert-base-cased"  # left to the Hub
    with pytest.raises(PipelineError, match="is not a folder"):
        models.resolve_model("./no/such/model")


def test_unknown_model_offline_says_how_to_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PipelineError, match="Hub is unreachable.*local copy"):
        models.load_sequence_classifier("no-such-org/no-such-model", ("neg", "pos"))
