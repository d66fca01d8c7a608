"""Stage `mlm-pretrain`: continue masked-LM pretraining of the classifier model on the reviews.

    python -m stages.mlm_pretrain

Reads classifier_model, fine_tune, mlm_pretrain, mlm_probes and
data/prepared/classification/ (the splits; dataset.json: the model card's dataset); writes data/models/mlm_pretrain/ (model +
tokenizer and its model card), metrics/mlm_pretrain.json (test masked-LM loss and
perplexity before and after), metrics/mlm_fill_mask.json (the probes' top-k fills before and
after) and DVCLive training curves under metrics/live/mlm_pretrain/.
"""
from __future__ import annotations

from stages.lib.data import prepared
from stages.lib.config import paths
from stages.lib.config import settings
from stages.lib.config.params import load_params, stage_main
from stages.lib.tasks.mlm import MlmTask
from stages.lib.skeleton.loop import run


@stage_main
def main() -> None:
    params = load_params()
    model, hp, probes = settings.mlm(params)
    print(f"mlm-pretrain: {model} ({settings.profile_name(params)} profile), {hp.masking} masking at "
          f"{hp.mlm_probability}, lr {hp.learning_rate}, {hp.epochs:g} epoch(s), precision {hp.precision}")
    task = MlmTask(hp, probes.sentences, probes.top_k, prepared.dataset_info("classification"))
    result = run(params, "mlm-pretrain", task, model, [hp], paths.PREPARED_CLASSIFICATION, paths.MLM)
    m = result.metrics
    print(f"mlm-pretrain: test perplexity {m['test_perplexity_before']:.1f} -> {m['test_perplexity_after']:.1f}")
    for probe in result.extras["fill_mask"]["probes"]:
        print(f"  {probe['sentence']}: {[t['token'] for t in probe['before']]} -> "
              f"{[t['token'] for t in probe['after']]}")


if __name__ == "__main__":
    main()
