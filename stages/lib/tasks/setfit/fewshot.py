"""SetFit, the chapter's few-shot classifier: contrastive fine-tuning of a Sentence Transformer on
sentence pairs, then a logistic-regression head on its embeddings; plus a learning curve over the
number of labelled examples per class."""
from __future__ import annotations

import contextlib
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from stages.lib.reporting import cards
from stages.lib.runtime import precision
from stages.lib.scoring import seeds
from stages.lib.tasks.setfit.buckets import bucketed
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.prepared import EVAL_ROWS_SEED, read_split, subset, with_row_ids
from stages.lib.training.memory import PeakMemory
from stages.lib.scoring.metrics import score_classifier
from stages.lib.models.loading import resolve_model
from stages.lib.runtime.outputs import atomic_dir
from stages.lib.training.checkpoints import Checkpoints
from stages.lib.training.points import Point, each_point
from stages.lib.training.trainer import trainer_dir


def draw_samples(train: dict[str, list], sizes: list[int], seed: int, where: str, labels: list[str]) -> dict[int, dict]:
    """n examples per class (`labels`: the class names in id order) for each n in `sizes`, each draw
    with `seed` (`where`.sample_seed): the same seed gives the same examples on every machine."""
    counts = Counter(train["label"])
    fewest = min(range(len(labels)), key=lambda label: counts[label])
    for n in sizes:
        if n > counts[fewest]:
            raise PipelineError(f"params.yaml: {where}.samples_per_class: {n} exceeds the {counts[fewest]} "
                                f"training examples of class {labels[fewest]}; "
                                f"accepted: positive integers up to {counts[fewest]}")
    return {n: fewshot_sample(train, n, seed, labels) for n in sizes}


def fewshot_sample(train: dict[str, list], per_class: int, seed: int, names: list[str]) -> dict[str, list]:
    """`per_class` examples of each class (`names`: in id order) drawn without replacement, class 0
    first, rows in order."""
    labels = np.asarray(train["label"])
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(len(names)):
        chosen.extend(sorted(rng.choice(np.flatnonzero(labels == label), size=per_class, replace=False).tolist()))
    return {"text": [train["text"][i] for i in chosen], "label": [train["label"][i] for i in chosen]}


def contrastive_pairs(trainer) -> int:
    """How many sentence pairs the body was fine-tuned on per epoch, read from setfit.

    SetFit does not augment text. It pairs the labelled sentences themselves: a positive pair is two
    sentences of the same class (target cosine similarity 1), a negative pair two of different
    classes (target 0). With `num_iterations` set, setfit 1.2 takes num_iterations positive and
    num_iterations negative pairs per example, so pairs = num_iterations x 2 x examples:
    20 x 2 x 32 = 1,280 for 16 per class (80 steps of 16 pairs an epoch). The 32 sentences have only
    528 distinct pairs (272 same-class, each sentence with itself included, and 256 cross-class), so
    setfit cycles through them: each pair is seen about 2.4 times an epoch. The pair dataset is the
    train_dataset of setfit's SentenceTransformerTrainer; its length is checked against the formula.
    """
    pairs = len(trainer.st_trainer.train_dataset)
    expected = trainer.args.num_iterations * 2 * len(trainer.train_dataset)
    if pairs != expected:
        raise RuntimeError(f"setfit generated {pairs} pairs, expected num_iterations x 2 x examples "
                           f"= {expected}; has setfit's pair sampling changed?")
    return pairs


def load_setfit_model(name: str, labels: list[str]):
    """A SetFit model (body + untrained logistic-regression head) over a Sentence Transformer."""
    import setfit

    try:
        return setfit.SetFitModel.from_pretrained(resolve_model(name), labels=list(labels))
    except OSError as e:
        raise PipelineError(f"could not load SetFit model {name!r} ({type(e).__name__}: {e}); point the "
                            "setfit_model param at a local Sentence Transformers folder") from None


def train_setfit(model_name: str, train: dict[str, list], labels: list[str], hp: dict, mixed: str = "fp32",
                 length_buckets: bool = False, unique_sentences: bool = False):
    """Train SetFit on `train` (text, label; `labels`: the class names in id order); returns
    (trainer, seconds spent in training, peak MiB).
    `hp`: setfit.TrainingArguments keywords (num_epochs, num_iterations, batch_size, seed, ...);
    `mixed`: a resolved precision. fp16 is setfit's own use_amp (with loss scaling); bf16 is an
    autocast around training (setfit has no bf16 switch). `length_buckets`: the body's encoder runs
    each batch in buckets of similar length (stages.lib.tasks.setfit.buckets). `unique_sentences`: each distinct
    sentence of a step's pairs is embedded once (stages.lib.tasks.setfit.pair_loss)."""
    import datasets
    import setfit

    model = load_setfit_model(model_name, labels)
    with trainer_dir() as tmp:  # nothing is kept there
        if unique_sentences:
            from stages.lib.tasks.setfit.pair_loss import UniqueSentencesLoss

            hp = {**hp, "loss": UniqueSentencesLoss}
        args = setfit.TrainingArguments(output_dir=str(tmp), save_strategy="no", report_to="none",
                                        use_amp=mixed == "fp16", **hp)
        trainer = setfit.Trainer(model=model, args=args, train_dataset=datasets.Dataset.from_dict(train))
        start = time.perf_counter()
        encoder = model.model_body[0].auto_model
        with (precision.autocast("bf16" if mixed == "bf16" else "fp32"), PeakMemory() as memory,
              bucketed(encoder) if length_buckets else contextlib.nullcontext()):
            trainer.train()
        seconds = time.perf_counter() - start
    return trainer, seconds, memory.peak_mb


