"""params.yaml through the typed settings layer: every bad value is one line naming its param path,
every profile of the repository's conf/ validates, and runs/sweeps apply their overrides."""
import copy

import pytest

from stages.lib.runtime import precision
from stages.lib.config import datasets, schema, settings
from stages.lib.config.params import load_params
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.schema import FreezeSpec
from tests.conftest import REPO, composed

HP = {"learning_rate": 2e-5, "batch_size": 16, "epochs": 1, "weight_decay": 0.01, "seed": 42,
      "precision": "fp32", "group_by_length": False, "max_train_samples": None, "max_eval_samples": None,
      "logging_steps": 50}
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SETFIT = {"num_epochs": 1, "num_iterations": 2, "batch_size": 16, "seeds": [42],
          "samples_per_class": [4, 8], "main_samples_per_class": 8, "sample_seed": 42, "max_eval_samples": 64,
          "precision": "fp32",
          "length_buckets": False, "unique_sentences": False}


@pytest.fixture
def params():
    return load_params(REPO / "params.yaml")


def training(hp: dict, where: str = "x"):
    return settings.validate(schema.Training, hp, where)


# ---- the repository's params.yaml ----------------------------------------------------------

@pytest.mark.parametrize("profile", ["book", "cpu", "smoke"])
def test_every_profile_validates_for_every_stage(profile):
    params = composed([f"profile={profile}"])
    for run in ("full", "head_only", "first_blocks", "from_mlm"):
        settings.fine_tune_run(params, run)
    settings.sweep(params), settings.mlm(params), settings.ner(params), settings.setfit(params)
    settings.data(params), settings.checkpoint_steps(params), settings.report(params)


def test_book_values(params):
    book = composed(["profile=book"])
    assert settings.fine_tune_run(book, "first_blocks")[1] == FreezeSpec(freeze_embeddings=True, frozen_blocks=10,
                                                                        frozen_layers="every_step")
    assert settings.fine_tune_run(book, "head_only")[1].frozen_layers == settings.sweep(book)[1].frozen_layers == "every_step"
    assert settings.fine_tune_run(params, "head_only")[1].frozen_layers == "once"  # the cpu profile keeps them
    assert settings.fine_tune_run(book, "full")[2][0].learning_rate == 2e-5
    model, cfg = settings.setfit(book)
    assert model == "sentence-transformers/all-mpnet-base-v2"
    assert (cfg.num_epochs, cfg.num_iterations, cfg.main_samples_per_class) == (3, 20, 16)


# ---- training keys -------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, message", [
    ("learning_rate", -1e-5, "learning_rate = -1e-05 is invalid; accepted: a positive number"),
    ("learning_rate", "fast", "learning_rate = 'fast' is invalid"),
    ("batch_size", 0, "batch_size = 0 is invalid"),
    ("precision", "maybe", "precision = 'maybe' is invalid; accepted: auto | fp32 | bf16 | fp16"),
    ("precision", True, "precision = True is invalid"),
    ("max_train_samples", -3, "max_train_samples = -3 is invalid"),
])
def test_bad_hyperparameters_name_the_parameter(key, value, message):
    with pytest.raises(PipelineError, match=f"fine_tune.{message}"):
        training({**HP, key: value}, "fine_tune")


def test_unknown_and_missing_keys():
    with pytest.raises(PipelineError, match="unknown key.*lr"):
        training({**HP, "lr": 1})
    with pytest.raises(PipelineError, match="x.epochs is missing"):
        training({k: v for k, v in HP.items() if k != "epochs"})


def test_fp16_on_a_cpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(precision, "accelerator", lambda: "cpu")
    with pytest.raises(PipelineError, match="x.precision = fp16 needs a GPU"):
        training({**HP, "precision": "fp16"})
    monkeypatch.setattr(precision, "accelerator", lambda: "cuda")
    assert training({**HP, "precision": "fp16"}).precision == "fp16"


def test_auto_precision_is_resolved_for_this_machine():
    assert training({**HP, "precision": "auto"}).precision == precision.resolve("auto")


# ---- fine-tune runs ------------------------------------------------------------------------

