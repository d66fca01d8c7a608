"""Length buckets inside one batch (stages.lib.tasks.setfit.buckets): every row in exactly one bucket; the
bucketed forward gives the padded forward's states on every real token, and the same gradients,
for every encoder family; left-padded batches (positions count the padding) run whole."""
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from stages.lib.tasks.setfit.buckets import bucketed, buckets
from tests import tiny_models

TEXTS = ["Dull .", "A warm , funny and moving film .", "Homer lives in Springfield .", "Paris",
         "My name is Maarten and I work at Hugging Face in Paris .", "far too long", "EU rejects German call ."]


@pytest.mark.parametrize("lengths, call_cost", [([5, 30, 7, 31, 6, 29, 8], 8), ([3] * 6, 8), ([9], 0),
                                                ([40, 1, 1, 1, 1, 1, 1, 1, 1, 40], 4), (list(range(1, 17)), 1000)])
def test_every_row_is_in_exactly_one_bucket_of_rows_sorted_by_length(lengths, call_cost):
    groups = buckets(lengths, call_cost)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    flat = [lengths[i] for g in groups for i in g]
    assert flat == sorted(lengths)


def test_buckets_split_where_padding_costs_more_than_a_call():
    assert len(buckets([5, 30, 7, 31, 6, 29, 8], call_cost=8)) == 2  # short ones, long ones
    assert len(buckets([5, 30, 7, 31, 6, 29, 8], call_cost=1000)) == 1  # a call costs more than the padding


def states_and_grads(model, batch, bucketed_run: bool):
    model.zero_grad()
    mask, calls = batch["attention_mask"], []
    hook = model.get_input_embeddings().register_forward_pre_hook(lambda module, args: calls.append(1))
    if bucketed_run:
        with bucketed(model, call_cost=1):
            hidden = model(**batch).last_hidden_state
    else:
        hidden = model(**batch).last_hidden_state
    hook.remove()
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # sentence-transformers' mean pooling
    pooled.pow(2).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return hidden * mask[..., None], grads, len(calls)


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("family", [f for f in tiny_models.FAMILIES])
def test_the_bucketed_forward_gives_the_padded_forwards_states_and_gradients(family, padding_side, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_models.save(family, tmp_path))
    tokenizer.padding_side = padding_side
    model = AutoModel.from_pretrained(tmp_path).eval()  # no dropout: both runs draw nothing random
    batch = dict(tokenizer(TEXTS, padding=True, return_tensors="pt"))
    expected, expected_grads, _ = states_and_grads(model, batch, bucketed_run=False)
    got, grads, calls = states_and_grads(model, batch, bucketed_run=True)
    assert "forward" not in model.__dict__, "the model's own forward is back"
    assert calls == (1 if padding_side == "left" else len(buckets(batch["attention_mask"].sum(1).tolist(), 1)))
    assert padding_side == "left" or calls > 1
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=1e-3, atol=1e-5, msg=name)
