"""Every encoder family the stages support, as a tiny random model with a tokenizer of its kind
(tests/tiny_models.py): freezing by structure, and a few training steps of the real sentiment, NER
and masked-LM task code."""
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from stages.lib.tasks import mlm
from stages.lib.tasks import ner
from stages.lib.config import schema, settings
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.sources.builtin import NER_SCHEMA, NER_TAGS, SENTIMENT_SCHEMA, write_splits
from stages.lib.models.freezing import apply_freezing, count_parameters, encoder_blocks
from stages.lib.models.loading import with_prefix_spaces
from stages.lib.tasks.sentiment import SentimentTask
from stages.lib.config.schema import FreezeSpec
from stages.lib.skeleton.loop import train_and_evaluate
from tests import tiny_models
from tests.conftest import bootstrap_settings
from tests.prepared import CONLL2003, ROTTEN_TOMATOES

FAMILIES = list(tiny_models.FAMILIES)
HP = {"learning_rate": 1e-3, "batch_size": 8, "epochs": 1, "weight_decay": 0.0, "seed": 42, "precision": "fp32",
      "group_by_length": False, "max_train_samples": 16, "max_eval_samples": 8, "logging_steps": 1}
TAG = {tag: i for i, tag in enumerate(NER_TAGS)}
SENTENCES = [("Maarten lives in Paris .", "B-PER O O B-LOC O"), ("Homer works at Hugging Face .", "B-PER O O B-ORG I-ORG O"),
             ("EU rejects German lamb .", "B-ORG O B-MISC O O")]


def named(model, module) -> set[str]:
    prefix = next(n for n, m in model.named_modules() if m is module)
    return {f"{prefix}.{n}" for n, _ in module.named_parameters()}


@pytest.mark.parametrize("family", FAMILIES)
def test_freezing_finds_the_embeddings_and_blocks_by_structure(family):
    model = tiny_models.model(family, AutoModelForSequenceClassification)
    base, path = model.base_model, tiny_models.FAMILIES[family][2]
    head = {n for n, _ in model.named_parameters()} - named(model, base)
    apply_freezing(model, FreezeSpec(head_only=True))
    assert {n for n, p in model.named_parameters() if p.requires_grad} == head
    apply_freezing(model, FreezeSpec(freeze_embeddings=True))
    assert {n for n, p in model.named_parameters() if not p.requires_grad} == named(model, base.embeddings)
    if path is None:  # ALBERT: one block for every layer
        with pytest.raises(PipelineError, match=r"^params\.yaml: runs\.x\.frozen_blocks: AlbertForSequenceClassification "
                                                r"has no list of its 2 blocks"):
            apply_freezing(model, FreezeSpec(frozen_blocks=1), "runs.x")
        return
    blocks = encoder_blocks(model)
    assert blocks is base.get_submodule(path) and len(blocks) == 2
    apply_freezing(model, FreezeSpec(freeze_embeddings=True, frozen_blocks=1))
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == named(model, base.embeddings) | named(model, blocks[0])
    counts = count_parameters(model)
    assert counts["total_params"] - counts["trainable_params"] == sum(
        p.numel() for p in model.parameters() if not p.requires_grad) > 0


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {family: tiny_models.save(family, root / family) for family in FAMILIES}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny sentiment and CoNLL-style splits (the stages' prepared parquet)."""
    root = tmp_path_factory.mktemp("prepared")
    texts = tiny_models.CORPUS * 4
    sentiment = {"text": texts, "label": [i % 2 for i in range(len(texts))]}
    write_splits({s: sentiment for s in ("train", "validation", "test")}, SENTIMENT_SCHEMA, root / "sentiment")
    conll = {"tokens": [s.split() for s, _ in SENTENCES] * 6,
             "ner_tags": [[TAG[t] for t in tags.split()] for _, tags in SENTENCES] * 6}
    write_splits({s: conll for s in ("train", "validation", "test")}, NER_SCHEMA, root / "conll")
    return root


@pytest.mark.parametrize("family", FAMILIES)
def test_pre_split_words_tokenize_as_the_sentence(family, checkpoints):
    """NER reads CoNLL's pre-split words; with a prefix space each is encoded as in running text."""
    tokenizer = with_prefix_spaces(AutoTokenizer.from_pretrained(checkpoints[family]))
    words = "Maarten lives in Paris".split()
    assert tokenizer(words, is_split_into_words=True).input_ids == tokenizer(" ".join(words)).input_ids


@pytest.mark.parametrize("family", FAMILIES)
def test_sentiment_ner_and_mlm_train_through_the_task_code(family, checkpoints, data):
    model = str(checkpoints[family])
    spec = FreezeSpec() if family == "albert" else FreezeSpec(freeze_embeddings=True, frozen_blocks=1)
    hp = settings.validate(schema.Training, HP, "test")
    m = train_and_evaluate(SentimentTask(spec, bootstrap_settings(), ROTTEN_TOMATOES, ("test",)), model, hp,
                           data / "sentiment").metrics
    assert 0 <= m["test_f1"] <= 1 and m["total_blocks"] == 2 and m["train_samples"] == 16
    assert (m["trainable_params"] < m["total_params"]) == (family != "albert")

    hp = settings.validate(schema.NerTraining, {**HP, "label_all_subtokens": True}, "test")
    task = ner.NerTask(True, ["Maarten lives in Paris ."], bootstrap_settings(), CONLL2003)
    result = train_and_evaluate(task, model, hp, data / "conll")
    assert 0 <= result.metrics["test_entity_f1"] <= 1
    assert all(len(row["pred"]) == len(row["tokens"]) for row in result.predictions["test"])

    hp = settings.validate(schema.MlmTraining, {**HP, "mlm_probability": 0.3, "masking": "whole_word"}, "test")
    task = mlm.MlmTask(hp, ["What a [MASK] film ."], 3, ROTTEN_TOMATOES)
    result = train_and_evaluate(task, model, hp, data / "sentiment")
    assert result.metrics["mlm_head_pretrained"] == 1  # the tiny checkpoints are saved with their MLM head
    assert result.metrics["test_mlm_loss_after"] > 0 and len(result.extras["fill_mask"]["probes"][0]["after"]) == 3