def test_a_run_may_override_training_keys(params):
    model, spec, (hp,) = settings.fine_tune_run(params, "head_only")
    assert spec.head_only and hp.learning_rate == 1e-3
    assert settings.fine_tune_run(params, "full")[2][0].learning_rate == params["fine_tune"]["learning_rate"]


def test_a_bad_override_names_the_run(params):
    params["runs"]["head_only"]["learning_rate"] = "fast"
    with pytest.raises(PipelineError, match=r"^params.yaml: runs.head_only.learning_rate = 'fast' is invalid"):
        settings.fine_tune_run(params, "head_only")


def test_unknown_profile_and_run_and_key(params):
    with pytest.raises(PipelineError, match="params.yaml: profile is missing"):
        settings.profile_name({})
    with pytest.raises(PipelineError, match="has no run 'half'"):
        settings.fine_tune_run(params, "half")
    params["runs"]["full"] = {"frozen_block": 3}
    with pytest.raises(PipelineError, match="runs.full: unknown key.*frozen_block"):
        settings.fine_tune_run(params, "full")


def test_from_mlm_starts_from_the_top_level_checkpoint_param(params):
    model, spec, hp = settings.fine_tune_run(params, "from_mlm")
    assert model == params["from_mlm"]["model"] == "data/models/mlm_pretrain" and spec == FreezeSpec()
    assert settings.fine_tune_run(params, "full")[0] == params["classifier_model"]
    with pytest.raises(PipelineError, match="params.yaml: from_mlm.model = '' is invalid"):
        settings.fine_tune_run({**params, "from_mlm": {"model": ""}}, "from_mlm")
    with pytest.raises(PipelineError, match="params.yaml: from_mlm.model is missing"):
        settings.fine_tune_run({**params, "from_mlm": {}}, "from_mlm")


@pytest.mark.parametrize("run, message", [
    ({"frozen_blocks": -1}, "frozen_blocks = -1 is invalid"),
    ({"frozen_blocks": "ten"}, "frozen_blocks = 'ten' is invalid"),
    ({"head_only": "yes"}, "head_only = 'yes' is invalid; accepted: true | false"),
    ({"head_only": True, "frozen_layers": "never"}, r"frozen_layers = 'never' is invalid; accepted: once \(run once"),
])
def test_bad_freeze_params_name_the_parameter(params, run, message):
    params["runs"]["x"] = run
    with pytest.raises(PipelineError, match=f"runs.x.{message}"):
        settings.fine_tune_run(params, "x")


def test_seeds_make_one_run_each_and_a_run_may_set_its_own(params):
    params["fine_tune"]["seeds"] = [42, 43, 44]   # as -S fine_tune.seeds=[42,43,44]
    assert [hp.seed for hp in settings.fine_tune_run(params, "full")[2]] == [42, 43, 44]
    params["runs"]["full"]["seeds"] = [7]
    (hp,) = settings.fine_tune_run(params, "full")[2]
    assert hp.seed == 7 and [h.seed for h in settings.fine_tune_run(params, "head_only")[2]] == [42, 43, 44]
    assert settings.sweep_point(params, settings.sweep(params)[1], 5).seed == 5  # the sweep's own seeds


@pytest.mark.parametrize("where, value, message", [
    ("fine_tune", {"seeds": []}, r"fine_tune.seeds = \[\] is invalid; accepted: a list of distinct integers"),
    ("fine_tune", {"seeds": [1, 1]}, r"fine_tune.seeds = \[1, 1\] is invalid"),
    ("fine_tune", {"seeds": 42}, r"fine_tune.seeds = 42 is invalid"),
    ("fine_tune", {"seed": 42}, r"fine_tune.seed: write seeds, a list \(e.g. seeds: \[42\]\)"),
    ("runs.full", {"seeds": ["a"]}, r"runs.full.seeds = \['a'\] is invalid"),
    ("runs.full", {"seed": 1}, r"runs.full: unknown key\(s\) seed; accepted: .*, seeds$"),
])
def test_bad_seeds_name_the_param(params, where, value, message):
    section = params
    for key in where.split("."):
        section = section[key]
    section.update(value)
    if "seed" in value:
        section.pop("seeds", None)
    with pytest.raises(PipelineError, match=f"^params.yaml: {message}"):
        settings.fine_tune_run(params, "full")
    params["fine_tune"].pop("seeds", None)
    params["fine_tune"].pop("seed", None)
    if where == "fine_tune":
        with pytest.raises(PipelineError, match=r"fine_tune.seeds is missing"):
            settings.fine_tune_run(params, "full")


