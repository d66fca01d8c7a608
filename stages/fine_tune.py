"""Stage `fine-tune`: one of the chapter's runs (full, head only, first blocks frozen, or full from
the mlm-pretrain checkpoint).

    python -m stages.fine_tune full|head_only|first_blocks|from_mlm
    torchrun --nproc-per-node 2 -m stages.fine_tune full      # the same, DDP over 2 processes

Reads classifier_model, fine_tune, runs.<run> and data/prepared/classification/ (the splits; dataset.json:
the class names, the model card's dataset); a run may set its own `model` (a Hub id or folder) and override fine_tune
keys. `from_mlm` is the top-level `from_mlm` section (profile-independent, so that dvc.yaml can
declare its `model` folder as a dependency). Writes data/models/fine_tune/<run>/ (the first seed's
model + tokenizer, safetensors; LoRA adapters merged in; README.md, its model card), metrics/fine_tune/<run>.json (scores with bootstrap intervals; over several seeds their mean, sd
and a pooled interval), data/predictions/fine_tune/<run>.jsonl (one test row a line per seed) and
DVCLive training curves under metrics/live/fine_tune/<run>/ (the first seed's).
"""
from __future__ import annotations

import argparse

from stages.lib.data import prepared
from stages.lib.config import paths
from stages.lib.config import settings
from stages.lib.config.params import load_params, stage_main
from stages.lib.scoring.seeds import describe
from stages.lib.tasks.sentiment import SentimentTask
from stages.lib.skeleton.loop import run


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # positional: torchrun's own parser would take a `--run` option for its --run-path
    parser.add_argument("run", help="a key of runs (params.yaml), or from_mlm")
    name = parser.parse_args(argv).run
    params = load_params()
    model, spec, hps = settings.fine_tune_run(params, name)
    hp = hps[0]
    print(f"fine-tune[{name}]: {model} ({settings.profile_name(params)} profile), {spec}, "
          f"lr {hp.learning_rate}, {hp.epochs:g} epoch(s), precision {hp.precision}, seeds {[h.seed for h in hps]}")
    bootstrap = settings.bootstrap(params)
    task = SentimentTask(spec, bootstrap, prepared.dataset_info("classification"), where=settings.run_path(params, name))
    metrics = run(params, f"fine-tune/{name}", task, model, hps, paths.PREPARED_CLASSIFICATION, paths.fine_tune(name), bootstrap,
                  spec=spec).metrics
    print(f"fine-tune[{name}]: test F1 {describe(metrics, 'test_f1')}, accuracy {metrics['test_accuracy']:.3f}, "
          f"{metrics['trainable_params']:,} trainable parameters")


if __name__ == "__main__":
    main()
