"""Writing outputs: atomically, so a crash never leaves a half-written file DVC could cache as
valid, and by one process only when several train together (DDP): the rule lives here, once."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from stages.lib.runtime.distributed import is_main_process


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; it replaces `final` only if the block succeeds (and only
    in the main process: the others write into a folder that is thrown away)."""
    final = Path(final)
    if not is_main_process():
        with tempfile.TemporaryDirectory(prefix=f"{final.name}.") as tmp:
            yield Path(tmp)
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; outputs are ordinary folders
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """Write via a temporary file and an atomic rename (main process only)."""
    if not is_main_process():
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: Path, obj: dict) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """One JSON object a line (the predictions files)."""
    write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def save_model(tokenizer, model, folder: Path) -> None:
    """Save both atomically, tokenizer first: never a model folder without its tokenizer."""
    with atomic_dir(folder) as out:
        tokenizer.save_pretrained(out)
        model.save_pretrained(out)  # safetensors; no pickled training_args.bin
