"""The sentence-classification task (Rotten Tomatoes): a classification head on the encoder, some
layers frozen, scored by binary F1 of the positive class (as the book) and accuracy."""
from __future__ import annotations

from stages.lib.data import SENTIMENT_LABELS
from stages.lib.freezing import apply_freezing, count_parameters, encoder_blocks
from stages.lib.metrics import classification_metrics
from stages.lib.models import load_sequence_classifier
from stages.lib.settings import FreezeSpec
from stages.lib.training import Task


class SentimentTask(Task):
    def __init__(self, spec: FreezeSpec, eval_splits: tuple[str, ...] = ("validation", "test")):
        self.spec, self.eval_splits = spec, eval_splits

    def load(self, model_name: str):
        tokenizer, model = load_sequence_classifier(model_name, SENTIMENT_LABELS)
        apply_freezing(model, self.spec)
        return tokenizer, model

    def tokenize(self, ds, tokenizer):
        return ds.map(lambda batch: tokenizer(batch["text"], truncation=True), batched=True,
                      remove_columns=["text"], desc="tokenize")

    def evaluate(self, trainer, evals: dict) -> dict:
        scores = {}
        for split, (_, tokenized) in evals.items():
            out = trainer.predict(tokenized)
            for name, value in classification_metrics(out.label_ids.tolist(),
                                                      out.predictions.argmax(-1).tolist()).items():
                scores[f"{split}_{name}"] = value
        return scores

    def describe(self, model) -> dict:
        return {"total_blocks": len(encoder_blocks(model)), **count_parameters(model)}
