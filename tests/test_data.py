import datasets
import pytest

from stages.lib import data
from stages.lib.config import PipelineError


@pytest.fixture(scope="module")
def rt(raw_dir):
    return data.rotten_tomatoes_from_raw(raw_dir / "rotten_tomatoes")


@pytest.fixture(scope="module")
def conll(raw_dir):
    return data.conll_from_raw(raw_dir / "conll2003")


def test_rotten_tomatoes_split_sizes_and_labels(rt):
    assert {s: len(rt[s]["text"]) for s in data.SPLITS} == data.EXPECTED_ROWS["rotten_tomatoes"]
    # positives first in every split, then the same number of negatives
    assert rt["train"]["label"] == [1] * 4265 + [0] * 4265
    assert rt["validation"]["label"] == [1] * 533 + [0] * 533
    assert rt["test"]["label"] == [1] * 533 + [0] * 533
    data.check_counts("rotten_tomatoes", rt)


def test_rotten_tomatoes_exact_first_and_last_rows(rt):
    # the Hub's rows (cornell-movie-review-data/rotten_tomatoes)
    assert rt["train"]["text"][0].startswith("the rock is destined to be the 21st century's new \" conan \"")
    assert rt["train"]["text"][-1] == ("things really get weird , though not particularly scary : "
                                       "the movie is all portent and no content .")
    assert rt["validation"]["text"][0].startswith("compassionately explores the seemingly irreconcilable")
    assert rt["validation"]["text"][-1] == "the feature-length stretch . . . strains the show's concept ."
    assert rt["test"]["text"][0].startswith("lovingly photographed in the manner of a golden book")
    assert rt["test"]["text"][-1] == "enigma is well-made , but it's just too dry and too placid ."


def test_latin1_0x85_does_not_split_lines(raw_dir):
    lines = data.read_polarity_lines(raw_dir / "rotten_tomatoes" / "rt-polarity.pos")
    assert len(lines) == 5331
    assert any("\x85" in line for line in lines)  # kept inside the sentence, not a line break


def test_unequal_class_files_are_rejected():
    with pytest.raises(PipelineError, match="same count"):
        data.split_polarity(["a", "b"], ["c"])


def test_conll_counts_and_book_sentence(conll):
    assert {s: len(conll[s]["tokens"]) for s in data.SPLITS} == data.EXPECTED_ROWS["conll2003"]
    assert conll["train"]["tokens"][848] == "Dean Palmer hit his 30th homer for the Rangers .".split()
    assert conll["train"]["ner_tags"][848] == [1, 2, 0, 0, 0, 0, 0, 0, 3, 0]
    assert data.NER_TAGS.index("B-ORG") == 3 and data.NER_TAGS.index("I-MISC") == 8


def test_conll_bad_line_names_file_and_line(tmp_path):
    bad = tmp_path / "train.txt"
    bad.write_text("-DOCSTART- -X- -X- O\n\nEU NNP I-NP B-ORG\nrejects VBZ I-VP\n")
    with pytest.raises(PipelineError, match=r"train\.txt:4: expected 4 columns"):
        data.read_conll(bad)
    bad.write_text("EU NNP I-NP B-ORGANISATION\n")
    with pytest.raises(PipelineError, match=r"train\.txt:1: unknown NER tag 'B-ORGANISATION'"):
        data.read_conll(bad)


def test_wrong_row_count_is_an_error(rt):
    short = {**rt, "test": {k: v[:-1] for k, v in rt["test"].items()}}
    with pytest.raises(PipelineError, match="rotten_tomatoes/test: 1065 rows, expected 1066"):
        data.check_counts("rotten_tomatoes", short)


def _as_hub(splits, features):
    """What load_dataset returns for the Hub repos: a DatasetDict with ClassLabel ints."""
    return datasets.DatasetDict({s: datasets.Dataset.from_dict(c, features=features)
                                 for s, c in splits.items()})


def test_hub_and_raw_sources_write_identical_bytes(rt, conll, tmp_path, monkeypatch):
    rt_hub = _as_hub(rt, datasets.Features({"text": datasets.Value("string"),
                                            "label": datasets.ClassLabel(names=list(data.SENTIMENT_LABELS))}))
    conll_hub = _as_hub(conll, datasets.Features({
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(data.NER_TAGS)))}))
    monkeypatch.setattr(data, "_load_hub_dataset",
                        lambda repo_id, revision=None: rt_hub if "rotten" in repo_id else conll_hub)
    for name, raw, hub, schema in [
        ("rt", rt, data.rotten_tomatoes_from_hub("cornell-movie-review-data/rotten_tomatoes"), data.SENTIMENT_SCHEMA),
        ("conll", conll, data.conll_from_hub("eriktks/conll2003", "refs/convert/parquet"), data.NER_SCHEMA),
    ]:
        data.write_splits(raw, schema, tmp_path / name / "raw")
        data.write_splits(hub, schema, tmp_path / name / "hub")
        for split in data.SPLITS:
            assert (tmp_path / name / "raw" / f"{split}.parquet").read_bytes() == \
                   (tmp_path / name / "hub" / f"{split}.parquet").read_bytes()


def test_fewshot_sample_is_seeded_and_balanced(rt):
    a = data.fewshot_sample(rt["train"], 16, seed=42)
    b = data.fewshot_sample(rt["train"], 16, seed=42)
    c = data.fewshot_sample(rt["train"], 16, seed=7)
    assert a == b and a != c
    assert a["label"] == [0] * 16 + [1] * 16
    assert len(set(a["text"])) == 32 and set(a["text"]) <= set(rt["train"]["text"])


def test_fewshot_larger_than_class_is_an_error(rt):
    with pytest.raises(PipelineError, match="fewshot_per_class = 5000 exceeds the 4265"):
        data.fewshot_sample(rt["train"], 5000, seed=1)
