"""The one training skeleton: a new task supplies only its pieces (here a toy task, in a few lines),
and the skeleton does seeding, subsets, resumable training, evaluation, saving (with a model card)
and bookkeeping."""
import json

import datasets
import pytest
from huggingface_hub import ModelCard

from stages.lib.reporting import cards
from stages.lib.config import schema, settings
from stages.lib.data.sources.builtin import SENTIMENT_SCHEMA, describe, write_splits
from stages.lib.scoring.metrics import classification_metrics
from stages.lib.models.loading import load_sequence_classifier
from stages.lib.config.paths import RunOutputs
from stages.lib.skeleton.loop import Result, Task, run, train_and_evaluate

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
HP = {"learning_rate": 1e-3, "batch_size": 8, "epochs": 1, "weight_decay": 0.0, "seed": 42,
      "precision": "fp32", "group_by_length": False, "max_train_samples": 32, "max_eval_samples": 16,
      "logging_steps": 1}


class LengthTask(Task):
    """A fourth task in a few lines: is a text longer than four words?"""
    about = cards.About("text-classification", describe("Lengths", "toy/lengths", True, ["short", "long"], False),
                        "whether a text is longer than four words", {"test_f1": "f1"})

    def load(self, model_name):
        return load_sequence_classifier(model_name, ("short", "long"))

    def tokenize(self, ds, tokenizer):
        ds = ds.map(lambda row: {"label": int(len(row["text"].split()) > 4)})
        return ds.map(lambda b: tokenizer(b["text"], truncation=True), batched=True, remove_columns=["text"])

    def evaluate(self, trainer, evals):
        out = trainer.predict(evals["test"][1])
        m = classification_metrics(out.label_ids.tolist(), out.predictions.argmax(-1).tolist(), ("short", "long"))
        return Result({f"test_{k}": v for k, v in m.items()})  # no per-row predictions: none written


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    texts = [" ".join(["word"] * (1 + i % 9)) for i in range(120)]
    split = {"text": texts, "label": [0] * 120}
    folder = tmp_path_factory.mktemp("data")
    write_splits({"train": split, "test": split}, SENTIMENT_SCHEMA, folder)
    return folder


def test_a_new_task_runs_through_the_skeleton(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # checkpoints go to data/checkpoints/ under the working directory
    hp = settings.validate(schema.Training, HP, "test")
    out = RunOutputs(tmp_path / "m.json", tmp_path / "headline.json", tmp_path / "model", tmp_path / "live")
    params = {"checkpoints": {"every_steps": 100}, "profile": "toy"}
    result = run(params, "toy", LengthTask(), MINILM, [hp], data_dir, out)
    metrics = result.metrics
    assert json.loads((tmp_path / "m.json").read_text()) == metrics and result.predictions == result.extras == {}
    assert json.loads((tmp_path / "headline.json").read_text()) == {  # any task's: its test scores and seconds
        "f1": metrics["test_f1"], "accuracy": metrics["test_accuracy"], "train_s": metrics["train_runtime_s"]}
    assert metrics["train_samples"] == 32 and 0 <= metrics["test_f1"] <= 1
    assert metrics["train_runtime_s"] > 0 and metrics["train_samples_per_second"] > 0
    assert metrics["bf16"] == metrics["fp16"] == 0 and metrics["train_loss"] > 0
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "short", "1": "long"}
    assert (tmp_path / "model" / "tokenizer.json").is_file()
    curves = (tmp_path / "live" / "plots" / "metrics" / "loss.tsv").read_text().splitlines()
    assert curves[0].split("\t") == ["step", "loss"] and len(curves) == 1 + 4  # 32 rows / 8 a batch
    assert not list(tmp_path.glob(".*"))  # no temporary folder left beside the outputs
    assert not (tmp_path / "data/checkpoints/toy").exists()
    card = ModelCard.load(tmp_path / "model" / "README.md")  # the card, as the Hub's parser reads it
    assert (card.data.base_model, card.data.license, card.data.datasets) == (MINILM, "apache-2.0", ["toy/lengths"])
    assert [(r.metric_type, r.metric_value) for r in card.data.eval_results] == [("f1", metrics["test_f1"])]
    assert f"- Time: {metrics['train_runtime_s']:,.0f} s on " in card.text
    assert "`learning_rate: 0.001`, `batch_size: 8`" in card.text and "`seeds: [42]`" in card.text


def test_the_seed_fixes_the_run(data_dir):
    hp = settings.validate(schema.Training, HP, "test")
    a, b = (train_and_evaluate(LengthTask(), MINILM, hp, data_dir).metrics for _ in range(2))
    assert a["train_loss"] == b["train_loss"] and a["test_f1"] == b["test_f1"]


def test_subsets_are_seeded_rows_of_the_split(data_dir):
    from stages.lib.data.prepared import read_split, subset

    full = read_split(data_dir, "train")
    assert subset(full, 10, 1)["text"] == subset(full, 10, 1)["text"] != subset(full, 10, 2)["text"]
    assert isinstance(full, datasets.Dataset)
