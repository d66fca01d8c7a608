"""Your own sentence-classification data in place of Rotten Tomatoes (params.yaml data.classification),
and what both own-data readers share (local path or Hub id, a Hub dataset's columns); NER: own_ner.

A Hub dataset id (train/validation/test splits, text and label columns), a folder of
train/validation/test files, or one file split by a seeded rule; the files as stages.lib.data.sources.text_files
reads them (CSV, TSV, JSON Lines, JSON, parquet). Labels are one type throughout, names or ids,
however a format spells them; ids follow data.classification.labels where given (integer labels are
then ids into it), else the data: a Hub ClassLabel's names, or the sorted distinct labels. Every class
must have training rows, and every split two or more classes.

Every bad input is a PipelineError naming the file, the line (or parquet row) and the column.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from stages.lib.data.sources import builtin
from stages.lib.data.sources import text_files
from stages.lib.data.sources import workspace
from stages.lib.runtime.errors import PipelineError

FORMATS = text_files.TABLES
SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "dev", "val"), "test": ("test",)}
INTEGER = re.compile(r"-?\d+")
INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
WHERE = "params.yaml: data.classification"
OWN_HINT = "Offline? Point the dataset param at local files instead (docs/own-data.md)."


def is_local(dataset: str, where: str) -> bool:
    """A local path (else a Hub id), resolved as in every clone DVC runs it from (stages.lib.data.sources.workspace).
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
    """Every row's text and label of a CSV, TSV, JSON Lines, JSON or parquet file, each with its line
    (row); stages.lib.data.sources.text_files says what is read."""
    rows = Rows(path)
    keys = ("data.classification.text_column", "data.classification.label_column")
    for place, (text, label) in text_files.read_table(path, (text_column, label_column), keys):
        rows.add(place, text, label)
    if not rows.texts:
        raise PipelineError(f"{rows.path}: no rows")
    return rows


def check_texts(rows: Rows) -> None:
    for place, text in zip(rows.places, rows.texts):
        if not isinstance(text, str):
            raise PipelineError(f"{place}: the text is {type(text).__name__} {text!r}, not a string")
        if not text.strip():
            raise PipelineError(f"{place}: empty text")


def _kind(label) -> str:
    """'integer' (an id, however the format spells it: 3, "3", 3.0, "3.0"), 'string' (a name),
    'missing', or the type of anything else."""
    if label is None or (isinstance(label, float) and label != label) or (isinstance(label, str) and not label.strip()):
        return "missing"
    if isinstance(label, float):
        return "integer" if label.is_integer() else "float"
    if isinstance(label, bool) or not isinstance(label, (int, str)):
        return type(label).__name__
    return "integer" if isinstance(label, int) or INTEGER.fullmatch(label) else "string"


def _id(label) -> int:
    return int(float(label)) if isinstance(label, (float, str)) else int(label)


def label_names(parts: list[Rows], declared: list[str] | None) -> list[str]:
    """The class names, in id order: `declared`, else the sorted distinct labels (integers by value).
    One type throughout; a name with surrounding spaces, or two names differing only in case, is refused."""
    first, spelled = {}, {}
    for rows in parts:
        for place, label in zip(rows.places, rows.labels):
            kind = _kind(label)
            if kind == "missing":
                raise PipelineError(f"{place}: no label (an empty field); every row needs one")
            if kind not in ("integer", "string"):
                raise PipelineError(f"{place}: label {label!r} is a {kind}; accepted: integers or strings")
            if kind == "string" and label != label.strip():
                raise PipelineError(f"{place}: label {label!r} has leading or trailing spaces; remove them")
            if kind == "string" and spelled.setdefault(label.casefold(), (place, label))[1] != label:
                other_place, other = spelled[label.casefold()]
                raise PipelineError(f"{place}: label {label!r} and {other_place}: {other!r} differ only in case; "
                                    "use one spelling")
            first.setdefault(kind, (place, label))
    if len(first) > 1:
        (p1, l1), (p2, l2) = first["integer"], first["string"]
        raise PipelineError(f"mixed label types: {p1}: {l1!r} is an integer, {p2}: {l2!r} is not; "
                            "use names or ids throughout")
    if declared:
        return list(declared)
    values = {label for rows in parts for label in rows.labels}
    if "integer" in first:
        return [str(v) for v in sorted({_id(v) for v in values})]
    return sorted(values)


