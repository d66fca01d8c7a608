"""precision: auto picks native bf16, else fp16 on CUDA, else fp32; devices are not forced to the CPU."""
import pytest

from stages.lib.runtime import precision


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A machine with no accelerator and a CPU without bf16; tests switch capabilities on."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2 avx512f\n")
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    torch = precision.torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    if hasattr(torch, "xpu"):
        monkeypatch.setattr(torch.xpu, "is_available", lambda: False)
    return monkeypatch, cpuinfo


def test_a_cpu_without_bf16_trains_in_fp32(machine):
    assert precision.accelerator() == "cpu" and precision.resolve("auto") == "fp32"


def test_a_cpu_with_avx512_bf16_or_amx_trains_in_bf16(machine):
    _, cpuinfo = machine
    for flag in ("avx512_bf16", "amx_bf16"):
        cpuinfo.write_text(f"flags\t\t: fpu sse2 avx2 avx512f {flag}\n")
        assert precision.resolve("auto") == "bf16"


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp16")])
def test_cuda_uses_bf16_only_where_it_is_native(machine, native, expected):
    monkeypatch, _ = machine
    torch = precision.torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    seen = {}

    def is_bf16_supported(including_emulation=True):  # a T4: emulated only
        seen["including_emulation"] = including_emulation
        return native or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert precision.accelerator() == "cuda"
    assert precision.resolve("auto") == expected
    assert seen["including_emulation"] is False


def test_apple_mps_is_not_forced_onto_the_cpu(machine):
    monkeypatch, _ = machine
    monkeypatch.setattr(precision.torch.backends.mps, "is_available", lambda: True)
    assert precision.accelerator() == "mps" and precision.resolve("auto") == "fp32"


@pytest.mark.parametrize("choice", ["fp32", "bf16", "fp16"])
def test_an_explicit_choice_is_kept(machine, choice):
    assert precision.resolve(choice) == choice


def test_trainer_arguments_follow_the_precision(machine, tmp_path):
    """The Trainer gets bf16/fp16 flags from the precision and no use_cpu override."""
    from stages.lib.config.schema import Training
    from stages.lib.training.trainer import make_trainer

    hp = Training(learning_rate=2e-5, batch_size=4, epochs=1, weight_decay=0.0, seed=1, precision="fp32",
                  group_by_length=False, max_train_samples=None, max_eval_samples=None, logging_steps=1)
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]))
    tokenizer = BertTokenizerFast(str(vocab))
    model = BertForSequenceClassification(BertConfig(vocab_size=6, hidden_size=8, num_hidden_layers=1,
                                                     num_attention_heads=1, intermediate_size=8))
    args = make_trainer(model, tokenizer, None, hp.model_copy(update={"precision": "bf16"}), tmp_path).args
    assert args.bf16 and not args.fp16 and args.use_cpu  # bf16 on a CPU: transformers needs use_cpu
    machine[0].setattr(precision.torch.backends.mps, "is_available", lambda: True)
    args = make_trainer(model, tokenizer, None, hp, tmp_path).args
    assert not args.bf16 and not args.use_cpu  # Apple's GPU is not forced onto the CPU
    assert precision.as_metrics("fp16") == {"bf16": 0, "fp16": 1}
