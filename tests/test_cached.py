"""Head-only training on the frozen encoder's output computed once (stages.lib.cached): the cached
states give exactly the logits of the eval-mode forward, for every encoder family; every example is
there once an epoch, in the batches the uncached run would make; and the training skeleton uses it
only when nothing below the head trains."""
import json

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

from stages.lib import cached
from stages.lib.data import SENTIMENT_SCHEMA, write_splits
from stages.lib.freezing import apply_freezing
from stages.lib.lora import apply_lora
from stages.lib.settings import FreezeSpec, Lora, Training
from stages.lib.sentiment import SentimentTask
from stages.lib.training import train_and_evaluate
from tests import tiny_models
from tests.conftest import bootstrap_settings
from tests.prepared import ROTTEN_TOMATOES

FAMILIES = list(tiny_models.FAMILIES)
TEXTS = tiny_models.CORPUS * 3


def classifier(family, folder):
    tokenizer = AutoTokenizer.from_pretrained(tiny_models.save(family, folder))
    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    tokenized = datasets.Dataset.from_dict({"text": TEXTS, "label": [i % 2 for i in range(len(TEXTS))]}).map(
        lambda b: tokenizer(b["text"], truncation=True), batched=True, remove_columns=["text"])
    return tokenizer, model, tokenized


@pytest.mark.parametrize("family", FAMILIES)
def test_cached_states_give_the_eval_mode_logits(family, tmp_path):
    tokenizer, model, tokenized = classifier(family, tmp_path)
    apply_freezing(model, FreezeSpec(head_only=True))
    assert cached.frozen_encoder(model)
    pad = DataCollatorWithPadding(tokenizer)
    states, seconds = cached.encode(model, tokenized, pad, batch_size=4, mixed="fp32")
    assert len(states) == len(TEXTS) and seconds > 0
    assert [len(s) for s in states] == [len(ids) for ids in tokenized["input_ids"]]  # unpadded, row order
    model.eval()
    features = cached.Features(tokenized, states)
    items = [features[i] for i in range(len(features))]
    full = pad([{k: tokenized[i][k] for k in tokenized.column_names if k != "label"} for i in range(len(TEXTS))])
    with torch.no_grad():
        expected = model(**full).logits
        batch = cached.collate(items, fallback=pad)
        with cached.standing_in(model):
            got = model(inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert type(model.base_model).__name__ != "CachedEncoder"  # restored


def test_only_a_frozen_encoder_is_cached(tmp_path):
    _, model, _ = classifier("bert", tmp_path)
    blocks = model.config.num_hidden_layers
    for spec, expected in [(FreezeSpec(head_only=True), True), (FreezeSpec(), False),
                           (FreezeSpec(freeze_embeddings=True, frozen_blocks=blocks), True),  # only the pooler trains
                           (FreezeSpec(freeze_embeddings=True, frozen_blocks=blocks - 1), False),
                           (FreezeSpec(frozen_blocks=blocks), False)]:  # the embeddings train
        apply_freezing(model, spec)
        assert cached.frozen_encoder(model) == expected, spec
    apply_freezing(model, FreezeSpec())
    assert not cached.frozen_encoder(apply_lora(model, Lora(rank=2, alpha=4, dropout=0.0), "lora"))


def test_collate_pads_and_masks_and_the_items_keep_their_ids(tmp_path):
    tokenizer, model, tokenized = classifier("bert", tmp_path)
    states = [torch.ones(n, 4) for n in (3, 5)]
    features = cached.Features(tokenized.select([0, 1]), states)
    assert features[1]["input_ids"] == tokenized[1]["input_ids"] and features[1]["labels"] == 1
    batch = cached.collate([{"states": states[0], "labels": 0}, {"states": states[1], "labels": 1}], fallback=None)
    assert batch["inputs_embeds"].shape == (2, 5, 4) and batch["inputs_embeds"][0, 3:].abs().sum() == 0
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]] and batch["labels"].tolist() == [0, 1]
    assert cached.collate([{"input_ids": [1, 2]}], fallback=lambda items: "padded") == "padded"


def test_a_head_only_run_trains_as_the_uncached_run_without_dropout(tmp_path, monkeypatch):
    """With dropout off, eval mode changes nothing: the cached run must train the same head on the
    same batches as the run through the frozen encoder every step, and predict the same."""
    monkeypatch.chdir(tmp_path)
    folder = tiny_models.save("bert", tmp_path / "bert")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.0,
                                                    "attention_probs_dropout_prob": 0.0}))
    texts = tiny_models.CORPUS * 8
    split = {"text": texts, "label": [int("film" in t or "Dull" in t) for t in texts]}
    write_splits({s: split for s in ("train", "validation", "test")}, SENTIMENT_SCHEMA, tmp_path / "data")
    hp = Training(learning_rate=0.1, batch_size=8, epochs=3, weight_decay=0.0, seed=42, precision="fp32",
                  group_by_length=True, max_train_samples=None, max_eval_samples=None, logging_steps=1)
    encoded, runs = [], {}
    monkeypatch.setattr(cached, "encode", lambda *a, **k: encoded.append(1) or real_encode(*a, **k))
    for name, frozen_encoder in (("cached", cached.frozen_encoder), ("uncached", lambda model: False)):
        monkeypatch.setattr(cached, "frozen_encoder", frozen_encoder)
        task = SentimentTask(FreezeSpec(head_only=True), bootstrap_settings(), ROTTEN_TOMATOES, ("test",))
        runs[name] = (train_and_evaluate(task, str(folder), hp, tmp_path / "data"), task.predictions["test"])
    assert encoded == [1]  # once in the cached run, not once an epoch
    (m, cached_rows), (plain, plain_rows) = runs["cached"], runs["uncached"]
    assert m["cached_features_s"] > 0 and m["train_runtime_s"] >= m["cached_features_s"]
    assert "cached_features_s" not in plain and m["trainable_params"] == plain["trainable_params"] == 32 * 2 + 2
    assert m["train_loss"] == pytest.approx(plain["train_loss"], rel=1e-4)
    assert [r["pred"] for r in cached_rows] == [r["pred"] for r in plain_rows]
    np.testing.assert_allclose([r["probs"] for r in cached_rows], [r["probs"] for r in plain_rows], atol=3e-6)
    assert np.ptp([r["probs"][1] for r in cached_rows]) > 30 * 3e-6  # rows differ by far more than the tolerance


real_encode = cached.encode
