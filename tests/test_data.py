import os
import shutil
import subprocess
import sys

import datasets
import pytest
import yaml

from stages.lib.data import prepared
from stages.lib.data.sources import builtin
from stages.lib.config.params import load_params
from stages.lib.runtime.errors import PipelineError
from tests.conftest import REPO


@pytest.fixture(scope="module")
def rt(raw_dir):
    return builtin.rotten_tomatoes_from_raw(raw_dir / "rotten_tomatoes")


@pytest.fixture(scope="module")
def conll(raw_dir):
    return builtin.conll_from_raw(raw_dir / "conll2003")


def test_rotten_tomatoes_split_sizes_and_labels(rt):
    assert {s: len(rt[s]["text"]) for s in builtin.SPLITS} == builtin.EXPECTED_ROWS["rotten_tomatoes"]
    # positives first in every split, then the same number of negatives
    assert rt["train"]["label"] == [1] * 4265 + [0] * 4265
    assert rt["validation"]["label"] == [1] * 533 + [0] * 533
    assert rt["test"]["label"] == [1] * 533 + [0] * 533
    builtin.check_counts("rotten_tomatoes", rt)


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
    lines = builtin.read_polarity_lines(raw_dir / "rotten_tomatoes" / "rt-polarity.pos")
    assert len(lines) == 5331
    assert any("\x85" in line for line in lines)  # kept inside the sentence, not a line break


def test_unequal_class_files_are_rejected():
    with pytest.raises(PipelineError, match="same count"):
        builtin.split_polarity(["a", "b"], ["c"])


def test_conll_counts_and_book_sentence(conll):
    assert {s: len(conll[s]["tokens"]) for s in builtin.SPLITS} == builtin.EXPECTED_ROWS["conll2003"]
    assert conll["train"]["tokens"][848] == "Dean Palmer hit his 30th homer for the Rangers .".split()
    assert conll["train"]["ner_tags"][848] == [1, 2, 0, 0, 0, 0, 0, 0, 3, 0]
    assert builtin.NER_TAGS.index("B-ORG") == 3 and builtin.NER_TAGS.index("I-MISC") == 8


def test_conll_bad_line_names_file_and_line(tmp_path):
    bad = tmp_path / "train.txt"
    bad.write_text("-DOCSTART- -X- -X- O\n\nEU NNP I-NP B-ORG\nrejects VBZ I-VP\n")
    with pytest.raises(PipelineError, match=r"train\.txt:4: expected 4 columns"):
        builtin.read_conll(bad)
    bad.write_text("EU NNP I-NP B-ORGANISATION\n")
    with pytest.raises(PipelineError, match=r"train\.txt:1: unknown NER tag 'B-ORGANISATION'"):
        builtin.read_conll(bad)


def test_wrong_row_count_is_an_error(rt):
    short = {**rt, "test": {k: v[:-1] for k, v in rt["test"].items()}}
    with pytest.raises(PipelineError, match="rotten_tomatoes/test: 1065 rows, expected 1066"):
        builtin.check_counts("rotten_tomatoes", short)


def _as_hub(splits, features):
    """What load_dataset returns for the Hub repos: a DatasetDict with ClassLabel ints."""
    return datasets.DatasetDict({s: datasets.Dataset.from_dict(c, features=features)
                                 for s, c in splits.items()})


