"""Stage `ner`: fine-tune a token classifier for named entities on CoNLL-2003.

    python -m stages.ner

Reads profiles.<profile>.{ner_model, ner} and ner.probe_sentences; writes data/models/ner/
(model + tokenizer), data/predictions/ner.jsonl (one test sentence a line), metrics/ner.json,
metrics/ner_probes.json (the entities the trained model finds in the probe sentences) and DVCLive
training curves under metrics/live/ner/.
"""
from __future__ import annotations

from stages.lib import paths, settings
from stages.lib.config import load_params, stage_main
from stages.lib.ner import NerTask
from stages.lib.training import run


@stage_main
def main() -> None:
    params = load_params()
    model, hp, probes = settings.ner(params)
    print(f"ner: {model} ({settings.profile_name(params)} profile), lr {hp.learning_rate}, "
          f"{hp.epochs:g} epoch(s), label_all_subtokens {hp.label_all_subtokens}, precision {hp.precision}")
    task = NerTask(hp.label_all_subtokens, probes.probe_sentences, settings.bootstrap(params))
    m = run(params, "ner", task, model, hp, paths.CONLL, paths.NER)
    low, high = m["test_entity_f1_ci95"]
    print(f"ner: test entity F1 {m['test_entity_f1']:.3f} (95% CI {low:.3f}-{high:.3f}; strict "
          f"{m['test_entity_f1_strict']:.3f}), "
          f"book per-token F1 {m['test_book_token_f1']:.3f}")


if __name__ == "__main__":
    main()
