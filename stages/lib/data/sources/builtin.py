"""Rotten Tomatoes and CoNLL-2003: from the Hugging Face Hub or the original raw files, same rows.

Raw-file rules (they reproduce the Hub's rows exactly):
- rt-polarity.pos / .neg are Latin-1, one sentence a line; each line is strip()ped; with n lines per
  class, i1 = int(0.8 n + 0.5), i2 = int(0.9 n + 0.5): train = pos[:i1] + neg[:i1],
  validation = pos[i1:i2] + neg[i1:i2], test = pos[i2:] + neg[i2:]. neg = 0, pos = 1.
- CoNLL-2003 files hold `token POS chunk NER` columns, blank lines between sentences and
  `-DOCSTART-` lines between documents; NER tags are IOB2 with the ids below.

Bad raw input is a PipelineError naming the file and line. Latin-1 decodes any byte, so a wrong
encoding is recognised by what no Latin-1 text holds: a byte-order mark (UTF-8 or UTF-16), a NUL
byte, or non-ASCII bytes that all form valid UTF-8 (text saved as UTF-8: real Latin-1 text with é
or the files' 0x85 bytes is not valid UTF-8). CoNLL files must decode as UTF-8 (the originals are
ASCII), without a byte-order mark or NUL bytes. IOB1-style tags (an I-X that starts an entity) are
rejected, not converted: the originals are IOB2 throughout.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stages.lib.runtime.errors import PipelineError

SPLITS = ("train", "validation", "test")
# Each built-in dataset's Hugging Face Hub repo and revision. Facts of the dataset, not settings:
# EXPECTED_ROWS and the label names below hold for this data only. Another copy or revision is your
# own data: data.classification: {dataset: <hub id>, revision: <rev>} (docs/own-data.md).
HUB = {
    "rotten_tomatoes": ("cornell-movie-review-data/rotten_tomatoes", "main"),
    "conll2003": ("eriktks/conll2003", "refs/convert/parquet"),  # main: a loading script (datasets >= 4 refuses)
}
ROTTEN_TOMATOES_LABELS = ("neg", "pos")  # ids 0, 1
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
EXPECTED_ROWS = {
    "rotten_tomatoes": {"train": 8530, "validation": 1066, "test": 1066},
    "conll2003": {"train": 14041, "validation": 3250, "test": 3453},
}
CONLL_FILES = {"train": "train.txt", "validation": "dev.txt", "test": "test.txt"}
POLARITY_LINES = sum(EXPECTED_ROWS["rotten_tomatoes"].values()) // 2  # 5,331 in each class file
POLARITY_ACCEPTED = "Latin-1 text, one sentence a line, as the original rt-polarity v1.0 files"
CONLL_ACCEPTED = "UTF-8 text (the original files are ASCII)"
IOB2_TAG = re.compile(r"O|[BI]-\S+")
BOMS = {b"\xef\xbb\xbf": "a UTF-8 byte-order mark", b"\xff\xfe": "a UTF-16 byte-order mark",
        b"\xfe\xff": "a UTF-16 byte-order mark"}

SENTIMENT_SCHEMA = pa.schema([("text", pa.string()), ("label", pa.int64())])
NER_SCHEMA = pa.schema([("tokens", pa.list_(pa.string())), ("ner_tags", pa.list_(pa.int64()))])


# ---- Rotten Tomatoes -----------------------------------------------------------------------

def read_polarity_lines(path: Path) -> list[str]:
    """One stripped sentence a line. Binary readlines(): the files hold 0x85, a newline to str."""
    if not path.is_file():
        raise PipelineError(f"{path}: raw sentiment file not found")
    raw = path.read_bytes()
    check_text_bytes(path, raw, POLARITY_ACCEPTED)
    if not raw.isascii() and _is_utf8(raw):
        line = raw.count(b"\n", 0, re.search(rb"[\x80-\xff]", raw).start()) + 1
        raise PipelineError(f"{path}:{line}: the file is UTF-8 encoded (its non-ASCII bytes all decode "
                            f"as UTF-8, which Latin-1 text does not); accepted: {POLARITY_ACCEPTED}")
    lines = [line.decode("latin-1").strip() for line in io.BytesIO(raw).readlines()]
    if not any(lines):
        raise PipelineError(f"{path}: empty, no sentence in it; accepted: {POLARITY_ACCEPTED} "
                            f"({POLARITY_LINES:,} lines)")
    return lines


def split_polarity(pos: list[str], neg: list[str]) -> dict[str, dict[str, list]]:
    """The Hub's 80/10/10 split rule, positives first in every split."""
    if len(pos) != len(neg):
        raise PipelineError(f"rotten_tomatoes: {len(pos)} positive but {len(neg)} negative lines; "
                            "the split rule needs the same count in both files")
    n = len(pos)
    i1, i2 = int(0.8 * n + 0.5), int(0.9 * n + 0.5)
    bounds = {"train": (0, i1), "validation": (i1, i2), "test": (i2, n)}
    splits = {}
    for split, (a, b) in bounds.items():
        splits[split] = {"text": pos[a:b] + neg[a:b], "label": [1] * (b - a) + [0] * (b - a)}
    return splits