@pytest.mark.parametrize("tag_order", [builtin.NER_TAGS, sorted(builtin.NER_TAGS)])
def test_hub_and_raw_sources_write_identical_bytes(rt, conll, tmp_path, monkeypatch, tag_order):
    """Also when the Hub's ner_tags feature orders its names differently: tags are mapped by name.
    (The real Hub path, through a stand-in Hub server: tests/test_hub_path.py.)"""
    rt_hub = _as_hub(rt, datasets.Features({"text": datasets.Value("string"),
                                            "label": datasets.ClassLabel(names=list(builtin.ROTTEN_TOMATOES_LABELS))}))
    renumber = {i: list(tag_order).index(tag) for i, tag in enumerate(builtin.NER_TAGS)}
    conll_hub = _as_hub({s: {"tokens": c["tokens"], "ner_tags": [[renumber[t] for t in tags] for tags in c["ner_tags"]]}
                         for s, c in conll.items()}, datasets.Features({
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(tag_order)))}))
    monkeypatch.setattr(builtin, "load_hub_dataset",
                        lambda repo_id, revision: (rt_hub if "rotten" in repo_id else conll_hub, "0" * 40))
    for name, raw, (hub, commit), schema in [
        ("rt", rt, builtin.rotten_tomatoes_from_hub(*builtin.HUB["rotten_tomatoes"]), builtin.SENTIMENT_SCHEMA),
        ("conll", conll, builtin.conll_from_hub(*builtin.HUB["conll2003"]), builtin.NER_SCHEMA),
    ]:
        assert commit == "0" * 40
        builtin.write_splits(raw, schema, tmp_path / name / "raw")
        builtin.write_splits(hub, schema, tmp_path / name / "hub")
        for split in builtin.SPLITS:
            assert (tmp_path / name / "raw" / f"{split}.parquet").read_bytes() == \
                   (tmp_path / name / "hub" / f"{split}.parquet").read_bytes()


# ---- bad raw input ----------------------------------------------------------------------------

LATIN1 = "Latin-1 text, one sentence a line"


