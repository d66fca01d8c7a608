"""Stage `prepare`: the sentence-classification and NER datasets as parquet, with what each is.

data.classification and data.ner: the built-in rotten_tomatoes and conll2003 (from the raw files or the
Hub, stages.lib.data.sources.builtin), or your own data (stages.lib.data.sources.own_data, own_ner).

Outputs (identical bytes whichever source is used):
  data/prepared/classification/{train,validation,test}.parquet   text, label (Rotten Tomatoes: neg=0, pos=1)
  data/prepared/ner/{train,validation,test}.parquet              tokens, ner_tags (CoNLL-2003: O=0 ... I-MISC=8)
  data/prepared/{classification,ner}/dataset.json   each dataset's name, id and label names (in id order),
                                  which the training stages read
  data/prepared/sources.json      where each dataset came from: the Hub repo, revision and the commit
                                  loaded, or the files read and their md5 (kept out of the folders above,
                                  so their bytes do not depend on the source)
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

from stages.lib.data.sources import builtin
from stages.lib.data.sources import own_data
from stages.lib.data.sources import own_ner
from stages.lib.config import settings
from stages.lib.config.datasets import Data
from stages.lib.data.sources import workspace
from stages.lib.config.params import load_params, stage_main
from stages.lib.runtime.errors import PipelineError
from stages.lib.runtime.outputs import atomic_dir, write_json
from stages.lib.config.paths import DATASET_RECORD, PREPARED_CLASSIFICATION, PREPARED_NER, SOURCES

# task -> (name, as data.<task> spells it; title, labels, raw-file loader, Hub loader) of the built-in dataset
DEFAULTS = {
    "classification": ("rotten_tomatoes", "Rotten Tomatoes", builtin.ROTTEN_TOMATOES_LABELS, builtin.rotten_tomatoes_from_raw,
                       builtin.rotten_tomatoes_from_hub),
    "ner": ("conll2003", "CoNLL-2003", builtin.NER_TAGS, builtin.conll_from_raw, builtin.conll_from_hub),
}


def raw_folder(cfg: Data) -> Path | None:
    """The raw-file folder to read, or None for the Hub, following data.source. data.raw_dir is
    resolved as the same folder in the workspace and in DVC's temporary experiment clones
    (stages.lib.data.sources.workspace); data.source: raw refuses to go on without it, naming the folder tried."""
    if cfg.source == "hub":
        return None
    folder = workspace.resolve(cfg.raw_dir) if cfg.raw_dir else None
    if folder is not None and folder.is_dir():
        return folder
    if cfg.source == "raw":
        raise PipelineError(f"params.yaml: data.raw_dir = {cfg.raw_dir!r}: no folder at {folder or '(none set)'} "
                            "(data.source: raw needs the original raw files there)")
    print(f"prepare: data.source: auto and no raw files at {folder or '(data.raw_dir not set)'}: "
          "the chapter's datasets come from the Hugging Face Hub")
    return None


def md5s(path: Path) -> dict[str, str]:
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in files}


def load_default(task: str, cfg: Data) -> tuple[dict, dict, dict]:
    """(splits, <task>.json record, sources.json entry) of Rotten Tomatoes or CoNLL-2003."""
    name, title, labels, from_raw, from_hub = DEFAULTS[task]
    repo, revision = builtin.HUB[name]
    folder = raw_folder(cfg)
    if folder is None:
        try:
            splits, commit = from_hub(repo, revision)
        except PipelineError as e:
            if cfg.source == "auto" and cfg.raw_dir:  # say where the raw files were looked for too
                raise PipelineError(f"{e} (data.source: auto found no folder at "
                                    f"{workspace.resolve(cfg.raw_dir)} for data.raw_dir)") from None
            raise
        source = {"source": "hub", "repo": repo, "revision": revision, "commit": commit}
        print(f"prepare: {name}: loading from the Hugging Face Hub: {repo} at {revision} (commit {commit})")
    else:
        # the folder as params.yaml names it (the same in every clone), and what was read there
        splits = from_raw(folder / name)
        source = {"source": "raw", "path": f"{cfg.raw_dir}/{name}", "md5": md5s(folder / name)}
        print(f"prepare: {name}: loading raw files from {folder / name}")
    builtin.check_counts(name, splits)
    return splits, builtin.describe(title, repo, True, labels, True), {"dataset": name, **source}


def load_own(task: str, cfg: Data) -> tuple[dict, dict, dict]:
    """(splits, <task>.json record, sources.json entry) of the dataset data.<task> names."""
    own, where = getattr(cfg, task), f"data.{task}.dataset"
    if own_data.is_local(own.dataset, where):
        path = workspace.resolve(own.dataset)
        if task == "classification":
            splits, labels = own_data.classification_from_local(path, own)
        else:
            splits, labels = own_ner.ner_from_local(path, own.tag_column)
        source = {"source": "local", "path": own.dataset, "md5": md5s(path)}
        print(f"prepare: {task}: local {'folder' if path.is_dir() else 'file'} {path}")
    else:
        load = own_data.classification_from_hub if task == "classification" else own_ner.ner_from_hub
        try:
            splits, labels, commit = load(own)
        except PipelineError as e:  # a name meant as a file should not read as a Hub failure alone
            raise PipelineError(f"{e} (no local file or folder {own.dataset!r} at "
                                f"{workspace.resolve(own.dataset).absolute()} either)") from None
        source = {"source": "hub", "repo": own.dataset, "revision": own.revision, "commit": commit}
        print(f"prepare: {task}: {own.dataset} at {own.revision} (commit {commit})")
    name = Path(own.dataset).stem if source["source"] == "local" else own.dataset
    return splits, builtin.describe(name, own.dataset, source["source"] == "hub", labels, False), {"dataset": name, **source}


def read_back(task: str, splits: dict[str, dict[str, list]], names) -> dict:
    """What was read, for sources.json: rows per split, the classes (tags) and each class's rows per
    split, and how many validation and test rows repeat a training row (train/test leakage)."""
    rows, labels = ("text", "label") if task == "classification" else ("tokens", "ner_tags")
    seen = {repr(x) for x in splits["train"][rows]}
    record = {"rows": {split: len(c[rows]) for split, c in splits.items()}, "labels": list(names)}
    if task == "classification":
        record["rows_per_class"] = {split: {names[i]: n for i, n in sorted(Counter(c[labels]).items())}
                                    for split, c in splits.items()}
    record["repeating_a_training_row"] = {split: sum(repr(x) in seen for x in c[rows])
                                          for split, c in splits.items() if split != "train"}
    return record


@stage_main
def main() -> None:
    try:
        run()
    except PipelineError as e:
        if os.environ.get("DVC_STAGE"):  # DVC removed the previous outputs before running the stage
            raise PipelineError(f"{e} (nothing was written; `dvc checkout prepare` brings back the "
                                "previous prepared data)") from None
        raise


def run() -> None:
    cfg = settings.data(load_params())
    loaded, datasets, sources = {}, {}, {}
    for task in ("classification", "ner"):
        load = load_default if getattr(cfg, task) is None else load_own  # None: the built-in dataset
        loaded[task], datasets[task], sources[task] = load(task, cfg)
        sources[task].update(read_back(task, loaded[task], datasets[task]["labels"]))

    for task, folder, columns in (("classification", PREPARED_CLASSIFICATION, builtin.SENTIMENT_SCHEMA),
                                  ("ner", PREPARED_NER, builtin.NER_SCHEMA)):
        with atomic_dir(folder) as tmp:
            builtin.write_splits(loaded[task], columns, tmp)
            write_json(tmp / DATASET_RECORD, datasets[task])
    write_json(SOURCES, sources)
    for task, splits in loaded.items():
        counts = ", ".join(f"{s} {len(next(iter(c.values()))):,}" for s, c in splits.items())
        print(f"prepare: {task} ({datasets[task]['name']}, {len(datasets[task]['labels'])} "
              f"{'classes' if task == 'classification' else 'tags'}): {counts}")
        repeats = sources[task]["repeating_a_training_row"]
        if any(repeats.values()):
            print(f"prepare: {task}: " + ", ".join(f"{n:,} {split}" for split, n in repeats.items()) +
                  f" rows repeat a training row (train/test leakage; counts in {SOURCES})")


if __name__ == "__main__":
    main()
