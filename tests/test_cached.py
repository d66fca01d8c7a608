"""Frozen first layers computed once (stages.lib.models.cached): the kept states, of the whole encoder or of
its first k blocks, fresh or continued from fewer blocks' states, give exactly the logits of the
eval-mode forward, for every encoder family; every example is there once an epoch, in the batches
the uncached run would make; a cached run trains as the uncached one without dropout; and the
training skeleton uses it only when nothing trains below the kept layers."""
import json

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

from stages.lib.models import cached
from stages.lib.data.sources.builtin import SENTIMENT_SCHEMA, write_splits
from stages.lib.models.freezing import apply_freezing
from stages.lib.models.lora import apply_lora
from stages.lib.config.schema import FreezeSpec, Lora, Training
from stages.lib.tasks.sentiment import SentimentTask
from stages.lib.skeleton.loop import train_and_evaluate
from tests import tiny_models
from tests.conftest import bootstrap_settings
from tests.prepared import ROTTEN_TOMATOES

FAMILIES = list(tiny_models.FAMILIES)
TEXTS = tiny_models.CORPUS * 3


def classifier(family, folder, **extra):
    tokenizer = AutoTokenizer.from_pretrained(tiny_models.save(family, folder, **extra))
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


@pytest.mark.parametrize("family", [f for f in FAMILIES if tiny_models.FAMILIES[f][2]])  # ALBERT: no block list
def test_the_first_blocks_states_fresh_or_continued_give_the_eval_mode_logits(family, tmp_path):
    tokenizer, model, tokenized = classifier(family, tmp_path, num_hidden_layers=3)
    pad = DataCollatorWithPadding(tokenizer)
    blocks = tiny_models.FAMILIES[family][2]
    pooler = getattr(model.base_model, "pooler", None)
    inside = {id(p) for m in (model.base_model.get_submodule(blocks), pooler) if m is not None for p in m.parameters()}
    prefix = None  # the states after one block fewer
    for frozen in (1, 2, 3):  # 3: the whole encoder, continued from 2 blocks' states
        apply_freezing(model, FreezeSpec(freeze_embeddings=True, frozen_blocks=frozen))
        for p in model.base_model.parameters():  # ELECTRA's embedding projection, DeBERTa's relative positions,
            if id(p) not in inside:              # ModernBERT's final norm: frozen too, so that nothing below trains
                p.requires_grad_(False)
        assert cached.frozen_prefix(model) == frozen
        states, _ = cached.encode(model, tokenized, pad, 4, "fp32", frozen)
        assert [len(s) for s in states] == [len(ids) for ids in tokenized["input_ids"]]
        assert cached.agrees(model, tokenized, states, frozen, pad, "fp32", rows=len(TEXTS))
        continued, _ = cached.encode(model, tokenized, pad, 4, "fp32", frozen,
                                     start=cached.Kept("k", frozen - 1, prefix) if frozen > 1 else None)
        for a, b in zip(continued, states):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        prefix = states
    assert len(model.base_model.get_submodule(blocks)) == 3, "the block list is back"


def test_kept_states_that_dont_give_the_models_logits_are_not_used(tmp_path, capsys):
    tokenizer, model, tokenized = classifier("bert", tmp_path)
    pad = DataCollatorWithPadding(tokenizer)
    apply_freezing(model, FreezeSpec(freeze_embeddings=True, frozen_blocks=1))
    good = cached.prepare(model, tokenized, pad, 4, "fp32")
    assert good is not None and good[1] == 1 and len(good[0]) == len(TEXTS)
    key = cached.rows_key(model, tokenized, "fp32")
    wrong = [torch.zeros(len(ids), 32) for ids in tokenized["input_ids"]]
    assert cached.prepare(model, tokenized, pad, 4, "fp32", cached.Kept(key, 1, wrong)) is None
    assert "don't give the model's own logits" in capsys.readouterr().out


def test_later_points_continue_from_the_kept_states(tmp_path, monkeypatch):
    tokenizer, model, tokenized = classifier("bert", tmp_path, num_hidden_layers=3)
    pad, kept, starts = DataCollatorWithPadding(tokenizer), cached.Kept(), []
    real = cached.encode
    monkeypatch.setattr(cached, "encode", lambda *a, **k: starts.append((a[5], a[6] and a[6].blocks)) or real(*a, **k))
    for frozen, reused in ((1, False), (1, True), (2, False), (3, False), (1, False)):
        apply_freezing(model, FreezeSpec(freeze_embeddings=True, frozen_blocks=frozen))
        features, blocks, seconds = cached.prepare(model, tokenized, pad, 4, "fp32", kept)
        assert blocks == kept.blocks == frozen and (seconds == 0) == reused
    # 1 from the embeddings; 1 again kept; 2 from 1; 3 from 2; 1 from the embeddings (fewer than kept)
    assert starts == [(1, None), (2, 1), (3, 2), (1, None)]


