"""Layer freezing by the model's own structure (embeddings, encoder blocks, head), not by index.

Works for every encoder whose base model has `embeddings` and `encoder.layer` (BERT, MiniLM,
MPNet, RoBERTa, ...). "Embeddings + first 10 blocks" on bert-base-cased freezes exactly the book's
first 165 named parameters (5 embedding tensors + 10 x 16 per block).
"""
from __future__ import annotations

from torch import nn

from stages.lib.config import PipelineError
from stages.lib.lora import unwrap
from stages.lib.settings import FreezeSpec


def encoder_blocks(model: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a Hugging Face encoder model (or one under LoRA), in order."""
    blocks = getattr(getattr(unwrap(model).base_model, "encoder", None), "layer", None)
    if not isinstance(blocks, nn.ModuleList):
        raise PipelineError(f"{type(model).__name__}: no encoder.layer block list to freeze")
    return blocks


def apply_freezing(model: nn.Module, spec: FreezeSpec) -> None:
    """Set requires_grad per the spec; every parameter not frozen stays trainable."""
    model.requires_grad_(True)
    if spec.head_only:
        model.base_model.requires_grad_(False)  # includes the pooler, as the book's name filter
        return
    blocks = encoder_blocks(model)
    if spec.frozen_blocks > len(blocks):
        raise PipelineError(f"frozen_blocks = {spec.frozen_blocks} but {type(model).__name__} has "
                            f"{len(blocks)} encoder blocks; accepted: 0 to {len(blocks)}")
    if spec.freeze_embeddings:
        model.base_model.embeddings.requires_grad_(False)
    for block in blocks[:spec.frozen_blocks]:
        block.requires_grad_(False)


def count_parameters(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total_params": total, "trainable_params": trainable}
