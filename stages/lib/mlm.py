"""Continued masked-language-model pretraining on the Rotten Tomatoes reviews: the chapter's last
classification section (adapt the encoder to movie reviews before fine-tuning a classifier).

The test texts are masked once with a fixed seed, so the loss before and after training is
measured on the very same masked tokens. Perplexity is exp(mean loss over the masked tokens).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from stages.lib import precision
from stages.lib.config import PipelineError

MASKING = ("token", "whole_word")
MASK = "[MASK]"  # as probes are written in params.yaml; replaced by the tokenizer's own mask token
EVAL_BATCH = 32


def load_masked_lm(name: str):
    """(tokenizer, masked-LM model, whether the checkpoint shipped weights for the MLM head)."""
    from transformers import AutoModelForMaskedLM

    from stages.lib.models import load_pretrained

    tokenizer, (model, info) = load_pretrained(AutoModelForMaskedLM, name, output_loading_info=True)
    return tokenizer, model, head_pretrained(model, info["missing_keys"])


def head_pretrained(model, missing_keys) -> bool:
    """No missing weight outside the encoder (`cls.predictions.*` for BERT, `lm_head.*` for MPNet).
    Sentence-transformers checkpoints keep only the encoder, so their head starts random."""
    encoder = model.base_model_prefix + "."
    return all(key.startswith(encoder) for key in missing_keys)


def make_collator(tokenizer, mlm_probability: float, masking: str, seed: int | None = None):
    """The book's DataCollatorForLanguageModeling, masking single tokens or whole words.

    Features carry `offset_mapping` (whole-word masking finds words by it: sub-tokens with no gap
    between them are one word, so "film's" or "movie!" is one word). tokenizer.pad() leaves it
    ragged (transformers 5.24 then fails), so it is padded here first. `seed`: masks drawn from
    a private generator instead of the global one."""
    from transformers import DataCollatorForLanguageModeling

    whole_word = masking == "whole_word"
    # whole words are always replaced by the mask token (transformers forces it, with a warning)
    replace = {"mask_replace_prob": 1.0, "random_replace_prob": 0.0} if whole_word else {}
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability,
                                               whole_word_mask=whole_word, seed=seed, **replace)

    def collate(features: list[dict]) -> dict:
        longest = max(len(f["input_ids"]) for f in features)
        padded = []
        for f in features:
            offsets, filler = f["offset_mapping"], [[0, 0]] * (longest - len(f["offset_mapping"]))
            padded.append({**f, "offset_mapping": offsets + filler if tokenizer.padding_side == "right"
                           else filler + offsets})
        return collator(padded)

    return collate


def masked_positions_loss(model, inputs: dict) -> torch.Tensor:
    """The masked-LM training loss, with the vocabulary head applied at the masked positions only.

    The model's own forward projects every token onto the vocabulary (30,522 x 384 on MiniLM, as
    many FLOPs as the whole encoder) and then ignores the ~85 % labelled -100; the mean
    cross-entropy over the masked tokens is the same either way."""
    labels = inputs["labels"]
    hidden = model.base_model(**{k: v for k, v in inputs.items() if k != "labels"}).last_hidden_state
    masked = labels != -100
    head = model.cls if hasattr(model, "cls") else model.lm_head  # BERT | MPNet, RoBERTa
    if not masked.any():  # possible on a tiny batch: no loss, but keep the graph connected
        return hidden.sum() * 0.0
    return torch.nn.functional.cross_entropy(head(hidden[masked]).float(), labels[masked])


def tokenize(ds, tokenizer):
    """Texts only (labels dropped), truncated, with the offsets make_collator needs."""
    if not tokenizer.is_fast:
        raise PipelineError(f"{type(tokenizer).__name__} is not a fast tokenizer; masked-LM training "
                            "needs one for the token offsets that mark word boundaries")
    return ds.map(lambda batch: tokenizer(batch["text"], truncation=True, return_offsets_mapping=True),
                  batched=True, remove_columns=ds.column_names, desc="tokenize")


def mask_eval_set(tokenized, collate, batch_size: int = EVAL_BATCH) -> list[dict]:
    """Masked batches of `tokenized`, made once: the same masks score the model before and after."""
    return [collate([tokenized[i] for i in range(start, min(start + batch_size, len(tokenized)))])
            for start in range(0, len(tokenized), batch_size)]


def masked_lm_loss(model, batches: list[dict]) -> float:
    """Mean cross-entropy over every masked token of `batches` (not a mean of batch means)."""
    model.eval()  # no dropout
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            batch = {k: v.to(model.device) for k, v in batch.items()}
            labels = batch.pop("labels")
            logits = model(**batch).logits.float()
            total += torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(),
                                                       ignore_index=-100, reduction="sum").item()
            count += int((labels != -100).sum())
    if count == 0:
        raise PipelineError("no test token was masked; raise mlm_probability or max_eval_samples")
    return total / count


def fill_mask(model, tokenizer, sentence: str, top_k: int) -> list[dict]:
    """The `top_k` most likely tokens at the sentence's one "[MASK]", as {"token", "score"}."""
    model.eval()
    enc = tokenizer(sentence.replace(MASK, tokenizer.mask_token), return_tensors="pt").to(model.device)
    position = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0, 0]
    with torch.no_grad():
        probs = model(**enc).logits[0, position].float().softmax(-1)
    top = probs.topk(top_k)
    return [{"token": tokenizer.decode([int(i)]).strip(), "score": round(float(p), 4)}
            for p, i in zip(top.values, top.indices)]