@pytest.mark.parametrize("name, read, content, message", [
    ("rt-polarity.pos", builtin.read_polarity_lines, b"\xef\xbb\xbfa fine film .\n",
     r"rt-polarity\.pos:1: starts with a UTF-8 byte-order mark; accepted: " + LATIN1),
    ("rt-polarity.pos", builtin.read_polarity_lines, "a fine film .\n".encode("utf-16"),
     r"rt-polarity\.pos:1: starts with a UTF-16 byte-order mark"),
    ("rt-polarity.pos", builtin.read_polarity_lines, "a fine film .\n".encode("utf-16-le"),
     r"rt-polarity\.pos:1: NUL byte \(UTF-16 or binary data\?\)"),
    ("rt-polarity.pos", builtin.read_polarity_lines, b"one .\ntwo .\nthr\x00ee .\n", r"rt-polarity\.pos:3: NUL byte"),
    ("rt-polarity.pos", builtin.read_polarity_lines, "one .\ntwo .\ncaf\xe9 \x85 ol\xe9 .\n".encode("utf-8"),
     r"rt-polarity\.pos:3: the file is UTF-8 encoded"),
    ("train.txt", builtin.read_conll, b"EU NNP I-NP B-ORG\n\nK\xf6ln NNP I-NP B-LOC\n",
     r"train\.txt:3: not valid UTF-8 \(byte 0xf6 at column 2\); accepted: UTF-8 text"),
    ("train.txt", builtin.read_conll, b"\xef\xbb\xbf-DOCSTART- -X- -X- O\n",
     r"train\.txt:1: starts with a UTF-8 byte-order mark"),
    ("train.txt", builtin.read_conll, "EU NNP I-NP B-ORG\n".encode("utf-16"),
     r"train\.txt:1: starts with a UTF-16 byte-order mark"),
    ("train.txt", builtin.read_conll, "EU NNP I-NP B-ORG\n".encode("utf-16-le"), r"train\.txt:1: NUL byte"),
])
def test_a_raw_file_in_another_encoding_names_file_and_line(tmp_path, name, read, content, message):
    """rt-polarity files must be Latin-1, CoNLL files UTF-8."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PipelineError, match=message):
        read(path)


def test_latin1_text_with_accents_and_0x85_is_accepted(tmp_path):
    path = tmp_path / "rt-polarity.pos"
    path.write_bytes(b"a caf\xe9 \x85 ol\xe9 .\r\nplain .\n")  # the same text as UTF-8 is rejected above
    assert builtin.read_polarity_lines(path) == ["a caf\xe9 \x85 ol\xe9 .", "plain ."]


@pytest.mark.parametrize("content", [b"", b"\n \n"])
def test_an_empty_sentiment_file_is_an_error(tmp_path, content):
    path = tmp_path / "rt-polarity.neg"
    path.write_bytes(content)
    with pytest.raises(PipelineError, match=r"rt-polarity\.neg: empty, no sentence in it; .*5,331 lines"):
        builtin.read_polarity_lines(path)


def test_sentiment_files_with_the_wrong_number_of_lines_are_named(tmp_path):
    (tmp_path / "rt-polarity.pos").write_text("good .\n" * 2)
    (tmp_path / "rt-polarity.neg").write_text("bad .\n" * 3)
    with pytest.raises(PipelineError) as e:
        builtin.rotten_tomatoes_from_raw(tmp_path)
    assert str(e.value) == (f"{tmp_path / 'rt-polarity.pos'}: 2 lines; {tmp_path / 'rt-polarity.neg'}: 3 lines; "
                            "expected 5,331 lines in each of rt-polarity.pos and rt-polarity.neg "
                            "(the split sizes depend on it)")


@pytest.mark.parametrize("content", ["", "-DOCSTART- -X- -X- O\n\n\n"])
def test_a_conll_file_without_sentences_is_an_error(tmp_path, content):
    path = tmp_path / "dev.txt"
    path.write_text(content)
    with pytest.raises(PipelineError, match=r"dev\.txt: no sentences; accepted: `token POS chunk NER`"):
        builtin.read_conll(path)


IOB1 = """-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP B-PER
Blackburn NNP I-NP I-LOC
"""


def test_iob1_tags_are_rejected_with_count_and_first_line(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(IOB1)
    with pytest.raises(PipelineError) as e:
        builtin.read_conll(path)
    assert str(e.value) == (f"{path}:3: I-ORG starts a sentence (IOB1-style tagging); 3 such tag(s) in "
                            "this file; accepted: IOB2, where every entity starts with B-; convert to IOB2 first")
    path.write_text(IOB1.replace("I-ORG", "B-ORG"))
    with pytest.raises(PipelineError, match=r"train\.txt:5: I-MISC follows O \(IOB1-style tagging\); 2 such"):
        builtin.read_conll(path)
    path.write_text(IOB1.replace("I-ORG", "B-ORG").replace("I-MISC", "B-MISC"))
    with pytest.raises(PipelineError, match=r"train\.txt:9: I-LOC follows B-PER \(IOB1-style tagging\); 1 such"):
        builtin.read_conll(path)
    path.write_text(IOB1.replace("I-ORG", "B-ORG").replace("I-MISC", "B-MISC").replace("I-LOC", "I-PER"))
    assert builtin.tag_ids({"train": builtin.read_conll(path)}, builtin.NER_TAGS)["train"]["ner_tags"] == [[3, 0, 7, 0], [1, 2]]


def test_the_real_conll_files_are_iob2(conll):
    # read_conll rejects IOB1 (the conll fixture would fail); check the rule independently here
    for split in builtin.SPLITS:
        for tags in conll[split]["ner_tags"]:
            names = ["O"] + [builtin.NER_TAGS[t] for t in tags]
            assert all(b[2:] == a[2:] for a, b in zip(names, names[1:]) if b.startswith("I-"))


def test_a_hub_dataset_without_a_split_is_an_error(monkeypatch):
    import huggingface_hub

    only_train = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"], "label": [1]})})
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info",
                        lambda self, repo_id, revision: type("Info", (), {"sha": "1" * 40}))
    monkeypatch.setattr(datasets, "load_dataset", lambda repo_id, revision: only_train)
    with pytest.raises(PipelineError, match="'some/repo': no validation, test split; it has train; "
                                            "expected train, validation, test"):
        builtin.rotten_tomatoes_from_hub("some/repo", "main")


def test_hub_labels_are_matched_by_name_and_other_names_are_an_error():
    feature = datasets.ClassLabel(names=["pos", "neg"])
    assert builtin._label_map(feature, builtin.ROTTEN_TOMATOES_LABELS, "x") == {0: 1, 1: 0}
    with pytest.raises(PipelineError, match=r"dataset r@abc: ner_tags: label names \['O', 'B-PERSON'\]"):
        builtin._label_map(datasets.ClassLabel(names=["O", "B-PERSON"]), builtin.NER_TAGS, "r@abc: ner_tags")
    with pytest.raises(PipelineError, match="label names None"):
        builtin._label_map(datasets.Value("int64"), builtin.ROTTEN_TOMATOES_LABELS, "x")


def test_a_missing_prepared_split_says_to_run_prepare(tmp_path):
    with pytest.raises(PipelineError, match=r"conll2003/train\.parquet not found: the data is not prepared "
                                            r"yet; run `dvc repro prepare`"):
        prepared.read_split(tmp_path / "conll2003", "train")


@pytest.mark.parametrize("stage", ["ner", "mlm_pretrain"])
def test_stages_stop_before_loading_a_model_without_prepared_data(stage, tmp_path, monkeypatch, capsys):
    import importlib

    from stages.lib.models import loading

    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(loading, "resolve_model", lambda *a, **k: pytest.fail("loaded a model first"))
    with pytest.raises(SystemExit) as e:
        importlib.import_module(f"stages.{stage}").main()
    assert e.value.code == 2
    record = "ner" if stage == "ner" else "classification"
    assert f"error: data/prepared/{record}/dataset.json not found: the data is not prepared yet" in capsys.readouterr().err


# ---- the prepare stage on bad raw files: exit 2, one line, nothing written ----------------------

def bad_raw_dir(tmp_path, raw_dir, bad: dict[str, bytes]):
    """A raw folder in tmp_path: the `bad` files written small, every other file a symlink to the
    original (read-only, never written through)."""
    folder = tmp_path / "raw"
    for name in ("rotten_tomatoes/rt-polarity.pos", "rotten_tomatoes/rt-polarity.neg",
                 "conll2003/train.txt", "conll2003/dev.txt", "conll2003/test.txt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if name in bad:
            (folder / name).write_bytes(bad[name])
        else:
            (folder / name).symlink_to(raw_dir / name)
    return folder


@pytest.mark.parametrize("bad, message", [
    ({"rotten_tomatoes/rt-polarity.pos": b"\xef\xbb\xbfa fine film .\n"},
     "rt-polarity.pos:1: starts with a UTF-8 byte-order mark"),
    ({"rotten_tomatoes/rt-polarity.neg": b""}, "rt-polarity.neg: empty, no sentence in it"),
    ({"rotten_tomatoes/rt-polarity.neg": b"bad .\n" * 3}, "rt-polarity.neg: 3 lines; expected 5,331 lines"),
    ({"conll2003/train.txt": b"EU NNP I-NP B-ORG\n\nK\xf6ln NNP I-NP B-LOC\n"}, "train.txt:3: not valid UTF-8"),
    ({"conll2003/train.txt": IOB1.encode()}, "train.txt:3: I-ORG starts a sentence (IOB1-style tagging); 3 such"),
    ({"conll2003/dev.txt": b"-DOCSTART- -X- -X- O\n\n"}, "dev.txt: no sentences"),
])
def test_prepare_stops_with_exit_2_and_writes_nothing(tmp_path, raw_dir, bad, message):
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    cfg = {**load_params(REPO / "params.yaml")["data"], "source": "raw",
           "raw_dir": str(bad_raw_dir(tmp_path, raw_dir, bad))}
    (repo / "params.yaml").write_text(yaml.safe_dump({"data": cfg}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "stages.prepare"], cwd=repo, capture_output=True, text=True,
                          env={**env, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path / 'raw'}/") and message in line
    assert not (repo / "data").exists()


def test_subset_is_seeded_and_mixes_classes():
    ds = datasets.Dataset.from_dict({"text": [str(i) for i in range(100)], "label": [1] * 50 + [0] * 50})
    a, b = prepared.subset(ds, 20, seed=1), prepared.subset(ds, 20, seed=1)
    assert a["text"] == b["text"] and len(a) == 20 and set(a["label"]) == {0, 1}
    assert prepared.subset(ds, None, seed=1) is ds
