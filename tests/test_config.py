"""params.yaml: read with YAML 1.2 rules, as DVC writes it, and kept in the layout DVC writes."""

import pytest

from stages.lib.config.params import load_params
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.settings import validate
from stages.lib.config.schema import Training
from tests.conftest import REPO, compose


@pytest.mark.parametrize("text, value", [
    ("3e-05", 3e-05),      # what `dvc exp run -S lr=3e-5` writes: a string to PyYAML (YAML 1.1)
    ("1e-4", 1e-4), ("2.0e-5", 2e-5), ("0.0001", 1e-4), (".5", 0.5),
])
def test_learning_rates_as_dvc_writes_them_are_numbers(tmp_path, text, value):
    (tmp_path / "params.yaml").write_text(f"lr: {text}\n")
    assert load_params(tmp_path / "params.yaml")["lr"] == value


def test_yaml_1_2_strings_get_the_usual_one_line_error(tmp_path):
    (tmp_path / "params.yaml").write_text("fine_tune:\n  group_by_length: no\n  max_train_samples:\n")
    section = load_params(tmp_path / "params.yaml")["fine_tune"]
    assert section == {"group_by_length": "no", "max_train_samples": None}  # `no` is not false in 1.2
    hp = {"learning_rate": 2e-5, "batch_size": 16, "epochs": 1, "weight_decay": 0.01, "seed": 42,
          "precision": "fp32", "max_eval_samples": None, "logging_steps": 50, **section}
    with pytest.raises(PipelineError, match=r"^params.yaml: x.group_by_length = 'no' is invalid; "
                                            r"accepted: true \| false$"):
        validate(Training, hp, "x")


def test_broken_yaml_is_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(PipelineError, match="params.yaml: not valid YAML") as e:
        load_params(tmp_path / "params.yaml")
    assert "\n" not in str(e.value)


def test_params_yaml_is_conf_composed_as_dvc_exp_run_writes_it(tmp_path):
    """`dvc exp run` composes params.yaml from conf/ (Hydra) and writes it whole; the committed file is
    that composition, so a run without -S changes nothing and a one-knob experiment changes one line."""
    (tmp_path / "conf").symlink_to(REPO / "conf")
    compose(tmp_path)
    assert (tmp_path / "params.yaml").read_text() == (REPO / "params.yaml").read_text()
    compose(tmp_path, ["fine_tune.learning_rate=3e-5"])
    before, after = (REPO / "params.yaml").read_text().splitlines(), (tmp_path / "params.yaml").read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1, changed
    assert load_params(tmp_path / "params.yaml")["fine_tune"]["learning_rate"] == 3e-5


@pytest.mark.parametrize("profile", ["book", "cpu", "smoke"])
def test_a_tool_composes_a_profile_as_dvc_exp_run_does(profile):
    """`load_profile` (benchmarks' `--profile`) calls Hydra itself: it must give what DVC writes."""
    from stages.lib.config.params import load_profile
    from tests.conftest import composed

    assert load_profile(profile, REPO / "conf") == composed([f"profile={profile}"])
