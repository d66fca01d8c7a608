"""Continued masked-language-model pretraining on the Rotten Tomatoes reviews: the chapter's last
classification section (adapt the encoder to movie reviews before fine-tuning a classifier).

The test texts are masked once with a fixed seed, so the loss before and after training is
measured on the very same masked tokens. Perplexity is exp(mean loss over the masked tokens).
"""
from __future__ import annotations

import math

import torch

from stages.lib.reporting import cards
from stages.lib.runtime import precision
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.prepared import encoded
from stages.lib.config.schema import MASK
from stages.lib.scoring import headline
from stages.lib.skeleton.loop import Result, Task

EVAL_BATCH = 32


def load_masked_lm(name: str):
    """(tokenizer, masked-LM model, whether the checkpoint shipped weights for the MLM head)."""
    from transformers import AutoModelForMaskedLM

    from stages.lib.models.loading import load_pretrained

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


def masked_logits(model, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The vocabulary logits at the masked positions of a batch, and their labels.

    The model's own forward projects every token onto the vocabulary (30,522 x 384 on MiniLM, as
    many FLOPs as the whole encoder) and then ignores the ~85 % labelled -100. Where the MLM head is
    a module of its own (BERT's `cls`, MPNet's / RoBERTa's / XLM-R's `lm_head`; position-wise
    layers), it runs at the masked positions only: the same logits there."""
    labels = inputs["labels"]
    masked = labels != -100
    rest = {k: v for k, v in inputs.items() if k != "labels"}
    head = getattr(model, "cls", None) or getattr(model, "lm_head", None)
    if head is None:  # heads of other families (DistilBERT, ELECTRA, DeBERTa, ModernBERT): the whole projection
        return model(**rest).logits[masked], labels[masked]
    return head(model.base_model(**rest).last_hidden_state[masked]), labels[masked]


def masked_positions_loss(model, inputs: dict) -> torch.Tensor:
    """The masked-LM training loss, the mean cross-entropy over the masked tokens (the model's own
    loss), from masked_logits."""
    logits, labels = masked_logits(model, inputs)
    if not len(labels):  # possible on a tiny batch: no loss, but keep the graph connected
        return logits.sum() * 0.0
    return torch.nn.functional.cross_entropy(logits.float(), labels)


def tokenize(ds, tokenizer):
    """Texts only (labels dropped), truncated, with the offsets make_collator needs."""
    if not tokenizer.is_fast:
        raise PipelineError(f"{type(tokenizer).__name__} is not a fast tokenizer; masked-LM training "
                            "needs one for the token offsets that mark word boundaries")
    return encoded(ds, lambda batch: tokenizer(batch["text"], truncation=True, return_offsets_mapping=True))


def mask_eval_set(tokenized, collate, batch_size: int = EVAL_BATCH) -> list[dict]:
    """Masked batches of `tokenized`, made once: the same masks score the model before and after."""
    return [collate([tokenized[i] for i in range(start, min(start + batch_size, len(tokenized)))])
            for start in range(0, len(tokenized), batch_size)]


def masked_lm_loss(model, batches: list[dict], mixed: str = "fp32") -> float:
    """Mean cross-entropy over every masked token of `batches` (not a mean of batch means), in eval
    and inference mode at precision `mixed`."""
    model.eval()  # no dropout
    total, count = 0.0, 0
    with torch.inference_mode(), precision.autocast(mixed):
        for batch in batches:
            logits, labels = masked_logits(model, {k: v.to(model.device) for k, v in batch.items()})
            total += torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum").item()
            count += len(labels)
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


class MlmTask(Task):
    """Masked-LM training on the training texts; the test loss and the probes' fills are measured
    before and after (the fills: the "fill_mask" output)."""
    keep_columns = True  # offset_mapping is for the whole-word collator, not the model
    loss_fn = staticmethod(masked_positions_loss)

    def __init__(self, settings, probes: list[str], top_k: int, dataset: dict):
        """`settings`: a schema.MlmTraining; `dataset`: the prepared classification dataset's record."""
        self.settings, self.probes, self.top_k = settings, probes, top_k
        self.about = cards.mlm(dataset)
        self.head = False  # whether the model came with a pretrained MLM head (set by load)
        self.test_batches: list[dict] = []  # the test texts masked once, the same masks before and after
        self.fills_before: list[list[dict]] = []

    def load(self, model_name: str):
        tokenizer, model, self.head = load_masked_lm(model_name)
        if not self.head:
            print(f"mlm-pretrain: {model_name} ships no pretrained MLM head; it starts random, so the "
                  "'before' loss and fill-mask are a random-head baseline")
        return tokenizer, model

    def tokenize(self, ds, tokenizer):
        return tokenize(ds, tokenizer)

    def collator(self, tokenizer, seed: int | None = None):
        return make_collator(tokenizer, self.settings.mlm_probability, self.settings.masking, seed)

    def _measure(self, model, tokenizer) -> tuple[float, list[list[dict]]]:
        return (masked_lm_loss(model, self.test_batches, self.settings.precision),
                [fill_mask(model, tokenizer, s, self.top_k) for s in self.probes])

    def before_training(self, model, tokenizer, evals: dict) -> dict:
        model.to(precision.accelerator())  # the Trainer moves it there anyway
        self.test_batches = mask_eval_set(evals["test"][1], self.collator(tokenizer, self.settings.seed))
        loss, self.fills_before = self._measure(model, tokenizer)
        return {"test_mlm_loss_before": loss, "test_perplexity_before": math.exp(loss)}

    def evaluate(self, trainer, evals: dict) -> Result:
        loss, fills = self._measure(trainer.model, trainer.processing_class)
        report = {"probes": [{"sentence": s, "before": b, "after": a}
                             for s, b, a in zip(self.probes, self.fills_before, fills, strict=True)]}
        return Result({"test_mlm_loss_after": loss, "test_perplexity_after": math.exp(loss)}, extras={"fill_mask": report})

    def describe(self, model) -> dict:
        return {"mlm_head_pretrained": int(self.head), "mlm_probability": self.settings.mlm_probability,
                "whole_word": int(self.settings.masking == "whole_word")}

    def headline(self, metrics: dict, where) -> dict:
        return headline.mlm(metrics)

