"""Frozen layers run once, not every step. When the embeddings and the first k blocks are frozen
and nothing below them trains, their output for a training example is the same every epoch: it is
computed once, in eval mode, and training starts at block k from it.

- k = every block (head-only runs, the sweep's all-frozen point): a stand-in replaces the base
  model and returns the kept last hidden states; each step runs the head alone (and the pooler, as
  in the base model).
- 0 < k < every block (the sweep's other points): the first k blocks are taken out of the block list
  for training, and block k's input is swapped for the kept states of the batch (the embeddings
  still run, cheaply, and their output is dropped).
- Sweep points share the work: `Kept` holds the last states computed; a later point with more
  frozen blocks continues from them through the blocks in between instead of starting over.

What changes against running the frozen layers in every step: no dropout inside them (eval mode),
which a run trains with otherwise; the batches are the same (items keep their input_ids, so
group_by_length groups them as before). Before training, the stand-in's logits are checked
against the model's own on the longest training rows; where they differ (a family whose layers
don't fit this scheme) the run trains uncached, saying so.
"""
from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm
from transformers.modeling_outputs import BaseModelOutputWithPooling

from stages.lib.runtime import precision
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.prepared import longest_first
from stages.lib.models.freezing import encoder_blocks

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _trainable_outside(model: nn.Module, modules: list[nn.Module]) -> bool:
    """Some base-model parameter outside `modules` (and the pooler) trains."""
    base = model.base_model
    inside = {id(p) for m in [getattr(base, "pooler", None), *modules] if m is not None for p in m.parameters()}
    return any(p.requires_grad for p in base.parameters() if id(p) not in inside)


def frozen_encoder(model: nn.Module) -> bool:
    """Nothing below the head trains: every base-model parameter outside its pooler is frozen."""
    return not _trainable_outside(model, [])


