"""Stage `setfit`: SetFit few-shot classification and its learning curve.

    python -m stages.setfit

Reads setfit_model, setfit and data/prepared/classification (the training split the examples are drawn
from, the class names, the card's dataset); writes data/models/setfit/ (the main samples_per_class model: body as safetensors,
logistic-regression head as model_head.pkl, setfit's model card extended with ours; the first
seed's), metrics/setfit.json (scores with bootstrap intervals; over several seeds their mean, sd and a
pooled interval) and data/predictions/setfit.jsonl (the main model's test predictions, one row a line
per seed).
"""
from __future__ import annotations

from stages.lib.data import prepared
from stages.lib.config import paths
from stages.lib.config import settings
from stages.lib.config.params import load_params, stage_main
from stages.lib.tasks.setfit.fewshot import learning_curve, save_model
from stages.lib.training.checkpoints import for_stage
from stages.lib.runtime.outputs import write_json, write_jsonl
from stages.lib.scoring import headline
from stages.lib.scoring.seeds import describe


@stage_main
def main() -> None:
    params = load_params()
    model, cfg = settings.setfit(params)
    main_n = cfg.main_samples_per_class
    print(f"setfit: {model} ({settings.profile_name(params)} profile), {cfg.samples_per_class} per class, "
          f"{cfg.num_iterations} iterations, {cfg.num_epochs} epoch(s), precision {cfg.precision}, seeds {cfg.seeds}")
    dataset = prepared.dataset_info("classification")
    metrics, predictions, main_model = learning_curve(
        model, paths.PREPARED_CLASSIFICATION, cfg.samples_per_class, main_n, cfg, "setfit", settings.bootstrap(params),
        dataset["labels"],
        lambda n, seed: for_stage(params, f"setfit/{n}_per_class_seed{seed}", paths.PREPARED_CLASSIFICATION, model,
                                  setfit=cfg))
    save_model(main_model, paths.SETFIT.model, model, cfg, metrics, params, dataset)
    write_jsonl(paths.SETFIT.predictions, predictions)
    write_json(paths.SETFIT.metrics, metrics)
    write_json(paths.SETFIT.headline, headline.classifier(metrics, paths.SETFIT.metrics, seconds="train_seconds"))
    print(f"setfit: {main_n} per class: test F1 {describe(metrics, 'test_f1')}, accuracy {metrics['test_accuracy']:.3f}")


if __name__ == "__main__":
    main()
