"""Your own data (stages.lib.data.sources.own_data): local files and Hub datasets in place of Rotten Tomatoes and
CoNLL-2003, every bad input as one line naming the file, line and column, and the prepare stage
writing nothing when one is bad."""
import json
import os
import re
import subprocess
import sys

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from stages.lib.data import prepared
from stages.lib.data.sources import builtin
from stages.lib.data.sources import own_data
from stages.lib.data.sources import own_ner as ner_data  # own_ner below: the params helper
from stages.lib.data.sources.text_files import TEXT
from stages.lib.config import settings
from stages.lib.config.params import load_params
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.datasets import OwnClassification, OwnNer
from tests.conftest import REPO, copy_repo, offline_env

PARAMS = load_params(REPO / "params.yaml")["data"]
TICKETS = [("the app crashes when I log in", "bug"), ("please add a dark mode", "feature"),
           ("how do I export my data?", "question"), ("login button does nothing", "bug"),
           ("support for CSV import would be great", "feature"), ("where is the settings page?", "question")]


def own(**keys) -> OwnClassification:
    """data.classification: {<keys>} as the stages read it (keys left out at their defaults)."""
    return settings.data({"data": {**PARAMS, "classification": keys}}).classification


def own_ner(**keys) -> OwnNer:
    return settings.data({"data": {**PARAMS, "ner": keys}}).ner


def write_csv(path, rows, header="text,label"):
    path.write_text(header + "\n" + "".join(f'"{t}",{label}\n' for t, label in rows))
    return path


def tickets(n=60):
    return [TICKETS[i % len(TICKETS)] for i in range(n)]


# ---- sentence classification: what is read ---------------------------------------------------

def test_one_csv_file_is_split_by_the_seeded_rule_with_names_sorted(tmp_path):
    path = write_csv(tmp_path / "tickets.csv", tickets())
    splits, names = own_data.classification_from_local(path, own(dataset=str(path)))
    assert names == ["bug", "feature", "question"]
    assert {s: len(c["text"]) for s, c in splits.items()} == {"train": 48, "validation": 6, "test": 6}
    assert sorted(t for c in splits.values() for t in c["text"]) == sorted(t for t, _ in tickets())
    for columns in splits.values():
        assert all(names[label] == dict(TICKETS)[text] for text, label in zip(columns["text"], columns["label"]))
    again, _ = own_data.classification_from_local(path, own(dataset=str(path)))
    other, _ = own_data.classification_from_local(path, own(dataset=str(path), split_seed=7))
    assert again == splits and other["test"] != splits["test"]


def test_a_folder_of_split_files_in_any_format_and_declared_names(tmp_path):
    rows = tickets(12)
    (tmp_path / "train.jsonl").write_text("".join(json.dumps({"body": t, "kind": k}) + "\n" for t, k in rows))
    write_csv(tmp_path / "dev.csv", rows[:6], header="body,kind")
    pq.write_table(pa.table({"body": [t for t, _ in rows[:6]], "kind": [k for _, k in rows[:6]]}),
                   tmp_path / "test.parquet")
    cfg = own(dataset=str(tmp_path), text_column="body", label_column="kind", labels=["question", "bug", "feature"])
    splits, names = own_data.classification_from_local(tmp_path, cfg)
    assert names == ["question", "bug", "feature"]  # declared order is id order
    assert splits["train"]["label"][:3] == [1, 2, 0] and len(splits["validation"]["text"]) == 6


def test_integer_labels_are_ids_into_declared_names_or_named_by_value(tmp_path):
    path = tmp_path / "stars.jsonl"
    path.write_text("".join(json.dumps({"text": f"review {i}", "label": i % 3 + 1}) + "\n" for i in range(30)))
    _, names = own_data.classification_from_local(path, own(dataset=str(path)))
    assert names == ["1", "2", "3"]
    with pytest.raises(PipelineError, match=r"stars\.jsonl:\d+: label 3 is not one of params\.yaml: "
                                            r"data\.classification\.labels: ids 0\.\.2 or names low, mid, high"):
        own_data.classification_from_local(path, own(dataset=str(path), labels=["low", "mid", "high"]))


