"""The shape of params.yaml's data section: the built-in datasets, or the user's own (a file, a folder
or a Hub id) with their columns and labels. One pydantic model per part, as in
stages.lib.config.schema."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from stages.lib.config.schema import Section, Seed, _distinct, accepts


def _fractions(values: list[float]) -> list[float]:
    if abs(sum(values) - 1) > 1e-9:
        raise ValueError("shares that sum to 1")
    return values


Revision = Annotated[str, accepts("a branch, tag or commit", min_length=1)]
Column = Annotated[str, accepts("a column name", min_length=1)]

# data.<task>: the name of the built-in dataset (stages.lib.data.builtin), or the user's own data: a
# string is short for {dataset: <it>}, a mapping sets the Own* keys (those left out take their defaults)
BUILTIN = {"classification": "rotten_tomatoes", "ner": "conll2003"}


def _not_the_builtin(task: str) -> AfterValidator:
    """An own dataset named like the built-in one would read as a Hub id or a file: say which is which."""
    def check(value: str) -> str:
        if value == BUILTIN[task]:
            raise PydanticCustomError("rule", f"= {value!r} is the built-in dataset; accepted: data.{task}: "
                                              f"{value} (the built-in), or ./{value} for a local file or folder")
        return value
    return AfterValidator(check)


class OwnClassification(Section):
    """A sentence-classification dataset of the user's in place of Rotten Tomatoes (stages.lib.data.own_data)."""
    dataset: Annotated[str, accepts("a Hub dataset id, a .csv/.jsonl/.parquet file or a folder of "
                                    "train/validation/test files", min_length=1), _not_the_builtin("classification")]
    revision: Revision = "main"
    text_column: Column = "text"
    label_column: Column = "label"
    labels: Annotated[list[Annotated[str, Field(min_length=1)]] | None, Field(min_length=2),
                      AfterValidator(lambda v: v and _distinct(v)),
                      accepts("empty (from the data), or a list of two or more distinct class names")] = None
    split: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=3, max_length=3),
                     AfterValidator(_fractions),
                     accepts("three positive shares summing to 1, e.g. [0.8, 0.1, 0.1]")] = [0.8, 0.1, 0.1]
    split_seed: Seed = 42


class OwnNer(Section):
    """A named-entity dataset of the user's in place of CoNLL-2003 (stages.lib.data.own_ner)."""
    dataset: Annotated[str, accepts("a folder of CoNLL-format train.txt, dev.txt and test.txt, or a Hub "
                                    "dataset id", min_length=1), _not_the_builtin("ner")]
    revision: Revision = "main"
    tag_column: Annotated[int, accepts("an integer: the CoNLL column of the tags, 1 = the second, "
                                       "-1 = the last")] = -1
    tokens_column: Column = "tokens"
    tags_column: Column = "ner_tags"

    @field_validator("tag_column")
    @classmethod
    def _not_the_token(cls, value: int) -> int:
        if value == 0:
            raise PydanticCustomError("rule", "= 0 is the token column; accepted: 1, 2, ... or -1 (the last)")
        return value


def _builtin_or_own(task: str, own: type[Section]) -> Any:
    return accepts(f"{BUILTIN[task]} (the built-in), your own data's path or Hub id, or a mapping with keys "
                   f"{', '.join(own.model_fields)} (dataset required)")


class Data(Section):
    """classification and ner: None for the built-in dataset (BUILTIN), else the user's own."""
    source: Annotated[Literal["auto", "raw", "hub"], accepts("auto | raw | hub")]
    raw_dir: Annotated[str | None, accepts("a folder with rotten_tomatoes/ and conll2003/, or null (none)")]
    classification: Annotated[OwnClassification | None, _builtin_or_own("classification", OwnClassification)]
    ner: Annotated[OwnNer | None, _builtin_or_own("ner", OwnNer)]

    @field_validator("classification", "ner", mode="before")
    @classmethod
    def _shorthand(cls, value: Any, info: ValidationInfo) -> Any:
        """The built-in's name as None, another string as {dataset: <it>}; null or '' is refused here, so
        that the error names data.<task> as written."""
        if value == BUILTIN[info.field_name]:
            return None
        if value is None or value == "":
            raise PydanticCustomError("invalid", "invalid")
        return {"dataset": value} if isinstance(value, str) else value
