"""The predict command (tools/predict.py, stages/lib/models/predict.py) on the three kinds of model the
pipeline writes, built here from MiniLM (heads untrained or set by hand), and on bad input."""
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from stages.lib.models import predict
from stages.lib.runtime.errors import PipelineError
from stages.lib.models.loading import resolve_model
from tests.conftest import REPO, offline_env
from tools.predict import main

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
REVIEWS = ["A warm, funny and moving film.", "Dull and far too long.", "I loved every minute of it."]


def save_transformers(auto_class, labels, folder, window=None):
    from transformers import AutoTokenizer

    name = resolve_model(MINILM)
    tokenizer = AutoTokenizer.from_pretrained(name)
    if window:
        tokenizer.model_max_length = window
    model = auto_class.from_pretrained(name, id2label=dict(enumerate(labels)),
                                       label2id={label: i for i, label in enumerate(labels)})
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    """A three-class sequence classifier with a 24-token window (so truncation shows on short texts)."""
    from transformers import AutoModelForSequenceClassification

    folder = tmp_path_factory.mktemp("sentiment")
    save_transformers(AutoModelForSequenceClassification, ["neg", "neutral", "pos"], folder, window=24)
    return folder


@pytest.fixture(scope="module")
def ner(tmp_path_factory):
    """A one-block token classifier that has only 24 positions, whose head says B-PER for every token:
    each word becomes its own PER entity, so the entities show which parts of a text were read."""
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    folder = tmp_path_factory.mktemp("ner")
    name = resolve_model(MINILM)
    config = AutoConfig.from_pretrained(name, num_hidden_layers=1, max_position_embeddings=24,
                                        id2label=dict(enumerate(TAGS)), label2id={t: i for i, t in enumerate(TAGS)})
    model = AutoModelForTokenClassification.from_config(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0.0, 0.0, 0.0]))
    AutoTokenizer.from_pretrained(name).save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def setfit_model(tmp_path_factory):
    """A SetFit model: MiniLM body, logistic-regression head fitted on four embeddings."""
    import setfit

    folder = tmp_path_factory.mktemp("setfit")
    model = setfit.SetFitModel.from_pretrained(resolve_model(MINILM), labels=["neg", "pos"])
    texts = ["great", "wonderful", "awful", "boring"]
    model.model_head.fit(model.model_body.encode(texts), [1, 1, 0, 0])
    model.save_pretrained(folder)
    return folder


def run(capsys, *argv, stdin: bytes | None = None, monkeypatch=None) -> tuple[list[dict], str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()], err


def test_reads_one_text_a_line_or_a_json_field():
    texts = predict.read_texts(b"first\r\nsecond\n", "in.txt", None)
    assert [(t.line, t.text) for t in texts] == [(1, "first"), (2, "second")]
    texts = predict.read_texts(b'{"review": "caf\xc3\xa9 scene", "id": 3}\n', "in.jsonl", "review")
    assert [t.text for t in texts] == ["café scene"]


@pytest.mark.parametrize("raw, field, message", [
    (b"good\n\nbad\n", None, r"^in:2: empty text"),
    (b"good\nbad \xff film\n", None, r"^in:2: byte 0xff at column 5 is not UTF-8"),
    (b'{"text": "a"}\n{"txt": "b"}\n', "text", r"^in:2: no text field 'text'"),
    (b'{"text": "a"}\nplain\n', "text", r"^in:2: not a JSON object"),
    (b'{"text": "  "}\n', "text", r"^in:1: empty text"),
    (b"", None, r"^in: no texts"),
])
def test_bad_input_names_the_line(raw, field, message):
    with pytest.raises(PipelineError, match=message):
        predict.read_texts(raw, "in", field)


def test_the_kind_comes_from_the_folder(sentiment, ner, setfit_model, tmp_path):
    assert [predict.model_kind(f) for f in (sentiment, ner, setfit_model)] == ["sentiment", "ner", "setfit"]
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"]}))
    with pytest.raises(PipelineError, match=f"^{tmp_path}: not a model the pipeline trained"):
        predict.model_kind(tmp_path)


