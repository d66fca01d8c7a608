"""The sentence-classification task (Rotten Tomatoes, or your own data): a classification head on the
encoder, some layers frozen or LoRA adapters added, scored by binary F1 of the positive class (as the
book; macro-F1 for more than two classes) and accuracy, each with its bootstrap interval."""
from __future__ import annotations

import functools

from stages.lib.models import cached
from stages.lib.reporting import cards
from stages.lib.scoring import headline
from stages.lib.data.prepared import encoded
from stages.lib.models.freezing import apply_freezing, count_parameters
from stages.lib.models.lora import apply_lora, merged, unwrap
from stages.lib.scoring.metrics import score_classifier
from stages.lib.models.loading import load_sequence_classifier
from stages.lib.config.schema import Bootstrap, FreezeSpec
from stages.lib.skeleton.loop import Result, Task


class SentimentTask(Task):
    def __init__(self, spec: FreezeSpec, bootstrap: Bootstrap, dataset: dict,
                 eval_splits: tuple[str, ...] = ("validation", "test"), where: str = "fine_tune", kept=None):
        """`dataset`: the prepared dataset's record (stages.lib.data.prepared.dataset_info: its class names);
        `where`: the params path of the run, named in errors; `kept`: a cached.Kept shared with
        other runs on the same rows (the sweep's points)."""
        self.spec, self.bootstrap, self.eval_splits, self.where = spec, bootstrap, eval_splits, where
        self.kept = kept
        self.labels, self.about = dataset["labels"], cards.sentiment(dataset)

    def load(self, model_name: str):
        tokenizer, model = load_sequence_classifier(model_name, self.labels)
        apply_freezing(model, self.spec, self.where)
        if self.spec.lora is not None:
            model = apply_lora(model, self.spec.lora, f"{self.where}.lora")
        return tokenizer, model

    def frozen_once(self, model, train, pad, hp):
        """Frozen embeddings and first blocks run once, in eval mode (stages.lib.models.cached)."""
        if self.spec.frozen_layers != "once":
            return None
        ready = cached.prepare(model, train, pad, max(64, hp.batch_size), hp.precision, self.kept)
        if ready is None:
            return None
        train, frozen, encode_s = ready
        return train, functools.partial(cached.collate, fallback=pad), cached.standing_in(model, frozen), encode_s

    def tokenize(self, ds, tokenizer):
        return encoded(ds, lambda batch: tokenizer(batch["text"], truncation=True), keep=("label",))

    def evaluate(self, trainer, evals: dict) -> Result:
        import torch

        scores, predictions = {}, {}
        for split, (rows, tokenized) in evals.items():
            out = trainer.predict(tokenized)
            probs = torch.softmax(torch.as_tensor(out.predictions, dtype=torch.float32), dim=-1).numpy()
            split_scores, predictions[split] = score_classifier(rows["row"], out.label_ids.tolist(), probs,
                                                                self.bootstrap, self.labels)
            scores.update({f"{split}_{name}": value for name, value in split_scores.items()})
        return Result(scores, predictions)

    def headline(self, metrics: dict, where) -> dict:
        return headline.classifier(metrics, where)

    def describe(self, model) -> dict:
        spec = self.spec
        return {"classes": len(self.labels), "total_blocks": unwrap(model).config.num_hidden_layers,
                "head_only": int(spec.head_only),
                "frozen_blocks": spec.frozen_blocks, "lora_rank": spec.lora.rank if spec.lora else 0,
                **count_parameters(model)}

    def trains(self, metrics: dict) -> str:
        spec = self.spec
        if spec.lora:
            return (f"LoRA adapters (rank {spec.lora.rank}, alpha {spec.lora.alpha:g}, dropout {spec.lora.dropout:g}) "
                    "on every linear layer of the encoder, and the head; the adapters are merged into the saved weights")
        how = ("; the frozen layers ran once, in eval mode (no dropout in them)" if "cached_features_s" in metrics
               else "; the frozen layers ran every step, in train mode (with dropout), as the book's code")
        if spec.head_only:
            return "the classification head only (the encoder, pooler included, frozen)" + how
        k = spec.frozen_blocks
        frozen = [part for part, on in (("the embeddings", spec.freeze_embeddings),
                                        ("encoder block 0" if k == 1 else f"encoder blocks 0..{k - 1}", k > 0)) if on]
        return f"everything but {' and '.join(frozen)} (frozen){how}" if frozen else "every parameter"

    def export(self, model):
        return merged(model)
