"""Peak memory of a block of work: the accelerator's peak allocation on a GPU, else the process's
peak resident memory (RSS), whose high-water mark Linux lets a process reset (/proc/self/clear_refs),
so each run of a multi-run stage (the sweep) gets its own peak, not the stage's."""
from __future__ import annotations

import resource
import sys
from pathlib import Path

from stages.lib.runtime.precision import accelerator

_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _rss_high_water_kib() -> int:
    """VmHWM from /proc, else getrusage's lifetime peak (KiB on Linux, bytes on macOS)."""
    if _STATUS.is_file():
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


class PeakMemory:
    """with PeakMemory() as m: ...  then m.peak_mb (MiB)."""
    peak_mb: float = 0.0

    def __enter__(self) -> "PeakMemory":
        self.device = accelerator()
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        else:
            try:
                _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS
            except OSError:
                pass  # not Linux, or not allowed: the lifetime peak is still an upper bound
        return self

    def __exit__(self, *exc) -> None:
        if self.device == "cuda":
            import torch

            self.peak_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        else:
            self.peak_mb = round(_rss_high_water_kib() / 1024, 1)
