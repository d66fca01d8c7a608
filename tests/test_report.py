import json
import os
import re
import shutil

from stages import report
from stages.lib.config import paths
from tests.conftest import REPO


def test_report_renders_with_only_some_stages_run(tmp_path, monkeypatch):
    """Sections of stages that have not run are placeholders, not errors; the HTML is standalone."""
    (tmp_path / "metrics/fine_tune").mkdir(parents=True)
    (tmp_path / "metrics/fine_tune/full.json").write_text(json.dumps({
        "test_f1": 0.8123, "test_accuracy": 0.8, "validation_f1": 0.81, "trainable_params": 10,
        "train_runtime_s": 5.0, "train_samples_per_second": 100.0}))
    shutil.copy(REPO / paths.REPORT_NOTEBOOK, tmp_path / "report.ipynb")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # for the kernel
    report.render(tmp_path / "report.ipynb", {"profile": "cpu", "book": {"fine_tune/full:test_f1": 0.857}},
                  tmp_path / "report.html", (tmp_path / "freeze_sweep.png", tmp_path / "frontier.png"))
    html = (tmp_path / "report.html").read_text()
    assert "0.812" in html and "0.857" in html and "-0.045" in html  # value, book, difference
    # the answer first, the dump of every metric last
    assert html.index("The book's numbers beside ours") < html.index("Which differences are real") \
        < html.index("Appendix: every metric")
    for stage in ("compare", "freeze-sweep", "setfit", "mlm-pretrain", "ner"):
        assert f"The {stage} stage has not run yet" in html
    assert not (tmp_path / "freeze_sweep.png").exists() and not (tmp_path / "frontier.png").exists()
    assert not re.search(r"<script[^>]+src=", html) and "Traceback" not in html
