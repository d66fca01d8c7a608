import json

import pytest

from stages.lib.tasks import ner
from stages.lib.config import schema, settings
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.sources.builtin import NER_SCHEMA, NER_TAGS, conll_from_raw, write_splits
from stages.lib.data.prepared import read_split
from stages.lib.config.paths import RunOutputs
from stages.lib.runtime.outputs import write_jsonl
from stages.lib.skeleton.loop import train_and_evaluate
from tests.conftest import bootstrap_settings
from tests.prepared import CONLL2003

TAG = {tag: i for i, tag in enumerate(NER_TAGS)}
HP = {"learning_rate": 5e-5, "batch_size": 8, "epochs": 1, "weight_decay": 0.01, "seed": 42,
      "precision": "fp32", "group_by_length": False, "max_train_samples": 16, "max_eval_samples": 8,
      "logging_steps": 1}


def ids(*tags):
    return [TAG[t] for t in tags]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from stages.lib.models.loading import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))


def test_the_books_maarten_example_by_hand():
    # bert-base-cased: [CLS] Ma ##arte ##n [SEP] for the one word "Maarten" (B-PER)
    word_ids = [None, 0, 0, 0, None]
    assert ner.align_labels(word_ids, ids("B-PER"), True) == [-100, *ids("B-PER", "I-PER", "I-PER"), -100]
    assert ner.align_labels(word_ids, ids("B-PER"), False) == [-100, TAG["B-PER"], -100, -100, -100]


def test_alignment_on_the_real_uncased_tokenizer(tokenizer):
    words = ["Maarten", "Grootendorst", "met", "Homer", "in", "Amsterdam"]
    tags = ids("B-PER", "I-PER", "O", "B-PER", "O", "B-LOC")
    enc = tokenizer(words, is_split_into_words=True, truncation=True)
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"]) == [
        "[CLS]", "ma", "##arte", "##n", "gr", "##oot", "##end", "##ors", "##t", "met", "homer", "in",
        "amsterdam", "[SEP]"]
    assert ner.align_labels(enc.word_ids(), tags, True) == [
        -100, *ids("B-PER", "I-PER", "I-PER", "I-PER", "I-PER", "I-PER", "I-PER", "I-PER",
                   "O", "B-PER", "O", "B-LOC"), -100]
    assert ner.align_labels(enc.word_ids(), tags, False) == [
        -100, TAG["B-PER"], -100, -100, TAG["I-PER"], -100, -100, -100, -100,
        *ids("O", "B-PER", "O", "B-LOC"), -100]


def test_tokenize_keeps_word_ids_and_word_tags_use_the_first_sub_token(tokenizer):
    import datasets

    ds = datasets.Dataset.from_dict({"tokens": [["Maarten", "met", "Homer"]],
                                     "ner_tags": [ids("B-PER", "O", "B-PER")]})
    row = ner.tokenize(ds, tokenizer, label_all_subtokens=True)[0]
    assert set(row) >= {"input_ids", "labels", "word_ids"} and "tokens" not in row
    assert row["word_ids"] == [None, 0, 0, 0, 1, 2, None]
    # per sub-token predictions: only the first of "ma ##arte ##n" counts; word 3 was cut off
    preds = [0, TAG["B-PER"], TAG["B-LOC"], TAG["O"], TAG["O"], TAG["B-ORG"], 0]
    assert ner.word_tags(preds, row["word_ids"], 4, NER_TAGS) == ["B-PER", "O", "B-ORG", "O"]


def ner_params(profile: dict, probes: dict | None = None) -> dict:
    return {"profile": "cpu", **profile,
            "ner_probes": {"sentences": ["My name is Maarten."]} if probes is None else probes}


def test_settings_name_the_bad_parameter():
    seeded = {k: v for k, v in HP.items() if k != "seed"}
    profile = {"ner_model": "m", "fine_tune": {**seeded, "seeds": [42, 43]}, "ner": {"label_all_subtokens": True}}
    model, hps, _ = settings.ner(ner_params(profile))
    assert [hp.seed for hp in hps] == [42, 43] and hps[1].label_all_subtokens is True  # the fine_tune recipe's seeds
    _, hps, _ = settings.ner(ner_params({**profile, "ner": {"label_all_subtokens": False, "epochs": 3, "seeds": [5]}}))
    assert [(hp.seed, hp.epochs, hp.label_all_subtokens) for hp in hps] == [(5, 3, False)]  # ner's overrides
    with pytest.raises(PipelineError, match="params.yaml: ner.label_all_subtokens = 'yes' is invalid"):
        settings.ner(ner_params({**profile, "ner": {"label_all_subtokens": "yes"}}))
    with pytest.raises(PipelineError, match="params.yaml: ner.batch_size = 0 is invalid"):
        settings.ner(ner_params({**profile, "ner": {"label_all_subtokens": True, "batch_size": 0}}))
    with pytest.raises(PipelineError, match="params.yaml: fine_tune.batch_size = 0 is invalid"):
        settings.ner(ner_params({**profile, "fine_tune": {**profile["fine_tune"], "batch_size": 0}}))
    with pytest.raises(PipelineError, match=r"params.yaml: ner: unknown key\(s\) seed; accepted: label_all_subtokens"):
        settings.ner(ner_params({**profile, "ner": {"label_all_subtokens": True, "seed": 1}}))
    with pytest.raises(PipelineError, match="params.yaml: ner_model is missing"):
        settings.ner(ner_params({k: v for k, v in profile.items() if k != "ner_model"}))
    with pytest.raises(PipelineError, match="params.yaml: ner_probes.sentences is missing"):
        settings.ner(ner_params(profile, {}))


