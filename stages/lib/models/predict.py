"""A trained model on new texts (`python -m tools.predict`): read and check the texts, find what kind
of model a folder holds, and predict in length-sorted batches at the best precision available.

The three kinds the pipeline writes:
  sentiment  a transformers sequence classifier (config.json: *ForSequenceClassification)
  setfit     a SetFit model (config_setfit.json beside a Sentence Transformers body)
  ner        a transformers token classifier (config.json: *ForTokenClassification)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from stages.lib.config import paths
from stages.lib.runtime import precision
from stages.lib.runtime.errors import PipelineError

KINDS = ("sentiment", "setfit", "ner")
MAIN_MODELS = {"sentiment": paths.fine_tune("full").model, "setfit": paths.SETFIT.model, "ner": paths.NER.model}


@dataclass
class Text:
    line: int  # 1-based line of the input it came from
    text: str


def read_texts(raw: bytes, name: str, field: str | None) -> list[Text]:
    """The texts of an input: one a line, or with `field` one JSON object a line holding the text in
    that field. An empty line, a byte that isn't UTF-8 or a line without the field is an error naming
    `name` and the line."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline ends the last line, it doesn't start an empty one
    texts = []
    for number, line in enumerate(lines, start=1):
        where = f"{name}:{number}"
        try:
            text = line.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError as e:
            raise PipelineError(f"{where}: byte 0x{line[e.start]:02x} at column {e.start + 1} is not UTF-8 "
                                "(save the file as UTF-8)") from None
        if field is not None:
            text = _field(text, field, where)
        if not text.strip():
            raise PipelineError(f"{where}: empty text (one text a line; remove the line)")
        texts.append(Text(number, text))
    if not texts:
        raise PipelineError(f"{name}: no texts")
    return texts


def _field(line: str, field: str, where: str) -> str:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise PipelineError(f"{where}: not a JSON object ({e.msg} at column {e.colno})") from None
    if not isinstance(row, dict) or not isinstance(row.get(field), str):
        raise PipelineError(f"{where}: no text field {field!r} (--field names the field holding the text)")
    return row[field]


def model_kind(folder: Path) -> str:
    """sentiment, setfit or ner: what the model in `folder` does, from the files it was saved with."""
    folder = Path(folder)
    if (folder / "config_setfit.json").is_file():
        return "setfit"
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        config = {}
    architecture = (config.get("architectures") or [""])[0]
    if architecture.endswith("ForSequenceClassification"):
        return "sentiment"
    if architecture.endswith("ForTokenClassification"):
        return "ner"
    raise PipelineError(f"{folder}: not a model the pipeline trained (no config_setfit.json, and config.json "
                        "names no sequence or token classifier); use a folder under data/models/")


class Predictor:
    """The model in `folder` with its tokenizer on the best device, in `precision` (auto: as training
    picks it). __call__ maps texts to one dict per text, in input order."""

    def __init__(self, folder: Path, precision_name: str = "auto", batch_size: int = 32):
        self.folder, self.kind, self.batch_size = Path(folder), model_kind(folder), batch_size
        self.device = precision.accelerator()
        self.precision = precision.resolve(precision_name, self.device)
        dtype = precision.DTYPES[self.precision]
        if self.kind == "setfit":
            import setfit

            self.model = setfit.SetFitModel.from_pretrained(str(self.folder), device=self.device)
            self.model.model_body.to(dtype)
            self.tokenizer = self.model.model_body.tokenizer
            self.window = self.model.model_body.max_seq_length
            return
        from transformers import pipeline

        task = "text-classification" if self.kind == "sentiment" else "token-classification"
        self.pipe = pipeline(task, model=str(self.folder), device=self.device, dtype=dtype)
        self.tokenizer = self.pipe.tokenizer
        self.window = min(self.tokenizer.model_max_length, self.pipe.model.config.max_position_embeddings)
        self.tokenizer.model_max_length = self.window  # where the pipeline truncates or splits

    def too_long(self, texts: list[Text]) -> list[Text]:
        """The texts longer than the model's window (in tokens, with the special ones)."""
        lengths = self.tokenizer([t.text for t in texts], add_special_tokens=True)["input_ids"]
        return [t for t, ids in zip(texts, lengths) if len(ids) > self.window]

    def __call__(self, texts: list[str], progress=None) -> list[dict]:
        # longest first, so batches hold texts of similar length (little padding) and a batch that
        # doesn't fit in memory fails at once
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        results: list[dict] = [{}] * len(texts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            for i, result in zip(batch, self._batch([texts[i] for i in batch])):
                results[i] = {"text": texts[i], **result}
            if progress is not None:
                progress.update(len(batch))
        return results

    def _batch(self, texts: list[str]) -> list[dict]:
        if self.kind == "setfit":
            probabilities = self.model.predict_proba(texts, batch_size=self.batch_size, as_numpy=True)
            return [_label_scores(self.model.labels, map(float, row)) for row in probabilities]
        if self.kind == "sentiment":
            outputs = self.pipe(texts, batch_size=self.batch_size, top_k=None, truncation=True)
            labels = [self.pipe.model.config.id2label[i] for i in range(self.pipe.model.config.num_labels)]
            return [_label_scores(labels, ({o["label"]: o["score"] for o in out}[label] for label in labels))
                    for out in outputs]
        # NER: a word takes the tag of its first sub-token, as the pipeline scores words (ner.word_tags),
        # so a word is never split between entities; texts past the window are split into overlapping
        # windows (stride), not cut
        outputs = self.pipe(texts, batch_size=self.batch_size, aggregation_strategy="first",
                            stride=min(128, self.window // 4))
        return [{"entities": [{"type": e["entity_group"], "text": text[e["start"]:e["end"]],
                               "words": e["word"], "start": int(e["start"]), "end": int(e["end"]),
                               "score": round(float(e["score"]), 4)} for e in out]}
                for text, out in zip(texts, outputs)]


def _label_scores(labels: list[str], probabilities) -> dict:
    """The most likely label, and each label's probability in the model's label order."""
    scores = {label: round(float(p), 4) for label, p in zip(labels, probabilities)}
    return {"label": max(scores, key=scores.get), "scores": scores}