# ---- the sweep -----------------------------------------------------------------------------

@pytest.mark.parametrize("section, message", [
    ({"frozen_blocks": [0, 0], "seeds": [1], "freeze_embeddings": True, "frozen_layers": "once", "fine_tune": {}}, "frozen_blocks"),
    ({"frozen_blocks": [-1], "seeds": [1], "freeze_embeddings": True, "frozen_layers": "once", "fine_tune": {}}, "frozen_blocks"),
    ({"frozen_blocks": [0], "seeds": [], "freeze_embeddings": True, "frozen_layers": "once", "fine_tune": {}}, "seeds"),
    ({"frozen_blocks": [0], "seeds": [1], "freeze_embeddings": "yes", "frozen_layers": "once", "fine_tune": {}}, "freeze_embeddings"),
    ({"frozen_blocks": [0], "seeds": [1], "freeze_embeddings": True, "frozen_layers": "once", "fine_tune": {}, "points": 3}, "unknown"),
    ({"frozen_blocks": [0], "seeds": [1], "freeze_embeddings": True, "frozen_layers": "once", "fine_tune": {"epoch": 1}}, "fine_tune: unknown"),
    ({"frozen_blocks": [0], "seeds": [1], "freeze_embeddings": True, "frozen_layers": "once", "fine_tune": {"seeds": [2]}},
     "fine_tune.seeds: the sweep's seeds are sweep.seeds"),
    ({"frozen_blocks": [0], "seeds": [1], "freeze_embeddings": True, "frozen_layers": "twice", "fine_tune": {}},
     "frozen_layers = 'twice' is invalid; accepted: once .* | every_step"),
])
def test_a_bad_sweep_section_names_the_param(section, message):
    with pytest.raises(PipelineError, match=f"params.yaml: sweep.*{message}"):
        settings.sweep({"profile": "cpu", "classifier_model": MINILM, "sweep": section})


def test_sweep_points_apply_the_sweeps_overrides_and_seed(params):
    model, plan = settings.sweep(params)
    hp = settings.sweep_point(params, plan, 7)
    assert model == MINILM and plan.points[0] == (0, 42)
    assert hp.epochs == 1 and hp.seed == 7 and hp.learning_rate == params["fine_tune"]["learning_rate"]


# ---- setfit, mlm, ner, data ----------------------------------------------------------------

@pytest.mark.parametrize("key, value, message", [
    ("samples_per_class", [], "samples_per_class = .* accepted: a list of distinct positive integers"),
    ("samples_per_class", 16, "samples_per_class = 16 is invalid"),
    ("samples_per_class", [8, 0], "samples_per_class = .* is invalid"),
    ("samples_per_class", [8, 8], "samples_per_class = .* is invalid"),
    ("main_samples_per_class", 16, r"main_samples_per_class = 16 is invalid; accepted: one of .*\[4, 8\]"),
    ("num_iterations", 0, "num_iterations = 0 is invalid; accepted: a positive integer"),
    ("max_eval_samples", 0, "max_eval_samples = 0 is invalid"),
    ("iterations", 20, r"unknown key\(s\) iterations; accepted: num_epochs"),
])
def test_bad_setfit_settings_name_the_parameter(key, value, message):
    profile = {"setfit_model": MINILM, "setfit": copy.deepcopy(SETFIT)}
    profile["setfit"][key] = value
    with pytest.raises(PipelineError, match=rf"params.yaml: setfit.*{message}"):
        settings.setfit({"profile": "smoke", **profile})