def test_only_frozen_layers_with_nothing_trainable_below_are_cached(tmp_path):
    _, model, _ = classifier("bert", tmp_path)
    blocks = model.config.num_hidden_layers
    for spec, expected in [(FreezeSpec(head_only=True), blocks), (FreezeSpec(), 0),
                           (FreezeSpec(freeze_embeddings=True, frozen_blocks=blocks), blocks),  # only the pooler trains
                           (FreezeSpec(freeze_embeddings=True, frozen_blocks=blocks - 1), blocks - 1),
                           (FreezeSpec(frozen_blocks=blocks), 0)]:  # the embeddings train
        apply_freezing(model, spec)
        assert cached.frozen_prefix(model) == expected, spec
        assert cached.frozen_encoder(model) == (expected == blocks)
    apply_freezing(model, FreezeSpec())
    assert cached.frozen_prefix(apply_lora(model, Lora(rank=2, alpha=4, dropout=0.0), "lora")) == 0
    _, albert, _ = classifier("albert", tmp_path / "albert")
    apply_freezing(albert, FreezeSpec(freeze_embeddings=True))
    assert cached.frozen_prefix(albert) == 0  # no block list: nothing to cut


def test_collate_pads_and_masks_and_the_items_keep_their_ids(tmp_path):
    tokenizer, model, tokenized = classifier("bert", tmp_path)
    states = [torch.ones(n, 4) for n in (3, 5)]
    features = cached.Features(tokenized.select([0, 1]), states)
    assert features[1]["input_ids"] == tokenized[1]["input_ids"] and features[1]["labels"] == 1
    batch = cached.collate([{"states": states[0], "labels": 0}, {"states": states[1], "labels": 1}], fallback=None)
    assert batch["inputs_embeds"].shape == (2, 5, 4) and batch["inputs_embeds"][0, 3:].abs().sum() == 0
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]] and batch["labels"].tolist() == [0, 1]
    assert cached.collate([{"input_ids": [1, 2]}], fallback=lambda items: "padded") == "padded"


def sentiment_splits(tmp_path, repeats: int) -> Training:
    """The tiny corpus `repeats` times as every split under tmp_path/data; settings to train on it."""
    texts = tiny_models.CORPUS * repeats
    split = {"text": texts, "label": [int("film" in t or "Dull" in t) for t in texts]}
    write_splits({s: split for s in ("train", "validation", "test")}, SENTIMENT_SCHEMA, tmp_path / "data")
    return Training(learning_rate=0.01, batch_size=8, epochs=3, weight_decay=0.0, seed=42, precision="fp32",
                    group_by_length=True, max_train_samples=None, max_eval_samples=None, logging_steps=1)


@pytest.mark.parametrize("spec, learning_rate", [(FreezeSpec(head_only=True), 0.1),
                                                  (FreezeSpec(freeze_embeddings=True, frozen_blocks=1), 0.01)],
                         ids=["head_only", "first_block"])
def test_a_cached_run_trains_as_the_uncached_run_without_dropout(tmp_path, monkeypatch, spec, learning_rate):
    """With dropout off, eval mode changes nothing: the cached run must train the same weights on the
    same batches as the run through the frozen layers every step, and predict the same."""
    monkeypatch.chdir(tmp_path)
    folder = tiny_models.save("bert", tmp_path / "bert")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.0,
                                                    "attention_probs_dropout_prob": 0.0}))
    hp = sentiment_splits(tmp_path, 8).model_copy(update={"learning_rate": learning_rate})
    encoded, runs = [], {}
    monkeypatch.setattr(cached, "encode", lambda *a, **k: encoded.append(1) or real_encode(*a, **k))
    for name, frozen_prefix in (("cached", cached.frozen_prefix), ("uncached", lambda model: 0)):
        monkeypatch.setattr(cached, "frozen_prefix", frozen_prefix)
        task = SentimentTask(spec, bootstrap_settings(), ROTTEN_TOMATOES, ("test",))
        result = train_and_evaluate(task, str(folder), hp, tmp_path / "data")
        runs[name] = (result.metrics, result.predictions["test"])
    assert encoded == [1]  # once in the cached run, not once an epoch
    (m, cached_rows), (plain, plain_rows) = runs["cached"], runs["uncached"]
    assert m["cached_features_s"] > 0 and m["train_runtime_s"] >= m["cached_features_s"]
    assert "cached_features_s" not in plain and m["trainable_params"] == plain["trainable_params"]
    assert m["train_loss"] == pytest.approx(plain["train_loss"], rel=1e-4)
    assert [r["pred"] for r in cached_rows] == [r["pred"] for r in plain_rows]
    np.testing.assert_allclose([r["probs"] for r in cached_rows], [r["probs"] for r in plain_rows], atol=3e-6)
    assert np.ptp([r["probs"][1] for r in cached_rows]) > 30 * 3e-6  # rows differ by far more than the tolerance


