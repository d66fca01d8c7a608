"""Your own data files read as spreadsheets, notebooks and annotation tools write them.

Text: UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8" writes one), or UTF-16 with one
(Excel's "Unicode text"); lines end in LF, CRLF or CR. Tables: CSV with a header row (the delimiter
is `,` `;` `\t` or `|`, whichever makes the header hold the columns asked for), TSV, JSON Lines (or
one JSON array of objects, pandas' `orient="records"`), parquet (a `datasets` ClassLabel column's names, kept in the file, name its ids). CoNLL: one token a line, columns
split on tabs where the first token line has a tab (a token may then hold spaces), else on runs of
spaces; blank-line runs end a sentence; `-DOCSTART-` lines are skipped.

Every refusal is a PipelineError naming the file and, where it applies, the line (parquet: row) and
column, with what is accepted.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq

from stages.lib.data.sources import builtin
from stages.lib.runtime.errors import PipelineError

TABLES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
TEXT = ("UTF-8 (a byte-order mark is fine) or UTF-16 with a byte-order mark; from Excel, save as "
        "'CSV UTF-8'")
DELIMITERS = (",", ";", "\t", "|")
UTF8_BOM, UTF16_BOMS = b"\xef\xbb\xbf", (b"\xff\xfe", b"\xfe\xff")
LINE_END = re.compile(r"\r\n|\r|\n")  # not str.splitlines(): JSON strings and texts may hold U+2028, 0x85


def shown(value) -> str:
    """A name from a file as an error shows it: as it is, or repr() when it holds a line break or
    another character that does not print (so an error stays one readable line)."""
    return value if isinstance(value, str) and value.isprintable() else repr(value)


def decode(path: Path, raw: bytes) -> str:
    """The text of a file's bytes (see the module docstring), or one line naming the line and byte."""
    if raw.startswith(UTF16_BOMS):
        encoding = "utf-16-le" if raw.startswith(b"\xff\xfe") else "utf-16-be"
        try:
            return raw[2:].decode(encoding)
        except UnicodeDecodeError as e:
            raise PipelineError(f"{path}: not valid {encoding.upper()} after its byte-order mark "
                                f"({e.reason} at byte {e.start + 2}); accepted: {TEXT}") from None
    return builtin.decode_utf8(path, raw.removeprefix(UTF8_BOM), TEXT)  # refuses NUL bytes too


def read_table(path: Path, columns: tuple[str, ...], keys: tuple[str, ...]) -> list[tuple[str, tuple]]:
    """(place, values of `columns`) of every row of a CSV, TSV, JSON Lines, JSON or parquet file;
    `keys`: the params naming the columns, for the errors. Blank lines are skipped."""
    if path.suffix not in TABLES:
        raise PipelineError(f"{path}: unknown file type {path.suffix!r}; accepted: {', '.join(TABLES)}")
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises several types for files that are not parquet
            raise PipelineError(f"{path}: not a readable parquet file ({type(e).__name__}: {e})") from None
        _has_columns(path, table.column_names, columns, keys)
        values = zip(*(table.column(c).to_pylist() for c in columns))
        return [(f"{path}: row {i}", row) for i, row in enumerate(values, start=1)]
    text = decode(path, path.read_bytes())
    if path.suffix in (".csv", ".tsv"):
        return _delimited(path, text, columns, keys)
    return _json(path, text, columns, keys)


def class_names(path: Path, column: str) -> list[str] | None:
    """The class names `datasets` keeps in a parquet file it wrote, when `column` is a ClassLabel."""
    if path.suffix != ".parquet":
        return None
    try:
        features = json.loads((pq.read_schema(path).metadata or {}).get(b"huggingface", b"{}"))
        feature = features["info"]["features"][column]
    except Exception:  # no such metadata, or not a readable file (read_table says which)
        return None
    return list(feature["names"]) if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" else None


def _has_columns(path: Path, names: list, columns: tuple[str, ...], keys: tuple[str, ...]) -> None:
    for column, key in zip(columns, keys):
        if column not in names:
            raise PipelineError(f"{path}: no column {column!r} ({key}); columns: {', '.join(map(shown, names)) or 'none'}")


def _delimiter(path: Path, text: str, columns: tuple[str, ...]) -> str:
    """TSV: a tab. CSV: the first of DELIMITERS whose header row holds every column (else `,`)."""
    if path.suffix == ".tsv":
        return "\t"
    for delimiter in DELIMITERS:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        if all(c in header for c in columns):
            return delimiter
    return ","


def _delimited(path: Path, text: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> list[tuple[str, tuple]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(path, text, columns), strict=True)
    rows, start = [], 1
    try:
        header = next(reader, [])
        _has_columns(path, header, columns, keys)
        at = [header.index(c) for c in columns]
        start = reader.line_num + 1
        for record in reader:
            if record and any(field.strip() for field in record):  # not a blank line
                if len(record) != len(header):
                    raise PipelineError(f"{path}:{start}: {len(record)} fields, the header has {len(header)}")
                rows.append((f"{path}:{start}", tuple(record[i] for i in at)))
            start = reader.line_num + 1
    except csv.Error as e:
        raise PipelineError(f"{path}:{start}: not valid CSV ({e})") from None
    return rows


def _json(path: Path, text: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> list[tuple[str, tuple]]:
    """JSON Lines, or (a .json file whose first character opens an array) one array of objects."""
    if path.suffix == ".json" and text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as e:
            raise PipelineError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
        return [_record(path, f"{path}: record {i}", r, columns, keys) for i, r in enumerate(records, start=1)]
    rows = []
    for line_no, line in enumerate(LINE_END.split(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise PipelineError(f"{path}:{line_no}: not valid JSON ({e.msg} at column {e.colno}); "
                                "accepted: JSON Lines, one object a line") from None
        rows.append(_record(path, f"{path}:{line_no}", record, columns, keys))
    return rows


def _record(path: Path, place: str, record, columns: tuple[str, ...], keys: tuple[str, ...]) -> tuple[str, tuple]:
    if not isinstance(record, dict):
        raise PipelineError(f"{place}: a JSON {type(record).__name__}, not an object")
    if all(c in record and isinstance(record[c], dict) for c in columns):  # pandas' default to_json
        raise PipelineError(f"{place}: one JSON object of columns, not one object a row; from pandas, "
                            "write to_json(orient='records', lines=True)")
    for column, key in zip(columns, keys):
        if column not in record:
            raise PipelineError(f"{place}: no field {column!r} ({key}); fields: {', '.join(map(shown, record))}")
    return place, tuple(record[c] for c in columns)


def conll_lines(path: Path) -> list[list[tuple[int, list[str]]]]:
    """The sentences of a CoNLL-format file, each a list of (line number, columns)."""
    if not path.is_file():
        raise PipelineError(f"{path}: CoNLL file not found")
    sentences: list[list[tuple[int, list[str]]]] = [[]]
    tabs = None  # whether columns are tab-separated: decided by the first token line
    for line_no, line in enumerate(LINE_END.split(decode(path, path.read_bytes())), start=1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if sentences[-1]:
                sentences.append([])
            continue
        if tabs is None:
            tabs = "\t" in line
        columns = [c.strip() for c in line.split("\t")] if tabs else line.split()
        sentences[-1].append((line_no, columns))
    return [s for s in sentences if s]
