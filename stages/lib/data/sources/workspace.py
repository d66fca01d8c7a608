"""Where a path written in params.yaml points, wherever DVC runs the stage.

DVC runs queued (`dvc exp run --queue`, `dvc queue start -j N`) and `--temp` experiments in a
temporary clone under `.dvc/tmp/exps/`, and sets DVC_ROOT to the workspace they were started from (in
the workspace itself DVC_ROOT is the repository root). A relative path that leaves the repository,
such as `../shared/datasets`, names something beside the workspace: resolved from the temporary clone
it would name nothing, so it is resolved against DVC_ROOT. A path inside the repository is part of
the experiment's own checkout (git- or DVC-tracked) and is read there.
"""
from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    """The workspace a run belongs to: DVC_ROOT under DVC, else the current folder (stages run from
    the repository root)."""
    return Path(os.environ.get("DVC_ROOT") or ".").resolve()


def resolve(value: str | os.PathLike) -> Path:
    """`value` (a path from params.yaml) as the same file or folder wherever the stage runs: an
    absolute path or one inside the repository as it is, one leaving the repository (`../…`) from
    the workspace root."""
    path = Path(value).expanduser()
    if path.is_absolute() or Path(os.path.normpath(path)).parts[:1] != ("..",):
        return path
    return Path(os.path.normpath(root() / path))
