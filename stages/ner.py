"""Stage `ner`: fine-tune a token classifier for named entities on CoNLL-2003.

    python -m stages.ner

Reads profiles.<profile>.{ner_model, ner} and ner.probe_sentences; writes data/models/ner/
(model + tokenizer), data/ner/test_predictions.jsonl (one test sentence a line), metrics/ner.json,
metrics/ner_probes.json (the entities the saved model finds in the probe sentences) and DVCLive
training curves under metrics/live/ner/.
"""
from __future__ import annotations

from pathlib import Path

from stages.lib.checkpoints import for_stage
from stages.lib.config import load_params, require, require_model, select_profile, stage_main
from stages.lib.outputs import write_json
from stages.lib.training import validate_hparams

DATA = Path("data/prepared/conll2003")
MODEL_OUT = Path("data/models/ner")


def ner_settings(profile_name: str, profile: dict) -> tuple[str, dict, bool]:
    """(model id, hyperparameters, label_all_subtokens) of the profile."""
    where = f"profiles.{profile_name}"
    model = require_model(profile, "ner_model", where)
    section = dict(require(profile, "ner", where, lambda v: isinstance(v, dict),
                           "a mapping of training keys, as fine_tune, plus label_all_subtokens"))
    label_all = require(section, "label_all_subtokens", f"{where}.ner", lambda v: isinstance(v, bool),
                        "true (the book: later sub-tokens of a word get its I- label) | "
                        "false (they are ignored by the loss)")
    del section["label_all_subtokens"]
    return model, validate_hparams(section, f"{where}.ner"), label_all


def probe_sentences(params: dict) -> list[str]:
    return require(params.get("ner") or {}, "probe_sentences", "ner",
                   lambda v: isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v),
                   "a list of non-empty sentences")


@stage_main
def main() -> None:
    from stages.lib.ner import extract_entities, train_and_evaluate_ner

    params = load_params()
    profile_name, profile = select_profile(params)
    model, hp, label_all = ner_settings(profile_name, profile)
    probes = probe_sentences(params)
    print(f"ner: {model} ({profile_name} profile), lr {hp['learning_rate']}, {hp['epochs']} epoch(s), "
          f"label_all_subtokens {label_all}, precision {hp['precision']}")
    checkpoints = for_stage(params, "ner", DATA, model, hp=hp, label_all_subtokens=label_all)
    metrics = train_and_evaluate_ner(model, hp, label_all, DATA, MODEL_OUT,
                                     Path("data/ner/test_predictions.jsonl"), Path("metrics/live/ner"),
                                     checkpoints)
    write_json(Path("metrics/ner.json"), metrics)
    write_json(Path("metrics/ner_probes.json"), {"probes": extract_entities(MODEL_OUT, probes)})
    checkpoints.finish()
    print(f"ner: test entity F1 {metrics['test_entity_f1']:.3f} "
          f"(strict {metrics['test_entity_f1_strict']:.3f}), "
          f"book per-token F1 {metrics['test_book_token_f1']:.3f}")


if __name__ == "__main__":
    main()
