import json
import math

import datasets
import pytest
import torch

from stages.lib.tasks import mlm
from stages.lib.config import schema, settings
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.sources.builtin import SENTIMENT_SCHEMA, rotten_tomatoes_from_raw, write_splits
from stages.lib.models.loading import resolve_model
from stages.lib.config.paths import RunOutputs
from stages.lib.skeleton.loop import train_and_evaluate
from tests.prepared import ROTTEN_TOMATOES

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
HP = {"learning_rate": 5e-5, "batch_size": 8, "epochs": 1, "weight_decay": 0.01, "seed": 42,
      "precision": "fp32", "group_by_length": False, "max_train_samples": 32, "max_eval_samples": 16,
      "logging_steps": 1}
TEXTS = ["an unbelievably charming , playful romp .", "the film's ending is overwrought and predictable .",
         "a masterpiece", "unwatchable"]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(MINILM))


def tokenized(tokenizer, texts):
    return mlm.tokenize(datasets.Dataset.from_dict({"text": texts, "label": [0] * len(texts)}), tokenizer)


def test_fill_mask_uses_the_tokenizers_own_mask_token():
    from transformers import AutoTokenizer, MPNetConfig, MPNetForMaskedLM

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-mpnet-base-v2"))
    assert tokenizer.mask_token == "<mask>"
    torch.manual_seed(0)
    model = MPNetForMaskedLM(MPNetConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=37))
    fills = mlm.fill_mask(model, tokenizer, "What a horrible [MASK]!", top_k=5)
    assert len(fills) == 5 and all(set(f) == {"token", "score"} for f in fills)
    assert all(isinstance(f["token"], str) and f["token"] == f["token"].strip() for f in fills)
    scores = [f["score"] for f in fills]
    assert scores == sorted(scores, reverse=True) and all(s == round(s, 4) for s in scores)
    json.dumps(fills)


def test_eval_masks_are_the_same_every_time(tokenizer):
    test = tokenized(tokenizer, TEXTS * 4)
    a, b = (mlm.mask_eval_set(test, mlm.make_collator(tokenizer, 0.15, "token", seed=42), 8)
            for _ in range(2))
    assert len(a) == 2
    for x, y in zip(a, b):
        assert x.keys() == y.keys() and "offset_mapping" not in x
        assert all(torch.equal(x[k], y[k]) for k in x)
    other = mlm.mask_eval_set(test, mlm.make_collator(tokenizer, 0.15, "token", seed=43), 8)
    assert not all(torch.equal(x["labels"], y["labels"]) for x, y in zip(a, other))


def test_whole_word_masking_masks_all_sub_tokens_of_a_word(tokenizer):
    enc = tokenizer(TEXTS[0])
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"]) == [
        "[CLS]", "an", "un", "##bel", "##ie", "##va", "##bly", "charming", ",", "playful", "rom", "##p", ".",
        "[SEP]"]
    test = tokenized(tokenizer, TEXTS * 8)  # ragged lengths: the offsets need padding too
    batch = mlm.make_collator(tokenizer, 0.3, "whole_word", seed=0)([test[i] for i in range(len(test))])
    masked = batch["labels"] != -100
    words = [tokenizer(TEXTS[i % len(TEXTS)]).word_ids() for i in range(len(test))]
    seen = set()
    for row, word_ids in enumerate(words):
        for word in set(word_ids) - {None}:
            positions = [p for p, w in enumerate(word_ids) if w == word]
            flags = {bool(masked[row, p]) for p in positions}
            assert len(flags) == 1, (row, word)  # all sub-tokens of the word, or none
            seen |= {(len(positions) > 1, flags.pop())}
    assert seen == {(True, True), (True, False), (False, True), (False, False)}  # not trivially all/none
    assert (batch["input_ids"][masked] == tokenizer.mask_token_id).all()
    assert not masked[batch["attention_mask"] == 0].any()  # never the padding


def test_head_detection(tmp_path, tokenizer):
    from transformers import BertConfig, BertForMaskedLM

    assert mlm.load_masked_lm(MINILM)[2] is False  # sentence-transformers: the encoder only
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32)
    tokenizer.save_pretrained(tmp_path)
    BertForMaskedLM(config).save_pretrained(tmp_path)  # a checkpoint with its MLM head
    assert mlm.load_masked_lm(str(tmp_path))[2] is True


def mlm_params(section: dict, probes: list[str] | None = None) -> dict:
    seeded = {k: v for k, v in HP.items() if k != "seed"}
    return {"profile": "cpu", "classifier_model": "m", "fine_tune": {**seeded, "seeds": [42, 43]},
            "mlm_pretrain": section, "mlm_probes": {"sentences": probes or ["What a horrible [MASK]!"], "top_k": 5}}


def test_mlm_is_the_fine_tune_recipe_with_its_own_keys_and_overrides():
    section = {"mlm_probability": 0.15, "masking": "token"}
    model, hp, probes = settings.mlm(mlm_params(section))
    assert (model, hp.mlm_probability, hp.masking, probes.top_k) == ("m", 0.15, "token", 5)
    assert (hp.learning_rate, hp.epochs, hp.seed) == (HP["learning_rate"], HP["epochs"], 42)  # one model: the first seed
    _, hp, _ = settings.mlm(mlm_params({**section, "epochs": 10, "seeds": [7]}))
    assert (hp.epochs, hp.seed, hp.learning_rate) == (10, 7, HP["learning_rate"])


