import pytest

from stages.fine_tune import run_settings
from stages.lib.config import PipelineError, load_params, select_profile
from stages.lib.freezing import FreezeSpec
from tests.conftest import REPO


@pytest.fixture
def params():
    return load_params(REPO / "params.yaml")


@pytest.fixture
def cpu(params):
    return select_profile({**params, "profile": "cpu"})[1]


def test_the_repository_params_define_the_four_runs_for_every_profile(params):
    for name in ("book", "cpu", "smoke"):
        profile = params["profiles"][name]
        for run in ("full", "head_only", "first_blocks", "from_mlm"):
            run_settings(params, name, profile, run)  # validates everything a stage will read
    book = params["profiles"]["book"]
    assert run_settings(params, "book", book, "first_blocks")[1] == FreezeSpec(freeze_embeddings=True,
                                                                                frozen_blocks=10)
    assert run_settings(params, "book", book, "full")[2]["learning_rate"] == 2e-5


def test_a_run_may_override_training_keys(params, cpu):
    model, spec, hp = run_settings(params, "cpu", cpu, "head_only")
    assert spec.head_only and hp["learning_rate"] == 1e-3
    assert run_settings(params, "cpu", cpu, "full")[2]["learning_rate"] == cpu["fine_tune"]["learning_rate"]


def test_unknown_profile_and_run_and_key(params, cpu):
    with pytest.raises(PipelineError, match="profile: 'gpu' is not defined; accepted values: book, cpu"):
        select_profile({"profile": "gpu", "profiles": {"book": {}, "cpu": {}}})
    with pytest.raises(PipelineError, match="has no run 'half'"):
        run_settings(params, "cpu", cpu, "half")
    cpu["runs"]["full"] = {"frozen_block": 3}
    with pytest.raises(PipelineError, match="runs.full: unknown key.*frozen_block"):
        run_settings(params, "cpu", cpu, "full")


def test_from_mlm_starts_from_the_top_level_checkpoint_param(params, cpu):
    model, spec, hp = run_settings(params, "cpu", cpu, "from_mlm")
    assert model == params["from_mlm"]["model"] == "data/models/mlm_pretrain" and spec == FreezeSpec()
    assert run_settings(params, "cpu", cpu, "full")[0] == cpu["classifier_model"]
    with pytest.raises(PipelineError, match="params.yaml: from_mlm.model = '' is invalid"):
        run_settings({**params, "from_mlm": {"model": ""}}, "cpu", cpu, "from_mlm")
    with pytest.raises(PipelineError, match="params.yaml: from_mlm.model is missing"):
        run_settings({**params, "from_mlm": {}}, "cpu", cpu, "from_mlm")
