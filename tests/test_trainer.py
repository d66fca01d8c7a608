"""The Trainer as the stages use it: batches, arguments."""
import datasets

from stages.lib.tasks.sentiment import SentimentTask
from stages.lib.config.settings import validate
from stages.lib.config.schema import FreezeSpec, Training
from stages.lib.training.trainer import make_trainer
from tests.conftest import bootstrap_settings
from tests.prepared import ROTTEN_TOMATOES

HP = {"learning_rate": 2e-5, "batch_size": 16, "epochs": 1, "weight_decay": 0.01, "seed": 42,
      "precision": "fp32", "group_by_length": False, "max_train_samples": None, "max_eval_samples": None,
      "logging_steps": 50}


def test_length_grouping_keeps_every_example_once_an_epoch_and_cuts_padding(tmp_path):
    """The project's lever against padding: same examples per epoch, batches of similar length."""
    import random

    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from stages.lib.models.loading import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    rng = random.Random(0)
    texts = [" ".join(["word"] * rng.randint(1, 60)) for _ in range(400)]
    ds = SentimentTask(FreezeSpec(), bootstrap_settings(), ROTTEN_TOMATOES).tokenize(datasets.Dataset.from_dict({"text": texts, "label": [0, 1] * 200}), tokenizer)

    def epoch(group_by_length: bool) -> list[list[int]]:
        hp = validate(Training, {**HP, "group_by_length": group_by_length, "seed": 3}, "test")
        tiny = BertForSequenceClassification(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32,
                                                        num_hidden_layers=1, num_attention_heads=2,
                                                        intermediate_size=37))
        trainer = make_trainer(tiny, tokenizer, ds, hp, tmp_path)
        order = list(trainer._get_train_sampler(ds))
        return [order[i:i + hp.batch_size] for i in range(0, len(order), hp.batch_size)]

    def padded_tokens(batches) -> int:
        lengths = [len(ids) for ids in ds["input_ids"]]
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    grouped, shuffled = epoch(True), epoch(False)
    assert sorted(i for b in grouped for i in b) == list(range(len(ds)))  # each example exactly once
    assert padded_tokens(grouped) < 0.7 * padded_tokens(shuffled)
    assert epoch(True) == grouped  # the seed fixes the order


def test_predictions_come_back_in_dataset_order(tmp_path):
    """predict runs the rows longest first and returns them in the dataset's order: the same logits
    and labels as the Trainer's own predict in dataset order, for a sentence head and a token head
    (whose rows are padded with -100 to the widest batch)."""
    import numpy as np
    from transformers import (AutoTokenizer, BertConfig, BertForSequenceClassification, BertForTokenClassification,
                              DataCollatorForTokenClassification, Trainer)

    from stages.lib.models.loading import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    lengths = [3, 40, 7, 25, 1, 60, 12, 33, 5, 48] * 32  # batches of 64 in dataset order mix them
    enc = tokenizer([" ".join(["word"] * n) for n in lengths])
    size = dict(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=37)
    hp = validate(Training, {**HP, "seed": 3}, "test")
    sentences = datasets.Dataset.from_dict({**enc, "label": [i % 2 for i in range(len(lengths))]})
    tokens = datasets.Dataset.from_dict({**enc, "labels": [[i % 3] * len(ids) for i, ids in enumerate(enc["input_ids"])]})
    for model, ds, collator in ((BertForSequenceClassification(BertConfig(**size)), sentences, None),
                                (BertForTokenClassification(BertConfig(num_labels=3, **size)), tokens,
                                 DataCollatorForTokenClassification(tokenizer))):
        trainer = make_trainer(model.eval(), tokenizer, ds, hp, tmp_path, collator)
        computed = []  # tokens computed, padding included, by each predict
        hook = model.register_forward_pre_hook(lambda m, args, kw: computed.append(kw["input_ids"].numel()),
                                                with_kwargs=True)
        got, sorted_tokens = trainer.predict(ds), sum(computed)
        computed.clear()
        plain = Trainer.predict(trainer, ds)
        hook.remove()
        assert sorted_tokens < 0.7 * sum(computed)
        assert got.label_ids.shape == plain.label_ids.shape
        np.testing.assert_array_equal(got.label_ids, plain.label_ids)
        real = plain.label_ids != -100 if plain.label_ids.ndim > 1 else np.ones(len(ds), bool)
        np.testing.assert_allclose(got.predictions[real], plain.predictions[real], rtol=0, atol=1e-5)
