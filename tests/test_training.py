import datasets
import pytest

from stages.lib import training
from stages.lib.config import PipelineError
from stages.lib.metrics import classification_metrics

HP = {"learning_rate": 2e-5, "batch_size": 16, "epochs": 1, "weight_decay": 0.01, "seed": 42,
      "precision": "fp32", "group_by_length": False, "max_train_samples": None, "max_eval_samples": None,
      "logging_steps": 50}


@pytest.mark.parametrize("key, value, message", [
    ("learning_rate", -1e-5, "learning_rate = -1e-05 is invalid; accepted: a positive number"),
    ("learning_rate", "fast", "learning_rate = 'fast' is invalid"),
    ("batch_size", 0, "batch_size = 0 is invalid"),
    ("precision", "maybe", "precision = 'maybe' is invalid; accepted: auto | fp32 | bf16 | fp16"),
    ("precision", True, "precision = True is invalid"),
    ("max_train_samples", -3, "max_train_samples = -3 is invalid"),
])
def test_bad_hyperparameters_name_the_parameter(key, value, message):
    with pytest.raises(PipelineError, match=f"profiles.cpu.fine_tune.{message}"):
        training.validate_hparams({**HP, key: value}, "profiles.cpu.fine_tune")


def test_unknown_and_missing_keys():
    with pytest.raises(PipelineError, match="unknown key.*lr"):
        training.validate_hparams({**HP, "lr": 1}, "x")
    with pytest.raises(PipelineError, match="x.epochs is missing"):
        training.validate_hparams({k: v for k, v in HP.items() if k != "epochs"}, "x")


def test_fp16_on_a_cpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(training.precision, "accelerator", lambda: "cpu")
    with pytest.raises(PipelineError, match="x.precision = fp16 needs a GPU"):
        training.validate_hparams({**HP, "precision": "fp16"}, "x")
    monkeypatch.setattr(training.precision, "accelerator", lambda: "cuda")
    assert training.validate_hparams({**HP, "precision": "fp16"}, "x")["precision"] == "fp16"


def test_subset_is_seeded_and_mixes_classes():
    ds = datasets.Dataset.from_dict({"text": [str(i) for i in range(100)], "label": [1] * 50 + [0] * 50})
    a, b = training.subset(ds, 20, seed=1), training.subset(ds, 20, seed=1)
    assert a["text"] == b["text"] and len(a) == 20 and set(a["label"]) == {0, 1}
    assert training.subset(ds, None, seed=1) is ds


def test_classification_metrics_on_a_hand_made_case():
    # 2 true positives, 1 false positive, 1 false negative, 1 true negative
    m = classification_metrics([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])
    assert m == {"f1": pytest.approx(2 / 3), "accuracy": pytest.approx(3 / 5)}


def test_length_grouping_keeps_every_example_once_an_epoch_and_cuts_padding(tmp_path):
    """The project's lever against padding: same examples per epoch, batches of similar length."""
    import random

    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from stages.lib.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    rng = random.Random(0)
    texts = [" ".join(["word"] * rng.randint(1, 60)) for _ in range(400)]
    ds = training.tokenize(datasets.Dataset.from_dict({"text": texts, "label": [0, 1] * 200}), tokenizer)

    def epoch(group_by_length: bool) -> list[list[int]]:
        hp = {**HP, "group_by_length": group_by_length, "seed": 3}
        tiny = BertForSequenceClassification(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32,
                                                        num_hidden_layers=1, num_attention_heads=2,
                                                        intermediate_size=37))
        trainer = training.make_trainer(tiny, tokenizer, ds, hp, tmp_path)
        order = list(trainer._get_train_sampler(ds))
        return [order[i:i + hp["batch_size"]] for i in range(0, len(order), hp["batch_size"])]

    def padded_tokens(batches) -> int:
        lengths = [len(ids) for ids in ds["input_ids"]]
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    grouped, shuffled = epoch(True), epoch(False)
    assert sorted(i for b in grouped for i in b) == list(range(len(ds)))  # each example exactly once
    assert padded_tokens(grouped) < 0.7 * padded_tokens(shuffled)
    assert epoch(True) == grouped  # the seed fixes the order


def test_the_global_batch_is_split_over_ddp_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert training.per_process_batch(16) == 8
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(PipelineError, match="batch_size = 16 does not split over 3 processes"):
        training.per_process_batch(16)
    monkeypatch.delenv("WORLD_SIZE")
    assert training.per_process_batch(16) == 16