@pytest.mark.parametrize("key, value, message", [
    ("source", "web", "data.source = 'web' is invalid; accepted: auto | raw | hub"),
    ("rotten_tomatoes_revision", "main", r"data: unknown key\(s\) rotten_tomatoes_revision; accepted: source, "
                                         r"raw_dir, classification, ner"),
    ("fewshot_per_class", 16, r"data: unknown key\(s\) fewshot_per_class; accepted: source, raw_dir, classification, "
                              r"ner"),
    ("classification", 5, r"data.classification = 5 is invalid; accepted: rotten_tomatoes \(the built-in\), your own "
                          r"data's path or Hub id, or a mapping with keys dataset, revision, text_column, label_column, "
                          r"labels, split, split_seed \(dataset required\)"),
    ("classification", None, r"data.classification = None is invalid; accepted: rotten_tomatoes \(the built-in\).*"),
    ("classification", "", r"data.classification = '' is invalid; accepted: rotten_tomatoes \(the built-in\).*"),
    ("classification", ["tickets.csv"], r"data.classification = \['tickets.csv'\] is invalid; accepted: .*"),
    ("classification", {"text_column": "body"}, r"data.classification.dataset is missing \(a Hub dataset id, a "
                                                r"\.csv/\.jsonl/\.parquet file or a folder of train/validation/test files\)"),
    ("classification", {"dataset": 3}, r"data.classification.dataset = 3 is invalid; accepted: a Hub dataset id.*"),
    ("classification", {"dataset": "rotten_tomatoes"},
     r"data.classification.dataset = 'rotten_tomatoes' is the built-in dataset; accepted: data.classification: "
     r"rotten_tomatoes \(the built-in\), or ./rotten_tomatoes for a local file or folder"),
    ("ner", 1.5, r"data.ner = 1.5 is invalid; accepted: conll2003 \(the built-in\), your own data's path or Hub id, "
                 r"or a mapping with keys dataset, revision, tag_column, tokens_column, tags_column \(dataset required\)"),
    ("ner", {"tag_column": 1}, r"data.ner.dataset is missing \(a folder of CoNLL-format train.txt, dev.txt and "
                               r"test.txt, or a Hub dataset id\)"),
    ("ner", {"dataset": "conll2003"}, r"data.ner.dataset = 'conll2003' is the built-in dataset; .*"),
])
def test_bad_data_settings_name_the_parameter(params, key, value, message):
    with pytest.raises(PipelineError, match=f"^params.yaml: {message}$"):
        settings.data({"data": {**params["data"], key: value}})


OWN = {"classification": "tickets.csv", "ner": "recipes"}  # a dataset of the user's for each task


@pytest.mark.parametrize("section, key, value, message", [
    ("classification", "revision", "", r"data.classification.revision = '' is invalid; accepted: a branch, tag or commit"),
    ("classification", "split", [0.8, 0.1, 0.2], r"data.classification.split = \[0.8, 0.1, 0.2\] is invalid; "
                                                 r"accepted: three positive shares summing to 1"),
    ("classification", "split", [0.9, 0.1], r"data.classification.split = \[0.9, 0.1\] is invalid"),
    ("classification", "labels", ["only"], r"data.classification.labels = \['only'\] is invalid; accepted: empty "
                                           r"\(from the data\), or a list of two or more distinct class names"),
    ("classification", "labels", ["a", "a"], r"data.classification.labels = \['a', 'a'\] is invalid"),
    ("classification", "text_column", "", r"data.classification.text_column = '' is invalid; accepted: a column name"),
    ("ner", "tag_column", 0, r"data.ner.tag_column = 0 is the token column; accepted: 1, 2, ... or -1 \(the last\)"),
    ("ner", "tag_column", "last", r"data.ner.tag_column = 'last' is invalid; accepted: an integer"),
    ("ner", "columns", 4, r"data.ner: unknown key\(s\) columns; accepted: dataset, revision, tag_column"),
    ("ner", "tokens_column", ["words"], r"data.ner.tokens_column = \['words'\] is invalid; accepted: a column name"),
])
def test_bad_own_data_settings_name_the_parameter(params, section, key, value, message):
    with pytest.raises(PipelineError, match=f"^params.yaml: {message}"):
        settings.data({"data": {**params["data"], section: {"dataset": OWN[section], key: value}}})


