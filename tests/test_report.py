import copy
import json
import os
import re
import shutil

import pytest

from stages import report
from stages.lib.config import paths
from tests.conftest import REPO

# metrics/tuning.json of a smoke-profile search (`python -m tools.tune finish full head_only`)
SMOKE_TUNING = {
    "profile": "smoke", "machine": "AMD EPYC, 2 cores, no AMX/AVX512-BF16", "storage": "tuning/smoke.journal",
    "ranking": {"recipe": ["head_only", "full"], "tuned": ["head_only", "full"], "same_order": True},
    "studies": {
        "full": {
            "run": "full", "depth": None, "trials": {"complete": 3, "pruned": 0, "fail": 0}, "trial_minutes": 1.0,
            "best": {"trial": 0, "experiment": "full-t000", "validation_f1": 0.0, "validation_f1_95ci": "0.000–0.000",
                     "params": {"batch_size": 16, "epochs": 1, "learning_rate": 5e-05, "weight_decay": 0.01}},
            "test_f1": 0.058823529411764705, "test_f1_95ci": "0.000–0.188", "test_train_s": 7.0,
            "recipe": {"params": {"batch_size": 16, "epochs": 1, "learning_rate": 5e-05, "weight_decay": 0.01},
                       "predictions": "data/predictions/fine_tune/full.jsonl", "validation_f1": 0.0,
                       "test_f1": 0.058823529411764705, "test_f1_95ci": "0.000–0.186"},
            "tuned_minus_recipe": {"f1": 0.0, "ci95": [-0.15384615384615385, 0.15], "p_value": 1.0}},
        "head_only": {
            "run": "head_only", "depth": None, "trials": {"complete": 3, "pruned": 0, "fail": 0}, "trial_minutes": 0.3,
            "best": {"trial": 2, "experiment": "head_only-t002", "validation_f1": 0.4090909090909091,
                     "validation_f1_95ci": "0.211–0.582",
                     "params": {"batch_size": 16, "epochs": 15, "learning_rate": 0.004430375245218269}},
            "test_f1": 0.21052631578947367, "test_f1_95ci": "0.053–0.381", "test_train_s": 2.5,
            "recipe": {"params": {"batch_size": 16, "epochs": 1, "learning_rate": 0.001},
                       "predictions": "data/predictions/fine_tune/head_only.jsonl",
                       "validation_f1": 0.1111111111111111, "test_f1": 0.11428571428571428,
                       "test_f1_95ci": "0.000–0.270"},
            "tuned_minus_recipe": {"f1": 0.09624060150375939, "ci95": [-0.0870271907389957, 0.2823514783089255],
                                   "p_value": 0.41579210394802596}},
    },
}


def render(tmp_path, monkeypatch, parameters: dict) -> str:
    """The report over tmp_path/metrics, executed in tmp_path; its HTML."""
    shutil.copy(REPO / paths.REPORT_NOTEBOOK, tmp_path / "report.ipynb")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # for the kernel
    report.render(tmp_path / "report.ipynb", parameters, tmp_path / "report.html",
                  (tmp_path / "freeze_sweep.png", tmp_path / "frontier.png"))
    html = (tmp_path / "report.html").read_text()
    assert not re.search(r"<script[^>]+src=", html) and "Traceback" not in html
    return html


def test_report_renders_with_only_some_stages_run(tmp_path, monkeypatch):
    """Sections of stages that have not run are placeholders, not errors; the HTML is standalone."""
    (tmp_path / "metrics/fine_tune").mkdir(parents=True)
    (tmp_path / "metrics/fine_tune/full.json").write_text(json.dumps({
        "test_f1": 0.8123, "test_accuracy": 0.8, "validation_f1": 0.81, "trainable_params": 10,
        "train_runtime_s": 5.0, "train_samples_per_second": 100.0}))
    html = render(tmp_path, monkeypatch, {"profile": "cpu", "book": {"fine_tune/full:test_f1": 0.857}})
    assert "0.812" in html and "0.857" in html and "-0.045" in html  # value, book, difference
    # the answer first, the dump of every metric last
    assert html.index("The book's numbers beside ours") < html.index("Which differences are real") \
        < html.index("Appendix: every metric")
    for stage in ("compare", "freeze-sweep", "setfit", "mlm-pretrain", "ner"):
        assert f"The {stage} stage has not run yet" in html
    assert "No search is recorded yet" in html and "python -m tools.tune finish" in html
    assert not (tmp_path / "freeze_sweep.png").exists() and not (tmp_path / "frontier.png").exists()


