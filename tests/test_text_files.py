"""Property-based tests of the own-data readers (stages/lib/data/sources/text_files.py, stages/lib/data/sources/own_data.py):
files written as spreadsheets, pandas, notebooks and annotation tools write them, with random texts
(quotes, separators, line breaks, non-ASCII), random label sets and spellings, and random
corruptions. Every generated file reads to exactly the rows a reference reader gives (the csv module,
json, pyarrow, a plain CoNLL parser), or is refused with one line naming the file; never a traceback."""
import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stages.lib.data.sources import own_data
from stages.lib.data.sources import own_ner
from stages.lib.data.sources import text_files
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.datasets import OwnClassification

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KEYS = ("data.classification.text_column", "data.classification.label_column")

# any character but NUL, lone surrogates and the byte-order mark; at least one that is not a space
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff"),
               min_size=1, max_size=25).filter(str.strip)
NAME = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-éü", min_size=1, max_size=8)

# (suffix, delimiter, line ending, encoding) as tools write them
DIALECTS = {
    "Google Sheets, LibreOffice": (".csv", ",", "\r\n", "utf-8"),
    "Excel, CSV UTF-8": (".csv", ",", "\r\n", "utf-8-sig"),
    "Excel, a comma-decimal locale": (".csv", ";", "\r\n", "utf-8-sig"),
    "pandas to_csv": (".csv", ",", "\n", "utf-8"),
    "old Mac line endings": (".csv", ",", "\r", "utf-8"),
    "pipe-separated": (".csv", "|", "\n", "utf-8"),
    "TSV": (".tsv", "\t", "\n", "utf-8"),
    "Excel, Unicode text": (".tsv", "\t", "\r\n", "utf-16"),
}


def write_delimited(path: Path, dialect: str, header: list[str], rows: list[list[str]], trailing: bool) -> Path:
    suffix, delimiter, ending, encoding = DIALECTS[dialect]
    path = path.with_suffix(suffix)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=ending, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes((buffer.getvalue() + (ending if trailing else "")).encode(encoding))
    return path


def reference_delimited(path: Path, dialect: str, columns: tuple[str, str]) -> list[tuple[str, str]] | None:
    """The rows as the csv module reads them; None where it reads a row with another number of fields
    than the header (the file is then to be refused)."""
    _, delimiter, _, encoding = DIALECTS[dialect]
    with open(path, encoding="utf-16" if encoding == "utf-16" else "utf-8-sig", newline="") as f:
        records = [r for r in csv.reader(f, delimiter=delimiter) if r]
    if any(len(r) != len(records[0]) for r in records):
        return None
    at = [records[0].index(c) for c in columns]
    return [(r[at[0]], r[at[1]]) for r in records[1:]]


@FAST
@given(dialect=st.sampled_from(sorted(DIALECTS)), rows=st.lists(st.tuples(TEXT, NAME), min_size=1, max_size=12),
       extra=st.booleans(), label_first=st.booleans(), trailing=st.booleans())
def test_delimited_files_read_as_the_csv_module_reads_them(tmp_path, dialect, rows, extra, label_first, trailing):
    header = (["", "text", "label"] if extra else ["text", "label"])  # "": pandas' unnamed index column
    if label_first:
        header.reverse()
    records = [[{"text": text, "label": label, "": str(i)}[c] for c in header] for i, (text, label) in enumerate(rows)]
    path = write_delimited(tmp_path / "data", dialect, header, records, trailing)
    reference = reference_delimited(path, dialect, ("text", "label"))
    got = one_line_or_rows(lambda: text_files.read_table(path, ("text", "label"), KEYS), path)
    assert (got is None) == (reference is None)
    if got is not None:
        assert [values for _, values in got] == reference
    # the csv module writes a line break that is not in its line ending unquoted ("a\r" with "\n"
    # endings), which no reader can tell from a row's end; every other file reads back what was written
    if not any(c in text for text, _ in rows for c in "\r\n" if c not in DIALECTS[dialect][2]):
        assert got is not None and [values for _, values in got] == list(rows)


@FAST
@given(rows=st.lists(st.fixed_dictionaries({"text": TEXT, "label": st.one_of(NAME, st.integers(0, 5))}),
                     min_size=1, max_size=12),
       form=st.sampled_from(["jsonl", "jsonl, CRLF", "json array", "parquet"]))