def rotten_tomatoes_from_raw(folder: Path) -> dict[str, dict[str, list]]:
    files = {name: read_polarity_lines(folder / name) for name in ("rt-polarity.pos", "rt-polarity.neg")}
    wrong = [f"{folder / name}: {len(lines):,} lines" for name, lines in files.items()
             if len(lines) != POLARITY_LINES]
    if wrong:
        raise PipelineError(f"{'; '.join(wrong)}; expected {POLARITY_LINES:,} lines in each of "
                            "rt-polarity.pos and rt-polarity.neg (the split sizes depend on it)")
    return split_polarity(files["rt-polarity.pos"], files["rt-polarity.neg"])


def rotten_tomatoes_from_hub(repo_id: str, revision: str) -> tuple[dict[str, dict[str, list]], str]:
    """(splits, the commit loaded) of the Hub dataset; labels mapped by name onto neg = 0, pos = 1."""
    ds, commit = load_hub_dataset(repo_id, revision)
    to_id = _label_map(ds["train"].features["label"], ROTTEN_TOMATOES_LABELS, f"{repo_id}@{commit}: label")
    return {s: {"text": list(ds[s]["text"]), "label": [to_id[int(x)] for x in ds[s]["label"]]}
            for s in SPLITS}, commit


# ---- CoNLL-2003 ----------------------------------------------------------------------------

def read_conll(path: Path, tag_column: int = -1, tags: tuple[str, ...] | None = NER_TAGS) -> dict[str, list]:
    """Sentences of a CoNLL-format file as tokens and tag strings. The token is column 0, the tag
    `tag_column`; `tags`: the accepted tags (CoNLL-2003's, whose files have 4 columns), or None for
    any IOB2 tag (O, B-<type>, I-<type>) with as many columns on every line as on the first."""
    if not path.is_file():
        raise PipelineError(f"{path}: CoNLL file not found")
    text = decode_utf8(path, path.read_bytes())
    sentences: dict[str, list] = {"tokens": [], "ner_tags": []}
    tokens: list[str] = []
    labels: list[str] = []
    iob1: list[str] = []  # where an I-X starts an entity, "line: what"
    width = 4 if tags is not None else None  # columns a line must have
    for line_no, line in enumerate([*text.split("\n"), ""], start=1):  # a blank line ends the last sentence
        if line.startswith("-DOCSTART-") or not line.strip():
            if tokens:
                sentences["tokens"].append(tokens)
                sentences["ner_tags"].append(labels)
                tokens, labels = [], []
            continue
        columns = line.split()
        width = width or _tag_columns(path, line_no, len(columns), tag_column)
        tag = _checked_tag(path, line_no, line, columns, width, tag_column, tags, text)
        previous = labels[-1] if labels else None
        if tag.startswith("I-") and (previous is None or previous[2:] != tag[2:]):
            iob1.append(f"{line_no}: {tag} " + (f"follows {previous}" if previous else "starts a sentence"))
        tokens.append(columns[0])
        labels.append(tag)
    if iob1:
        raise PipelineError(f"{path}:{iob1[0]} (IOB1-style tagging); {len(iob1)} such tag(s) in this "
                            "file; accepted: IOB2, where every entity starts with B-; convert to IOB2 first")
    if not sentences["tokens"]:
        raise PipelineError(f"{path}: no sentences; accepted: `{'token POS chunk NER' if tags else 'token ... tag'}` "
                            "lines, a blank line between sentences")
    return sentences


def _tag_columns(path: Path, line_no: int, width: int, tag_column: int) -> int:
    """The columns every line must have, from the first line's; `tag_column` must be one of them."""
    if not -width <= tag_column < width or tag_column % width == 0:
        raise PipelineError(f"{path}:{line_no}: {width} column(s), so no tag column "
                            f"data.ner.tag_column = {tag_column} (the token is column 0)")
    return width


def _checked_tag(path: Path, line_no: int, line: str, columns: list[str], width: int, tag_column: int,
                 tags: tuple[str, ...] | None, text: str) -> str:
    """The line's tag, or a PipelineError naming the line: a wrong column count, an unknown tag."""
    if len(columns) != width:
        what = "token POS chunk NER" if tags is not None else f"as line {_first_line(text)}"
        raise PipelineError(f"{path}:{line_no}: expected {width} columns ({what}), "
                            f"found {len(columns)}: {line.rstrip()!r}")
    tag = columns[tag_column]
    if tags is not None and tag not in tags:
        raise PipelineError(f"{path}:{line_no}: unknown NER tag {tag!r}; accepted: {', '.join(tags)}")
    if tags is None and not IOB2_TAG.fullmatch(tag):
        raise PipelineError(f"{path}:{line_no}: tag {tag!r} (column {tag_column}) is not IOB2; "
                            "accepted: O, B-<type>, I-<type>")
    return tag


def _first_line(text: str) -> int:
    """The number of the first token line of a CoNLL file."""
    return next(i for i, line in enumerate(text.split("\n"), start=1)
                if line.strip() and not line.startswith("-DOCSTART-"))


