import json
from pathlib import Path

import pytest

from stages.lib.models import loading
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.sources.builtin import NER_TAGS


def test_minilm_resolves_to_its_package():
    path = Path(loading.resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "bert" and config["num_hidden_layers"] == 6


def test_mpnet_is_reassembled_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCODER_FT_CACHE", str(tmp_path))
    path = Path(loading.resolve_model("sentence-transformers/all-mpnet-base-v2"))
    assert path == tmp_path / "all-mpnet-base-v2"
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "mpnet" and config["num_hidden_layers"] == 12
    assert (path / "model.safetensors").stat().st_size > 400_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["all-mpnet-base-v2"]  # no leftovers
    monkeypatch.setattr(loading, "_mpnet_part_files", lambda: pytest.fail("reassembled twice"))
    assert Path(loading.resolve_model("sentence-transformers/all-mpnet-base-v2")) == path


def test_local_folder_and_hub_ids(tmp_path):
    assert loading.resolve_model(str(tmp_path)) == str(tmp_path)
    assert loading.resolve_model("bert-base-cased") == "bert-base-cased"  # left to the Hub
    with pytest.raises(PipelineError, match="is not a folder"):
        loading.resolve_model("./no/such/model")


def test_unknown_model_offline_says_how_to_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PipelineError, match="Hub is unreachable.*local copy"):
        loading.load_sequence_classifier("no-such-org/no-such-model", ("neg", "pos"))


# ---- a checkpoint's labels against the task's ------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(loading.resolve_model("sentence-transformers/all-MiniLM-L6-v2"))


def save_tiny(folder: Path, model_class, tokenizer, labels=None) -> Path:
    """A randomly initialised 2-block BERT, 16 wide, saved with a tokenizer like a checkpoint."""
    from transformers import BertConfig

    kwargs = {"id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}} \
        if labels else {}
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, **kwargs)
    tokenizer.save_pretrained(folder)
    model_class(config).save_pretrained(folder)
    return folder


def test_a_ner_checkpoint_for_sentiment_names_folder_and_labels(tmp_path, tokenizer):
    from transformers import BertForTokenClassification

    folder = save_tiny(tmp_path / "ner-model", BertForTokenClassification, tokenizer, NER_TAGS)
    with pytest.raises(PipelineError) as e:
        loading.load_sequence_classifier(str(folder), ("neg", "pos"))
    message = str(e.value)
    assert f"model '{folder}'" in message
    assert "labels ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC'] " \
           "and a BertForTokenClassification head; this task needs ['neg', 'pos']" in message
    assert "\n" not in message


def test_a_sentiment_checkpoint_with_other_label_names(tmp_path, tokenizer):
    from transformers import BertForSequenceClassification

    folder = save_tiny(tmp_path / "sst2", BertForSequenceClassification, tokenizer, ("NEGATIVE", "POSITIVE"))
    with pytest.raises(PipelineError, match=r"sst2'.*labels \['NEGATIVE', 'POSITIVE'\].*needs \['neg', 'pos'\]"):
        loading.load_sequence_classifier(str(folder), ("neg", "pos"))
    folder = save_tiny(tmp_path / "swapped", BertForSequenceClassification, tokenizer, ("pos", "neg"))
    with pytest.raises(PipelineError, match=r"swapped'.*labels \['pos', 'neg'\].*needs \['neg', 'pos'\]"):
        loading.load_sequence_classifier(str(folder), ("neg", "pos"))
    with pytest.raises(PipelineError, match=r"labels \['pos', 'neg'\] and a BertForSequenceClassification "
                                            r"head; this task needs \['O', 'B-PER'"):
        loading.load_token_classifier(str(folder), NER_TAGS)


def test_an_unnamed_head_of_another_size_is_an_error(tmp_path, tokenizer):
    from transformers import BertConfig, BertForTokenClassification

    folder = tmp_path / "unnamed"
    tokenizer.save_pretrained(folder)
    BertForTokenClassification(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=2,
                                          num_attention_heads=2, intermediate_size=32, num_labels=9)
                               ).save_pretrained(folder)
    with pytest.raises(PipelineError, match=r"labels \['LABEL_0', .*'LABEL_8'\] and a "
                                            r"BertForTokenClassification head; this task needs \['neg', 'pos'\]"):
        loading.load_sequence_classifier(str(folder), ("neg", "pos"))


def test_inconsistent_id2label_and_label2id(tmp_path, tokenizer):
    from transformers import BertForSequenceClassification

    folder = save_tiny(tmp_path / "edited", BertForSequenceClassification, tokenizer, ("neg", "pos"))
    config = json.loads((folder / "config.json").read_text())
    config["label2id"] = {"neg": 1, "pos": 0}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PipelineError, match=r"id2label \['neg', 'pos'\] but label2id \['pos', 'neg'\]"):
        loading.load_sequence_classifier(str(folder), ("neg", "pos"))


@pytest.mark.parametrize("model_class", ["BertModel", "BertForMaskedLM"])
def test_a_base_model_gets_a_fresh_head(tmp_path, tokenizer, model_class):
    import transformers

    folder = save_tiny(tmp_path / "base", getattr(transformers, model_class), tokenizer)
    _, model = loading.load_sequence_classifier(str(folder), ("neg", "pos"))
    assert model.config.id2label == {0: "neg", 1: "pos"} and model.classifier.out_features == 2
    _, model = loading.load_token_classifier(str(folder), NER_TAGS)
    assert model.config.id2label == dict(enumerate(NER_TAGS)) and model.classifier.out_features == 9


def test_a_checkpoint_with_the_tasks_labels_keeps_its_head(tmp_path, tokenizer):
    import torch
    from transformers import BertForSequenceClassification

    folder = save_tiny(tmp_path / "sentiment", BertForSequenceClassification, tokenizer, ("neg", "pos"))
    saved = BertForSequenceClassification.from_pretrained(folder).classifier.weight
    _, model = loading.load_sequence_classifier(str(folder), ("neg", "pos"))
    assert torch.equal(model.classifier.weight, saved)


def test_the_packaged_minilm_has_no_task_labels_and_loads():
    _, model = loading.load_sequence_classifier("sentence-transformers/all-MiniLM-L6-v2", ("neg", "pos"))
    assert model.config.id2label == {0: "neg", 1: "pos"}
