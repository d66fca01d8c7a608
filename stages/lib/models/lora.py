"""LoRA (peft) beside freezing: low-rank adapters on every linear layer inside the encoder, the
head (every module outside the base model, as head-only training counts it) trained in full.

Every linear layer rather than the paper's query/value only: it needs no per-family module names
(BERT's `query`, MPNet's `q`, DistilBERT's `q_lin`, ModernBERT's fused `Wqkv`), and adapting the
feed-forward layers too is what lets LoRA match full fine-tuning at small ranks (QLoRA, Dettmers et
al. 2023). The trained adapters are merged into the weights before saving, so a LoRA run's model
folder loads like any other, without peft.
"""
from __future__ import annotations

from torch import nn

from stages.lib.runtime.errors import PipelineError
from stages.lib.config.schema import Lora


def head_modules(model: nn.Module) -> list[str]:
    """The task head: the model's top-level modules with parameters, other than the base model."""
    return [name for name, child in model.named_children()
            if name != model.base_model_prefix and any(True for _ in child.parameters())]


def apply_lora(model: nn.Module, lora: Lora, where: str) -> nn.Module:
    """`model` wrapped by peft: adapters of rank `lora.rank` on every nn.Linear of the base model
    trainable, the head trainable, everything else frozen. `where` names the param in errors."""
    from peft import LoraConfig, get_peft_model

    prefix = model.base_model_prefix
    targets = [name for name, module in model.named_modules()
               if name.startswith(f"{prefix}.") and isinstance(module, nn.Linear)]
    if not targets:
        raise PipelineError(f"params.yaml: {where}: LoRA found no linear layers in "
                            f"{type(model).__name__}.{prefix}; use a freezing run for this model")
    config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=targets, modules_to_save=head_modules(model))
    try:
        return get_peft_model(model, config)
    except (TypeError, ValueError) as e:
        raise PipelineError(f"params.yaml: {where}: peft cannot wrap {type(model).__name__} "
                            f"({type(e).__name__}: {e})") from None


def unwrap(model: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (itself if none)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def merged(model: nn.Module) -> nn.Module:
    """A plain transformers model with the adapters folded into its weights (itself if no adapters)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
