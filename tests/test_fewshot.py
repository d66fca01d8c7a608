import pytest

from stages.lib.data.sources import builtin
from stages.lib.data.prepared import read_split
from stages.lib.config.params import load_params
from stages.lib.runtime.errors import PipelineError
from stages.lib.tasks.setfit.fewshot import (contrastive_pairs, draw_samples, fewshot_sample, learning_curve, save_model,
                                             train_setfit)
from stages.lib.config.schema import SetFit
from tests.conftest import REPO, bootstrap_settings
from tests.prepared import ROTTEN_TOMATOES

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
WHERE = "setfit"
LABELS = ROTTEN_TOMATOES["labels"]
TINY = {"num_epochs": 1, "num_iterations": 2, "batch_size": 16, "seed": 42}
SETTINGS = {"num_epochs": 1, "num_iterations": 2, "batch_size": 16, "seeds": [42], "samples_per_class": [4],
            "main_samples_per_class": 4, "sample_seed": 42, "max_eval_samples": 32, "precision": "fp32", "length_buckets": True,
            "unique_sentences": True}


@pytest.fixture(scope="module")
def prepared(raw_dir, tmp_path_factory):
    """data/prepared as the prepare stage writes it: the splits."""
    out = tmp_path_factory.mktemp("prepared")
    rt = builtin.rotten_tomatoes_from_raw(raw_dir / "rotten_tomatoes")
    builtin.write_splits(rt, builtin.SENTIMENT_SCHEMA, out / "classification")
    return out


@pytest.fixture(scope="module")
def train(prepared):
    return read_split(prepared / "classification", "train").to_dict()


@pytest.fixture(scope="module")
def sixteen(train):
    """The book's draw: 16 examples per class, seed 42."""
    return fewshot_sample(train, 16, 42, LABELS)


def test_a_draw_is_seeded_and_balanced(train, sixteen):
    assert sixteen == fewshot_sample(train, 16, 42, LABELS) != fewshot_sample(train, 16, 7, LABELS)
    assert sixteen["label"] == [0] * 16 + [1] * 16
    assert len(set(sixteen["text"])) == 32 and set(sixteen["text"]) <= set(train["text"])


def test_the_learning_curve_draws_each_size_with_the_sample_seed(train, sixteen):
    samples = draw_samples(train, [8, 16, 64], 42, WHERE, LABELS)
    assert samples[16] == sixteen
    for n, sample in samples.items():
        assert sample["label"] == [0] * n + [1] * n and len(set(sample["text"])) == 2 * n


def test_samples_per_class_larger_than_a_class_names_the_parameter(train):
    with pytest.raises(PipelineError, match=r"setfit\.samples_per_class: 5000 exceeds "
                                            "the 4265 training examples of class neg"):
        draw_samples(train, [8, 5000], 42, WHERE, LABELS)


def test_pairs_are_iterations_x_2_x_examples_read_from_setfit(sixteen):
    """A real run on the book's 32 examples, stopped after one step: setfit still builds the whole
    pair dataset (its length follows num_iterations; max_steps only caps the distinct pairs)."""
    trainer, _, _ = train_setfit(MINILM, sixteen, LABELS, {**TINY, "num_iterations": 20, "max_steps": 1})
    assert trainer.st_trainer.state.global_step == 1
    assert contrastive_pairs(trainer) == 20 * 2 * 32 == 1280
    assert sum(trainer.st_trainer.train_dataset["label"]) == 640  # half positive (label 1), half negative


def test_length_buckets_and_unique_sentences_train_the_body_as_the_padded_batches_do(sixteen, monkeypatch):
    """Two steps with dropout off (so no run draws anything random): the body's weights end the same
    with length buckets, with each distinct sentence embedded once, and with both, as through setfit's
    own padded batches; the encoder's own forward is back afterwards."""
    import torch

    from stages.lib.tasks.setfit import fewshot as setfit

    load = setfit.load_setfit_model

    def without_dropout(*args):
        model = load(*args)
        for module in model.model_body.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        return model

    monkeypatch.setattr(setfit, "load_setfit_model", without_dropout)
    weights = {}
    for levers in ((False, False), (True, False), (False, True), (True, True)):
        trainer, _, _ = train_setfit(MINILM, sixteen, LABELS, {**TINY, "max_steps": 2}, "fp32", *levers)
        assert "forward" not in trainer.model.model_body[0].auto_model.__dict__
        if levers[1]:  # the pairs repeat sentences, and each ran once
            loss = trainer.st_trainer.loss
            assert loss.copies == 2 * 2 * 16 and 0 < loss.rows < loss.copies
        weights[levers] = dict(trainer.model.model_body.named_parameters())
    moved = 0
    for name, before in load(MINILM, LABELS).model_body.named_parameters():
        for levers in ((True, False), (False, True), (True, True)):
            torch.testing.assert_close(weights[levers][name], weights[False, False][name], rtol=0, atol=2e-6,
                                       msg=f"{name} {levers}")
        moved += not torch.equal(weights[False, False][name], before)
    assert moved > 50, "the steps trained the body"


