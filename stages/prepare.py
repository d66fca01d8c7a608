"""Stage `prepare`: Rotten Tomatoes and CoNLL-2003 as parquet, plus the SetFit few-shot sample.

Outputs (identical bytes whichever source is used):
  data/prepared/rotten_tomatoes/{train,validation,test}.parquet   text, label (neg=0, pos=1)
  data/prepared/conll2003/{train,validation,test}.parquet         tokens, ner_tags (O=0 ... I-MISC=8)
  data/prepared/fewshot/train.parquet                             fewshot_per_class rows per label
"""
from __future__ import annotations

from pathlib import Path

from stages.lib import data
from stages.lib.config import (PipelineError, is_positive_int, load_params, require, stage_main)
from stages.lib.outputs import atomic_dir

OUT = Path("data/prepared")
SOURCES = ("auto", "raw", "hub")


def raw_folder(cfg: dict) -> Path | None:
    """The raw-file folder to read, or None for the Hub, following data.source."""
    source = require(cfg, "source", "data", lambda v: v in SOURCES, " | ".join(SOURCES))
    raw_dir = cfg.get("raw_dir")
    if source == "hub":
        return None
    if raw_dir and Path(raw_dir).is_dir():
        return Path(raw_dir)
    if source == "raw":
        raise PipelineError(f"params.yaml: data.raw_dir = {raw_dir!r} is not a folder "
                            "(data.source: raw needs the original raw files there)")
    return None


def load_all(cfg: dict) -> dict[str, dict]:
    folder = raw_folder(cfg)
    if folder is None:
        print("prepare: loading from the Hugging Face Hub")
        return {
            "rotten_tomatoes": data.rotten_tomatoes_from_hub(cfg["rotten_tomatoes_hub"]),
            "conll2003": data.conll_from_hub(cfg["conll2003_hub"], cfg["conll2003_revision"]),
        }
    print(f"prepare: loading raw files from {folder}")
    return {
        "rotten_tomatoes": data.rotten_tomatoes_from_raw(folder / "rotten_tomatoes"),
        "conll2003": data.conll_from_raw(folder / "conll2003"),
    }


@stage_main
def main() -> None:
    cfg = load_params()["data"]
    per_class = require(cfg, "fewshot_per_class", "data", is_positive_int, "a positive integer")
    seed = require(cfg, "fewshot_seed", "data", lambda v: isinstance(v, int), "an integer")
    loaded = load_all(cfg)
    for name, splits in loaded.items():
        data.check_counts(name, splits)
    fewshot = data.fewshot_sample(loaded["rotten_tomatoes"]["train"], per_class, seed)

    with atomic_dir(OUT / "rotten_tomatoes") as tmp:
        data.write_splits(loaded["rotten_tomatoes"], data.SENTIMENT_SCHEMA, tmp)
    with atomic_dir(OUT / "conll2003") as tmp:
        data.write_splits(loaded["conll2003"], data.NER_SCHEMA, tmp)
    with atomic_dir(OUT / "fewshot") as tmp:
        data.write_splits({"train": fewshot}, data.SENTIMENT_SCHEMA, tmp)
    for name, splits in loaded.items():
        counts = ", ".join(f"{s} {len(next(iter(c.values()))):,}" for s, c in splits.items())
        print(f"prepare: {name}: {counts}")
    print(f"prepare: fewshot: {per_class} per class (seed {seed})")


if __name__ == "__main__":
    main()
