"""Stage `mlm-pretrain`: continue masked-LM pretraining of the classifier model on the reviews.

    python -m stages.mlm_pretrain

Reads profiles.<profile>.{classifier_model, mlm_pretrain} and mlm.{probes, top_k}; writes
data/models/mlm_pretrain/ (model + tokenizer), metrics/mlm_pretrain.json (test masked-LM loss and
perplexity before and after), metrics/mlm_fill_mask.json (the probes' top-k fills before and
after) and DVCLive training curves under metrics/live/mlm_pretrain/.
"""
from __future__ import annotations

from pathlib import Path

from stages.lib.checkpoints import for_stage
from stages.lib.config import (is_positive_int, load_params, require, require_model, select_profile,
                               stage_main)
from stages.lib.mlm import MASK, MASKING, pretrain_and_evaluate
from stages.lib.outputs import write_json
from stages.lib.training import validate_hparams

DATA = Path("data/prepared/rotten_tomatoes")


def mlm_settings(profile_name: str, profile: dict) -> tuple[str, dict, float, str]:
    """(model id, hyperparameters, mlm_probability, masking) of the profile."""
    where = f"profiles.{profile_name}"
    model = require_model(profile, "classifier_model", where)
    section = dict(require(profile, "mlm_pretrain", where, lambda v: isinstance(v, dict),
                           "a mapping of training keys, as fine_tune, plus mlm_probability and masking"))
    where = f"{where}.mlm_pretrain"
    probability = require(section, "mlm_probability", where,
                          lambda v: isinstance(v, float) and 0 < v < 1, "a number between 0 and 1, e.g. 0.15")
    masking = require(section, "masking", where, lambda v: v in MASKING, " | ".join(MASKING))
    del section["mlm_probability"], section["masking"]
    return model, validate_hparams(section, where), probability, masking


def probe_settings(params: dict) -> tuple[list[str], int]:
    """(probe sentences, each with one "[MASK]"; how many fills to keep per probe)."""
    section = params.get("mlm") or {}
    probes = require(section, "probes", "mlm",
                     lambda v: isinstance(v, list) and v and all(isinstance(s, str) and s.count(MASK) == 1
                                                                 for s in v),
                     'a list of sentences with one "[MASK]" each')
    return probes, require(section, "top_k", "mlm", is_positive_int, "a positive integer")


@stage_main
def main() -> None:
    params = load_params()
    profile_name, profile = select_profile(params)
    model, hp, probability, masking = mlm_settings(profile_name, profile)
    probes, top_k = probe_settings(params)
    print(f"mlm-pretrain: {model} ({profile_name} profile), {masking} masking at {probability}, "
          f"lr {hp['learning_rate']}, {hp['epochs']} epoch(s), precision {hp['precision']}")
    checkpoints = for_stage(params, "mlm-pretrain", DATA, model, hp=hp, probability=probability,
                            masking=masking)
    metrics, report = pretrain_and_evaluate(model, hp, probability, masking, probes, top_k, DATA,
                                            Path("data/models/mlm_pretrain"),
                                            Path("metrics/live/mlm_pretrain"), checkpoints)
    write_json(Path("metrics/mlm_pretrain.json"), metrics)
    write_json(Path("metrics/mlm_fill_mask.json"), report)
    checkpoints.finish()
    print(f"mlm-pretrain: test perplexity {metrics['test_perplexity_before']:.1f} -> "
          f"{metrics['test_perplexity_after']:.1f}")
    for probe in report["probes"]:
        print(f"  {probe['sentence']}: {[t['token'] for t in probe['before']]} -> "
              f"{[t['token'] for t in probe['after']]}")


if __name__ == "__main__":
    main()
