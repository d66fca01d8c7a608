"""Stage `ner`: fine-tune a token classifier for named entities on CoNLL-2003 (or data.ner's dataset).

    python -m stages.ner

Reads ner_model, fine_tune, ner, ner_probes and data/prepared/ner/ (the splits; dataset.json: the
tag set, the model card's dataset); writes data/models/ner/ (model + tokenizer, the first seed's, and its model card),
data/predictions/ner.jsonl (one test sentence a line), metrics/ner.json,
metrics/ner_probes.json (the entities the trained model finds in the probe sentences) and DVCLive
training curves under metrics/live/ner/.
"""
from __future__ import annotations

from stages.lib.data import prepared
from stages.lib.config import paths
from stages.lib.config import settings
from stages.lib.config.params import load_params, stage_main
from stages.lib.tasks.ner import NerTask
from stages.lib.scoring.seeds import describe
from stages.lib.skeleton.loop import run


@stage_main
def main() -> None:
    params = load_params()
    model, hps, probes = settings.ner(params)
    hp = hps[0]
    print(f"ner: {model} ({settings.profile_name(params)} profile), lr {hp.learning_rate}, "
          f"{hp.epochs:g} epoch(s), label_all_subtokens {hp.label_all_subtokens}, precision {hp.precision}, "
          f"seeds {[h.seed for h in hps]}")
    bootstrap = settings.bootstrap(params)
    task = NerTask(hp.label_all_subtokens, probes.sentences, bootstrap, prepared.dataset_info("ner"))
    m = run(params, "ner", task, model, hps, paths.PREPARED_NER, paths.NER, bootstrap).metrics
    print(f"ner: test entity F1 {describe(m, 'test_entity_f1')} (strict {m['test_entity_f1_strict']:.3f}), "
          f"book per-token F1 {describe(m, 'test_book_token_f1')}")


if __name__ == "__main__":
    main()
