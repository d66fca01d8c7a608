"""LoRA through peft: exactly the adapters and the head train, for each encoder family the freezing
code supports; the merged model saved gives the adapted model's outputs."""
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from stages.lib.runtime.errors import PipelineError
from stages.lib.models.freezing import count_parameters, encoder_blocks
from stages.lib.models.lora import apply_lora, head_modules, merged
from stages.lib.config.settings import validate
from stages.lib.config.schema import FreezeSpec, Lora
from tests import tiny_models

LORA = Lora(rank=4, alpha=8, dropout=0.0)


def tiny(family: str):
    return tiny_models.model(family, AutoModelForSequenceClassification, num_labels=2)


@pytest.mark.parametrize("family", list(tiny_models.FAMILIES))
def test_only_adapters_and_head_train(family):
    model = apply_lora(tiny(family), LORA, "runs.lora_r4.lora")
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    head = head_modules(model.get_base_model())
    assert trainable and all("lora_" in n or any(f".{h}.modules_to_save." in n for h in head) for n in trainable)
    # every linear layer in the encoder got an adapter: two matrices each
    base = model.get_base_model()
    linear = [n for n, m in base.named_modules() if n.startswith(f"{base.base_model_prefix}.")
              and type(m).__name__ == "Linear" and hasattr(m, "lora_A")]
    assert len([n for n in trainable if "lora_" in n]) == 2 * len(linear) > 0
    adapters = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    head_params = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and "lora_" not in n)
    assert count_parameters(model)["trainable_params"] == adapters + head_params
    if tiny_models.FAMILIES[family][2]:  # ALBERT has no block list
        assert len(encoder_blocks(model)) == 2  # the structure is still found under the wrapper


def test_the_merged_model_gives_the_adapted_outputs():
    model = apply_lora(tiny("bert"), LORA, "runs.lora_r4.lora")
    with torch.no_grad():  # move the adapters off zero, as training would
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    model.eval()
    ids = torch.randint(0, 99, (3, 7))
    with torch.no_grad():
        adapted = model(input_ids=ids).logits
        plain = merged(model)
        assert type(plain).__name__ == "BertForSequenceClassification"
        assert torch.allclose(plain(input_ids=ids).logits, adapted, atol=1e-5)


def test_lora_with_freezing_is_one_line_naming_the_param():
    with pytest.raises(PipelineError, match=r"runs\.x\.lora cannot be combined with head_only"):
        validate(FreezeSpec, {"frozen_blocks": 2, "lora": {"rank": 4, "alpha": 16, "dropout": 0.1}}, "runs.x")
    with pytest.raises(PipelineError, match=r"runs\.x\.lora\.rank = 0 is invalid"):
        validate(FreezeSpec, {"lora": {"rank": 0, "alpha": 16, "dropout": 0.1}}, "runs.x")


def test_a_model_peft_cannot_wrap_names_the_param():
    class NoLinear(torch.nn.Module):
        base_model_prefix = "encoder"

        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Embedding(5, 3)

    with pytest.raises(PipelineError, match=r"params.yaml: runs\.x\.lora: LoRA found no linear layers"):
        apply_lora(NoLinear(), LORA, "runs.x.lora")
