"""Resuming a killed training stage from its last checkpoint instead of starting over.

A run keeps its Trainer checkpoints in data/checkpoints/<run>/<fingerprint>/ (not a DVC output,
git-ignored). The fingerprint hashes everything the run depends on (model, hyperparameters,
freezing, the prepared data's bytes, and the code under stages/), so a re-run with other params,
data or code starts afresh rather than resuming someone else's run. The folder is removed once
the stage's outputs are in place.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from stages.lib.config.paths import CHECKPOINTS as ROOT
from stages.lib.config.settings import checkpoint_steps

CODE = Path(__file__).resolve().parents[1]  # stages/: the code that trains
RESULT = "result.json"
_STEP = re.compile(r"^checkpoint-(\d+)$")


def folder_digest(folder: Path, pattern: str = "*") -> str:
    """sha256 over the relative names and bytes of the files in `folder` matching `pattern`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).glob(pattern) if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _jsonable(value):
    """Settings objects by their values (pydantic models), anything else by its text."""
    return value.model_dump() if hasattr(value, "model_dump") else str(value)


@dataclass(frozen=True)
class Checkpoints:
    folder: Path       # the Trainer's output_dir: checkpoint-<step>/ folders go here
    every_steps: int

    @classmethod
    def for_run(cls, run: str, every_steps: int, fingerprint: dict, root: Path = ROOT) -> "Checkpoints":
        """The run's checkpoint folder; checkpoints of the same run under another fingerprint are stale
        and removed."""
        key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=_jsonable).encode()).hexdigest()[:16]
        run_dir = Path(root) / run
        if run_dir.is_dir():
            for other in run_dir.iterdir():
                if other.name != key:
                    shutil.rmtree(other, ignore_errors=True)
        return cls(run_dir / key, every_steps)

    def last(self) -> str | None:
        """The newest complete checkpoint (the Trainer writes trainer_state.json last), or None."""
        if not self.folder.is_dir():
            return None
        steps = sorted(((int(m.group(1)), p) for p in self.folder.iterdir() if (m := _STEP.match(p.name))),
                       reverse=True)
        for _, path in steps:
            try:
                json.loads((path / "trainer_state.json").read_text())
            except (OSError, ValueError):
                continue  # killed while saving this one
            return str(path)
        return None

    def result(self) -> dict | None:
        """What this run finished with in an earlier, interrupted invocation of its stage."""
        try:
            return json.loads((self.folder / RESULT).read_text())
        except (OSError, ValueError):
            return None

    def keep_result(self, result: dict) -> None:
        """Keep a finished run's results until its stage writes its outputs (a sweep point)."""
        from stages.lib.runtime.outputs import write_json

        write_json(self.folder / RESULT, result)

    def finish(self) -> None:
        """The run's outputs are written: its checkpoints are no longer needed."""
        shutil.rmtree(self.folder.parent, ignore_errors=True)


def for_stage(params: dict, run: str, data_dir: Path, model: str, **settings) -> Checkpoints:
    """Checkpoints of one stage run, fingerprinted by `settings`, the prepared data in `data_dir`,
    the model (its bytes when it is a local folder, such as the mlm-pretrain checkpoint) and the
    code under stages/ (a fixed bug must not resume a run of the old code)."""
    weights = folder_digest(Path(model)) if Path(model).is_dir() else None
    return Checkpoints.for_run(run, checkpoint_steps(params), {
        "data": folder_digest(data_dir, "*.parquet"), "model": model, "weights": weights,
        "code": folder_digest(CODE, "**/*.py"), **settings})
