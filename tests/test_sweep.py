import json

import pytest

from stages.lib.scoring import sweep
from stages.lib.runtime.errors import PipelineError
from stages.lib.config.paths import sweep_point


def write_points(folder, f1s_by_frozen, seeds=(1, 2), total_blocks=6):
    folder.mkdir(parents=True, exist_ok=True)
    for k, f1s in f1s_by_frozen.items():
        for seed, f1 in zip(seeds, f1s):
            sweep_point(k, seed, folder).write_text(json.dumps(
                {"test_f1": f1, "test_f1_ci95": [f1 - 0.02, f1 + 0.03], "test_accuracy": f1, "train_runtime_s": 10.0,
                 "total_blocks": total_blocks}))


def test_collect_and_csv(tmp_path):
    write_points(tmp_path / "p", {0: [0.82, 0.84], 6: [0.60, 0.70]})
    rows = sweep.collect(tmp_path / "p", [0, 6], [1, 2])
    assert [(r["frozen_blocks"], r["trainable_blocks"], r["seed"]) for r in rows] == \
        [(0, 6, 1), (0, 6, 2), (6, 0, 1), (6, 0, 2)]
    lines = sweep.to_csv(rows).splitlines()
    assert lines[0] == "frozen_blocks,trainable_blocks,total_blocks,seed,f1,f1_low,f1_high,accuracy,train_seconds"
    assert lines[1] == "0,6,6,1,0.82,0.7999999999999999,0.85,0.82,10.0"


def test_missing_point_is_named(tmp_path):
    write_points(tmp_path, {0: [0.8, 0.8]})
    with pytest.raises(PipelineError, match="blocks3_seed1.json: sweep point missing"):
        sweep.collect(tmp_path, [0, 3], [1, 2])


def test_stats_and_stable_point_chosen_from_data():
    rows = [{"trainable_blocks": n, "f1": f1, "f1_low": f1 - 0.02, "f1_high": f1 + 0.04}
            for n, f1s in {0: [0.60, 0.70], 1: [0.78, 0.80], 2: [0.835, 0.845], 3: [0.85, 0.85]}.items()
            for f1 in f1s]
    stats = sweep.by_trainable_blocks(rows)
    assert stats[0] == {"mean": pytest.approx(0.65), "sd": pytest.approx(0.05), "min": 0.60, "max": 0.70, "seeds": 2,
                        "ci_low": pytest.approx(0.63), "ci_high": pytest.approx(0.69)}  # the seeds' mean bounds
    assert sweep.stable_from(stats, 0.01) == 2      # 0.84 is within 0.01 of 0.85
    assert sweep.stable_from(stats, 0.005) == 3
    assert sweep.stable_from(stats, 0.3) == 0


def test_a_dip_above_the_threshold_moves_the_stable_point():
    # 7 frozen beat 6 in the book; a later dip below best - tolerance must not be skipped over
    stats = {0: {"mean": 0.70}, 1: {"mean": 0.85}, 2: {"mean": 0.80}, 3: {"mean": 0.85}}
    assert sweep.stable_from(stats, 0.01) == 3


def test_figure_in_the_books_style(tmp_path):
    rows = [{"trainable_blocks": n, "total_blocks": 6, "f1": f1, "f1_low": f1 - 0.03, "f1_high": f1 + 0.03}
            for n in range(7) for s in range(2) for f1 in [0.6 + 0.04 * n + 0.01 * s]]
    fig = sweep.plot(rows, 0.01, tmp_path / "f.png", book={12: 0.854, 6: 0.838, 1: 0.702})
    ax = fig.axes[0]
    assert ax.get_title() == "Effect of Frozen Encoder Blocks on Training Performance"
    assert ax.get_xlabel().startswith("Share of encoder blocks trainable") and ax.get_ylabel() == "F1-score"
    assert ax.get_ylim() == (0.5, 1.0)  # chance to perfect: no zoom on the data
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{n}/6" for n in range(7)]
    book = next(line for line in ax.get_lines() if line.get_label().startswith("book"))
    assert list(book.get_xdata()) == [1 / 12, 0.5, 1.0]  # the book's 12-block curve on the same share axis
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_point_of_the_sweep_shares_one_store_of_frozen_states(tmp_path, monkeypatch):
    """The stage hands every point's task the same cached.Kept, so each point continues from the
    last one's frozen-block states (training itself is stood in for: this checks the stage's wiring)."""
    from stages import freeze_sweep
    from stages.lib.skeleton.loop import Result
    from tests.conftest import compose, copy_repo
    from tests.prepared import ROTTEN_TOMATOES

    repo = copy_repo(tmp_path)
    compose(repo, ["profile=smoke", "sweep.frozen_blocks=[0,3,6]"])
    (repo / "data/prepared/classification").mkdir(parents=True)
    (repo / "data/prepared/classification/dataset.json").write_text(json.dumps(ROTTEN_TOMATOES))
    monkeypatch.chdir(repo)
    stores = []

    def train_and_evaluate(task, model, hp, data_dir, checkpoints=None):
        stores.append(task.kept)
        return Result({"test_f1": 1.0}, {"test": [{"row": 0, "gold": 1, "pred": 1, "probs": [0.2, 0.8]}]})

    monkeypatch.setattr(freeze_sweep, "train_and_evaluate", train_and_evaluate)
    freeze_sweep.main()
    assert len(stores) == 3 and stores[0] is not None and all(store is stores[0] for store in stores)
    assert json.loads((repo / "metrics/freeze_sweep/points/blocks3_seed42.json").read_text()) == {"test_f1": 1.0}