def test_json_and_parquet_read_as_json_and_pyarrow_read_them(tmp_path, rows, form):
    if form == "parquet":
        labels = [str(r["label"]) for r in rows]
        path = tmp_path / "data.parquet"
        pq.write_table(pa.table({"text": [r["text"] for r in rows], "label": labels}), path)
        reference = list(zip(pq.read_table(path).column("text").to_pylist(), labels))
    else:
        ending = "\r\n" if "CRLF" in form else "\n"
        text = json.dumps(rows, ensure_ascii=False) if form == "json array" else \
            ending.join(json.dumps(r, ensure_ascii=False) for r in rows) + ending
        path = tmp_path / ("data.json" if form == "json array" else "data.jsonl")
        path.write_text(text, encoding="utf-8", newline="")
        records = json.loads(text) if form == "json array" else [json.loads(line) for line in text.split(ending) if line]
        reference = [(r["text"], r["label"]) for r in records]
    got = [values for _, values in text_files.read_table(path, ("text", "label"), KEYS)]
    assert got == reference


def one_line_or_rows(call, path: Path):
    """The call's result, or None when it refused with one line naming `path` (anything else fails)."""
    try:
        return call()
    except PipelineError as e:
        message = str(e)
        assert "\n" not in message.strip() and path.name in message, message
        return None


@FAST
@given(rows=st.lists(st.tuples(TEXT, NAME), min_size=2, max_size=10), dialect=st.sampled_from(sorted(DIALECTS)),
       where=st.floats(0, 1), what=st.sampled_from([b"\xff", b"\x00", b'"', b"\n", b",", b"\xef\xbb\xbf", b"", b"\t"]),
       truncate=st.booleans())
def test_a_corrupted_file_reads_or_is_refused_in_one_line(tmp_path, rows, dialect, where, what, truncate):
    path = write_delimited(tmp_path / "data", dialect, ["text", "label"], [list(r) for r in rows], False)
    raw = path.read_bytes()
    at = int(where * len(raw))
    path.write_bytes(raw[:at] + what + (b"" if truncate else raw[at:]))
    cfg = OwnClassification(dataset=str(path), revision="main", text_column="text", label_column="label",
                            labels=None, split=[0.34, 0.33, 0.33], split_seed=0)
    one_line_or_rows(lambda: own_data.classification_from_local(path, cfg), path)


# ---- labels: one type throughout, however a format spells them --------------------------------

@FAST
@given(classes=st.lists(NAME, min_size=2, max_size=4, unique_by=str.casefold), ids=st.booleans(),
       spelling=st.sampled_from(["int", "string", "float"]), per_split=st.integers(2, 4))
def test_labels_read_as_names_or_ids_in_every_split(tmp_path, classes, ids, spelling, per_split):
    """A folder of train/validation/test JSON Lines files where every class is in every split."""
    def spell(i):
        if not ids:
            return classes[i]
        return {"int": i, "string": str(i), "float": float(i)}[spelling]

    for split in ("train", "validation", "test"):
        lines = [json.dumps({"text": f"{split} row {k} of {c}", "label": spell(c)})
                 for c in range(len(classes)) for k in range(per_split)]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    cfg = OwnClassification(dataset=str(tmp_path), revision="main", text_column="text", label_column="label",
                            labels=None, split=[0.8, 0.1, 0.1], split_seed=0)
    splits, names = own_data.classification_from_local(tmp_path, cfg)
    expected = [str(i) for i in range(len(classes))] if ids else sorted(classes)
    assert names == expected
    for split in splits.values():
        assert sorted(set(split["label"])) == list(range(len(classes)))
        assert len(split["text"]) == len(classes) * per_split
    if not ids:  # each row's id is its own class's position in the sorted names
        for text, label in zip(splits["train"]["text"], splits["train"]["label"]):
            assert text.endswith(f"of {classes.index(names[label])}")


@pytest.mark.parametrize("labels, message", [
    (["pos", "Pos"], r"label 'Pos' and .*: 'pos' differ only in case"),
    (["pos", "neg "], r"label 'neg ' has leading or trailing spaces"),
    (["pos", ""], r"no label \(an empty field\)"),
    (["1", "bug"], r"mixed label types"),
    (["1.5", "2"], r"mixed label types"),
])
def test_label_spellings_that_would_be_reinterpreted_are_refused(tmp_path, labels, message):
    path = tmp_path / "t.csv"
    path.write_text("text,label\n" + "".join(f"row {i},{lab}\n" for i, lab in enumerate(labels * 3)))
    cfg = OwnClassification(dataset=str(path), revision="main", text_column="text", label_column="label",
                            labels=None, split=[0.34, 0.33, 0.33], split_seed=0)
    with pytest.raises(PipelineError, match=message):
        own_data.classification_from_local(path, cfg)