def test_distinct_rows_key_on_the_real_tokens():
    """The same sentence padded differently in two columns is one row; the index maps every copy to
    it; the batch is cut to its longest sentence; left padding and unlike features are refused."""
    import torch

    from stages.lib.tasks.setfit.pair_loss import distinct_rows

    a = {"input_ids": torch.tensor([[5, 6, 7, 0], [5, 6, 0, 0]]), "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]),
         "modality": "text"}
    b = {"input_ids": torch.tensor([[5, 6, 9], [5, 6, 7]]), "attention_mask": torch.tensor([[1, 1, 0], [1, 1, 1]]),
         "modality": "text"}
    batch, index = distinct_rows([a, b])
    assert batch["modality"] == "text" and batch["input_ids"].shape == (2, 3)  # [5 6 7] and [5 6]
    assert index[0] == index[3] and index[1] == index[2] and index[0] != index[1]
    for row, copy in enumerate(index.tolist()):  # each copy's real tokens are its sentence's
        source = (a if row < 2 else b)["input_ids"][row % 2]
        n = int((a if row < 2 else b)["attention_mask"][row % 2].sum())
        assert batch["input_ids"][copy, :n].tolist() == source[:n].tolist() and batch["attention_mask"][copy].sum() == n
    left = {**b, "attention_mask": torch.tensor([[0, 1, 1], [1, 1, 1]])}
    assert distinct_rows([a, left]) is None
    assert distinct_rows([a, {**b, "modality": "image"}]) is None
    assert distinct_rows([a, {k: v for k, v in b.items() if k != "modality"}]) is None


def test_tiny_end_to_end_run(prepared, tmp_path):
    from huggingface_hub import ModelCard
    from setfit import SetFitModel

    out = tmp_path / "models" / "setfit"
    cfg = SetFit(**{**SETTINGS, "seeds": [42, 7]})
    metrics, predictions, model = learning_curve(MINILM, prepared / "classification", [4], 4, cfg, WHERE,
                                                 bootstrap_settings(), LABELS)
    save_model(model, out, MINILM, cfg, metrics, load_params(REPO / "params.yaml"), ROTTEN_TOMATOES)
    test = read_split(prepared / "classification", "test")
    assert len(predictions) == 64 and all(test[p["row"]]["label"] == p["gold"] for p in predictions)
    assert [p["seed"] for p in predictions] == [42] * 32 + [7] * 32
    low, high = metrics["test_f1_ci95"]
    assert 0 <= low <= metrics["test_f1"] <= high <= 1
    assert metrics["seeds"] == [42, 7] and len(metrics["test_f1_seeds"]) == 2  # mean of two seeds' models
    assert metrics["test_f1"] == pytest.approx(sum(metrics["test_f1_seeds"]) / 2)
    assert metrics["trainable_params"] > 22_000_000  # the whole MiniLM body and the head
    assert metrics["test_rows"] == 32 and metrics["samples_per_class"] == 4
    assert metrics["contrastive_pairs"] == 2 * 2 * 8
    assert list(metrics["learning_curve"]) == ["4"]
    for key in ("test_f1", "test_accuracy"):
        assert 0 <= metrics[key] <= 1 and metrics[key] == metrics["learning_curve"]["4"][key]
    assert metrics["train_seconds"] > 0
    for name in ("model.safetensors", "model_head.pkl", "config_setfit.json", "README.md"):
        assert (out / name).is_file()
    assert not list(out.parent.glob(".setfit.*"))  # atomic_dir left no temporary folder
    card = ModelCard.load(out / "README.md")  # setfit's card, filled in and extended with ours
    assert 'from_pretrained("models/setfit")' in card.text and f"[{MINILM}](https://huggingface.co/{MINILM})" in card.text
    assert (card.data.library_name, card.data.base_model, card.data.license) == ("setfit", MINILM, "apache-2.0")
    assert card.data.datasets == ["cornell-movie-review-data/rotten_tomatoes"] and card.data.widget
    assert [(r.metric_type, r.metric_value) for r in card.data.eval_results] == \
        [("f1", metrics["test_f1"]), ("accuracy", metrics["test_accuracy"])]
    assert "mean of 2 seeds" in card.data.eval_results[0].metric_name
    assert "mean over seeds 42, 7" in card.text and "`num_iterations: 2`" in card.text
    assert set(SetFitModel.from_pretrained(str(out)).predict(["a gem", "a mess"])) <= {"neg", "pos"}
