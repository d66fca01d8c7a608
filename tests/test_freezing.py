import pytest
from transformers import (BertConfig, BertForSequenceClassification, MPNetConfig,
                          MPNetForSequenceClassification)

from stages.lib.runtime.errors import PipelineError
from stages.lib.models.freezing import apply_freezing, count_parameters, encoder_blocks
from stages.lib.config.schema import FreezeSpec


def frozen_names(model):
    return [n for n, p in model.named_parameters() if not p.requires_grad]


def trainable_names(model):
    return [n for n, p in model.named_parameters() if p.requires_grad]


@pytest.fixture(scope="module")
def bert_base_cased():
    """Randomly initialised, with bert-base-cased's shape (12 blocks, 768 wide, 28,996 tokens)."""
    return BertForSequenceClassification(BertConfig(vocab_size=28996, num_labels=2))


@pytest.fixture
def mpnet():
    config = MPNetConfig(vocab_size=100, hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                         intermediate_size=64, num_labels=2)
    return MPNetForSequenceClassification(config)


def test_embeddings_and_first_10_blocks_is_the_books_first_165_parameters(bert_base_cased):
    apply_freezing(bert_base_cased, FreezeSpec(freeze_embeddings=True, frozen_blocks=10))
    names = [n for n, _ in bert_base_cased.named_parameters()]
    assert frozen_names(bert_base_cased) == names[:165]
    assert trainable_names(bert_base_cased) == names[165:]
    assert names[165].startswith("bert.encoder.layer.10.")


def test_head_only_leaves_just_the_classifier(bert_base_cased):
    apply_freezing(bert_base_cased, FreezeSpec(head_only=True))
    assert trainable_names(bert_base_cased) == ["classifier.weight", "classifier.bias"]
    assert count_parameters(bert_base_cased)["trainable_params"] == 768 * 2 + 2


def test_none_leaves_everything_trainable_even_after_a_previous_freeze(bert_base_cased):
    apply_freezing(bert_base_cased, FreezeSpec(head_only=True))
    apply_freezing(bert_base_cased, FreezeSpec())
    assert frozen_names(bert_base_cased) == []


def test_mpnet_blocks_by_structure(mpnet):
    assert len(encoder_blocks(mpnet)) == 4
    apply_freezing(mpnet, FreezeSpec(freeze_embeddings=False, frozen_blocks=2))
    frozen = frozen_names(mpnet)
    assert frozen and all(n.startswith(("mpnet.encoder.layer.0.", "mpnet.encoder.layer.1.")) for n in frozen)
    assert any(n.startswith("mpnet.encoder.layer.1.") for n in frozen)
    trainable = trainable_names(mpnet)
    assert any(n.startswith("mpnet.embeddings.") for n in trainable)
    assert any(n.startswith("mpnet.encoder.layer.2.") for n in trainable)
    assert "mpnet.encoder.relative_attention_bias.weight" in trainable


def test_mpnet_head_only(mpnet):
    apply_freezing(mpnet, FreezeSpec(head_only=True))
    assert trainable_names(mpnet) and all(n.startswith("classifier.") for n in trainable_names(mpnet))


def test_more_frozen_blocks_than_the_model_has_is_an_error(mpnet):
    with pytest.raises(PipelineError, match="frozen_blocks = 5 but MPNetForSequenceClassification has 4"):
        apply_freezing(mpnet, FreezeSpec(frozen_blocks=5))