def tag_ids(splits: dict[str, dict[str, list]], tags: tuple[str, ...]) -> dict[str, dict[str, list]]:
    """Tag strings as ids into `tags`."""
    index = {tag: i for i, tag in enumerate(tags)}
    return {s: {"tokens": c["tokens"], "ner_tags": [[index[t] for t in sent] for sent in c["ner_tags"]]}
            for s, c in splits.items()}


def tag_set(types) -> tuple[str, ...]:
    """O, then B-X and I-X of each entity type X, sorted: B-X odd, I-X = B-X + 1 (ner.align_labels)."""
    return ("O", *(f"{p}-{t}" for t in sorted(set(types)) for p in "BI"))


def conll_from_raw(folder: Path) -> dict[str, dict[str, list]]:
    return tag_ids({split: read_conll(folder / name) for split, name in CONLL_FILES.items()}, NER_TAGS)


def conll_from_hub(repo_id: str, revision: str) -> tuple[dict[str, dict[str, list]], str]:
    """(splits, the commit loaded) of the Hub dataset; tags mapped by name onto NER_TAGS ids."""
    ds, commit = load_hub_dataset(repo_id, revision)
    to_id = _label_map(ds["train"].features["ner_tags"].feature, NER_TAGS, f"{repo_id}@{commit}: ner_tags")
    return {s: {"tokens": [list(t) for t in ds[s]["tokens"]],
                "ner_tags": [[to_id[int(x)] for x in t] for t in ds[s]["ner_tags"]]} for s in SPLITS}, commit


# ---- shared --------------------------------------------------------------------------------

def check_text_bytes(path: Path, raw: bytes, accepted: str) -> None:
    """Reject what no text file of the expected encoding starts with or holds: a BOM, a NUL byte."""
    for bom, what in BOMS.items():
        if raw.startswith(bom):
            raise PipelineError(f"{path}:1: starts with {what}; accepted: {accepted}")
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise PipelineError(f"{path}:{line}: NUL byte (UTF-16 or binary data?); accepted: {accepted}")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_utf8(path: Path, raw: bytes, accepted: str = CONLL_ACCEPTED) -> str:
    """Strict UTF-8; an error names the line and the offending byte."""
    check_text_bytes(path, raw, accepted)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = raw.count(b"\n", 0, e.start) + 1, e.start - raw.rfind(b"\n", 0, e.start)
        raise PipelineError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at column "
                            f"{column}); accepted: {accepted}") from None


def _label_map(feature, expected: tuple[str, ...], where: str) -> dict[int, int]:
    """The dataset's label ids onto `expected`'s, matched by name (a ClassLabel feature), not by order."""
    names = getattr(feature, "names", None)
    if names is None or sorted(names) != sorted(expected):
        raise PipelineError(f"dataset {where}: label names {names}; expected {list(expected)} (in any order)")
    return {i: expected.index(name) for i, name in enumerate(names)}


RAW_HINT = ("Offline? Set data.raw_dir in params.yaml to a folder with the original raw files "
            "(rotten_tomatoes/, conll2003/) and data.source to auto or raw.")


def load_hub_dataset(repo_id: str, revision: str, hint: str = RAW_HINT):
    """(DatasetDict, commit sha) of `repo_id` at `revision` (a branch, tag or commit). The revision is
    resolved to its commit first and that commit is loaded, so the commit recorded is the data read.
    `hint`: what to do when it cannot be loaded."""
    import datasets
    from huggingface_hub import HfApi

    try:
        commit = HfApi().dataset_info(repo_id, revision=revision).sha
        ds = datasets.load_dataset(repo_id, revision=commit)
    except Exception as e:  # the Hub client raises many types (connection, offline mode, 404)
        raise PipelineError(
            f"could not load dataset {repo_id!r} at revision {revision!r} from the Hugging Face Hub "
            f"({type(e).__name__}: {' '.join(str(e).split())}). {hint}") from None
    missing = [s for s in SPLITS if s not in ds]
    if missing:
        raise PipelineError(f"dataset {repo_id!r}: no {', '.join(missing)} split; it has "
                            f"{', '.join(ds) or 'none'}; expected {', '.join(SPLITS)}")
    return ds, commit


def check_counts(name: str, splits: dict[str, dict[str, list]]) -> None:
    for split, expected in EXPECTED_ROWS[name].items():
        got = len(next(iter(splits[split].values())))
        if got != expected:
            raise PipelineError(f"{name}/{split}: {got} rows, expected {expected}")


def write_splits(splits: dict[str, dict[str, list]], schema: pa.Schema, folder: Path) -> None:
    """Parquet with a fixed schema and no pandas metadata: same rows give the same bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, columns in splits.items():
        table = pa.table(columns, schema=schema)
        pq.write_table(table, folder / f"{split}.parquet", compression="zstd")


def describe(name: str, dataset_id: str, hub: bool, labels, default: bool) -> dict:
    """What prepare records of a task's dataset (paths.dataset_record): its name, its Hub id (hub) or
    local path, the label names in id order (NER: the tags), and whether it is the chapter's own."""
    return {"name": name, "id": dataset_id, "hub": hub, "labels": list(labels), "default": default}
