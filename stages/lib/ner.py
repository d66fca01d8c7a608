"""Named-entity recognition on CoNLL-2003: the chapter's token-classification section.

The model labels sub-tokens; CoNLL labels words. Training uses the book's alignment
(`align_labels`); evaluation maps predictions back to words (first sub-token of each word) and
scores entities with seqeval directly (`evaluate.load("seqeval")` fetches code from the Hub).
"""
from __future__ import annotations

import json
from pathlib import Path

from stages.lib import precision
from stages.lib.config import PipelineError
from stages.lib.data import NER_TAGS
from stages.lib.outputs import write_text

IGNORE = -100  # label id that the loss (and the book's metric) skips
ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")


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

    return ds.map(encode, batched=True, remove_columns=ds.column_names, desc="tokenize")


def word_tags(token_preds, word_ids: list[int | None], n_words: int) -> list[str]:
    """Each word's predicted tag: the prediction at its first sub-token; "O" for words that
    truncation cut off (so every word is scored, as conlleval does)."""
    first = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            first.setdefault(word, position)
    return [NER_TAGS[int(token_preds[first[w]])] if w in first else "O" for w in range(n_words)]


def entity_metrics(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Entity-level scores over sentences of tags. `entity_*`: seqeval's default mode, which
    matches conlleval (an I-X after O starts an entity); `entity_f1_strict`: IOB2 rules (it does
    not); `f1_<type>`: per entity type."""
    from seqeval.metrics import classification_report, f1_score
    from seqeval.scheme import IOB2

    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    overall = report["micro avg"]
    return {
        "entity_precision": float(overall["precision"]),
        "entity_recall": float(overall["recall"]),
        "entity_f1": float(overall["f1-score"]),
        "entity_f1_strict": float(f1_score(gold, pred, mode="strict", scheme=IOB2, zero_division=0)),
        **{f"f1_{t}": float(report.get(t, {}).get("f1-score", 0.0)) for t in ENTITY_TYPES},
    }


def book_token_f1(flat_gold: list[str], flat_pred: list[str]) -> float:
    """The book's figure, NOT entity-level: every labelled token is wrapped as its own
    one-token sentence before seqeval, so each non-O token counts as a one-token "entity" and
    only its type (PER, ORG, ...) has to match: a micro F1 over tokens that ignores B/I."""
    from seqeval.metrics import f1_score

    return float(f1_score([[t] for t in flat_gold], [[p] for p in flat_pred], zero_division=0))


def write_predictions(path: Path, tokens: list[list[str]], gold: list[list[str]],
                      pred: list[list[str]]) -> None:
    """One JSON line per sentence: {"tokens", "gold", "pred"} with tags as strings."""
    lines = (json.dumps({"tokens": t, "gold": g, "pred": p}, ensure_ascii=False)
             for t, g, p in zip(tokens, gold, pred, strict=True))
    write_text(path, "".join(line + "\n" for line in lines))


def extract_entities(model_dir: Path, sentences: list[str]) -> list[dict]:
    """Entities a saved model finds in raw sentences, through the `pipeline` the book shows
    (adjacent sub-tokens of one entity merged: aggregation_strategy="simple")."""
    from transformers import pipeline

    ner = pipeline("token-classification", model=str(model_dir), tokenizer=str(model_dir),
                   aggregation_strategy="simple")
    return [{"sentence": sentence,
             "entities": [{"word": e["word"], "entity_group": e["entity_group"],
                           "score": round(float(e["score"]), 4), "start": int(e["start"]),
                           "end": int(e["end"])} for e in ner(sentence)]}
            for sentence in sentences]


def train_and_evaluate_ner(model_name: str, hp: dict, label_all_subtokens: bool, data_dir: Path,
                           model_out: Path | None = None, predictions_out: Path | None = None,
                           live_dir: Path | None = None, checkpoints=None) -> dict:
    """Fine-tune `model_name` for NER on the prepared CoNLL-2003 splits and score it on the test
    split (as the book). The model is saved to `model_out`, the test predictions written to
    `predictions_out` and the training curves logged with DVCLive to `live_dir` when given."""
    from transformers import DataCollatorForTokenClassification, set_seed

    from stages.lib.data import read_split
    from stages.lib.models import load_token_classifier
    from stages.lib.training import fit, is_main_process, make_trainer, save_model, subset, trainer_dir

    train_words, test_words = read_split(data_dir, "train"), read_split(data_dir, "test")  # before the model
    set_seed(hp["seed"])  # the new head's initialisation
    tokenizer, model = load_token_classifier(model_name, NER_TAGS)
    seed = hp["seed"]
    train = tokenize(subset(train_words, hp["max_train_samples"], seed), tokenizer, label_all_subtokens)
    test_words = subset(test_words, hp["max_eval_samples"], seed)
    test = tokenize(test_words, tokenizer, label_all_subtokens)

    with trainer_dir(checkpoints) as out_dir:
        # pads labels with IGNORE, beside the inputs
        trainer = make_trainer(model, tokenizer, train, hp, out_dir,
                               collator=DataCollatorForTokenClassification(tokenizer), checkpoints=checkpoints)
        result = fit(trainer, checkpoints, live_dir)
        out = trainer.predict(test)
    token_preds = out.predictions.argmax(-1)
    labelled = out.label_ids != IGNORE  # also False on padding: the Trainer pads with IGNORE
    book_f1 = book_token_f1([NER_TAGS[i] for i in out.label_ids[labelled]],
                            [NER_TAGS[i] for i in token_preds[labelled]])

    gold = [[NER_TAGS[i] for i in tags] for tags in test_words["ner_tags"]]
    pred = [word_tags(p, w, len(g)) for p, w, g in zip(token_preds, test["word_ids"], gold)]
    if model_out is not None and is_main_process():
        save_model(tokenizer, model, model_out)
    if predictions_out is not None and is_main_process():
        write_predictions(predictions_out, test_words["tokens"], gold, pred)

    return {
        **{f"test_{k}": v for k, v in entity_metrics(gold, pred).items()},
        "test_book_token_f1": book_f1,
        "test_sentences": len(test),
        "train_loss": result.training_loss,
        "train_runtime_s": result.metrics["train_runtime"],
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "train_samples": len(train),
        **precision.as_metrics(hp["precision"]),
        "label_all_subtokens": int(label_all_subtokens),
    }