def test_a_run_on_kept_states_resumes_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    """Checkpoints are written while the frozen blocks are out of the block list; resuming (here from
    the last one, so nothing more trains) must load them into the same shape and predict the same.
    The resumed run has another seed: had it not loaded the checkpoint, its head would differ."""
    from stages.lib.training.checkpoints import Checkpoints

    monkeypatch.chdir(tmp_path)
    folder = tiny_models.save("bert", tmp_path / "bert", num_hidden_layers=3)
    hp = sentiment_splits(tmp_path, 4).model_copy(update={"batch_size": 4, "epochs": 2})
    checkpoints = Checkpoints.for_run("first_block", 2, {}, root=tmp_path / "checkpoints")
    spec = FreezeSpec(freeze_embeddings=True, frozen_blocks=2)
    runs = []
    for seed in (42, 7):
        task = SentimentTask(spec, bootstrap_settings(), ROTTEN_TOMATOES, ("test",))
        result = train_and_evaluate(task, str(folder), hp.model_copy(update={"seed": seed}), tmp_path / "data",
                                    checkpoints=checkpoints)
        runs.append((result.metrics, result.predictions["test"]))
    assert "resuming from" in capsys.readouterr().out
    (first, first_rows), (resumed, resumed_rows) = runs
    assert first["cached_features_s"] > 0 and resumed["cached_features_s"] > 0
    np.testing.assert_allclose([r["probs"] for r in resumed_rows], [r["probs"] for r in first_rows], atol=1e-6)
    assert resumed["train_loss"] == pytest.approx(first["train_loss"])


@pytest.mark.parametrize("spec", [FreezeSpec(head_only=True, frozen_layers="every_step"),
                                  FreezeSpec(freeze_embeddings=True, frozen_blocks=1, frozen_layers="every_step")],
                         ids=["head_only", "first_block"])
def test_frozen_layers_every_step_run_in_train_mode_each_step(tmp_path, monkeypatch, spec):
    """frozen_layers: every_step (the book's code): nothing is kept; the frozen first block runs in
    every training step, in train mode (its dropout on), and the model card says so."""
    monkeypatch.chdir(tmp_path)
    folder = tiny_models.save("bert", tmp_path / "bert", num_hidden_layers=2)
    hp = sentiment_splits(tmp_path, 4).model_copy(update={"epochs": 2})
    monkeypatch.setattr(cached, "encode", lambda *a, **k: pytest.fail("the frozen layers were kept"))
    modes = []
    real_load = SentimentTask.load

    def load(self, model_name):
        tokenizer, model = real_load(self, model_name)
        model.base_model.encoder.layer[0].register_forward_hook(lambda m, a, out: modes.append(m.training))
        return tokenizer, model

    monkeypatch.setattr(SentimentTask, "load", load)
    task = SentimentTask(spec, bootstrap_settings(), ROTTEN_TOMATOES, ("test",))
    m = train_and_evaluate(task, str(folder), hp, tmp_path / "data").metrics
    steps = 2 * -(-len(tiny_models.CORPUS) * 4 // hp.batch_size)
    assert modes.count(True) == steps and "cached_features_s" not in m  # then eval mode to predict
    assert task.trains(m).endswith("the frozen layers ran every step, in train mode (with dropout), as the book's code")
    assert "ran once, in eval mode" in SentimentTask(spec.model_copy(update={"frozen_layers": "once"}), bootstrap_settings(),
                                                     ROTTEN_TOMATOES).trains({"cached_features_s": 1.0})


real_encode = cached.encode
