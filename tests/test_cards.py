"""Model cards (stages/lib/reporting/cards.py) from the recorded runs' metrics, read back by huggingface_hub's
parser: the YAML the Hub reads (base model, license, datasets, test scores) and the body (intervals,
seeds, settings, machine, limits). The training skeleton's and SetFit's cards: tests/test_training.py,
tests/test_fewshot.py."""
import json
import re
import shutil

import pytest
from huggingface_hub import ModelCard

from stages.lib.data.sources import builtin
from stages.lib.reporting import cards
from stages.lib.config.params import load_params
from stages.lib.data.sources.builtin import describe as describe_dataset
from stages.lib.reporting.machine import cpu_model, machine
from stages.lib.models.loading import resolve_model
from stages.lib.runtime.precision import accelerator
from stages.lib.scoring.seeds import describe
from tests.conftest import REPO
from tests.prepared import CONLL2003, ROTTEN_TOMATOES

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
PARAMS = load_params(REPO / "params.yaml")
SENTIMENT = cards.sentiment(ROTTEN_TOMATOES)
SETTINGS = {"learning_rate": 5e-5, "batch_size": 16, "max_train_samples": None, "group_by_length": True, "seeds": [42]}
RECORDED = {  # metrics file -> what the card says of the task
    "fine_tune/full": SENTIMENT, "fine_tune/lora_r4": SENTIMENT, "setfit": SENTIMENT, "ner": cards.ner(CONLL2003),
    "mlm_pretrain": cards.mlm(ROTTEN_TOMATOES),
}


def recorded(name: str) -> dict:
    return json.loads((REPO / "metrics" / f"{name}.json").read_text())


@pytest.fixture
def folder(tmp_path):
    """A model folder as far as the card reads it: MiniLM's (uncased) tokenizer."""
    source = resolve_model(MINILM)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(f"{source}/{name}", tmp_path / name)
    return tmp_path


def written(folder, metrics, about=SENTIMENT, base=MINILM, title="fine-tune/full") -> ModelCard:
    cards.write(folder, cards.Run(title, about, base, SETTINGS, "every parameter", metrics), PARAMS)
    return ModelCard.load(folder / "README.md")  # the Hub's parser: raises on invalid metadata


@pytest.mark.parametrize("name", RECORDED)
def test_a_card_carries_the_runs_metadata_and_scores(folder, name):
    about, metrics = RECORDED[name], recorded(name)
    card = written(folder, metrics, about, title=name)
    data = card.data
    assert data.base_model == MINILM and data.license == "apache-2.0"  # MiniLM's own card says apache-2.0
    assert data.language == "en" and data.pipeline_tag == about.pipeline_tag
    assert data.datasets == [about.dataset["id"]] and about.dataset["id"] in (
        builtin.HUB["rotten_tomatoes"][0], builtin.HUB["conll2003"][0])
    assert [(r.metric_type, r.metric_value, r.dataset_split) for r in data.eval_results] == \
        [(kind, metrics[key], "test") for key, kind in about.scores.items()]
    for result, key in zip(data.eval_results, about.scores):
        if f"{key}_ci95" in metrics:
            assert "95 % CI [{:.3f}, {:.3f}]".format(*metrics[f"{key}_ci95"]) in result.metric_name
    for key in about.scores:
        assert f"| `{key}` | {describe(metrics, key)} |" in card.text  # the interval beside the score
    assert "`learning_rate: 5e-05`, `batch_size: 16`, `max_train_samples: null`" in card.text
    seconds = metrics.get("train_runtime_s", metrics.get("train_seconds"))
    assert f"- Time: {seconds:,.0f} s on {machine()}" in card.text
    assert "loses the capital-letter cue for names" in card.text  # MiniLM is uncased
    assert ("One training seed" in card.text) == (name != "mlm_pretrain")  # MLM scores have no interval