def test_train_evaluate_and_probe_a_tiny_model(tmp_path, raw_dir):
    data = tmp_path / "ner"
    write_splits(conll_from_raw(raw_dir / "conll2003"), NER_SCHEMA, data)
    hp = settings.validate(schema.NerTraining, {**HP, "label_all_subtokens": True}, "test")
    sentences = ["My name is Maarten.", "Homer lives in Springfield."]
    task = ner.NerTask(True, sentences, bootstrap_settings(), CONLL2003)
    result = train_and_evaluate(task, "sentence-transformers/all-MiniLM-L6-v2", hp, data,
                                RunOutputs(tmp_path / "ner.json", model=tmp_path / "model"))
    metrics, probes = result.metrics, result.extras["probes"]["probes"]
    write_jsonl(tmp_path / "pred.jsonl", result.predictions["test"])
    assert metrics["train_samples"] == 16 and metrics["test_sentences"] == 8
    for key in ("entity_f1", "entity_precision", "entity_recall", "entity_f1_strict", "book_token_f1",
                "f1_PER", "f1_ORG", "f1_LOC", "f1_MISC"):
        assert 0 <= metrics[f"test_{key}"] <= 1, key
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert (tmp_path / "model" / "tokenizer.json").is_file()
    rows = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(len(r["tokens"]) == len(r["gold"]) == len(r["pred"]) for r in rows)
    test = read_split(data, "test")  # the rows line up with the test split they were scored on
    assert all(test[r["row"]]["tokens"] == r["tokens"] for r in rows)
    low, high = metrics["test_entity_f1_ci95"]
    assert 0 <= low <= metrics["test_entity_f1"] <= high <= 1
    assert {t for r in rows for t in r["pred"]} <= set(NER_TAGS)

    saved = ner.extract_entities(str(tmp_path / "model"), str(tmp_path / "model"), sentences)
    assert saved == probes  # the trained model in memory finds what the saved one finds
    json.dumps(probes)  # JSON-serialisable
    assert [p["sentence"] for p in probes] == sentences
    for entity in (e for p in probes for e in p["entities"]):
        assert set(entity) == {"word", "entity_group", "score", "start", "end"}
        assert entity["entity_group"] in ("PER", "ORG", "LOC", "MISC") and entity["score"] == round(entity["score"], 4)


def test_the_repository_params_define_ner_for_every_profile():
    from tests.conftest import composed

    for name in ("book", "cpu", "smoke"):
        settings.ner(composed([f"profile={name}"]))
    assert settings.ner(composed(["profile=book"]))[1][0].label_all_subtokens is True  # the book's alignment
    assert "My name is Maarten." in settings.ner(composed())[2].sentences


def test_predictions_keep_the_dataset_order_under_length_grouping(tokenizer, raw_dir):
    """Regression: length-grouped evaluation batches once scrambled sentence/prediction pairs."""
    import datasets
    from transformers import DataCollatorForTokenClassification

    from stages.lib.models.loading import load_token_classifier
    from stages.lib.training.trainer import make_trainer, trainer_dir

    sentences = conll_from_raw(raw_dir / "conll2003")["test"]
    ds = ner.tokenize(datasets.Dataset.from_dict({k: v[:40] for k, v in sentences.items()}), tokenizer, True)
    _, model = load_token_classifier("sentence-transformers/all-MiniLM-L6-v2", NER_TAGS)
    with trainer_dir() as tmp:
        hp = settings.validate(schema.Training, {**HP, "group_by_length": True, "batch_size": 4}, "test")
        trainer = make_trainer(model, tokenizer, ds, hp, tmp, collator=DataCollatorForTokenClassification(tokenizer))
        out = trainer.predict(ds)
    for row, labels in zip(out.label_ids.tolist(), ds["labels"]):
        assert row[:len(labels)] == labels
