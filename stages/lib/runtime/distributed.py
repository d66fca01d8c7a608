"""Several processes training one model (DDP under `torchrun` / `accelerate launch`): how many, and
which one writes. Every output goes through stages.lib.runtime.outputs, which applies the rule."""
from __future__ import annotations

import os

from stages.lib.runtime.errors import PipelineError


def world_size() -> int:
    """Processes training together (torchrun / accelerate launch set WORLD_SIZE); 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Only the first process writes outputs when several train together."""
    return int(os.environ.get("RANK", "0")) == 0


def per_process_batch(batch_size: int) -> int:
    """`batch_size` in params is the global batch: under DDP each process takes its share, so
    one process and N processes take the same optimizer steps."""
    n = world_size()
    if batch_size % n:
        raise PipelineError(f"batch_size = {batch_size} does not split over {n} processes; "
                            f"accepted: a multiple of the process count")
    return batch_size // n