def trainable_params(model) -> int:
    """The whole body trains, then the logistic-regression head (coefficients and intercepts)."""
    head = model.model_head
    return sum(p.numel() for p in model.model_body.parameters()) + head.coef_.size + head.intercept_.size


def save_model(model, out: Path, model_name: str, cfg, metrics: dict, params: dict, dataset: dict) -> None:
    """Body as safetensors, head as model_head.pkl (a scikit-learn object: joblib is setfit's format),
    and setfit's model card, filled in and then extended by stages.lib.reporting.cards with `metrics` (the
    learning curve's), `cfg` (a schema.SetFit) and `dataset` (the prepared dataset's record)."""
    hub_id, license = cards.lineage(model_name)
    card = model.model_card_data  # setfit writes its card's text from these
    card.model_id = "/".join(Path(out).parts[-2:])  # README names out, not a temp dir
    card.st_id, card.license, card.language = hub_id, license, cards.LANGUAGE
    about = cards.sentiment(dataset)
    card.dataset_id, card.dataset_name = (dataset["id"] if dataset["hub"] else None), about.dataset_name
    run = cards.Run("setfit", about, model_name, cfg.model_dump(),
                    "the whole Sentence Transformer body on sentence pairs, then a logistic-regression head on its "
                    "embeddings", metrics)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        cards.write(tmp, run, params)


def learning_curve(model_name: str, data_dir: Path, sizes: list[int], main_n: int, cfg, where: str, bootstrap,
                   labels: list[str],
                   checkpoints_for: Callable[[int, int], Checkpoints | None] = lambda n, seed: None
                   ) -> tuple[dict, list[dict], object]:
    """Train one SetFit model per n in `sizes` (n examples per class) and seed in cfg.seeds (`cfg`: a
    schema.SetFit) and score each on the test split (a seeded subset of cfg.max_eval_samples rows when
    given), with bootstrap intervals (`bootstrap`: a schema.Bootstrap); `labels`: the class names in
    id order. Each (n, seed) is a point of stages.lib.training.points, resumable where
    `checkpoints_for(n, seed)` gives it a folder. Several seeds are combined by
    stages.lib.scoring.seeds. Returns the metrics (the main n's scores at the top level), the main n's
    test predictions of every seed, and the first seed's main model (to save once its card can carry
    the combined metrics)."""
    train = read_split(data_dir, "train").to_dict()
    test = subset(with_row_ids(read_split(data_dir, "test")), cfg.max_eval_samples, EVAL_ROWS_SEED)
    samples = draw_samples(train, sizes, cfg.sample_seed, where, labels)
    main_point, trained = (main_n, cfg.seeds[0]), {}

    def run(point: Point) -> dict:
        n, seed = point.key
        trainer, seconds, peak_mb = train_setfit(model_name, samples[n], labels, cfg.training_args(seed),
                                                 cfg.precision, cfg.length_buckets, cfg.unique_sentences)
        with precision.autocast(cfg.precision):
            probs = trainer.model.predict_proba(test["text"], as_numpy=True)
        scores, rows = score_classifier(test["row"], test["label"], probs, bootstrap, labels)
        pairs = contrastive_pairs(trainer)
        print(f"setfit: {n} per class, seed {seed}: test F1 {scores['f1']:.3f}, {pairs:,} pairs, {seconds:.0f} s")
        if point.key == main_point:
            trained["model"] = trainer.model
        return {"metrics": {**{f"test_{k}": v for k, v in scores.items()},
                            "contrastive_pairs": pairs, "train_seconds": seconds,
                            "train_peak_memory_mb": peak_mb, "trainable_params": trainable_params(trainer.model)},
                "predictions": {"test": rows}}

    points = [Point((n, seed), f"{n} per class, seed {seed}", checkpoints_for(n, seed),
                    keep=(n, seed) != main_point)  # the main model is returned: it reruns with the stage
              for n in sizes for seed in cfg.seeds]
    with each_point("setfit", points, run) as results:
        curve = {str(n): seeds.combine({seed: (results[n, seed]["metrics"], results[n, seed]["predictions"])
                                        for seed in cfg.seeds}, bootstrap) for n in sizes}
        predictions = {seed: results[main_n, seed]["predictions"]["test"] for seed in cfg.seeds}
    return {**curve[str(main_n)], "samples_per_class": main_n, "test_rows": len(test),
            **precision.as_metrics(cfg.precision), "learning_curve": curve}, seeds.tagged(predictions), trained["model"]