def frozen_prefix(model: nn.Module) -> int:
    """How many blocks run below everything that trains: every block (num_hidden_layers) when nothing
    below the head trains; k when only blocks k.. (and the pooler) train; 0 when the embeddings or
    anything else before the blocks trains, or the model has no list of blocks (ALBERT)."""
    if frozen_encoder(model):
        return model.base_model.config.num_hidden_layers
    try:
        blocks = encoder_blocks(model)
    except PipelineError:
        return 0
    return next((k for k in range(len(blocks) - 1, 0, -1) if not _trainable_outside(model, list(blocks[k:]))), 0)


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
def _from_block(model: nn.Module, start: int, stop: int) -> Iterator[dict]:
    """The base model runs blocks start..stop-1 only; with start > 0, block `start`'s input is the
    tensor put in the yielded dict under "states" before each call (consumed by the call)."""
    blocks = encoder_blocks(model)
    path = next(name for name, module in model.base_model.named_modules() if module is blocks)
    owner, attr = (model.base_model.get_submodule(path.rpartition(".")[0]) if "." in path else model.base_model,
                   path.rpartition(".")[2])
    slot: dict = {}

    def swap(module, args, kwargs):
        states = slot.pop("states")
        if args:
            return (states.to(args[0]), *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": states.to(kwargs["hidden_states"])}

    hook = blocks[start].register_forward_pre_hook(swap, with_kwargs=True) if start > 0 else None
    setattr(owner, attr, nn.ModuleList(blocks[start:stop]))
    try:
        yield slot
    finally:
        setattr(owner, attr, blocks)
        if hook is not None:
            hook.remove()


@contextlib.contextmanager
def standing_in(model: nn.Module, frozen: int | None = None) -> Iterator[None]:
    """The model trains on kept states of its `frozen` first blocks (None: all of them): batches carry
    them as `inputs_embeds` (all frozen) or `prefix_states` (restored on exit)."""
    layers = model.base_model.config.num_hidden_layers
    if frozen is None or frozen == layers:
        prefix = model.base_model_prefix
        base = getattr(model, prefix)
        setattr(model, prefix, CachedEncoder(base))
        try:
            yield
        finally:
            setattr(model, prefix, base)
        return
    with _from_block(model, frozen, layers) as slot:
        def take(module, args, kwargs):
            slot["states"] = kwargs.pop("prefix_states")
            return args, kwargs

        hook = model.register_forward_pre_hook(take, with_kwargs=True)
        try:
            yield
        finally:
            hook.remove()


class Features(Dataset):
    """Training items with kept states (`states`: one (length, hidden) tensor each): the whole
    encoder's (`whole`: the item is the states, its input_ids and label) or the first blocks' (the
    item is the tokenized row and its states)."""

    def __init__(self, tokenized, states: list[torch.Tensor], whole: bool = True):
        # as Python rows: reading the Arrow table row by row costs ~0.1 ms a row, every epoch
        self.rows, self.states, self.whole = tokenized.to_list(), states, whole

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> dict:
        item = self.rows[i]
        if self.whole:
            return {"input_ids": item["input_ids"], "labels": item["label"], "states": self.states[i]}
        return {**{k: v for k, v in item.items() if k != "label"}, "labels": item["label"], "prefix_states": self.states[i]}


def _padded(states: list[torch.Tensor]) -> torch.Tensor:
    return nn.utils.rnn.pad_sequence(states, batch_first=True).float()


def collate(items: list[dict], fallback):
    """Pad kept states (zeros, masked out) into a batch; items without them go to `fallback`
    (the padding collator: evaluation runs the whole model)."""
    if "prefix_states" in items[0]:
        batch = fallback([{k: v for k, v in item.items() if k != "prefix_states"} for item in items])
        return {**batch, "prefix_states": _padded([item["prefix_states"] for item in items])}
    if "states" not in items[0]:
        return fallback(items)
    lengths = torch.tensor([len(item["states"]) for item in items])
    states = _padded([item["states"] for item in items])
    mask = (torch.arange(states.shape[1])[None, :] < lengths[:, None]).long()
    return {"inputs_embeds": states, "attention_mask": mask, "labels": torch.tensor([item["labels"] for item in items])}


@dataclass
class Kept:
    """The last states computed, for the next run to start from: which rows (`key`), after how many
    blocks (`blocks`; num_hidden_layers: the last hidden states)."""
    key: str | None = ""
    blocks: int = 0
    states: list[torch.Tensor] = field(default_factory=list)


def _padded_inputs(tokenized, rows: list[int], pad, device) -> dict[str, torch.Tensor]:
    """The model inputs of `rows`, padded into one batch on `device`."""
    batch = tokenized[rows]  # one read of the Arrow table, not one a row
    columns = [c for c in tokenized.column_names if c in INPUTS]
    return {k: v.to(device) for k, v in pad([{c: batch[c][j] for c in columns} for j in range(len(rows))]).items()}


def rows_key(model: nn.Module, tokenized, mixed: str) -> str:
    """The model, precision and token ids of every row: what the kept states depend on."""
    digest = hashlib.sha256(f"{model.config._name_or_path}|{mixed}".encode())
    for ids in tokenized["input_ids"]:
        digest.update(torch.tensor(ids, dtype=torch.int64).numpy().tobytes() + b"|")
    return digest.hexdigest()


def encode(model: nn.Module, tokenized, pad, batch_size: int, mixed: str, frozen: int | None = None,
           start: Kept | None = None) -> tuple[list[torch.Tensor], float]:
    """The states of every row of `tokenized` (unpadded) after the first `frozen` blocks (None or
    all of them: the base model's last hidden states), in eval mode at precision `mixed`, longest
    batches first; and the seconds it took. `start`: states after fewer blocks to continue from
    (same rows). `pad`: the padding collator."""
    began = time.perf_counter()
    base, device = model.base_model, precision.accelerator()
    layers = base.config.num_hidden_layers
    frozen = layers if frozen is None else frozen
    first = start.blocks if start is not None else 0
    was_training = base.training
    base.eval().to(device)
    lengths, order = longest_first(tokenized)
    states: list[torch.Tensor | None] = [None] * len(order)
    captured: list[torch.Tensor] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode())
        stack.enter_context(precision.autocast(mixed))
        blocks = encoder_blocks(model) if first or frozen < layers else None  # whole: ALBERT has no list
        slot = stack.enter_context(_from_block(model, first, frozen)) if blocks is not None else {}
        if frozen < layers:  # the output of block frozen-1, before whatever follows the blocks
            hook = blocks[frozen - 1].register_forward_hook(lambda m, a, out: captured.append(out[0] if isinstance(out, tuple) else out))
            stack.callback(hook.remove)
        for at in tqdm(range(0, len(order), batch_size), desc=f"encode (the {frozen} frozen blocks, once)", unit="batch"):
            rows = order[at:at + batch_size]
            if first:
                slot["states"] = _padded([start.states[i] for i in rows]).to(device)
            hidden = base(**_padded_inputs(tokenized, rows, pad, device)).last_hidden_state
            hidden = captured.pop() if frozen < layers else hidden
            for j, i in enumerate(rows):
                states[i] = hidden[j, :lengths[i]].cpu().clone()
    base.train(was_training)
    return states, time.perf_counter() - began


