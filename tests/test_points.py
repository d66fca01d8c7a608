"""The one run loop: each point resumable from a kept result, checkpoints dropped only after the
stage's outputs are written."""
import pytest

from stages.lib.training.checkpoints import Checkpoints
from stages.lib.training.points import Point, each_point


def points(tmp_path, keep_first=True):
    return [Point(seed, f"seed {seed}", Checkpoints.for_run(f"run/seed{seed}", 10, {"seed": seed}, tmp_path),
                  keep=keep_first or i > 0) for i, seed in enumerate((1, 2, 3))]


def test_results_in_order_and_checkpoints_dropped_after_the_outputs(tmp_path):
    ran = []
    with each_point("stage", points(tmp_path), lambda p: ran.append(p.key) or {"f1": p.key / 10}) as results:
        assert (tmp_path / "run/seed2").is_dir()  # still there while the stage writes
    assert ran == [1, 2, 3] and results == {1: {"f1": 0.1}, 2: {"f1": 0.2}, 3: {"f1": 0.3}}
    assert not any((tmp_path / "run").iterdir())


def test_a_killed_stage_resumes_from_the_finished_points(tmp_path):
    def dies_at_3(point):
        if point.key == 3:
            raise KeyboardInterrupt
        return {"f1": point.key / 10}

    with pytest.raises(KeyboardInterrupt):
        with each_point("stage", points(tmp_path, keep_first=False), dies_at_3):
            pass
    ran = []
    with each_point("stage", points(tmp_path, keep_first=False), lambda p: ran.append(p.key) or {"f1": 1.0}) as results:
        pass
    # point 1 writes outputs (keep=False): it reruns; point 2's kept result stands in for it
    assert ran == [1, 3] and results == {1: {"f1": 1.0}, 2: {"f1": 0.2}, 3: {"f1": 1.0}}


def test_an_error_while_writing_keeps_the_finished_points(tmp_path):
    with pytest.raises(OSError):
        with each_point("stage", points(tmp_path), lambda p: {"f1": 0.5}):
            raise OSError("disk full")
    assert all(p.checkpoints.result() == {"f1": 0.5} for p in points(tmp_path))


def test_other_settings_do_not_resume_a_kept_result(tmp_path):
    with pytest.raises(RuntimeError):
        with each_point("stage", points(tmp_path), lambda p: {"f1": 0.5}):
            raise RuntimeError
    other = [Point(1, "seed 1", Checkpoints.for_run("run/seed1", 10, {"seed": 1, "lr": 2}, tmp_path))]
    with each_point("stage", other, lambda p: {"f1": 0.9}) as results:
        pass
    assert results == {1: {"f1": 0.9}}
