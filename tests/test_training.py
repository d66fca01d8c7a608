import datasets
import pytest

from stages.lib import training
from stages.lib.config import PipelineError
from stages.lib.metrics import classification_metrics

HP = {"learning_rate": 2e-5, "batch_size": 16, "epochs": 1, "weight_decay": 0.01, "seed": 42,
      "bf16": False, "group_by_length": False, "max_train_samples": None, "max_eval_samples": None,
      "logging_steps": 50}


@pytest.mark.parametrize("key, value, message", [
    ("learning_rate", -1e-5, "learning_rate = -1e-05 is invalid; accepted: a positive number"),
    ("learning_rate", "fast", "learning_rate = 'fast' is invalid"),
    ("batch_size", 0, "batch_size = 0 is invalid"),
    ("bf16", "maybe", "bf16 = 'maybe' is invalid; accepted: auto | true | false"),
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


def test_bf16_auto_follows_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(training.torch.cuda, "is_available", lambda: False)
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(training, "CPUINFO", cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2 avx512f\n")
    assert training.validate_hparams({**HP, "bf16": "auto"}, "x")["bf16"] is False
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert training.validate_hparams({**HP, "bf16": "auto"}, "x")["bf16"] is True
    assert training.validate_hparams({**HP, "bf16": False}, "x")["bf16"] is False  # forced off


def test_subset_is_seeded_and_mixes_classes():
    ds = datasets.Dataset.from_dict({"text": [str(i) for i in range(100)], "label": [1] * 50 + [0] * 50})
    a, b = training.subset(ds, 20, seed=1), training.subset(ds, 20, seed=1)
    assert a["text"] == b["text"] and len(a) == 20 and set(a["label"]) == {0, 1}
    assert training.subset(ds, None, seed=1) is ds


def test_classification_metrics_on_a_hand_made_case():
    # 2 true positives, 1 false positive, 1 false negative, 1 true negative
    m = classification_metrics([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])
    assert m == {"f1": pytest.approx(2 / 3), "accuracy": pytest.approx(3 / 5)}
