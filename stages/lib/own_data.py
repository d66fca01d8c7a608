"""Your own data in place of Rotten Tomatoes or CoNLL-2003 (params.yaml data.classification, data.ner).

Sentence classification: a Hub dataset id (train/validation/test splits, text and label columns), a
folder of train/validation/test files, or one file split by a seeded rule; files are CSV (a header
row), JSON Lines (one object a line) or parquet. Label ids follow data.classification.labels where
given (integer labels are then ids into it), else the data: a Hub ClassLabel's names, or the sorted
distinct labels. NER: a folder of CoNLL-format files (train.txt, dev.txt, test.txt; the tag column
configurable) or a Hub dataset with a ClassLabel tag sequence; tags must be IOB2.

Every bad input is a PipelineError naming the file, the line (or parquet row) and the column.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from stages.lib import data, workspace
from stages.lib.config import PipelineError

FORMATS = (".csv", ".jsonl", ".json", ".parquet")
SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "dev", "val"), "test": ("test",)}
CONLL_SPLITS = {"train": "train.txt", "validation": "dev.txt", "test": "test.txt"}
INTEGER = re.compile(r"-?\d+")
WHERE = "params.yaml: data.classification"
OWN_HINT = "Offline? Point the dataset param at local files instead (docs/own-data.md)."


def is_local(dataset: str, where: str) -> bool:
    """A local path (else a Hub id), resolved as in every clone DVC runs it from (stages.lib.workspace).
    A path-like name that does not exist is an error, not a Hub id; `where`: the param, named in the error."""
    path = workspace.resolve(dataset)
    if path.exists():
        return True
    if path.suffix in FORMATS or path.suffix == ".txt" or dataset.startswith((".", "/", "~")) or dataset.count("/") > 1:
        raise PipelineError(f"params.yaml: {where} = {dataset!r}: no such file or folder ({path.absolute()})")
    return False


# ---- sentence classification ---------------------------------------------------------------

class Rows:
    """Texts and raw labels read from one file, with where each came from (for errors)."""

    def __init__(self, path: Path):
        self.path, self.texts, self.labels, self.places = path, [], [], []

    def add(self, place: str, text, label) -> None:
        self.texts.append(text)
        self.labels.append(label)
        self.places.append(place)


def read_rows(path: Path, text_column: str, label_column: str) -> Rows:
    """Every row's text and label of a CSV, JSON Lines or parquet file, each with its line (row)."""
    if path.suffix not in FORMATS:
        raise PipelineError(f"{path}: unknown file type {path.suffix!r}; accepted: {', '.join(FORMATS)}")
    rows = Rows(path)
    columns = (text_column, label_column)
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises several types for files that are not parquet
            raise PipelineError(f"{path}: not a readable parquet file ({type(e).__name__}: {e})") from None
        _has_columns(path, table.column_names, columns)
        for i, (text, label) in enumerate(zip(*(table.column(c).to_pylist() for c in columns)), start=1):
            rows.add(f"{path}: row {i}", text, label)
        return _not_empty(rows)
    text = data.decode_utf8(path, path.read_bytes(), "UTF-8 text")
    if path.suffix == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = next(reader, [])
            _has_columns(path, header, columns)
            at = [header.index(c) for c in columns]
            for record in reader:
                if not record:
                    continue  # a blank line
                if len(record) != len(header):
                    raise PipelineError(f"{path}:{reader.line_num}: {len(record)} fields, the header has {len(header)}")
                rows.add(f"{path}:{reader.line_num}", record[at[0]], record[at[1]])
        except csv.Error as e:
            raise PipelineError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None
        return _not_empty(rows)
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise PipelineError(f"{path}:{line_no}: not valid JSON ({e.msg} at column {e.colno}); "
                                "accepted: JSON Lines, one object a line") from None
        if not isinstance(record, dict):
            raise PipelineError(f"{path}:{line_no}: a JSON {type(record).__name__}, not an object")
        missing = [c for c in columns if c not in record]
        if missing:
            raise PipelineError(f"{path}:{line_no}: no field {missing[0]!r} (data.classification."
                                f"{'text' if missing[0] == text_column else 'label'}_column); "
                                f"fields: {', '.join(record)}")
        rows.add(f"{path}:{line_no}", record[text_column], record[label_column])
    return _not_empty(rows)


def _not_empty(rows: Rows) -> Rows:
    if not rows.texts:
        raise PipelineError(f"{rows.path}: no rows")
    return rows


