"""Each run's headline (metrics/headline/): the only files dvc.yaml declares as metrics, so that `dvc exp
show` and `dvc metrics diff` show test F1 with its interval, training seconds and trainable parameters
of every run, and nothing else; the full records beside them keep every number."""
import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from stages.lib.runtime.errors import PipelineError
from stages.lib.scoring import headline
from tests.conftest import REPO

RUN = {"test_f1": 0.82, "test_f1_ci95": [0.79, 0.85], "train_runtime_s": 194.2, "trainable_params": 22713986,
       "validation_f1": 0.81, "bf16": 0, "classes": 2}


def test_a_classifier_headline_is_f1_its_interval_seconds_and_parameters():
    assert headline.classifier(RUN, Path("x.json")) == {"f1": 0.82, "f1_95ci": "0.790–0.850",
                                                         "train_s": 194.2, "trainable_params": 22713986}


def test_a_record_without_its_interval_is_one_line_naming_the_file():
    with pytest.raises(PipelineError, match=r"^metrics/fine_tune/full.json: no test_f1 with its test_f1_ci95 interval"):
        headline.classifier({k: v for k, v in RUN.items() if k != "test_f1_ci95"}, Path("metrics/fine_tune/full.json"))


def test_any_task_headline_is_its_test_scores_and_seconds():
    assert headline.scores({**RUN, "test_accuracy": 0.8}) == {"f1": 0.82, "accuracy": 0.8, "train_s": 194.2,
                                                             "trainable_params": 22713986}


def test_dvc_yaml_declares_only_the_headlines_as_metrics():
    stages = YAML(typ="safe").load((REPO / "dvc.yaml").read_text())["stages"]
    declared = {next(iter(m)) if isinstance(m, dict) else m
                for stage in stages.values() for m in stage.get("do", stage).get("metrics", [])}
    assert declared == {"metrics/headline/fine_tune/${item}.json", "metrics/headline/fine_tune/from_mlm.json",
                        "metrics/headline/mlm_pretrain.json", "metrics/headline/freeze_sweep.json",
                        "metrics/headline/setfit.json", "metrics/headline/ner.json"}


@pytest.mark.parametrize("run", ["full", "head_only", "first_blocks", "from_mlm", "lora_r4", "lora_r16"])
def test_the_recorded_headlines_are_their_records(run):
    record = json.loads((REPO / f"metrics/fine_tune/{run}.json").read_text())
    recorded = json.loads((REPO / f"metrics/headline/fine_tune/{run}.json").read_text())
    assert recorded == headline.classifier(record, Path(run))
    low, high = record["test_f1_ci95"]
    assert recorded["f1_95ci"] == f"{low:.3f}–{high:.3f}" and low <= recorded["f1"] <= high


def test_the_other_recorded_headlines_are_their_records():
    def read(name):
        return json.loads((REPO / "metrics" / name).read_text())

    assert read("headline/setfit.json") == headline.classifier(read("setfit.json"), Path("s"), seconds="train_seconds")
    assert read("headline/ner.json") == headline.ner(read("ner.json"), Path("n"))
    assert read("headline/mlm_pretrain.json") == headline.mlm(read("mlm_pretrain.json"))
    assert read("headline/freeze_sweep.json") == headline.sweep(read("freeze_sweep.json"))
