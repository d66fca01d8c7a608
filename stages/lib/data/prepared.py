"""The prepared splits as training reads them: one split as a `datasets.Dataset`, what the dataset is
(its record), seeded subsets that pair runs row by row, and tokenization without datasets'
fingerprint hashing."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from stages.lib.runtime.errors import PipelineError
from stages.lib.config.paths import dataset_record


def _not_prepared(path: Path) -> PipelineError:
    return PipelineError(f"{path} not found: the data is not prepared yet; run `dvc repro prepare` "
                         "(or `python -m stages.prepare`) first")


EVAL_ROWS_SEED = 0  # max_eval_samples draws the same rows for every run, whatever its seed: runs pair


def subset(ds, n: int | None, seed: int):
    """A seeded random subset (the splits are sorted by label, so the head is one class)."""
    return ds if n is None or n >= len(ds) else ds.shuffle(seed=seed).select(range(n))


def with_row_ids(ds):
    """`ds` with a "row" column: each row's index in the prepared split, which the predictions
    files carry so that two runs' predictions can be paired row by row."""
    return ds.add_column("row", list(range(len(ds))))


def dataset_info(task: str) -> dict:
    """The prepared dataset of `task` (classification or ner), as `describe` recorded it."""
    path = dataset_record(task)
    if not path.is_file():
        raise _not_prepared(path)
    return json.loads(path.read_text())


def longest_first(tokenized) -> tuple[list[int], list[int]]:
    """(each row's token count, the row indices longest first; ties in row order)."""
    lengths = [len(ids) for ids in tokenized["input_ids"]]
    return lengths, sorted(range(len(lengths)), key=lambda i: -lengths[i])


def encoded(ds, encode, keep: tuple[str, ...] = ()):
    """`ds.map(encode)` in batches, every column but `keep` dropped. These datasets live in memory,
    where datasets caches nothing, so a random fingerprint spares it hashing `encode` and the
    tokenizer inside it (~0.8 s a split, for nothing)."""
    from datasets.fingerprint import generate_random_fingerprint

    return ds.map(encode, batched=True, remove_columns=[c for c in ds.column_names if c not in keep],
                  new_fingerprint=generate_random_fingerprint(), desc="tokenize")


def read_split(folder: Path, split: str):
    """A prepared split as a `datasets.Dataset`."""
    import datasets

    path = Path(folder) / f"{split}.parquet"
    if not path.is_file():
        raise _not_prepared(path)
    return datasets.Dataset(pq.read_table(path))