TOLERANCE = {"fp32": 1e-4, "bf16": 5e-2, "fp16": 1e-2}  # on logits: the stand-in's rounding differs a little


def agrees(model: nn.Module, tokenized, states: list[torch.Tensor], frozen: int, pad, mixed: str, rows: int = 8) -> bool:
    """The stand-in's logits are the model's own (eval mode) on the `rows` longest rows."""
    longest = longest_first(tokenized)[1][:rows]
    whole = frozen == model.base_model.config.num_hidden_layers
    features = Features(tokenized.select(longest), [states[i] for i in longest], whole)
    device, was_training = precision.accelerator(), model.training
    model.eval().to(device)
    with torch.inference_mode(), precision.autocast(mixed):
        expected = model(**_padded_inputs(tokenized, longest, pad, device)).logits
        batch = collate([features[j] for j in range(len(longest))], fallback=pad)
        batch.pop("labels")
        with standing_in(model, frozen):
            got = model(**{k: v.to(device) for k, v in batch.items()}).logits
    model.train(was_training)
    return torch.allclose(got.float(), expected.float(), rtol=TOLERANCE[mixed], atol=TOLERANCE[mixed])


def prepare(model: nn.Module, train, pad, batch_size: int, mixed: str, kept: Kept | None = None):
    """Training on kept states, where the model's frozen first layers allow it: (the training items,
    how many blocks they hold the output of, seconds spent computing them), or None. `kept`: states
    of the same rows after fewer (or as many) blocks, from an earlier run, and where this run's go."""
    frozen = frozen_prefix(model)
    layers = model.base_model.config.num_hidden_layers if frozen else 0
    if not frozen or (frozen < layers and torch.cuda.device_count() > 1):  # DataParallel's replicas share the slot
        return None
    key = rows_key(model, train, mixed) if kept is not None else None  # nothing shared: nothing to match
    kept = kept if kept is not None else Kept()
    if kept.key == key and kept.blocks == frozen:
        states, seconds = kept.states, 0.0
    else:
        start = kept if kept.key == key and 0 < kept.blocks < frozen else None
        states, seconds = encode(model, train, pad, batch_size, mixed, frozen, start)
    if not agrees(model, train, states, frozen, pad, mixed):
        print(f"{type(model).__name__}: the kept states of its {frozen} frozen blocks don't give the model's own "
              "logits; training through the frozen layers every step instead")
        return None
    kept.key, kept.blocks, kept.states = key, frozen, states
    return Features(train, states, whole=frozen == layers), frozen, seconds
