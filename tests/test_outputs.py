"""Outputs are written whole or not at all, and by one process when several train together."""
import json

import pytest

from stages.lib.runtime.outputs import atomic_dir, write_json, write_text


def test_a_failed_block_leaves_the_old_folder_and_no_temporary_one(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(final) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("killed mid-write")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in final.iterdir()] == ["old.txt"]


def test_a_finished_block_replaces_the_folder(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with atomic_dir(final) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in final.iterdir()] == ["new.txt"] and oct(final.stat().st_mode)[-3:] == "755"


def test_json_is_sorted_and_ends_with_a_newline(tmp_path):
    write_json(tmp_path / "m" / "x.json", {"b": 1, "a": 0.5})
    text = (tmp_path / "m" / "x.json").read_text()
    assert text.endswith("}\n") and list(json.loads(text)) == ["a", "b"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_text(path, 3)  # not text: fails inside the write
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_only_the_main_process_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")  # a second DDP process
    write_json(tmp_path / "x.json", {"a": 1})
    with atomic_dir(tmp_path / "model") as tmp:
        (tmp / "weights").write_text("w")  # it may write, into a folder that is thrown away
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("RANK", "0")
    write_json(tmp_path / "x.json", {"a": 1})
    assert (tmp_path / "x.json").is_file()
