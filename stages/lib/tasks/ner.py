"""Named-entity recognition on CoNLL-2003 (or your own data): the chapter's token-classification section.

The model labels sub-tokens; CoNLL labels words. Training uses the book's alignment
(`align_labels`); evaluation maps predictions back to words (first sub-token of each word) and
scores entities with seqeval directly (`evaluate.load("seqeval")` fetches code from the Hub).
"""
from __future__ import annotations

from itertools import chain
from pathlib import Path

from stages.lib.reporting import cards
from stages.lib.scoring import headline, stats
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.prepared import encoded
from stages.lib.scoring.metrics import book_token_f1, entity_metrics, entity_types
from stages.lib.models.loading import load_token_classifier
from stages.lib.config.schema import Bootstrap
from stages.lib.skeleton.loop import Result, Task

IGNORE = -100  # label id that the loss (and the book's metric) skips


def align_labels(word_ids: list[int | None], word_labels: list[int], label_all_subtokens: bool) -> list[int]:
    """Sub-token labels of one sentence from its word labels (the book's `align_labels`).

    Special tokens (word id None) get IGNORE; the first sub-token of a word gets the word's label.
    Later sub-tokens get the word's label with B-X turned into I-X (label_all_subtokens, the book:
    an entity never begins mid-word) or IGNORE (the Hugging Face course's choice).
    """
    labels = []
    previous = None
    for word in word_ids:
        if word is None:
            labels.append(IGNORE)
        elif word != previous:
            labels.append(word_labels[word])
        elif label_all_subtokens:
            label = word_labels[word]
            labels.append(label + 1 if label % 2 == 1 else label)  # B-X ids are odd, I-X = B-X + 1
        else:
            labels.append(IGNORE)
        previous = word
    return labels


def tokenize(ds, tokenizer, label_all_subtokens: bool):
    """Sub-tokens, aligned labels and word ids of every sentence (word ids need a fast tokenizer)."""
    if not tokenizer.is_fast:
        raise PipelineError(f"{type(tokenizer).__name__} is not a fast tokenizer; NER needs one to "
                            "map sub-tokens to words")

    def encode(batch):
        enc = tokenizer(batch["tokens"], truncation=True, is_split_into_words=True)
        word_ids = [enc.word_ids(i) for i in range(len(batch["tokens"]))]
        enc["labels"] = [align_labels(w, tags, label_all_subtokens)
                         for w, tags in zip(word_ids, batch["ner_tags"])]
        enc["word_ids"] = word_ids  # kept for word_tags(); the Trainer drops it before the model
        return enc

    return encoded(ds, encode)


def word_tags(token_preds, word_ids: list[int | None], n_words: int, tags) -> list[str]:
    """Each word's predicted tag (`tags`: the tag set in id order): the prediction at its first
    sub-token; "O" for words that truncation cut off (so every word is scored, as conlleval does)."""
    first = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            first.setdefault(word, position)
    return [tags[int(token_preds[first[w]])] if w in first else "O" for w in range(n_words)]


def extract_entities(model, tokenizer, sentences: list[str]) -> list[dict]:
    """Entities a trained model (or a model folder, for both) finds in raw sentences, through the
    `pipeline` the book shows (adjacent sub-tokens of one entity merged: aggregation_strategy="simple")."""
    from transformers import pipeline

    if not isinstance(model, (str, Path)):
        model.eval()  # no dropout
    ner = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple")
    return [{"sentence": sentence,
             "entities": [{"word": e["word"], "entity_group": e["entity_group"],
                           "score": round(float(e["score"]), 4), "start": int(e["start"]),
                           "end": int(e["end"])} for e in ner(sentence)]}
            for sentence in sentences]


class NerTask(Task):
    """Token classification on the prepared NER splits, scored on the test split (as the book)."""

    def __init__(self, label_all_subtokens: bool, probe_sentences: list[str], bootstrap: Bootstrap, dataset: dict):
        """`dataset`: the prepared dataset's record (stages.lib.data.prepared.dataset_info: its tags)."""
        self.label_all_subtokens, self.probe_sentences = label_all_subtokens, probe_sentences
        self.bootstrap, self.tags, self.about = bootstrap, dataset["labels"], cards.ner(dataset)

    def load(self, model_name: str):
        return load_token_classifier(model_name, self.tags)

    def tokenize(self, ds, tokenizer):
        return tokenize(ds, tokenizer, self.label_all_subtokens)

    def collator(self, tokenizer):
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(tokenizer)  # pads labels with IGNORE

    def evaluate(self, trainer, evals: dict) -> Result:
        """Entity-level scores (seqeval) and the book's per-token F1 on the test split; the entities the
        trained model finds in the probe sentences go to the "probes" output."""
        words, test = evals["test"]
        out = trainer.predict(test)
        token_preds = out.predictions.argmax(-1)
        labelled = out.label_ids != IGNORE  # also False on padding: the Trainer pads with IGNORE
        tags = self.tags
        # the book's per-token figure scores the labelled sub-tokens; kept per sentence for its interval
        token_gold = [[tags[i] for i in ids[keep]] for ids, keep in zip(out.label_ids, labelled)]
        token_pred = [[tags[i] for i in ids[keep]] for ids, keep in zip(token_preds, labelled)]
        gold = [[tags[i] for i in sentence] for sentence in words["ner_tags"]]
        pred = [word_tags(p, w, len(g), tags) for p, w, g in zip(token_preds, test["word_ids"], gold)]
        # one line per sentence, tags as strings
        predictions = [{"row": r, "tokens": t, "gold": g, "pred": p, "token_gold": tg, "token_pred": tp}
                       for r, t, g, p, tg, tp in zip(words["row"], words["tokens"], gold, pred,
                                                     token_gold, token_pred, strict=True)]
        probes = extract_entities(trainer.model, trainer.processing_class, self.probe_sentences)
        resamples, seed = self.bootstrap.resamples, self.bootstrap.seed
        scores = {**{f"test_{k}": v for k, v in entity_metrics(gold, pred, entity_types(tags)).items()},
                  "test_entity_f1_ci95": stats.ci95(stats.entity_units(gold, pred), "f1", resamples, seed),
                  "test_book_token_f1": book_token_f1([*chain(*token_gold)], [*chain(*token_pred)]),
                  "test_book_token_f1_ci95": stats.ci95(stats.token_units(token_gold, token_pred), "f1", resamples, seed),
                  "test_sentences": len(test)}
        return Result(scores, {"test": predictions}, {"probes": {"probes": probes}})

    def describe(self, model) -> dict:
        return {"label_all_subtokens": int(self.label_all_subtokens)}

    def headline(self, metrics: dict, where) -> dict:
        return headline.ner(metrics, where)

