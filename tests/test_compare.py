"""The compare stage's pieces: pairing predictions files row by row, and the frontier rows."""
import json

import pytest

from stages.lib.scoring.compare import frontier_row, nearest_in_size, paired, read_predictions, reading, run_kind
from stages.lib.runtime.errors import PipelineError
from tests.conftest import bootstrap_settings


def write(folder, name, rows):
    path = folder / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def rows(preds, order=None):
    gold = [1, 0] * 50
    order = order or range(len(preds))
    return [{"row": i, "gold": gold[i], "pred": preds[i], "probs": [1 - preds[i], preds[i]]} for i in order]


def test_pairs_by_row_whatever_the_file_order(tmp_path):
    gold = [1, 0] * 50
    write(tmp_path, "fine_tune/a", rows(gold, order=list(reversed(range(100)))))  # perfect, stored backwards
    write(tmp_path, "b", rows([1] * 100))                                        # always positive
    c = paired("fine_tune/a", "b", bootstrap_settings(), tmp_path)
    assert c["a"] == "fine_tune/a" and c["units"] == 100 and c["metric"] == "f1"
    assert c["difference"] == pytest.approx(1 - 2 * 50 / (2 * 50 + 50))  # F1 1.0 vs 2tp/(2tp+fp)
    assert c["ci95"][0] > 0 and c["p_value"] < 0.01
    assert "fine_tune/a is better" in reading(c)


def test_ner_predictions_compare_entity_f1(tmp_path):
    sentence = {"tokens": ["Homer", "sleeps"], "gold": ["B-PER", "O"]}
    write(tmp_path, "a", [{"row": i, **sentence, "pred": ["B-PER", "O"]} for i in range(10)])
    write(tmp_path, "b", [{"row": i, **sentence, "pred": ["B-PER", "O"] if i < 9 else ["O", "O"]} for i in range(10)])
    c = paired("a", "b", bootstrap_settings(), tmp_path)
    assert c["metric"] == "entity_f1" and c["difference"] == pytest.approx(1 - 2 * 9 / (2 * 9 + 1))
    assert c["ci95"][0] <= 0 <= c["ci95"][1] and "not distinguishable" in reading(c)  # one sentence in ten


def test_runs_pair_on_the_rows_both_scored_and_disjoint_rows_are_one_line(tmp_path):
    write(tmp_path, "a", rows([1] * 100))
    write(tmp_path, "b", rows([1] * 100)[:64])  # a smaller max_eval_samples: a subset of a's rows
    assert paired("a", "b", bootstrap_settings(), tmp_path)["units"] == 64
    write(tmp_path, "c", rows([1] * 100)[64:])
    with pytest.raises(PipelineError, match=r"b and c were scored on different test rows \(64 and 36 rows, 0 in common\)"):
        paired("b", "c", bootstrap_settings(), tmp_path)
    with pytest.raises(PipelineError, match="missing.jsonl not found"):
        read_predictions(tmp_path / "missing.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(PipelineError, match="bad.jsonl: not JSON Lines"):
        read_predictions(tmp_path / "bad.jsonl")


def test_frontier_rows_read_what_each_method_trained():
    run = {"test_f1": 0.8, "test_f1_ci95": [0.77, 0.83], "trainable_params": 1000, "total_params": 10**6,
           "train_runtime_s": 12.34, "lora_rank": 4, "head_only": 0}
    row = frontier_row("fine_tune/lora_r4", run_kind(run), run)
    assert row == {"method": "fine_tune/lora_r4", "kind": "lora", "trainable_params": 1000,
                   "log10_trainable_params": 3.0, "train_seconds": 12.3, "f1": 0.8, "f1_low": 0.77, "f1_high": 0.83}
    assert run_kind({**run, "lora_rank": 0}) == "frozen"
    assert run_kind({**run, "lora_rank": 0, "head_only": 1}) == "head_only"
    assert run_kind({**run, "lora_rank": 0, "trainable_params": 10**6}) == "full"
    setfit = {"test_f1": 0.8, "test_f1_ci95": [0.7, 0.9], "trainable_params": 10**8, "train_seconds": 500.0}
    assert frontier_row("setfit", "setfit", setfit)["train_seconds"] == 500.0


def test_lora_is_set_against_the_run_nearest_in_size_on_a_log_scale():
    rows = {"a": {"trainable_params": 1_000}, "b": {"trainable_params": 100_000}}
    assert nearest_in_size(rows, 11_000) == "b"  # past the geometric midpoint, 10,000 (linearly a is nearer)
    assert nearest_in_size(rows, 9_000) == "a"


def test_a_run_of_several_seeds_pairs_by_its_mean(tmp_path):
    gold = [1, 0] * 50
    write(tmp_path, "a", [{"seed": s, **r} for s, preds in ((1, gold), (2, [1] * 100)) for r in rows(preds)])
    write(tmp_path, "b", rows([1] * 100))
    c = paired("a", "b", bootstrap_settings(), tmp_path)
    assert c["seeds"] == [2, 1] and c["units"] == 100
    assert c["difference"] == pytest.approx((1.0 + 2 / 3) / 2 - 2 / 3)  # mean of a's seeds minus b
    assert set(read_predictions(tmp_path / "a.jsonl")) == {1, 2}
