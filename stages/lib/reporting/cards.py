"""Model cards: the README.md of every model folder the pipeline writes, in the Hugging Face format
(YAML metadata the Hub reads, then Markdown), generated from the run's own metrics and settings.
A card already in the folder (SetFit writes its own) keeps its text and gains ours."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard

from stages.lib.config.params import profile_name
from stages.lib.runtime.distributed import is_main_process
from stages.lib.reporting.machine import machine
from stages.lib.models.loading import resolve_model
from stages.lib.runtime.outputs import write_text
from stages.lib.scoring.seeds import describe

LANGUAGE = "en"  # both default datasets are English (of your own data the card names none)
SECONDS = ("train_runtime_s", "train_seconds")  # training time: the Trainer's metric, SetFit's


@dataclass(frozen=True)
class About:
    """What a card says of the task a model was trained for."""
    pipeline_tag: str       # the Hub's task
    dataset: dict           # the prepared dataset, as stages.lib.data.builtin.describe records it
    use: str                # what the model is for
    scores: dict[str, str]  # headline metric -> its Hub metric type (the card's YAML eval results)

    @property
    def dataset_name(self) -> str:
        return self.dataset["name"]


def _own_use(dataset: dict, what: str) -> str:
    return f"{what} in texts like those of {dataset['name']} ({', '.join(dataset['labels'])})"


def sentiment(dataset: dict) -> About:
    use = ("the sentiment (neg or pos) of a short English movie review" if dataset["default"]
           else _own_use(dataset, "the class"))
    return About("text-classification", dataset, use, {"test_f1": "f1", "test_accuracy": "accuracy"})


def ner(dataset: dict) -> About:
    use = ("named entities (PER, ORG, LOC, MISC) in English news text (Reuters, 1996-97)" if dataset["default"]
           else _own_use(dataset, "named entities"))
    return About("token-classification", dataset, use, {"test_entity_f1": "f1"})


def mlm(dataset: dict) -> About:
    use = "a starting point for fine-tuning on " + ("English movie reviews" if dataset["default"]
                                                    else f"texts like those of {dataset['name']}")
    return About("fill-mask", dataset, use + " (a masked-LM body, not a classifier)",
                 {"test_perplexity_after": "perplexity"})


@dataclass(frozen=True)
class Run:
    """One saved model, as its card describes it."""
    title: str              # the stage (and run), e.g. fine-tune/full
    about: About
    base_model: str         # as params name it: a Hub id or a local folder
    hyperparameters: dict   # the run's settings from params.yaml, as validated
    trains: str             # what training updated, in words
    metrics: dict           # the run's metrics, the seeds combined


def lineage(base_model: str) -> tuple[str | None, str | None]:
    """(the Hub id `base_model` descends from, its license), read from the base model's own card where
    its folder on this machine has one (a packaged model; a local folder names its own base there)."""
    readme = Path(resolve_model(base_model)) / "README.md"
    card = ModelCard.load(readme, ignore_metadata_errors=True).data if readme.is_file() else None
    hub_id = base_model
    if Path(base_model).expanduser().is_dir():  # params name a folder, not a Hub model
        hub_id = card.base_model if card else None
    return hub_id, card.license if card else None


def write(folder: Path, run: Run, params: dict) -> None:
    """`run`'s card as `folder`/README.md, atomically (main process only)."""
    if not is_main_process():
        return
    from transformers import AutoTokenizer

    readme = Path(folder) / "README.md"
    card = ModelCard.load(readme) if readme.is_file() else ModelCard(
        f"---\nlibrary_name: transformers\n---\n\n# {run.title}\n\nTrained by this repository's DVC pipeline "
        f"(`{run.title}`); the card is generated from the run's metrics and `params.yaml`.\n")
    hub_id, license = lineage(run.base_model)
    info = run.about.dataset
    dataset = info["id"]
    metadata = {
        "model_name": run.title, "language": LANGUAGE if info["default"] else None, "license": license or "unknown",
        "base_model": hub_id, "datasets": [dataset] if info["hub"] else None, "pipeline_tag": run.about.pipeline_tag,
        "metrics": list(run.about.scores.values()),
        "tags": list(dict.fromkeys([*(card.data.tags or []), run.title.split("/")[0], Path(dataset).name])),
        "eval_results": [EvalResult(task_type=run.about.pipeline_tag, dataset_type=dataset,
                                    dataset_name=run.about.dataset_name, dataset_split="test", metric_type=kind,
                                    metric_value=run.metrics[key], metric_name=interval_name(run.metrics, key))
                         for key, kind in run.about.scores.items()]}
    for key, value in metadata.items():
        setattr(card.data, key, value)
    uncased = lowercases(AutoTokenizer.from_pretrained(folder))
    card.text = card.text.rstrip() + "\n\n" + body(run, hub_id, license, profile_name(params), uncased)
    write_text(readme, card.content)


