"""Training curves as DVCLive plots (`dvc plots show`), from the Trainer's log history."""
from __future__ import annotations

from pathlib import Path

from stages.lib.runtime.outputs import atomic_dir


def write_curves(log_history: list[dict], live_dir: Path) -> None:
    """The run's logged metrics as DVCLive curves in `live_dir`, one step per log entry, as the
    Trainer's DVCLiveCallback writes them. From the log history, so a resumed run's curve covers
    the steps before the resume too; no params file (the Trainer's arguments hold machine-specific
    paths). No DVC experiment is saved from inside a stage: `dvc exp run` does that."""
    from dvclive import Live
    from dvclive.utils import standardize_metric_name

    with atomic_dir(live_dir) as out, Live(dir=str(out), save_dvc_exp=False, dvcyaml=None) as live:
        for entry in log_history:
            for key, value in entry.items():
                if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    live.log_metric(standardize_metric_name(key, "dvclive.huggingface"), value)
            live.next_step()