def _has_columns(path: Path, names: list[str], columns: tuple[str, str]) -> None:
    for column, key in zip(columns, ("text_column", "label_column")):
        if column not in names:
            raise PipelineError(f"{path}: no column {column!r} (data.classification.{key}); "
                                f"columns: {', '.join(map(str, names)) or 'none'}")


def check_texts(rows: Rows) -> None:
    for place, text in zip(rows.places, rows.texts):
        if not isinstance(text, str):
            raise PipelineError(f"{place}: the text is {type(text).__name__} {text!r}, not a string")
        if not text.strip():
            raise PipelineError(f"{place}: empty text")


def _kind(label) -> str:
    """'integer' or 'string' (CSV fields are strings: integer-looking ones count as integers)."""
    if isinstance(label, bool) or not isinstance(label, (int, str)):
        return type(label).__name__
    return "integer" if isinstance(label, int) or INTEGER.fullmatch(label) else "string"


def label_names(parts: list[Rows], declared: list[str] | None) -> list[str]:
    """The class names, in id order: `declared`, else the sorted distinct labels (integers by value)."""
    first = {}
    for rows in parts:
        for place, label in zip(rows.places, rows.labels):
            kind = _kind(label)
            if kind not in ("integer", "string"):
                raise PipelineError(f"{place}: label {label!r} is a {kind}; accepted: integers or strings")
            first.setdefault(kind, (place, label))
    if len(first) > 1:
        (p1, l1), (p2, l2) = first["integer"], first["string"]
        raise PipelineError(f"mixed label types: {p1}: {l1!r} is an integer, {p2}: {l2!r} is not; "
                            "use names or ids throughout")
    if declared:
        return list(declared)
    values = {label for rows in parts for label in rows.labels}
    if "integer" in first:
        return [str(v) for v in sorted({int(v) for v in values})]
    return sorted(values)


def label_ids(rows: Rows, names: list[str], declared: bool) -> list[int]:
    """Each row's class id. Declared names: integer labels are ids into them, strings are names."""
    index = {name: i for i, name in enumerate(names)}
    ids = []
    for place, label in zip(rows.places, rows.labels):
        integer = _kind(label) == "integer"
        if declared and integer:
            ok = 0 <= int(label) < len(names)
            i = int(label) if ok else None
        else:
            i = index.get(str(int(label)) if integer else label)
            ok = i is not None
        if not ok:
            accepted = f"ids 0..{len(names) - 1} or names " if declared and integer else ""
            raise PipelineError(f"{place}: label {label!r} is not one of {WHERE}.labels: {accepted}"
                                f"{', '.join(names)}")
        ids.append(i)
    return ids


def split_rows(rows: Rows, shares: list[float], seed: int) -> dict[str, Rows]:
    """One file's rows drawn at random (seeded) into train/validation/test by `shares`; each split
    keeps the file's row order."""
    n = len(rows.texts)
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = (int(round(share * n)) for share in shares[1:])
    picks = {"validation": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}
    splits = {}
    for split in data.SPLITS:
        part = Rows(rows.path)
        for i in sorted(picks[split].tolist()):
            part.add(rows.places[i], rows.texts[i], rows.labels[i])
        if not part.texts:
            raise PipelineError(f"{rows.path}: {n} rows leave the {split} split empty with {WHERE}.split "
                                f"{shares}; add rows or change the shares")
        splits[split] = part
    return splits


def split_files(folder: Path) -> dict[str, Path]:
    """train/validation/test files of a folder (validation may be named dev or val)."""
    files = {}
    for split, stems in SPLIT_NAMES.items():
        found = [folder / f"{stem}{ext}" for stem in stems for ext in FORMATS if (folder / f"{stem}{ext}").is_file()]
        if len(found) != 1:
            names = " or ".join(f"{stems[0]}{ext}" for ext in FORMATS)
            raise PipelineError(f"{folder}: {'no' if not found else 'more than one'} {split} file "
                                f"({', '.join(p.name for p in found) or names})")
        files[split] = found[0]
    return files


def classification_from_local(path: Path, cfg) -> tuple[dict[str, dict[str, list]], list[str]]:
    """(splits, class names) of a local file or folder; `cfg`: a settings.OwnClassification."""
    if path.is_dir():
        parts = {split: read_rows(f, cfg.text_column, cfg.label_column) for split, f in split_files(path).items()}
    else:
        parts = {"all": read_rows(path, cfg.text_column, cfg.label_column)}
    for rows in parts.values():
        check_texts(rows)
    names = label_names(list(parts.values()), cfg.labels)
    if "all" in parts:
        parts = split_rows(parts["all"], cfg.split, cfg.split_seed)
    return labelled(parts, names, bool(cfg.labels), path), names


