"""The machine a run trained or a benchmark ran on, for model cards and benchmark reports: timings
only compare within one machine."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from stages.lib.runtime.distributed import world_size
from stages.lib.runtime.precision import accelerator


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), its core count and whether it has AMX or AVX512-BF16."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = [f for f in ("amx_bf16", "avx512_bf16") if f" {f}" in info]
    return f"{name}, {len(os.sched_getaffinity(0))} cores, {' '.join(flags) or 'no AMX/AVX512-BF16'}"


def machine() -> str:
    """What trains here: the GPU (one per process under DDP) where there is one, else the CPU."""
    device = accelerator()
    if device in ("cuda", "xpu"):
        name = getattr(torch, device).get_device_name(0)
        return f"{world_size()} x {name}" if world_size() > 1 else name
    if device == "mps":
        return f"Apple silicon GPU (MPS), {platform.machine()}"  # torch does not name the chip
    return cpu_model()
