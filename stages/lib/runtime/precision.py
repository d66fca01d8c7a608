"""Which device trains and in which precision: `precision: auto | fp32 | bf16 | fp16` in params.

`auto` picks native bf16 (an Ampere-or-newer GPU, or a CPU with AVX512-BF16/AMX), else fp16 with
loss scaling on CUDA (a T4, the book's Colab GPU, only emulates bf16, slower than fp32), else fp32.
"""
from __future__ import annotations

from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}  # of a resolved precision
CPUINFO = Path("/proc/cpuinfo")


def accelerator() -> str:
    """The device the Trainer (accelerate) picks: cuda, xpu, mps or cpu. Nothing is forced onto the CPU."""
    if torch.cuda.is_available():
        return "cuda"
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        return "xpu"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def native_bf16(device: str) -> bool:
    """bf16 in hardware on `device`; emulated bf16 (CUDA before Ampere) does not count."""
    if device == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device == "xpu":
        return torch.xpu.is_bf16_supported()
    if device == "cpu":
        try:
            flags = CPUINFO.read_text()
        except OSError:
            return False
        return " avx512_bf16" in flags or " amx_bf16" in flags
    return False  # mps: fp32 (bf16 autocast there is newer and not faster)


def resolve(precision: str, device: str | None = None) -> str:
    """`precision` from params as fp32, bf16 or fp16 on `device` (default: the accelerator)."""
    if precision != "auto":
        return precision
    device = device or accelerator()
    if native_bf16(device):
        return "bf16"
    return "fp16" if device == "cuda" else "fp32"


def autocast(precision: str):
    """An autocast context for a resolved precision (disabled for fp32), on the accelerator."""
    return torch.autocast(accelerator(), dtype=DTYPES[precision], enabled=precision != "fp32")


def as_metrics(resolved: str) -> dict[str, int]:
    """The precision a run trained in, as numeric metrics (`dvc metrics diff` compares numbers)."""
    return {"bf16": int(resolved == "bf16"), "fp16": int(resolved == "fp16")}