def test_sentiment_gives_every_label_a_score_and_truncates_long_texts(sentiment, tmp_path, capsys):
    long = "an endless film that " * 20
    (tmp_path / "in.txt").write_text("\n".join([*REVIEWS, long]) + "\n")
    rows, err = run(capsys, "--model", sentiment, tmp_path / "in.txt", "--batch-size", 2)
    assert [r["text"] for r in rows] == [*REVIEWS, long]  # input order, though batches run longest first
    for row in rows:
        assert list(row["scores"]) == ["neg", "neutral", "pos"]
        assert sum(row["scores"].values()) == pytest.approx(1, abs=1e-3)
        assert row["label"] == max(row["scores"], key=row["scores"].get)
    assert [r.get("truncated", False) for r in rows] == [False, False, False, True]
    assert "1 text(s) longer than the model's 24 tokens were truncated (lines 4)" in err
    assert "4/4" in err  # the progress bar: more texts than one batch


def test_same_scores_batched_or_one_at_a_time(sentiment, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("\n".join(REVIEWS))
    batched, _ = run(capsys, "--model", sentiment, tmp_path / "in.txt", "--batch-size", 3)
    single, _ = run(capsys, "--model", sentiment, tmp_path / "in.txt", "--batch-size", 1)
    for a, b in zip(batched, single):
        np.testing.assert_allclose(list(a["scores"].values()), list(b["scores"].values()), atol=2e-4)


def test_ner_entities_carry_offsets_and_long_texts_are_read_to_the_end(ner, tmp_path, capsys):
    short = "Maarten lives in Paris"
    long = " ".join(["Maarten met Jay in Paris."] * 12)  # ~90 tokens: more than the model's 24 positions
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": short}) + "\n" + json.dumps({"text": long}) + "\n")
    rows, _ = run(capsys, "--model", ner, tmp_path / "in.jsonl", "-o", tmp_path / "out.jsonl")
    assert rows == []  # written to the file, not stdout
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    for row in rows:
        for entity in row["entities"]:
            assert entity["type"] == "PER"
            assert row["text"][entity["start"]:entity["end"]] == entity["text"]
    assert [e["text"] for e in rows[0]["entities"]] == ["Maarten", "lives", "in", "Paris"]
    assert rows[1]["entities"][-1]["end"] == len(long)  # past the first window: split, not cut
    assert "truncated" not in rows[1]


def test_setfit_reads_stdin(setfit_model, capsys, monkeypatch):
    rows, err = run(capsys, "--model", setfit_model, stdin="\n".join(REVIEWS).encode(), monkeypatch=monkeypatch)
    assert [r["text"] for r in rows] == REVIEWS and "setfit model" in err
    for row in rows:
        assert list(row["scores"]) == ["neg", "pos"] and sum(row["scores"].values()) == pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize("kind", ["sentiment", "setfit"])
def test_bf16_gives_the_fp32_labels(kind, sentiment, setfit_model, tmp_path, capsys):
    folder = {"sentiment": sentiment, "setfit": setfit_model}[kind]
    (tmp_path / "in.txt").write_text("\n".join(REVIEWS))
    fp32, _ = run(capsys, "--model", folder, tmp_path / "in.txt", "--precision", "fp32")
    bf16, err = run(capsys, "--model", folder, tmp_path / "in.txt", "--precision", "bf16")
    assert "cpu bf16" in err
    for a, b in zip(fp32, bf16):
        np.testing.assert_allclose(list(a["scores"].values()), list(b["scores"].values()), atol=0.03)


def test_errors_are_one_line_and_write_nothing(sentiment, tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"fine\nnot \xe9 utf-8\n")
    out = tmp_path / "out.jsonl"
    cases = [
        (["--model", sentiment, tmp_path / "bad.txt", "-o", out], f"error: {tmp_path}/bad.txt:2: byte 0xe9"),
        (["--model", tmp_path, tmp_path / "bad.txt"], f"error: {tmp_path}: not a model the pipeline trained"),
        (["--model", sentiment, "--task", "ner", tmp_path / "bad.txt"], f"error: {sentiment}: a sentiment model, not ner"),
        (["--model", tmp_path / "nowhere", "-"], f"error: {tmp_path}/nowhere: no such model folder"),
    ]
    for argv, message in cases:
        proc = subprocess.run([sys.executable, "-m", "tools.predict", *map(str, argv)], cwd=REPO, env=offline_env(),
                              capture_output=True, text=True, input="")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith(message) and proc.stdout == ""
    assert not out.exists()