def test_parquet_files_written_by_datasets_keep_their_class_names(tmp_path):
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["pos", "neg", "mixed"])})
    for split in ("train", "validation", "test"):
        datasets.Dataset.from_dict({"text": [f"{split} {i}" for i in range(6)], "label": [0, 1, 2, 0, 1, 2]},
                                   features=features).to_parquet(tmp_path / f"{split}.parquet")
    splits, names = own_data.classification_from_local(tmp_path, own(dataset=str(tmp_path)))
    assert names == ["pos", "neg", "mixed"] and splits["test"]["label"] == [0, 1, 2, 0, 1, 2]  # ids kept, named
    pq.write_table(pa.table({"text": ["a", "b", "c"], "label": [0, 1, 2]}), tmp_path / "test.parquet")
    with pytest.raises(PipelineError, match=r"the files name their classes differently: .*train\.parquet: pos, neg, "
                                            r"mixed; .*test\.parquet: no names; set params\.yaml: data\.classification\.labels"):
        own_data.classification_from_local(tmp_path, own(dataset=str(tmp_path)))


def test_a_hub_dataset_with_class_names(monkeypatch):
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "y": datasets.ClassLabel(names=["sad", "happy", "angry"])})
    split = datasets.Dataset.from_dict({"sentence": ["a", "b", "c", "d"], "y": [0, 1, 2, 1]}, features=features)
    hub = datasets.DatasetDict({s: split for s in builtin.SPLITS})
    monkeypatch.setattr(builtin, "load_hub_dataset", lambda repo, revision, hint: (hub, "c" * 40))
    splits, names, commit = own_data.classification_from_hub(own(dataset="me/moods", text_column="sentence",
                                                                 label_column="y"))
    assert names == ["sad", "happy", "angry"] and splits["test"]["label"] == [0, 1, 2, 1] and commit == "c" * 40
    with pytest.raises(PipelineError, match=r"dataset me/moods at main \(commit c{40}\): no column 'text' \(params\.yaml: "
                                            r"data\.classification\.text_column\); columns: sentence, y"):
        own_data.classification_from_hub(own(dataset="me/moods", label_column="y"))


# ---- sentence classification: every bad input is one line ------------------------------------

BAD = [
    ("a.csv", b"body,label\nfine,bug\n", r"a\.csv: no column 'text' \(data\.classification\.text_column\); "
                                         r"columns: body, label"),
    ("a.csv", b"text,label\nfine,bug\n  ,feature\nok,bug\n", r"a\.csv:3: empty text"),
    ("a.csv", b"text,label\nfine,bug\nfine,3\n", r"mixed label types: .*a\.csv:3: '3' is an integer, .*a\.csv:2: "
                                                r"'bug' is not"),
    ("a.jsonl", b'{"text": "x", "label": "bug"}\n{"text": "y", "label": 1}\n', r"mixed label types: .*a\.jsonl:2"),
    ("a.jsonl", b'{"text": "x", "label": 0.5}\n', r"a\.jsonl:1: label 0\.5 is a float"),
    ("a.csv", b"text,label\ncaf\xe9,bug\n", r"a\.csv:2: not valid UTF-8 \(byte 0xe9 at column 4\)"),
    ("a.csv", b"text,label\nfine,bug,extra\n", r"a\.csv:2: 3 fields, the header has 2"),
    ("a.jsonl", b'{"text": "x", "label": "bug"}\n{"text": "y"\n', r"a\.jsonl:2: not valid JSON"),
    ("a.jsonl", b'{"text": "x", "label": "bug"}\n["y", "bug"]\n', r"a\.jsonl:2: a JSON list, not an object"),
    ("a.jsonl", b'{"text": "x", "kind": "bug"}\n', r"a\.jsonl:1: no field 'label' \(data\.classification\."
                                                  r"label_column\); fields: text, kind"),
    ("a.parquet", b"PAR1 not really", r"a\.parquet: not a readable parquet file"),
    ("a.txt", b"text\tlabel\n", r"a\.txt: unknown file type '\.txt'; accepted: \.csv, \.tsv, \.jsonl, \.json, \.parquet"),
    ("a.csv", b"text,label\n", r"a\.csv: no rows"),
]