def interval_name(metrics: dict, key: str) -> str:
    """`key` with its interval (and seeds), as the YAML's metric name: the model-index has no field for them."""
    name = key
    if f"{key}_ci95" in metrics:
        name += ", 95 % CI [{:.3f}, {:.3f}]".format(*metrics[f"{key}_ci95"])
    if f"{key}_sd" in metrics:
        name += f", mean of {len(metrics['seeds'])} seeds (sd {metrics[f'{key}_sd']:.3f})"
    return name


def lowercases(tokenizer) -> bool:
    """An uncased tokenizer: a capitalised word and its lower-case form give the same tokens."""
    return tokenizer.tokenize("Paris") == tokenizer.tokenize("paris")


def body(run: Run, hub_id: str | None, license: str | None, profile: str, uncased: bool) -> str:
    """The Markdown sections: results, training, intended use and limits."""
    return "\n\n".join([results(run.metrics, run.about), training(run, hub_id, profile),
                         limits(run.about, license, uncased)]) + "\n"


def results(m: dict, about: About) -> str:
    """Every test score, its interval beside it, and what the seeds mean for them."""
    keys = [k for k, v in sorted(m.items()) if k.startswith("test_") and isinstance(v, (int, float))
            and not k.endswith(("_sd", "_ci95", "_seeds"))]
    intervals = any(f"{k}_ci95" in m for k in keys)
    lines = ["## Results", "",
             f"On the test split of {link(about.dataset)}" +
             ("; in brackets the 95 % bootstrap interval." if intervals else "."), "",
             "| metric | value |", "| --- | --- |",
             *(f"| `{k}` | {m[k]:,} |" if isinstance(m[k], int) else f"| `{k}` | {describe(m, k)} |" for k in keys)]
    if about.pipeline_tag == "text-classification":
        labels = about.dataset["labels"]
        lines += ["", f"`test_f1`: F1 of the class {labels[1]}, as the book scores it." if len(labels) == 2 else
                  f"`test_f1`: macro-F1 over the {len(labels)} classes; `test_f1_<class>` each class's own."]
    if "seeds" in m:
        headline = next(iter(about.scores))
        lines += ["", f"Each score is the mean over seeds {', '.join(map(str, m['seeds']))}, with its sd; an interval "
                      f"pools their test predictions. This folder holds seed {m['seeds'][0]}'s model "
                      f"(`{headline}` {m[f'{headline}_seeds'][0]:.3f})."]
    elif intervals:
        lines += ["", "One training seed: an interval is the test set's sampling noise, not the spread between "
                      "training runs."]
    return "\n".join(lines)


def link(dataset: dict) -> str:
    """The dataset's name, linked to its Hub page where it has one."""
    if dataset["hub"]:
        return f"[{dataset['name']}](https://huggingface.co/datasets/{dataset['id']})"
    return f"{dataset['name']} (`{dataset['id']}`, local)"


def training(run: Run, hub_id: str | None, profile: str) -> str:
    """Base model, data, settings, what was trained, and how long on which machine."""
    m = run.metrics
    base = (f"[{hub_id}](https://huggingface.co/{hub_id})" if hub_id == run.base_model else f"`{run.base_model}`, "
            "a local folder" + (f" (from [{hub_id}](https://huggingface.co/{hub_id}))" if hub_id else ""))
    data = f"the train split of {run.about.dataset_name}" + \
        (f" ({m['train_samples']:,} examples)" if "train_samples" in m else "")
    trained = run.trains
    if "trainable_params" in m:
        trained += f"; {m['trainable_params']:,}" + (f" of {m['total_params']:,}" if "total_params" in m else "") + \
            " parameters"
    seconds = next(m[k] for k in SECONDS if k in m)
    return "\n".join([
        "## Training", "", f"- Base model: {base}", f"- Data: {data}",
        f"- Settings (`params.yaml`, profile `{profile}`): " +
        ", ".join(f"`{k}: {v if isinstance(v, str) else json.dumps(v)}`" for k, v in run.hyperparameters.items()),
        f"- Trained: {trained}",
        f"- Time: {seconds:,.0f} s{' (mean over the seeds)' if 'seeds' in m else ''} on {machine()}"])


def limits(about: About, license: str | None, uncased: bool) -> str:
    lines = [f"Intended use: {about.use}.",
             f"Trained and tested on {about.dataset_name} alone: expect worse results on other kinds of text."]
    if uncased:
        lines.append("Uncased: the tokenizer lower-cases every text, so it loses the capital-letter cue for names.")
    lines.append(f"License: {license}, from the base model's card." if license else
                 "License: unknown: no card of the base model on this machine to read it from; check the base "
                 "model's own license.")
    return "\n".join(["## Intended use and limits", "", *(f"- {line}" for line in lines)])
