"""Training the head on features computed once. When nothing below the head trains (head-only runs,
and a sweep point with every block frozen), the frozen encoder's output for a training example is
the same every epoch: it is computed once, in eval mode, and during training a stand-in returns it
in place of the base model, so each step runs the head alone.

What changes against running the frozen encoder in every step: no dropout inside the frozen encoder
(eval mode), which a head-only run trains with otherwise; and the encoder's forward pass is paid
once, not once an epoch. The batches are the same (the items keep their input_ids, so
group_by_length groups them as before). The pooler, part of the base model, runs (and trains, if not
frozen) on the cached states in each step, and any head reading the whole sequence (ModernBERT's
mean pooling) sees it, padded and masked as usual.
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterator

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm
from transformers.modeling_outputs import BaseModelOutputWithPooling

from stages.lib import precision


def frozen_encoder(model: nn.Module) -> bool:
    """Nothing below the head trains: every base-model parameter outside its pooler is frozen."""
    base = model.base_model
    pooler = getattr(base, "pooler", None)
    pooled = {id(p) for p in pooler.parameters()} if pooler is not None else set()
    return not any(p.requires_grad for p in base.parameters() if id(p) not in pooled)


class CachedEncoder(nn.Module):
    """Stands in for the base model: its `inputs_embeds` are the base model's own output states.
    The base model's pooler, where it has one, runs on them as in the base model: BERT's pooler
    module reads the first position itself, ALBERT's is a linear layer and its activation on it."""

    def __init__(self, base: nn.Module):
        super().__init__()
        self.config = base.config
        self.pooler, self.activation = getattr(base, "pooler", None), getattr(base, "pooler_activation", None)

    def forward(self, *args, inputs_embeds=None, **kwargs):  # the head's call passes input_ids=None, etc.
        pooled = None
        if self.pooler is not None:
            pooled = (self.pooler(inputs_embeds) if self.activation is None
                      else self.activation(self.pooler(inputs_embeds[:, 0])))
        return BaseModelOutputWithPooling(last_hidden_state=inputs_embeds, pooler_output=pooled)


@contextlib.contextmanager
def standing_in(model: nn.Module) -> Iterator[None]:
    """The model with CachedEncoder in place of its base model (restored on exit)."""
    prefix = model.base_model_prefix
    base = getattr(model, prefix)
    setattr(model, prefix, CachedEncoder(base))
    try:
        yield
    finally:
        setattr(model, prefix, base)


class Features(Dataset):
    """Training items with the frozen encoder's states (`states`: one (length, hidden) tensor each)."""

    def __init__(self, tokenized, states: list[torch.Tensor]):
        self.tokenized, self.states = tokenized, states

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> dict:
        item = self.tokenized[i]
        return {"input_ids": item["input_ids"], "labels": item["label"], "states": self.states[i]}


def collate(items: list[dict], fallback):
    """Pad cached states (zeros, masked out) into a batch; items without them go to `fallback`
    (the padding collator: evaluation runs the whole model)."""
    if "states" not in items[0]:
        return fallback(items)
    states = nn.utils.rnn.pad_sequence([item["states"] for item in items], batch_first=True).float()
    lengths = torch.tensor([len(item["states"]) for item in items])
    mask = (torch.arange(states.shape[1])[None, :] < lengths[:, None]).long()
    return {"inputs_embeds": states, "attention_mask": mask, "labels": torch.tensor([item["labels"] for item in items])}


def encode(model: nn.Module, tokenized, pad, batch_size: int, mixed: str) -> tuple[list[torch.Tensor], float]:
    """The base model's last hidden states of every row of `tokenized` (unpadded), in eval mode at
    precision `mixed`, longest batches first; and the seconds it took. `pad`: the padding collator."""
    start = time.perf_counter()
    base, device = model.base_model, precision.accelerator()
    was_training = base.training
    base.eval().to(device)
    lengths = [len(ids) for ids in tokenized["input_ids"]]
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    states: list[torch.Tensor | None] = [None] * len(order)
    columns = [c for c in tokenized.column_names if c in ("input_ids", "attention_mask", "token_type_ids")]
    with torch.inference_mode(), precision.autocast(mixed):
        for at in tqdm(range(0, len(order), batch_size), desc="encode (frozen encoder, once)", unit="batch"):
            rows = order[at:at + batch_size]
            batch = pad([{c: tokenized[i][c] for c in columns} for i in rows])
            hidden = base(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state
            for j, i in enumerate(rows):
                states[i] = hidden[j, :lengths[i]].cpu().clone()
    base.train(was_training)
    return states, time.perf_counter() - start