@pytest.mark.parametrize("name, content, message", BAD, ids=[m[:30] for _, _, m in BAD])
def test_bad_files_name_the_file_line_and_column(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(PipelineError, match=message):
        own_data.classification_from_local(tmp_path / name, own(dataset=str(tmp_path / name), split=[0.4, 0.3, 0.3]))


def test_a_label_outside_the_declared_names_and_a_split_with_one_class(tmp_path):
    path = write_csv(tmp_path / "t.csv", tickets(12))
    with pytest.raises(PipelineError, match=r"t\.csv:4: label 'question' is not one of params\.yaml: "
                                            r"data\.classification\.labels: bug, feature$"):
        own_data.classification_from_local(path, own(dataset=str(path), labels=["bug", "feature"]))
    for split in ("train", "dev", "test"):
        write_csv(tmp_path / f"{split}.csv", tickets(6) if split != "dev" else [TICKETS[0], TICKETS[3]])
    with pytest.raises(PipelineError, match=r"the validation split \(.*dev\.csv\) holds one class only \('bug', 2 rows\); "
                                            "every split needs two or more"):
        own_data.classification_from_local(tmp_path, own(dataset=str(tmp_path)))


def test_a_missing_split_file_or_path_is_named(tmp_path):
    write_csv(tmp_path / "train.csv", tickets(6))
    with pytest.raises(PipelineError, match=r"no validation file \(validation\.csv or validation\.tsv or validation\.jsonl"):
        own_data.split_files(tmp_path)
    with pytest.raises(PipelineError, match=r"params\.yaml: data\.classification\.dataset = 'mine\.csv': "
                                            "no such file or folder"):
        own_data.is_local("mine.csv", "data.classification.dataset")
    assert not own_data.is_local("someone/their-dataset", "data.classification.dataset")


# ---- NER -------------------------------------------------------------------------------------

def conll_folder(tmp_path, sentences: str, splits=("train.txt", "dev.txt", "test.txt")):
    for name in splits:
        (tmp_path / name).write_text(sentences)
    return tmp_path


RECIPES = """flour B-ING 0
sugar B-ING 1
for O 2
ten B-QTY 3
minutes I-QTY 4

stir O 0
the O 1
dough B-ING 2
"""


def test_a_conll_folder_with_its_own_tags_and_tag_column(tmp_path):
    splits, tags = ner_data.ner_from_local(conll_folder(tmp_path, RECIPES), tag_column=1)
    assert tags == ("O", "B-ING", "I-ING", "B-QTY", "I-QTY")  # B-X odd, I-X = B-X + 1 (ner.align_labels)
    assert splits["test"]["tokens"][0] == ["flour", "sugar", "for", "ten", "minutes"]
    assert splits["test"]["ner_tags"] == [[1, 1, 0, 3, 4], [0, 0, 1]]
    with pytest.raises(PipelineError, match=r"train\.txt:1: tag '0' \(column -1\) is not IOB2; accepted: O, "
                                            r"B-<type>, I-<type>"):
        ner_data.ner_from_local(tmp_path, tag_column=-1)
    with pytest.raises(PipelineError, match=r"train\.txt:1: 3 column\(s\), so no tag column data\.ner\.tag_column = 3"):
        ner_data.ner_from_local(tmp_path, tag_column=3)


def test_bad_conll_folders_are_one_line(tmp_path):
    conll_folder(tmp_path, RECIPES.replace("minutes I-QTY 4", "minutes I-QTY"))
    with pytest.raises(PipelineError, match=r"train\.txt:5: expected 3 columns \(as line 1\), found 2"):
        ner_data.ner_from_local(tmp_path, tag_column=1)
    conll_folder(tmp_path, RECIPES.replace("ten B-QTY", "ten I-QTY"))
    with pytest.raises(PipelineError, match=r"train\.txt:4: I-QTY follows O \(IOB1-style tagging\)"):
        ner_data.ner_from_local(tmp_path, tag_column=1)
    conll_folder(tmp_path, "a O\nb O\n")
    with pytest.raises(PipelineError, match="no entity in any split"):
        ner_data.ner_from_local(tmp_path, tag_column=1)
    (tmp_path / "dev.txt").unlink()
    with pytest.raises(PipelineError, match=r"dev\.txt: CoNLL file not found"):
        ner_data.ner_from_local(tmp_path, tag_column=1)


def test_a_hub_ner_dataset_is_mapped_onto_the_canonical_tag_order(monkeypatch):
    names = ["B-LOC", "O", "I-LOC", "B-ANIMAL"]
    features = datasets.Features({"words": datasets.Sequence(datasets.Value("string")),
                                  "tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    split = datasets.Dataset.from_dict({"words": [["a", "cat", "in", "New", "York"]], "tags": [[1, 3, 1, 0, 2]]},
                                       features=features)
    monkeypatch.setattr(builtin, "load_hub_dataset",
                        lambda repo, revision, hint: (datasets.DatasetDict({s: split for s in builtin.SPLITS}), "d" * 40))
    splits, tags, _ = ner_data.ner_from_hub(own_ner(dataset="me/zoo", tokens_column="words", tags_column="tags"))
    assert tags == ("O", "B-ANIMAL", "I-ANIMAL", "B-LOC", "I-LOC")
    assert splits["train"]["ner_tags"] == [[0, 1, 0, 3, 4]]


def test_a_hub_dataset_whose_label_column_holds_no_classes_names_its_columns(monkeypatch):
    split = datasets.Dataset.from_dict({"sentence": ["a", "b"], "y": [0.25, 0.75]})
    monkeypatch.setattr(builtin, "load_hub_dataset",
                        lambda repo, revision, hint: (datasets.DatasetDict({s: split for s in builtin.SPLITS}), "e" * 40))
    with pytest.raises(PipelineError, match=(
            r"^dataset me/scores at main \(commit e{40}\): column 'y' \(params\.yaml: data\.classification\.label_column\) "
            r"is not a class label, an integer or a string; columns: sentence \(string\), y \(float64\)$")):
        own_data.classification_from_hub(own(dataset="me/scores", text_column="sentence", label_column="y"))


def test_a_hub_ner_dataset_whose_tags_are_not_class_labels_names_its_columns(monkeypatch):
    split = datasets.Dataset.from_dict({"words": [["a", "cat"]], "tags": [["O", "B-ANIMAL"]]})
    monkeypatch.setattr(builtin, "load_hub_dataset",
                        lambda repo, revision, hint: (datasets.DatasetDict({s: split for s in builtin.SPLITS}), "d" * 40))
    with pytest.raises(PipelineError, match=(
            r"^dataset me/zoo at v2 \(commit d{40}\): column 'tags' \(params\.yaml: data\.ner\.tags_column\) is "
            r"(Sequence|List), not a sequence of ClassLabel tags; columns: words \(\w+\), tags \(\w+\)$")):
        ner_data.ner_from_hub(own_ner(dataset="me/zoo", revision="v2", tokens_column="words", tags_column="tags"))


# ---- the prepare stage ------------------------------------------------------------------------

def prepare(repo, **data_params):
    cfg = {**PARAMS, **data_params}
    (repo / "params.yaml").write_text(yaml.safe_dump({"data": cfg}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "stages.prepare"], cwd=repo, capture_output=True, text=True,
                          env={**env, "HF_HUB_OFFLINE": "1"})


def written(repo) -> list[str]:
    """What prepare wrote (DVC's .gitignore, a tracked file, aside)."""
    folder = repo / "data/prepared"
    return [p.name for p in folder.iterdir() if p.name != ".gitignore"] if folder.is_dir() else []


def test_prepare_writes_your_data_and_its_names(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    csv = write_csv(tmp_path / "tickets.csv", tickets(120))
    (tmp_path / "recipes").mkdir()
    recipes = conll_folder(tmp_path / "recipes", RECIPES)
    proc = prepare(repo, classification=str(csv), ner={"dataset": str(recipes), "tag_column": 1})
    assert proc.returncode == 0, proc.stderr
    described = {task: json.loads((repo / f"data/prepared/{task}/dataset.json").read_text())
                 for task in ("classification", "ner")}
    assert described["classification"] == builtin.describe("tickets", str(csv), False, ["bug", "feature", "question"],
                                                        False)
    assert described["ner"]["labels"] == ["O", "B-ING", "I-ING", "B-QTY", "I-QTY"]
    sources = json.loads((repo / "data/prepared/sources.json").read_text())
    assert sources["classification"]["source"] == "local" and set(sources["ner"]["md5"]) == {"dev.txt", "test.txt",
                                                                                             "train.txt"}
    assert "classification (tickets, 3 classes): train 96, validation 12, test 12" in proc.stdout


def test_a_class_too_small_for_the_fewshot_sample_is_named_by_setfit(tmp_path, raw_dir):
    repo = copy_repo(tmp_path / "repo")
    csv = write_csv(tmp_path / "tickets.csv", tickets(60))  # 20 of each class: about 16 in train
    assert prepare(repo, classification=str(csv), raw_dir=str(raw_dir)).returncode == 0
    params = load_params(REPO / "params.yaml")
    params["data"] = {**PARAMS, "classification": str(csv), "raw_dir": str(raw_dir)}
    params["setfit"] = {**params["setfit"], "samples_per_class": [8, 18], "main_samples_per_class": 8}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "stages.setfit"], cwd=repo, capture_output=True, text=True,
                          env={**env, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.fullmatch(r"error: params\.yaml: setfit\.samples_per_class: 18 exceeds the \d+ training examples of "
                        r"class \w+; accepted: positive integers up to \d+", proc.stderr.splitlines()[-1]), proc.stderr
    assert not (repo / "metrics/setfit.json").exists() and not (repo / "data/models/setfit").exists()  # nothing written


def test_prepare_with_a_bad_file_exits_2_and_writes_nothing(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\nfine,bug\n\xff,feature\n")
    proc = prepare(repo, classification=str(bad))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: {bad}:3: not valid UTF-8 (byte 0xff at column 1); accepted: {TEXT}"]
    assert not written(repo)
    proc = prepare(repo, classification={"dataset": str(bad), "split": [0.5, 0.6, 0.1]})
    assert proc.returncode == 2 and "data.classification.split" in proc.stderr and not written(repo)
    for value, message in ((5, "data.classification = 5 is invalid"),
                           ({"text_column": "body"}, "data.classification.dataset is missing"),
                           (str(tmp_path / "mine.csv"), "data.classification.dataset = '.*mine.csv': no such file")):
        proc = prepare(repo, classification=value)
        assert proc.returncode == 2 and not written(repo)
        [line] = proc.stderr.splitlines()
        assert re.match(f"error: params.yaml: {message}", line), line


def test_prepare_reads_your_data_beside_the_built_in_dataset(tmp_path, raw_dir):
    """data.classification: {dataset: ...} alone, data.ner: conll2003 (the built-in, from the raw files)."""
    repo = copy_repo(tmp_path / "repo")
    csv = write_csv(tmp_path / "tickets.csv", tickets(120))
    proc = prepare(repo, classification={"dataset": str(csv)}, ner="conll2003", raw_dir=str(raw_dir))
    assert proc.returncode == 0, proc.stderr
    described = {task: json.loads((repo / f"data/prepared/{task}/dataset.json").read_text())
                 for task in ("classification", "ner")}
    assert described["classification"]["labels"] == ["bug", "feature", "question"]
    assert described["ner"] == builtin.describe("CoNLL-2003", builtin.HUB["conll2003"][0], True, builtin.NER_TAGS, True)
    sources = json.loads((repo / "data/prepared/sources.json").read_text())
    assert (sources["classification"]["source"], sources["ner"]["source"], sources["ner"]["dataset"]) == \
        ("local", "raw", "conll2003")


# ---- end to end: the README's commands on a three-class CSV and a CoNLL folder ------------------

def test_your_own_data_through_dvc_and_predict(tmp_path):
    """`dvc exp run -S` with the dataset params, as docs/own-data.md shows it, on the smoke profile:
    prepare, fine-tune@full and ner on the user's data, then predict with the trained model."""
    repo = copy_repo(tmp_path / "repo")
    write_csv(repo / "tickets.csv", tickets(240))
    (repo / "recipes").mkdir()
    conll_folder(repo / "recipes", RECIPES * 20)
    env = offline_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
                      GIT_COMMITTER_EMAIL="t@example.com")

    def sh(*cmd, input=None):
        proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, input=input)
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    sh("git", "init", "-q", "-b", "main")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "own data")
    sh("dvc", "exp", "run", "-S", "profile=smoke", "-S", "data.classification=tickets.csv",
       "-S", "data.ner={dataset: recipes, tag_column: 1}", "fine-tune@full", "setfit", "ner")

    m = json.loads((repo / "metrics/fine_tune/full.json").read_text())
    assert m["classes"] == 3 and {"test_f1_bug", "test_f1_feature", "test_f1_question"} <= set(m)
    assert m["test_f1"] == pytest.approx((m["test_f1_bug"] + m["test_f1_feature"] + m["test_f1_question"]) / 3)
    assert m["test_f1_ci95"][0] <= m["test_f1"] <= m["test_f1_ci95"][1]
    config = json.loads((repo / "data/models/fine_tune/full/config.json").read_text())
    assert config["id2label"] == {"0": "bug", "1": "feature", "2": "question"}
    card = (repo / "data/models/fine_tune/full/README.md").read_text()
    assert "macro-F1 over the 3 classes" in card and "tickets (`tickets.csv`, local)" in card
    setfit = json.loads((repo / "metrics/setfit.json").read_text())
    assert {"test_f1_bug", "test_f1_feature", "test_f1_question"} <= set(setfit)
    ner = json.loads((repo / "metrics/ner.json").read_text())
    assert {"test_f1_ING", "test_f1_QTY"} <= set(ner) and "test_f1_PER" not in ner
    out = sh("python", "-m", "tools.predict", "--task", "sentiment", input="the app crashes\nadd dark mode\n")
    assert [set(json.loads(line)["scores"]) for line in out.splitlines()] == [{"bug", "feature", "question"}] * 2