def label_ids(rows: Rows, names: list[str], declared: bool) -> list[int]:
    """Each row's class id. Declared names: integer labels are ids into them, strings are names."""
    index = {name: i for i, name in enumerate(names)}
    ids = []
    for place, label in zip(rows.places, rows.labels):
        integer = _kind(label) == "integer"
        if declared and integer:
            ok = 0 <= _id(label) < len(names)
            i = _id(label) if ok else None
        else:
            i = index.get(str(_id(label)) if integer else label)
            ok = i is not None
        if not ok:
            accepted = f"ids 0..{len(names) - 1} or names " if declared and integer else ""
            raise PipelineError(f"{place}: label {label!r} is not one of {WHERE}.labels: {accepted}"
                                f"{', '.join(map(text_files.shown, names))}")
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
    for split in builtin.SPLITS:
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
    """(splits, class names) of a local file or folder; `cfg`: a schema.OwnClassification."""
    files = split_files(path) if path.is_dir() else {"all": path}
    parts = {split: read_rows(f, cfg.text_column, cfg.label_column) for split, f in files.items()}
    for rows in parts.values():
        check_texts(rows)
    declared = cfg.labels or stored_names(files, cfg.label_column)
    names = label_names(list(parts.values()), declared)
    if "all" in parts:
        parts = split_rows(parts["all"], cfg.split, cfg.split_seed)
    return labelled(parts, names, bool(declared), path), names


def stored_names(files: dict[str, Path], column: str) -> list[str] | None:
    """The class names parquet files written by `datasets` carry (text_files.class_names), the same in each."""
    found = {f: text_files.class_names(f, column) for f in files.values()}
    named = {f: n for f, n in found.items() if n is not None}
    if len({tuple(n) for n in named.values()}) > 1 or (named and len(named) < len(found)):
        raise PipelineError("the files name their classes differently: " + "; ".join(
            f"{f}: {', '.join(map(text_files.shown, n)) if n else 'no names'}" for f, n in found.items())
            + f"; set {WHERE}.labels")
    return next(iter(named.values()), None)


def labelled(parts: dict[str, Rows], names: list[str], declared: bool, where) -> dict[str, dict[str, list]]:
    """The splits as texts and class ids, their classes checked across splits (check_classes)."""
    splits = {split: {"text": rows.texts, "label": label_ids(rows, names, declared)} for split, rows in parts.items()}
    check_classes(splits, names, {split: rows.path for split, rows in parts.items()}, where)
    return splits


def check_classes(splits: dict[str, dict[str, list]], names: list[str], files: dict, where) -> None:
    """Two or more classes; every class has training rows (else it could be predicted never, or only
    scored); every split holds two or more. `files`: each split's file, named in the errors."""
    if len(names) < 2:
        raise PipelineError(f"{where}: one class ({names[0]!r}) in the whole dataset; classification "
                            "needs two or more")
    counts = {split: Counter(columns["label"]) for split, columns in splits.items()}
    for i, name in enumerate(names):
        if not counts["train"][i]:
            per_split = ", ".join(f"{split} {counts[split][i]} ({files[split]})" for split in splits)
            raise PipelineError(f"{where}: class {name!r} has no training rows (rows per split: {per_split}); "
                                f"add training rows, or leave it out of the data and {WHERE}.labels")
    for split, columns in splits.items():
        if len(counts[split]) < 2:
            raise PipelineError(f"{where}: the {split} split ({files[split]}) holds one class only "
                                f"({names[next(iter(counts[split]))]!r}, {len(columns['label'])} rows); "
                                "every split needs two or more")


def load_hub(cfg, task: str, columns: tuple[str, ...]):
    """(DatasetDict, commit, how errors name it) of data.<task>'s Hub dataset, with the `columns`
    (keys of `cfg` naming them) checked to exist."""
    ds, commit = builtin.load_hub_dataset(cfg.dataset, cfg.revision, OWN_HINT)
    where = f"dataset {cfg.dataset} at {cfg.revision} (commit {commit})"
    for key in columns:
        column = getattr(cfg, key)
        if column not in ds["train"].column_names:
            raise PipelineError(f"{where}: no column {column!r} (params.yaml: data.{task}.{key}); columns: "
                                f"{', '.join(ds['train'].column_names)}")
    return ds, commit, where


def classification_from_hub(cfg) -> tuple[dict[str, dict[str, list]], list[str], str]:
    """(splits, class names, the commit loaded) of a Hub dataset."""
    ds, commit, where = load_hub(cfg, "classification", ("text_column", "label_column"))
    feature = ds["train"].features[cfg.label_column]
    feature_names = getattr(feature, "names", None)
    if feature_names is None and getattr(feature, "dtype", None) not in ("string", "large_string", *INTEGER_DTYPES):
        columns = ", ".join(f"{c} ({getattr(f, 'dtype', type(f).__name__)})" for c, f in ds["train"].features.items())
        raise PipelineError(f"{where}: column {cfg.label_column!r} (params.yaml: data.classification.label_column) "
                            f"is not a class label, an integer or a string; columns: {columns}")
    parts = {}
    for split in builtin.SPLITS:
        rows = Rows(Path(f"{cfg.dataset}/{split}"))
        labels = ds[split][cfg.label_column]
        for i, (text, label) in enumerate(zip(ds[split][cfg.text_column], labels), start=1):
            rows.add(f"{where} {split}: row {i}", text, feature_names[label] if feature_names else label)
        check_texts(rows)
        parts[split] = rows
    names = label_names(list(parts.values()), cfg.labels or feature_names)
    return labelled(parts, names, bool(cfg.labels), where), names, commit