def test_a_class_without_training_rows_names_each_split_file_and_count(tmp_path):
    for split, labels in {"train": "aab", "validation": "abc", "test": "abcc"}.items():
        (tmp_path / f"{split}.csv").write_text("text,label\n" + "".join(f"{split} {i},{c}\n" for i, c in enumerate(labels)))
    cfg = OwnClassification(dataset=str(tmp_path), revision="main", text_column="text", label_column="label",
                            labels=None, split=[0.8, 0.1, 0.1], split_seed=0)
    with pytest.raises(PipelineError, match=(
            rf"class 'c' has no training rows \(rows per split: train 0 \({tmp_path}/train\.csv\), validation 1 "
            rf"\({tmp_path}/validation\.csv\), test 2 \({tmp_path}/test\.csv\)\)")):
        own_data.classification_from_local(tmp_path, cfg)


# ---- CoNLL -------------------------------------------------------------------------------------

TOKEN = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="\ufeff\x85"),
                min_size=1, max_size=8).filter(lambda t: not t.startswith("-DOCSTART-"))
TYPES = st.lists(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=4), min_size=1, max_size=3, unique=True)


@st.composite
def sentences(draw):
    """Sentences of (token, IOB2 tag)."""
    types = draw(TYPES)
    out = []
    for _ in range(draw(st.integers(1, 5))):
        tags, previous = [], "O"
        for _ in range(draw(st.integers(1, 8))):
            choice = draw(st.sampled_from(["O", "B", "I"] if previous != "O" else ["O", "B"]))
            tags.append("O" if choice == "O" else f"B-{draw(st.sampled_from(types))}" if choice == "B" else f"I-{previous[2:]}")
            previous = tags[-1]
        out.append([(draw(TOKEN), tag) for tag in tags])
    return out


def reference_conll(text: str, separator: str) -> list[list[tuple[str, str]]]:
    """A plain CoNLL parser: sentences split at blank lines, -DOCSTART- lines dropped."""
    out, current = [], []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if current:
                out.append(current)
            current = []
            continue
        columns = line.split(separator) if separator == "\t" else line.split()
        current.append((columns[0], columns[-1]))
    return out + ([current] if current else [])


@FAST
@given(data=sentences(), separator=st.sampled_from(["\t", " ", "  "]), ending=st.sampled_from(["\n", "\r\n"]),
       docstart=st.booleans(), blank=st.integers(1, 3), bom=st.booleans(), spaced_tokens=st.booleans())
def test_conll_files_read_as_a_plain_parser_reads_them(tmp_path, data, separator, ending, docstart, blank, bom,
                                                        spaced_tokens):
    if separator == "\t" and spaced_tokens:  # a tab-separated file may hold tokens with spaces
        data = [[(f"{token} {token}", tag) for token, tag in s] for s in data]
    lines = [f"-DOCSTART-{separator}O", ""] if docstart else []
    for sentence in data:
        lines += [f"{token}{separator}NN{separator}{tag}" for token, tag in sentence] + [""] * blank
    path = tmp_path / "train.txt"
    text = ending.join(lines)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    got = own_ner.read_conll(path, tag_column=-1)
    reference = reference_conll(text, separator)
    assert [list(zip(t, g)) for t, g in zip(got["tokens"], got["ner_tags"])] == reference == data


@FAST
@given(data=sentences(), where=st.floats(0, 1), what=st.sampled_from([b"\xff", b"\x00", b"I-ZZ", b" ", b"\n", b"\t"]))
def test_a_corrupted_conll_file_reads_or_is_refused_in_one_line(tmp_path, data, where, what):
    path = tmp_path / "train.txt"
    raw = "\n".join(f"{token} {tag}" for sentence in data for token, tag in sentence + [("", "")]).encode()
    at = int(where * len(raw))
    path.write_bytes(raw[:at] + what + raw[at:])
    one_line_or_rows(lambda: own_ner.read_conll(path, tag_column=-1), path)
