"""Stage `fine-tune`: one of the chapter's runs (full, head only, first blocks frozen, or full from
the mlm-pretrain checkpoint).

    python -m stages.fine_tune full|head_only|first_blocks|from_mlm
    torchrun --nproc-per-node 2 -m stages.fine_tune full      # the same, DDP over 2 processes

Reads profiles.<profile>.{classifier_model, fine_tune, runs.<run>}; a run may set its own `model`
(a Hub id or folder) and override fine_tune keys. `from_mlm` is the top-level `from_mlm` section
(profile-independent, so that dvc.yaml can declare its `model` folder as a dependency). Writes
data/models/fine_tune/<run>/ (model + tokenizer, safetensors), metrics/fine_tune/<run>.json and
DVCLive training curves under metrics/live/fine_tune/<run>/.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from stages.lib.checkpoints import for_stage
from stages.lib.config import PipelineError, load_params, require_model, select_profile, stage_main
from stages.lib.freezing import FREEZE_KEYS, FreezeSpec
from stages.lib.outputs import write_json
from stages.lib.training import HPARAM_KEYS, is_main_process, train_and_evaluate, validate_hparams

DATA = Path("data/prepared/rotten_tomatoes")
FROM_MLM = "from_mlm"


def run_settings(params: dict, profile_name: str, profile: dict, run: str) -> tuple[str, FreezeSpec, dict]:
    """(model id, freezing, hyperparameters) of one run; a run may override fine_tune keys."""
    where = f"profiles.{profile_name}"
    runs = {**(profile.get("runs") or {}), FROM_MLM: params.get(FROM_MLM)}
    if run not in runs:
        raise PipelineError(f"params.yaml: {where}.runs has no run {run!r}; defined: {', '.join(runs)}")
    settings = runs[run] or {}
    run_where = FROM_MLM if run == FROM_MLM else f"{where}.runs.{run}"
    accepted = ("model",) + FREEZE_KEYS + HPARAM_KEYS
    unknown = set(settings) - set(accepted)
    if unknown:
        raise PipelineError(f"params.yaml: {run_where}: unknown key(s) {', '.join(sorted(unknown))}; "
                            f"accepted: {', '.join(accepted)}")
    if "model" in settings or run == FROM_MLM:  # a run may start from another checkpoint
        model = require_model(settings, "model", run_where)
    else:
        model = require_model(profile, "classifier_model", where)
    spec = FreezeSpec.from_params(settings, run_where)
    overrides = {k: v for k, v in settings.items() if k in HPARAM_KEYS}
    hp = validate_hparams({**(profile.get("fine_tune") or {}), **overrides}, f"{where}.fine_tune")
    return model, spec, hp


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # positional: torchrun's own parser would take a `--run` option for its --run-path
    parser.add_argument("run", help="a key of profiles.<profile>.runs")
    run = parser.parse_args(argv).run
    params = load_params()
    profile_name, profile = select_profile(params)
    model, spec, hp = run_settings(params, profile_name, profile, run)
    checkpoints = for_stage(params, f"fine-tune/{run}", DATA, model, spec=spec, hp=hp)
    print(f"fine-tune[{run}]: {model} ({profile_name} profile), {spec}, lr {hp['learning_rate']}, "
          f"{hp['epochs']} epoch(s), precision {hp['precision']}")
    metrics = train_and_evaluate(model, spec, hp, DATA, Path("data/models/fine_tune") / run,
                                 Path("metrics/live/fine_tune") / run, checkpoints)
    if is_main_process():  # under torchrun, one process writes
        write_json(Path("metrics/fine_tune") / f"{run}.json", metrics)
        checkpoints.finish()
    print(f"fine-tune[{run}]: test F1 {metrics['test_f1']:.3f}, accuracy {metrics['test_accuracy']:.3f}")


if __name__ == "__main__":
    main()