def with_depths(tuning: dict) -> dict:
    """The smoke search plus first_blocks searched as it stands (2 frozen blocks) and at depth 1,
    first_blocks overtaking head_only once tuned."""
    tuning = copy.deepcopy(tuning)
    first = copy.deepcopy(tuning["studies"]["head_only"])
    first.update(run="first_blocks", frozen_blocks=2, test_f1=0.3, test_f1_95ci="0.150–0.450")
    first["recipe"].update(test_f1=0.1, test_f1_95ci="0.000–0.250")
    first["tuned_minus_recipe"] = {"f1": 0.2, "ci95": [0.05, 0.35], "p_value": 0.01}
    tuning["studies"]["first_blocks"] = first
    tuning["studies"]["first_blocks-d1"] = {**copy.deepcopy(first), "depth": 1, "frozen_blocks": 1}
    tuning["ranking"] = {"recipe": ["head_only", "first_blocks", "full"],
                         "tuned": ["first_blocks", "head_only", "full"], "same_order": False}
    return tuning


@pytest.mark.parametrize("tuning", [SMOKE_TUNING, with_depths(SMOKE_TUNING)], ids=["smoke", "depths"])
def test_report_compares_tuned_with_the_recipe(tmp_path, monkeypatch, tuning):
    """metrics/tuning.json: a row per study, whether the ranking survives tuning; tuned depths on the sweep."""
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/tuning.json").write_text(json.dumps(tuning))
    (tmp_path / "metrics/freeze_sweep.csv").write_text(
        "frozen_blocks,trainable_blocks,total_blocks,seed,f1,f1_low,f1_high,accuracy,train_seconds\n"
        "0,2,2,42,0.6,0.55,0.65,0.6,3.0\n1,1,2,42,0.58,0.53,0.63,0.58,2.0\n2,0,2,42,0.5,0.45,0.55,0.5,1.0\n")
    html = render(tmp_path, monkeypatch, {"profile": "smoke"})
    assert html.index("Freeze sweep") < html.index("Tuned vs the book") < html.index("SetFit (few-shot)")
    assert "No search is recorded yet" not in html and "AMD EPYC, 2 cores" in html
    # head_only: trials, best params, validation F1, test F1 recipe and tuned, difference, p-value
    for text in ("lr 4.4e-03, 15 epochs, batch 16", "0.111 → 0.409", "0.114 [0.000, 0.270]",
                 "0.211 [0.053, 0.381]", "+0.096 [-0.087, +0.282]", "0.416"):
        assert text in html
    assert "lr 5.0e-05, 1 epoch, wd 0.01, batch 16 (the recipe)" in html  # full: the recipe won its search
    assert "Caution: tuned and recipe are not distinguishable (p ≥ 0.05) for head_only, full" in html
    assert (tmp_path / "freeze_sweep.png").is_file()
    if tuning is SMOKE_TUNING:
        assert "keeps the chapter's ranking of the strategies by test F1: head_only &gt; full." in html
        assert "Diamonds" not in html
    else:
        assert ("changes the chapter's ranking of the strategies by test F1: head_only &gt; first_blocks &gt; "
                "full with the recipe, first_blocks &gt; head_only &gt; full tuned.") in html
        assert "first_blocks</code> at 2 frozen" in html and "first_blocks-d1</code> at 1 frozen" in html