def test_settings_name_the_bad_parameter():
    section = {"mlm_probability": 0.15, "masking": "token"}
    with pytest.raises(PipelineError, match=r"params.yaml: mlm_pretrain.masking = 'span' is invalid; "
                                            r"accepted: token \| whole_word"):
        settings.mlm(mlm_params({**section, "masking": "span"}))
    with pytest.raises(PipelineError, match="params.yaml: mlm_pretrain.mlm_probability = 1.5 is invalid"):
        settings.mlm(mlm_params({**section, "mlm_probability": 1.5}))
    with pytest.raises(PipelineError, match="params.yaml: mlm_pretrain.epochs = 0 is invalid"):
        settings.mlm(mlm_params({**section, "epochs": 0}))
    with pytest.raises(PipelineError, match=r"params.yaml: mlm_pretrain: unknown key\(s\) seed; accepted: "
                                            r"mlm_probability, masking, learning_rate"):
        settings.mlm(mlm_params({**section, "seed": 42}))
    with pytest.raises(PipelineError, match="params.yaml: mlm_probes.sentences = .* is invalid"):
        settings.mlm(mlm_params(section, ["no mask here"]))


def test_pretrain_a_tiny_run(tmp_path, raw_dir):
    data = tmp_path / "rotten_tomatoes"
    write_splits(rotten_tomatoes_from_raw(raw_dir / "rotten_tomatoes"), SENTIMENT_SCHEMA, data)
    probes = ["What a horrible [MASK]!", "This movie is a [MASK]."]
    hp = settings.validate(schema.MlmTraining, {**HP, "mlm_probability": 0.15, "masking": "whole_word"}, "test")
    task = mlm.MlmTask(hp, probes, 3, ROTTEN_TOMATOES)
    result = train_and_evaluate(task, MINILM, hp, data, RunOutputs(tmp_path / "m.json", model=tmp_path / "model"))
    metrics, report = result.metrics, result.extras["fill_mask"]
    assert metrics["train_samples"] == 32
    assert metrics["mlm_head_pretrained"] == 0 and metrics["whole_word"] == 1
    assert all(isinstance(v, (int, float)) for v in metrics.values())
    assert math.isfinite(metrics["test_mlm_loss_after"])
    assert metrics["test_perplexity_after"] == pytest.approx(math.exp(metrics["test_mlm_loss_after"]))
    assert [p["sentence"] for p in report["probes"]] == probes
    assert all(len(p["before"]) == len(p["after"]) == 3 for p in report["probes"])
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert (tmp_path / "model" / "tokenizer.json").is_file()


def test_the_repository_params_define_mlm_for_every_profile():
    from tests.conftest import composed

    for name in ("book", "cpu", "smoke"):
        settings.mlm(composed([f"profile={name}"]))
    assert settings.mlm(composed(["profile=book"]))[1].epochs == 10  # the book's 10 epochs


@pytest.mark.parametrize("arch", ["bert", "mpnet"])
def test_masked_positions_loss_equals_the_models_own_loss_and_gradients(tokenizer, arch):
    from transformers import BertConfig, BertForMaskedLM, MPNetConfig, MPNetForMaskedLM

    config_cls, model_cls = (BertConfig, BertForMaskedLM) if arch == "bert" else (MPNetConfig, MPNetForMaskedLM)
    torch.manual_seed(0)
    model = model_cls(config_cls(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=37)).eval()  # no dropout
    batch = mlm.mask_eval_set(tokenized(tokenizer, TEXTS * 2), mlm.make_collator(tokenizer, 0.3, "token", 1), 8)[0]
    if arch == "mpnet":
        batch.pop("token_type_ids", None)  # MPNet takes none
    assert 0 < int((batch["labels"] != -100).sum()) < batch["labels"].numel()

    ours = mlm.masked_positions_loss(model, batch)
    ours.backward()
    ours_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    theirs = model(**batch).loss
    theirs.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    for name, param in model.named_parameters():
        if param.grad is not None:
            assert torch.allclose(ours_grads[name], param.grad, atol=1e-6), name
    # evaluation: the mean over every masked token of the batches, as the full projection gives it
    batches = mlm.mask_eval_set(tokenized(tokenizer, TEXTS * 3), mlm.make_collator(tokenizer, 0.3, "token", 2), 4)
    if arch == "mpnet":
        for b in batches:
            b.pop("token_type_ids", None)
    with torch.no_grad():
        logits = [model(**{k: v for k, v in b.items() if k != "labels"}).logits for b in batches]
    expected = torch.cat([torch.nn.functional.cross_entropy(lg.flatten(0, 1), b["labels"].flatten(), reduction="none")[
        b["labels"].flatten() != -100] for lg, b in zip(logits, batches)]).mean()
    assert len(batches) > 1 and mlm.masked_lm_loss(model, batches) == pytest.approx(expected.item(), rel=1e-5)
