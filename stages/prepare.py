"""Stage `prepare`: Rotten Tomatoes and CoNLL-2003 as parquet, plus the SetFit few-shot sample.

Outputs (identical bytes whichever source is used):
  data/prepared/rotten_tomatoes/{train,validation,test}.parquet   text, label (neg=0, pos=1)
  data/prepared/conll2003/{train,validation,test}.parquet         tokens, ner_tags (O=0 ... I-MISC=8)
  data/prepared/fewshot/train.parquet                             fewshot_per_class rows per label
  data/prepared/sources.json      where each dataset came from: the Hub repo, revision and the commit
                                  loaded, or the raw files and their md5 (kept out of the folders above,
                                  so their bytes do not depend on the source)
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from stages.lib import data, settings
from stages.lib.config import PipelineError, load_params, stage_main
from stages.lib.outputs import atomic_dir, write_json
from stages.lib.paths import CONLL, FEWSHOT, SENTIMENT, SOURCES


def raw_folder(cfg: settings.Data) -> Path | None:
    """The raw-file folder to read, or None for the Hub, following data.source."""
    if cfg.source == "hub":
        return None
    if cfg.raw_dir and Path(cfg.raw_dir).is_dir():
        return Path(cfg.raw_dir)
    if cfg.source == "raw":
        raise PipelineError(f"params.yaml: data.raw_dir = {cfg.raw_dir!r} is not a folder "
                            "(data.source: raw needs the original raw files there)")
    return None


def load_all(cfg: settings.Data) -> tuple[dict[str, dict], dict[str, dict]]:
    """(splits by dataset, where each came from)."""
    folder = raw_folder(cfg)
    if folder is None:
        print("prepare: loading from the Hugging Face Hub")
        loaded, sources = {}, {}
        for name, load in (("rotten_tomatoes", data.rotten_tomatoes_from_hub), ("conll2003", data.conll_from_hub)):
            repo, revision = getattr(cfg, f"{name}_hub"), getattr(cfg, f"{name}_revision")
            loaded[name], commit = load(repo, revision)
            sources[name] = {"source": "hub", "repo": repo, "revision": revision, "commit": commit}
            print(f"prepare: {name}: {repo} at {revision} (commit {commit})")
        return loaded, sources
    print(f"prepare: loading raw files from {folder}")
    loaded = {"rotten_tomatoes": data.rotten_tomatoes_from_raw(folder / "rotten_tomatoes"),
              "conll2003": data.conll_from_raw(folder / "conll2003")}
    sources = {name: {"source": "raw", "md5": {p.name: hashlib.md5(p.read_bytes()).hexdigest()
                                               for p in sorted((folder / name).iterdir()) if p.is_file()}}
               for name in loaded}
    return loaded, sources


@stage_main
def main() -> None:
    cfg = settings.data(load_params())
    per_class, seed = cfg.fewshot_per_class, cfg.fewshot_seed
    loaded, sources = load_all(cfg)
    for name, splits in loaded.items():
        data.check_counts(name, splits)
    fewshot = data.fewshot_sample(loaded["rotten_tomatoes"]["train"], per_class, seed)

    with atomic_dir(SENTIMENT) as tmp:
        data.write_splits(loaded["rotten_tomatoes"], data.SENTIMENT_SCHEMA, tmp)
    with atomic_dir(CONLL) as tmp:
        data.write_splits(loaded["conll2003"], data.NER_SCHEMA, tmp)
    with atomic_dir(FEWSHOT) as tmp:
        data.write_splits({"train": fewshot}, data.SENTIMENT_SCHEMA, tmp)
    write_json(SOURCES, sources)
    for name, splits in loaded.items():
        counts = ", ".join(f"{s} {len(next(iter(c.values()))):,}" for s, c in splits.items())
        print(f"prepare: {name}: {counts}")
    print(f"prepare: fewshot: {per_class} per class (seed {seed})")


if __name__ == "__main__":
    main()
