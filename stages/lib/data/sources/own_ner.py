"""Your own NER data in place of CoNLL-2003 (params.yaml data.ner): a folder of CoNLL-format files
(train.txt, dev.txt, test.txt; stages.lib.data.sources.text_files reads them as annotation tools write them, the
tag column configurable) or a Hub dataset with a ClassLabel tag sequence. Tags must be IOB2; the tag
set is read from the data. Every bad input is a PipelineError naming the file and line.
"""
from __future__ import annotations

from pathlib import Path

from stages.lib.data.sources import builtin
from stages.lib.data.sources import text_files
from stages.lib.runtime.errors import PipelineError
from stages.lib.data.sources.own_data import load_hub

CONLL_SPLITS = {"train": "train.txt", "validation": "dev.txt", "test": "test.txt"}


def read_conll(path: Path, tag_column: int) -> dict[str, list]:
    """Sentences of one CoNLL-format file (stages.lib.data.sources.text_files.conll_lines) as tokens and IOB2 tag
    strings: the token is column 0, the tag `tag_column`, every line as wide as the first."""
    sentences = text_files.conll_lines(path)
    if not sentences:
        raise PipelineError(f"{path}: no sentences; accepted: `token ... tag` lines, a blank line between sentences")
    first, width = sentences[0][0][0], len(sentences[0][0][1])
    if not -width <= tag_column < width or tag_column % width == 0:
        raise PipelineError(f"{path}:{first}: {width} column(s), so no tag column data.ner.tag_column = "
                            f"{tag_column} (the token is column 0)")
    out: dict[str, list] = {"tokens": [], "ner_tags": []}
    iob1 = []  # where an I-X starts an entity, "line: what"
    for sentence in sentences:
        tags = []
        for line_no, columns in sentence:
            if len(columns) != width:
                raise PipelineError(f"{path}:{line_no}: expected {width} columns (as line {first}), found "
                                    f"{len(columns)}: {' '.join(columns)!r}")
            tag = columns[tag_column]
            if not builtin.IOB2_TAG.fullmatch(tag):
                raise PipelineError(f"{path}:{line_no}: tag {tag!r} (column {tag_column}) is not IOB2; "
                                    "accepted: O, B-<type>, I-<type>")
            previous = tags[-1] if tags else None
            if tag.startswith("I-") and (previous is None or previous[2:] != tag[2:]):
                iob1.append(f"{line_no}: {tag} " + (f"follows {previous}" if previous else "starts a sentence"))
            tags.append(tag)
        out["tokens"].append([columns[0] for _, columns in sentence])
        out["ner_tags"].append(tags)
    if iob1:
        raise PipelineError(f"{path}:{iob1[0]} (IOB1-style tagging); {len(iob1)} such tag(s) in this file; "
                            "accepted: IOB2, where every entity starts with B-; convert to IOB2 first")
    return out


def ner_from_local(folder: Path, tag_column: int) -> tuple[dict[str, dict[str, list]], tuple[str, ...]]:
    """(splits as tag ids, the tag set) of a folder of CoNLL-format files, tags read from the data."""
    if not folder.is_dir():
        raise PipelineError(f"params.yaml: data.ner.dataset: {folder} is not a folder (of CoNLL-format "
                            f"{', '.join(CONLL_SPLITS.values())})")
    splits = {split: read_conll(folder / name, tag_column) for split, name in CONLL_SPLITS.items()}
    types = {tag[2:] for columns in splits.values() for sentence in columns["ner_tags"] for tag in sentence if tag != "O"}
    if not types:
        raise PipelineError(f"{folder}: no entity in any split (every tag is O); NER needs B-<type> tags")
    tags = builtin.tag_set(types)
    return builtin.tag_ids(splits, tags), tags


def ner_from_hub(cfg) -> tuple[dict[str, dict[str, list]], tuple[str, ...], str]:
    """(splits as tag ids, the tag set, the commit loaded) of a Hub dataset with a ClassLabel tag sequence."""
    ds, commit, where = load_hub(cfg, "ner", ("tokens_column", "tags_column"))
    names = getattr(getattr(ds["train"].features[cfg.tags_column], "feature", None), "names", None)
    if names is None:
        feature = ds["train"].features[cfg.tags_column]
        raise PipelineError(f"{where}: column {cfg.tags_column!r} (params.yaml: data.ner.tags_column) is "
                            f"{type(feature).__name__}, not a sequence of ClassLabel tags; columns: "
                            f"{', '.join(f'{c} ({type(f).__name__})' for c, f in ds['train'].features.items())}")
    wrong = [n for n in names if not builtin.IOB2_TAG.fullmatch(n)]
    if wrong or "O" not in names:
        raise PipelineError(f"{where}: tag names {names} are not IOB2 (O, B-<type>, I-<type>)")
    tags = builtin.tag_set(n[2:] for n in names if n != "O")
    splits = {s: {"tokens": [list(t) for t in ds[s][cfg.tokens_column]],
                  "ner_tags": [[names[i] for i in t] for t in ds[s][cfg.tags_column]]} for s in builtin.SPLITS}
    return builtin.tag_ids(splits, tags), tags, commit