def pretrain_and_evaluate(model_name: str, hp: dict, mlm_probability: float, masking: str,
                          probes: list[str], top_k: int, data_dir: Path, model_out: Path | None = None,
                          live_dir: Path | None = None, checkpoints=None) -> tuple[dict, dict]:
    """Continue masked-LM training of `model_name` on the training texts; return (metrics,
    fill-mask report) with the test loss and the probes' predictions before and after. The model
    is saved to `model_out` and the curves logged with DVCLive to `live_dir` when given."""
    from transformers import set_seed

    from stages.lib.data import read_split
    from stages.lib.training import fit, make_trainer, save_model, subset, trainer_dir

    train_texts, test_texts = read_split(data_dir, "train"), read_split(data_dir, "test")  # before the model
    set_seed(hp["seed"])  # the MLM head's initialisation, where the checkpoint has none
    tokenizer, model, head = load_masked_lm(model_name)
    if not head:
        print(f"mlm-pretrain: {model_name} ships no pretrained MLM head; it starts random, so the "
              "'before' loss and fill-mask are a random-head baseline")
    model.to(precision.accelerator())  # for the 'before' evaluation; the Trainer moves it there anyway
    seed = hp["seed"]
    train = tokenize(subset(train_texts, hp["max_train_samples"], seed), tokenizer)
    test = tokenize(subset(test_texts, hp["max_eval_samples"], seed), tokenizer)
    test_batches = mask_eval_set(test, make_collator(tokenizer, mlm_probability, masking, seed))

    def evaluate() -> tuple[float, list[list[dict]]]:
        return masked_lm_loss(model, test_batches), [fill_mask(model, tokenizer, s, top_k) for s in probes]

    loss_before, fills_before = evaluate()
    with trainer_dir(checkpoints) as out:
        # keep_columns: offset_mapping is for the whole-word collator, not the model
        trainer = make_trainer(model, tokenizer, train, hp, out,
                               collator=make_collator(tokenizer, mlm_probability, masking),
                               checkpoints=checkpoints, keep_columns=True, loss_fn=masked_positions_loss)
        result = fit(trainer, checkpoints, live_dir)
    loss_after, fills_after = evaluate()
    if model_out is not None:
        save_model(tokenizer, model, model_out)

    metrics = {
        "test_mlm_loss_before": loss_before,
        "test_perplexity_before": math.exp(loss_before),
        "test_mlm_loss_after": loss_after,
        "test_perplexity_after": math.exp(loss_after),
        "train_loss": result.training_loss,
        "train_runtime_s": result.metrics["train_runtime"],
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "train_samples": len(train),
        "mlm_head_pretrained": int(head),
        "mlm_probability": mlm_probability,
        "whole_word": int(masking == "whole_word"),
    }
    report = {"probes": [{"sentence": s, "before": b, "after": a}
                         for s, b, a in zip(probes, fills_before, fills_after, strict=True)]}
    return metrics, report
