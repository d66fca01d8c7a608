"""The machine a benchmark ran on, for its report: timings only compare within one machine."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), its core count and whether it has AMX or AVX512-BF16."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = [f for f in ("amx_bf16", "avx512_bf16") if f" {f}" in info]
    return f"{name}, {len(os.sched_getaffinity(0))} cores, {' '.join(flags) or 'no AMX/AVX512-BF16'}"
