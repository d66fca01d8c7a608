"""Layer freezing by the model's own structure (embeddings, encoder blocks, head), not by index.

The blocks are the base model's one list of modules with a block per layer (`num_hidden_layers`):
`encoder.layer` in BERT, RoBERTa/XLM-R, DeBERTa, ELECTRA and MPNet, `transformer.layer` in
DistilBERT, `layers` in ModernBERT. ALBERT has no such list (one block shared by every layer), so
"the first k blocks" means nothing there: freezing blocks is an error, full, head-only and LoRA runs
work. The embeddings are the base model's `embeddings`; other base-model modules outside the blocks
(the pooler, ELECTRA's embedding projection, DeBERTa's relative-position table, ModernBERT's final
norm) stay trainable. "Embeddings + first 10 blocks" on bert-base-cased freezes exactly the book's
first 165 named parameters (5 embedding tensors + 10 x 16 per block).
"""
from __future__ import annotations

from torch import nn

from stages.lib.runtime.errors import PipelineError
from stages.lib.models.lora import unwrap
from stages.lib.config.schema import FreezeSpec


def encoder_blocks(model: nn.Module, where: str = "fine_tune") -> nn.ModuleList:
    """The transformer blocks of a Hugging Face encoder model (or one under LoRA), in order: of the
    base model's module lists with one block per layer, all of one type, the one holding the most
    parameters (lists inside a block are smaller). `where`: the run's params path, for errors."""
    base = unwrap(model).base_model
    layers = base.config.num_hidden_layers
    lists = [m for m in base.modules()
             if isinstance(m, nn.ModuleList) and len(m) == layers and len({type(b) for b in m}) == 1]
    if not lists:
        raise PipelineError(
            f"params.yaml: {where}.frozen_blocks: {type(unwrap(model)).__name__} has no list of its {layers} "
            "blocks (ALBERT shares one block across all layers), so 'the first k blocks' has no meaning; "
            "use frozen_blocks: 0 (with head_only, freeze_embeddings or lora if wanted)")
    return max(lists, key=lambda m: sum(p.numel() for p in m.parameters()))


def apply_freezing(model: nn.Module, spec: FreezeSpec, where: str = "fine_tune") -> None:
    """Set requires_grad per the spec; every parameter not frozen stays trainable. `where`: the
    run's params path, named in errors."""
    model.requires_grad_(True)
    if spec.head_only:
        model.base_model.requires_grad_(False)  # includes the pooler, as the book's name filter
        return
    if spec.freeze_embeddings:
        model.base_model.embeddings.requires_grad_(False)
    if spec.frozen_blocks == 0:
        return
    blocks = encoder_blocks(model, where)
    if spec.frozen_blocks > len(blocks):
        raise PipelineError(f"params.yaml: {where}.frozen_blocks = {spec.frozen_blocks} but "
                            f"{type(model).__name__} has {len(blocks)} encoder blocks; accepted: 0 to {len(blocks)}")
    for block in blocks[:spec.frozen_blocks]:
        block.requires_grad_(False)


def count_parameters(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total_params": total, "trainable_params": trainable}