def test_several_seeds_give_the_mean_sd_and_the_saved_seed(folder):
    metrics = {**recorded("fine_tune/full"), "seeds": [42, 43], "test_f1_seeds": [0.82, 0.824], "test_f1_sd": 0.0028}
    card = written(folder, metrics)
    assert "mean of 2 seeds (sd 0.003)" in card.data.eval_results[0].metric_name
    assert describe(metrics, "test_f1").endswith("(mean of 2 seeds, sd 0.003)")
    assert f"| `test_f1` | {describe(metrics, 'test_f1')} |" in card.text
    assert "mean over seeds 42, 43" in card.text and "seed 42's model (`test_f1` 0.820)" in card.text
    assert "(mean over the seeds) on" in card.text


def test_your_own_local_data_is_named_by_its_path_without_a_hub_dataset_or_language(folder):
    tickets = describe_dataset("tickets", "data/own/tickets.csv", False, ["bug", "feature", "question"], False)
    metrics = {**recorded("fine_tune/full"), "classes": 3, "test_f1_bug": 0.8, "test_f1_feature": 0.7, "test_f1_question": 0.6}
    card = written(folder, metrics, cards.sentiment(tickets))
    assert card.data.datasets is None and card.data.language is None and "tickets.csv" in card.data.tags
    assert card.data.eval_results[0].dataset_type == "data/own/tickets.csv"
    assert "On the test split of tickets (`data/own/tickets.csv`, local)" in card.text
    assert "`test_f1`: macro-F1 over the 3 classes" in card.text and "| `test_f1_question` | 0.600" in card.text
    assert "Intended use: the class in texts like those of tickets (bug, feature, question)." in card.text
    (folder / "README.md").unlink()
    assert "`test_f1`: F1 of the class pos, as the book scores it." in written(folder, recorded("fine_tune/full")).text


def test_a_local_base_folder_passes_on_its_cards_base_model_and_license(folder, tmp_path_factory):
    """from_mlm starts from data/models/mlm_pretrain: its card names the Hub model it came from."""
    mlm = tmp_path_factory.mktemp("mlm_pretrain")
    written(folder, recorded("mlm_pretrain"), cards.mlm(ROTTEN_TOMATOES), title="mlm-pretrain")
    shutil.copytree(folder, mlm, dirs_exist_ok=True)
    card = written(folder, recorded("fine_tune/from_mlm"), base=str(mlm), title="fine-tune/from_mlm")
    assert card.data.base_model == MINILM and card.data.license == "apache-2.0"
    assert f"- Base model: `{mlm}`, a local folder (from [{MINILM}](https://huggingface.co/{MINILM}))" in card.text


@pytest.mark.parametrize("base", ["bert-base-cased", "local"])
def test_without_the_base_models_card_the_license_is_unknown_and_said_so(folder, tmp_path_factory, base):
    """A Hub model not on this machine (offline), or a local folder without a README.md."""
    base = str(tmp_path_factory.mktemp("no-card")) if base == "local" else base
    card = written(folder, recorded("fine_tune/full"), base=base)
    assert card.data.license == "unknown" and "License: unknown: no card of the base model" in card.text
    assert card.data.base_model == (None if base.startswith("/") else base)


def test_a_card_already_in_the_folder_keeps_its_text_and_metadata(folder):
    (folder / "README.md").write_text("---\nlibrary_name: setfit\ntags:\n- setfit\nwidget:\n- text: a gem\n---\n\n"
                                      "# SetFit\n\nsetfit's own text\n")
    card = written(folder, recorded("setfit"), title="setfit")
    assert card.data.library_name == "setfit" and card.data.widget == [{"text": "a gem"}]
    assert card.data.tags == ["setfit", "rotten_tomatoes"]  # setfit's, then ours (the stage's name is setfit's too)
    assert card.text.startswith("\n# SetFit\n\nsetfit's own text\n\n## Results")


def test_a_cased_tokenizer_has_no_uncased_limit():
    class Cased:
        def tokenize(self, text):
            return [text]

    assert not cards.lowercases(Cased())
    assert "Uncased" not in cards.limits(cards.ner(CONLL2003), "apache-2.0", uncased=False)


@pytest.mark.skipif(accelerator() != "cpu", reason="a machine with an accelerator names its GPU")
def test_a_cpu_machine_is_named_by_its_model_and_cores():
    assert machine() == cpu_model() and re.search(r", \d+ cores, ", machine())