def test_data_defaults_to_the_built_in_datasets(params):
    assert (params["data"]["classification"], params["data"]["ner"]) == ("rotten_tomatoes", "conll2003")
    cfg = settings.data(params)
    assert cfg.classification is None and cfg.ner is None  # None: the built-in dataset


CLASSIFICATION_DEFAULTS = {"revision": "main", "text_column": "text", "label_column": "label", "labels": None,
                           "split": [0.8, 0.1, 0.1], "split_seed": 42}
NER_DEFAULTS = {"revision": "main", "tag_column": -1, "tokens_column": "tokens", "tags_column": "ner_tags"}


@pytest.mark.parametrize("section, defaults", [("classification", CLASSIFICATION_DEFAULTS), ("ner", NER_DEFAULTS)])
def test_own_data_is_a_name_or_a_mapping_whose_other_keys_default(params, section, defaults):
    """`data.<task>: tickets.csv` is short for {dataset: tickets.csv}; a mapping needs only `dataset`."""
    def read(value):
        return settings.data({"data": {**params["data"], section: value}}).model_dump()[section]

    assert read(OWN[section]) == read({"dataset": OWN[section]}) == {"dataset": OWN[section], **defaults}
    assert read("me/their-dataset")["dataset"] == "me/their-dataset"  # a Hub id
    assert read("./" + datasets.BUILTIN[section])["dataset"] == "./" + datasets.BUILTIN[section]  # a local folder
    changed = {"revision": "v2", **({"text_column": "body", "labels": ["bug", "feature"], "split": [0.6, 0.2, 0.2]}
                                    if section == "classification" else {"tag_column": 1})}
    assert read({"dataset": OWN[section], **changed}) == {"dataset": OWN[section], **defaults, **changed}
    other = "ner" if section == "classification" else "classification"
    assert getattr(settings.data({"data": {**params["data"], section: OWN[section]}}), other) is None


def test_the_conf_default_and_a_dvc_exp_run_override_compose_to_these_shapes():
    """What `dvc exp run -S data.classification=...` writes into params.yaml, as docs/own-data.md shows it."""
    assert settings.data(composed()).classification is None
    cfg = settings.data(composed(["data.classification=tickets.csv", "data.ner={dataset:recipes,tag_column:1}"]))
    assert cfg.classification.dataset == "tickets.csv" and cfg.classification.text_column == "text"
    assert (cfg.ner.dataset, cfg.ner.tag_column, cfg.ner.tokens_column) == ("recipes", 1, "tokens")
    cfg = settings.data(composed(["data.classification={dataset:me/reviews,revision:v2,text_column:review}"]))
    assert (cfg.classification.dataset, cfg.classification.revision, cfg.classification.text_column) == \
        ("me/reviews", "v2", "review")


def test_a_missing_data_key_says_what_it_takes(params):
    del params["data"]["raw_dir"]
    with pytest.raises(PipelineError, match=r"^params.yaml: data.raw_dir is missing \(a folder with"):
        settings.data(params)


def test_report_and_checkpoint_settings(params, tmp_path, monkeypatch):
    assert settings.report(params)["book"]["fine_tune/full:test_f1"] == 0.857
    monkeypatch.chdir(tmp_path)  # the book's numbers are a file of their own, not params
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/book.yaml").write_text("book: {x: high}\nbook_sweep: {}\n")
    with pytest.raises(PipelineError, match=r"^reports/book.yaml: book.x = 'high' is invalid"):
        settings.report(params)
    with pytest.raises(PipelineError, match="checkpoints.every_steps = 0 is invalid; accepted: a positive integer"):
        settings.checkpoint_steps({"checkpoints": {"every_steps": 0}})


def test_a_section_that_is_not_a_mapping(params):
    params["sweep"] = 3
    with pytest.raises(PipelineError, match="sweep = 3 is invalid; accepted: a mapping with keys frozen_blocks"):
        settings.sweep(params)