def labelled(parts: dict[str, Rows], names: list[str], declared: bool, where) -> dict[str, dict[str, list]]:
    """The splits as texts and class ids, each split checked to hold two or more classes."""
    splits = {split: {"text": rows.texts, "label": label_ids(rows, names, declared)} for split, rows in parts.items()}
    check_classes(splits, names, where)
    return splits


def load_hub(cfg, task: str, columns: tuple[str, ...]):
    """(DatasetDict, commit, how errors name it) of data.<task>'s Hub dataset, with the `columns`
    (keys of `cfg` naming them) checked to exist."""
    ds, commit = data.load_hub_dataset(cfg.dataset, cfg.revision, OWN_HINT)
    where = f"dataset {cfg.dataset}@{commit}"
    for key in columns:
        column = getattr(cfg, key)
        if column not in ds["train"].column_names:
            raise PipelineError(f"{where}: no column {column!r} (params.yaml: data.{task}.{key}); columns: "
                                f"{', '.join(ds['train'].column_names)}")
    return ds, commit, where


def classification_from_hub(cfg) -> tuple[dict[str, dict[str, list]], list[str], str]:
    """(splits, class names, the commit loaded) of a Hub dataset."""
    ds, commit, where = load_hub(cfg, "classification", ("text_column", "label_column"))
    feature_names = getattr(ds["train"].features[cfg.label_column], "names", None)
    parts = {}
    for split in data.SPLITS:
        rows = Rows(Path(f"{cfg.dataset}/{split}"))
        labels = ds[split][cfg.label_column]
        for i, (text, label) in enumerate(zip(ds[split][cfg.text_column], labels), start=1):
            rows.add(f"{where} {split}: row {i}", text, feature_names[label] if feature_names else label)
        check_texts(rows)
        parts[split] = rows
    names = label_names(list(parts.values()), cfg.labels or feature_names)
    return labelled(parts, names, bool(cfg.labels), where), names, commit


def check_classes(splits: dict[str, dict[str, list]], names: list[str], where) -> None:
    """Two or more classes, and two or more in every split (one class cannot train or be scored)."""
    if len(names) < 2:
        raise PipelineError(f"{where}: one class ({names[0]!r}) in the whole dataset; classification "
                            "needs two or more")
    for split, columns in splits.items():
        present = set(columns["label"])
        if len(present) < 2:
            raise PipelineError(f"{where}: the {split} split holds one class only ({names[present.pop()]!r}, "
                                f"{len(columns['label'])} rows); every split needs two or more")


# ---- named entities ------------------------------------------------------------------------

def ner_from_local(folder: Path, tag_column: int) -> tuple[dict[str, dict[str, list]], tuple[str, ...]]:
    """(splits as tag ids, the tag set) of a folder of CoNLL-format files, tags read from the data."""
    if not folder.is_dir():
        raise PipelineError(f"params.yaml: data.ner.dataset: {folder} is not a folder (of CoNLL-format "
                            f"{', '.join(CONLL_SPLITS.values())})")
    splits = {split: data.read_conll(folder / name, tag_column, tags=None) for split, name in CONLL_SPLITS.items()}
    types = {tag[2:] for columns in splits.values() for sentence in columns["ner_tags"] for tag in sentence if tag != "O"}
    if not types:
        raise PipelineError(f"{folder}: no entity in any split (every tag is O); NER needs B-<type> tags")
    tags = data.tag_set(types)
    return data.tag_ids(splits, tags), tags


def ner_from_hub(cfg) -> tuple[dict[str, dict[str, list]], tuple[str, ...], str]:
    """(splits as tag ids, the tag set, the commit loaded) of a Hub dataset with a ClassLabel tag sequence."""
    ds, commit, where = load_hub(cfg, "ner", ("tokens_column", "tags_column"))
    names = getattr(getattr(ds["train"].features[cfg.tags_column], "feature", None), "names", None)
    if names is None:
        raise PipelineError(f"{where}: column {cfg.tags_column!r} is not a sequence of ClassLabel tags")
    wrong = [n for n in names if not data.IOB2_TAG.fullmatch(n)]
    if wrong or "O" not in names:
        raise PipelineError(f"{where}: tag names {names} are not IOB2 (O, B-<type>, I-<type>)")
    tags = data.tag_set(n[2:] for n in names if n != "O")
    splits = {s: {"tokens": [list(t) for t in ds[s][cfg.tokens_column]],
                  "ner_tags": [[names[i] for i in t] for t in ds[s][cfg.tags_column]]} for s in data.SPLITS}
    return data.tag_ids(splits, tags), tags, commit
