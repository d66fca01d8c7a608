"""Stage `setfit`: SetFit few-shot classification and its learning curve.

    python -m stages.fewshot

Reads profiles.<profile>.{setfit_model, setfit} and data.fewshot_seed; writes data/models/setfit/
(the main samples_per_class model: body as safetensors, logistic-regression head as
model_head.pkl) and metrics/setfit.json.
"""
from __future__ import annotations

from pathlib import Path

from stages.lib.config import (PipelineError, is_optional_positive_int, is_positive_int, load_params,
                               require, require_model, select_profile, stage_main)
from stages.lib.fewshot import learning_curve
from stages.lib.outputs import write_json
from stages.lib.training import require_precision

DATA = Path("data/prepared/rotten_tomatoes")
FEWSHOT = Path("data/prepared/fewshot")
MODEL_OUT = Path("data/models/setfit")
TRAINING_KEYS = ("num_epochs", "num_iterations", "batch_size", "seed")  # setfit.TrainingArguments
KEYS = TRAINING_KEYS + ("samples_per_class", "main_samples_per_class", "max_eval_samples", "precision")


def is_size_list(v) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(map(is_positive_int, v)) and len(set(v)) == len(v)


def setfit_settings(profile_name: str, profile: dict) -> tuple[str, dict]:
    """(model id, the checked `setfit` section) of a profile."""
    where = f"profiles.{profile_name}"
    model = require_model(profile, "setfit_model", where)
    cfg = require(profile, "setfit", where, lambda v: isinstance(v, dict),
                  f"a mapping with keys {', '.join(KEYS)}")
    where += ".setfit"
    unknown = set(cfg) - set(KEYS)
    if unknown:
        raise PipelineError(f"params.yaml: {where}: unknown key(s) {', '.join(sorted(unknown))}; "
                            f"accepted: {', '.join(KEYS)}")
    for key in ("num_epochs", "num_iterations", "batch_size"):
        require(cfg, key, where, is_positive_int, "a positive integer")
    require(cfg, "seed", where, lambda v: isinstance(v, int), "an integer")
    sizes = require(cfg, "samples_per_class", where, is_size_list,
                    "a list of distinct positive integers (examples per class), e.g. [8, 16, 64]")
    require(cfg, "main_samples_per_class", where, lambda v: v in sizes, f"one of samples_per_class: {sizes}")
    require(cfg, "max_eval_samples", where, is_optional_positive_int,
            "null (all test rows) or a positive integer")
    return model, {**cfg, "precision": require_precision(cfg, where)}


@stage_main
def main() -> None:
    params = load_params()
    profile_name, profile = select_profile(params)
    model, cfg = setfit_settings(profile_name, profile)
    # prepare's sampler seed: the learning-curve draws include the prepared few-shot file
    sample_seed = require(params.get("data") or {}, "fewshot_seed", "data", lambda v: isinstance(v, int),
                          "an integer")
    main_n = cfg["main_samples_per_class"]
    print(f"setfit: {model} ({profile_name} profile), {cfg['samples_per_class']} per class, "
          f"{cfg['num_iterations']} iterations, {cfg['num_epochs']} epoch(s), precision {cfg['precision']}")
    hp = {k: cfg[k] for k in TRAINING_KEYS}
    metrics = learning_curve(model, DATA, FEWSHOT, cfg["samples_per_class"], main_n, hp, sample_seed,
                             f"profiles.{profile_name}.setfit", MODEL_OUT, cfg["max_eval_samples"], cfg["precision"])
    write_json(Path("metrics/setfit.json"), metrics)
    print(f"setfit: {main_n} per class: test F1 {metrics['test_f1']:.3f}, "
          f"accuracy {metrics['test_accuracy']:.3f}")


if __name__ == "__main__":
    main()
